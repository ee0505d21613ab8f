package static_test

import (
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/hubdesk/hubdesk/static"
)

func TestAssets(t *testing.T) {
	a, err := static.New()
	if err != nil {
		t.Fatal(err)
	}
	u := a.URL("style.css")
	if !regexp.MustCompile(`^/static/style\.[0-9a-f]{12}\.css$`).MatchString(u) {
		t.Fatalf("URL = %q, want a content-hashed name", u)
	}
	srv := httptest.NewServer(a)
	defer srv.Close()

	tests := []struct {
		name, path, acceptEnc, ifNoneMatch string
		wantStatus                         int
		wantEncoding                       string
	}{
		{"gzip", u, "gzip, br", "", http.StatusOK, "gzip"},
		{"identity", u, "", "", http.StatusOK, ""},
		{"gzip refused", u, "gzip;q=0", "", http.StatusOK, ""},
		{"not modified", u, "gzip", `"` + u[len("/static/style."):len(u)-len(".css")] + `"`, http.StatusNotModified, ""},
		{"unknown", "/static/style.000000000000.css", "gzip", "", http.StatusNotFound, ""},
		{"unhashed name", "/static/style.css", "gzip", "", http.StatusNotFound, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, srv.URL+tt.path, nil)
			req.Header.Set("Accept-Encoding", tt.acceptEnc)
			if tt.ifNoneMatch != "" {
				req.Header.Set("If-None-Match", tt.ifNoneMatch)
			}
			res, err := (&http.Transport{DisableCompression: true}).RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			if res.StatusCode != tt.wantStatus {
				t.Fatalf("status %d, want %d", res.StatusCode, tt.wantStatus)
			}
			if res.StatusCode != http.StatusOK {
				return
			}
			if got := res.Header.Get("Content-Encoding"); got != tt.wantEncoding {
				t.Fatalf("Content-Encoding %q, want %q", got, tt.wantEncoding)
			}
			if cc := res.Header.Get("Cache-Control"); !strings.Contains(cc, "immutable") || !strings.Contains(cc, "max-age=31536000") {
				t.Errorf("Cache-Control %q", cc)
			}
			var body io.Reader = res.Body
			if tt.wantEncoding == "gzip" {
				zr, err := gzip.NewReader(res.Body)
				if err != nil {
					t.Fatal(err)
				}
				body = zr
			}
			b, _ := io.ReadAll(body)
			if !strings.Contains(string(b), "--accent") {
				t.Error("body is not the stylesheet")
			}
		})
	}
	if n := a.GzipSize("style.css"); n <= 0 || n > 8<<10 {
		t.Errorf("gzipped stylesheet is %d bytes", n)
	}
}
