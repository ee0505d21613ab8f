package emulator_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hubdesk/hubdesk/hub/emulator"
)

func TestAPIVersion(t *testing.T) {
	h := newTestHub(t, emulator.Options{})
	h.createDevice("d1", nil)
	tests := []struct {
		query  string
		status int
		code   string
	}{
		{"", 400, "InvalidProtocolVersion"},
		{"?api-version=", 400, "InvalidProtocolVersion"},
		{"?api-version=2021-04-12", 200, ""},
		{"?api-version=2020-09-30", 200, ""},
		{"?api-version=2023-06-30", 200, ""},
		{"?api-version=2021-04-12-preview", 200, ""},
		{"?api-version=banana", 400, "InvalidProtocolVersion"},
		{"?api-version=2011-01-01", 400, "InvalidProtocolVersion"},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			want(t, h.do(call{method: "GET", path: "/devices/d1" + tt.query, noVersion: true}), tt.status, tt.code)
		})
	}
}

func TestRoutes(t *testing.T) {
	h := newTestHub(t, emulator.Options{})
	h.createDevice("d1", nil)
	h.createModule("d1", "m1")
	tests := []struct {
		method, path string
		body         string
		status       int
	}{
		{"GET", "/devices/d1", "", 200},
		{"GET", "/devices", "", 200},
		{"GET", "/devices/", "", 200},
		{"GET", "/devices/d1/modules", "", 200},
		{"GET", "/devices/d1/modules/m1", "", 200},
		{"GET", "/twins/d1", "", 200},
		{"GET", "/twins/d1/modules/m1", "", 200},
		{"POST", "/devices/query", `{"query":"SELECT * FROM devices"}`, 200},
		{"GET", "/statistics/devices", "", 200},
		{"GET", "/devices/query", "", 404}, // a device named "query"
		{"POST", "/devices/d1", "{}", 405},
		{"GET", "/nowhere", "", 404},
		{"GET", "/devices/d1/modules/m1/extra", "", 404},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			r := h.do(call{method: tt.method, path: tt.path, body: tt.body})
			if r.status != tt.status {
				t.Errorf("status %d, want %d: %s", r.status, tt.status, r.body)
			}
		})
	}
}

func TestBodies(t *testing.T) {
	h := newTestHub(t, emulator.Options{MaxBodyBytes: 1024})
	h.createDevice("d1", nil)
	tests := []struct {
		name   string
		c      call
		status int
		code   string
	}{
		{"too large", call{method: "PATCH", path: "/twins/d1", body: `{"tags":{"a":"` + strings.Repeat("x", 2000) + `"}}`}, 413, "MessageTooLarge"},
		{"malformed twin", call{method: "PATCH", path: "/twins/d1", body: `{{`}, 400, "IotHubFormatError"},
		{"twin body a string", call{method: "PATCH", path: "/twins/d1", body: `"tags"`}, 400, "IotHubFormatError"},
		{"properties wrong type", call{method: "PATCH", path: "/twins/d1", body: `{"properties":7}`}, 400, "ArgumentInvalid"},
		{"trailing garbage", call{method: "PUT", path: "/devices/d2", body: `{} x`}, 400, "IotHubFormatError"},
		{"query malformed", call{method: "POST", path: "/devices/query", body: `{"query":`}, 400, "IotHubFormatError"},
		{"query wrong type", call{method: "POST", path: "/devices/query", body: `{"query":5}`}, 400, "ArgumentInvalid"},
		{"query missing", call{method: "POST", path: "/devices/query", body: `{}`}, 400, "ArgumentInvalid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want(t, h.do(tt.c), tt.status, tt.code)
		})
	}
}

func TestFaults(t *testing.T) {
	t.Run("throttle", func(t *testing.T) {
		h := newTestHub(t, emulator.Options{ThrottleRate: 1, RetryAfter: 2 * time.Second})
		r := h.do(call{method: "GET", path: "/devices"})
		want(t, r, http.StatusTooManyRequests, "ThrottlingException")
		if r.header.Get("Retry-After") != "2" {
			t.Errorf("Retry-After %q", r.header.Get("Retry-After"))
		}
	})
	t.Run("unavailable", func(t *testing.T) {
		h := newTestHub(t, emulator.Options{UnavailableRate: 1})
		want(t, h.do(call{method: "GET", path: "/devices"}), http.StatusServiceUnavailable, "ServiceUnavailable")
	})
	t.Run("latency", func(t *testing.T) {
		h := newTestHub(t, emulator.Options{Latency: 50 * time.Millisecond})
		start := time.Now()
		want(t, h.do(call{method: "GET", path: "/devices"}), 200, "")
		if d := time.Since(start); d < 50*time.Millisecond {
			t.Errorf("answered in %v, want at least 50ms", d)
		}
	})
}
