package emulator_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/hubdesk/hubdesk/hub"
	"github.com/hubdesk/hubdesk/hub/emulator"
)

// FuzzHandler feeds arbitrary methods, paths, bodies and If-Match headers to
// an authorised handler holding a device, a module and a demo fleet: no
// input may panic or get a 5xx.
func FuzzHandler(f *testing.F) {
	seeds := []struct {
		method uint8
		path   string
		body   string
		ifm    string
	}{
		{0, "/devices/d1", "", ""},
		{1, "/devices/d2", `{"deviceId":"d2","status":"disabled","authentication":{"type":"sas"}}`, ""},
		{1, "/devices/d1", `{"etag":0,"capabilities":{"iotEdge":true}}`, `"*"`},
		{2, "/twins/d1", `{"tags":{"a":{"b":null}},"properties":{"desired":{"x":[1,2]}}}`, `"AAAAAAAAAAE="`},
		{1, "/twins/d1/modules/m1", `{"tags":null,"properties":{"desired":null}}`, ""},
		{3, "/devices/query", `{"query":"SELECT * FROM devices WHERE tags.site = 'lyon' OR NOT IS_DEFINED(status)"}`, ""},
		{3, "/devices/query", `{"query":"SELECT COUNT() FROM devices.modules"}`, ""},
		{4, "/devices/d1/modules/m1", "", "W/\"MQ==\""},
		{0, "/statistics/devices", "", ""},
		{1, "/devices/a%2Fb/modules/%24edgeAgent", `{"moduleId":5}`, ""},
		{2, "/twins/gateway-00000/modules/$edgeHub", `{"properties":{"desired":{"a":1}}}`, ""},
		{1, "/devices/x", `{"authentication":{"symmetricKey":{"primaryKey":"","secondaryKey":"AAAA"}}}`, ""},
	}
	for _, s := range seeds {
		f.Add(s.method, s.path, []byte(s.body), s.ifm)
	}
	owner := "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
	emu, err := emulator.New(emulator.Options{HostName: "example.com", OwnerKey: owner, SeedDemo: 25})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { emu.Close() })
	tok, err := hub.SignSAS("example.com", "iothubowner", owner, time.Now().Add(24*time.Hour))
	if err != nil {
		f.Fatal(err)
	}
	setup := []struct{ method, path, body string }{
		{"PUT", "/devices/d1", `{}`},
		{"PUT", "/devices/d1/modules/m1", `{}`},
	}
	for _, s := range setup {
		req := httptest.NewRequest(s.method, s.path+"?api-version=2021-04-12", bytes.NewReader([]byte(s.body)))
		req.Header.Set("Authorization", tok)
		w := httptest.NewRecorder()
		emu.ServeHTTP(w, req)
		if w.Code != 200 {
			f.Fatalf("%s %s: %d %s", s.method, s.path, w.Code, w.Body)
		}
	}
	methods := []string{"GET", "PUT", "PATCH", "POST", "DELETE"}
	f.Fuzz(func(t *testing.T, method uint8, path string, body []byte, ifMatch string) {
		u, err := url.Parse("http://example.com" + path)
		if err != nil || u.Host != "example.com" {
			return
		}
		q := u.Query()
		q.Set("api-version", "2021-04-12")
		u.RawQuery = q.Encode()
		req, err := http.NewRequest(methods[int(method)%len(methods)], u.String(), bytes.NewReader(body))
		if err != nil {
			return
		}
		req.Header.Set("Authorization", tok)
		req.Header.Set("If-Match", ifMatch)
		req.Header.Set("x-ms-continuation", ifMatch)
		w := httptest.NewRecorder()
		emu.ServeHTTP(w, req)
		if w.Code >= 500 {
			t.Fatalf("%s %s: %d %s", req.Method, path, w.Code, w.Body)
		}
	})
}
