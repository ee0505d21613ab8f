package main

import (
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestServeSecureCookies: behind a TLS-terminating proxy hubdesk serves
// plain HTTP, and -secure-cookies still marks its cookies Secure and sends
// HSTS on what the proxy forwards from HTTPS; without it, neither (a Secure
// cookie would never come back over plain HTTP).
func TestServeSecureCookies(t *testing.T) {
	for _, secure := range []bool{false, true} {
		t.Run(map[bool]string{false: "plain", true: "behind an HTTPS proxy"}[secure], func(t *testing.T) {
			env := map[string]string{
				"HUBDESK_ADDR":           "127.0.0.1:0",
				"HUBDESK_DATA_DIR":       t.TempDir(),
				"HUBDESK_SEED_DEMO":      "0",
				"HUBDESK_SIMULATE":       "false",
				"HUBDESK_ADMIN_PASSWORD": "a long enough password",
				"HUBDESK_SECURE_COOKIES": map[bool]string{false: "false", true: "true"}[secure],
			}
			ctx, cancel := context.WithCancel(context.Background())
			pr, pw := io.Pipe()
			done := make(chan error, 1)
			go func() { done <- run(ctx, nil, func(k string) string { return env[k] }, pw, io.Discard); pw.Close() }()
			defer func() {
				cancel()
				go io.Copy(io.Discard, pr)
				if err := <-done; err != nil {
					t.Errorf("run: %v", err)
				}
			}()
			base := waitForURL(t, pr)
			req, err := http.NewRequest(http.MethodGet, base+"login", nil)
			if err != nil {
				t.Fatal(err)
			}
			// What a TLS-terminating proxy adds.
			req.Header.Set("X-Forwarded-Proto", "https")
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			cookies := res.Header.Values("Set-Cookie")
			if len(cookies) == 0 {
				t.Fatal("no cookie set on the sign-in page")
			}
			for _, c := range cookies {
				if got := strings.Contains(c, "; Secure"); got != secure {
					t.Errorf("cookie %q: Secure = %v, want %v", c, got, secure)
				}
			}
			if got := res.Header.Get("Strict-Transport-Security") != ""; got != secure {
				t.Errorf("HSTS sent = %v, want %v", got, secure)
			}
		})
	}
}

// waitForURL reads the server's output until it names the dashboard's URL.
func waitForURL(t *testing.T, r io.Reader) string {
	t.Helper()
	found := make(chan string, 1)
	go func() {
		var out []byte
		buf := make([]byte, 512)
		re := regexp.MustCompile(`dashboard at (http://\S+/)`)
		for {
			n, err := r.Read(buf)
			out = append(out, buf[:n]...)
			if m := re.FindSubmatch(out); m != nil {
				found <- string(m[1])
				io.Copy(io.Discard, r)
				return
			}
			if err != nil {
				return
			}
		}
	}()
	select {
	case u := <-found:
		return u
	case <-time.After(30 * time.Second):
		t.Fatal("the dashboard did not start within 30s")
		return ""
	}
}
