package e2e_test

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
)

// TestPageProblemsAreCaught checks the net every other test relies on: a
// page that breaks its CSP, logs an error, throws or misses a script is
// reported.
func TestPageProblemsAreCaught(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'")
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write([]byte(`<!doctype html><html><head><title>broken</title>
<style>body { color: red }</style>
<script src="/app.js"></script>
<script src="/missing.js"></script>
<script>console.log("inline scripts are refused")</script>
</head><body><p id="done">broken</p></body></html>`))
	})
	mux.HandleFunc("/app.js", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript")
		w.Write([]byte(`console.error("app failed"); throw new Error("boom");`))
	})
	mux.HandleFunc("/missing.js", http.NotFound)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	s := &site{url: srv.URL}
	p := s.person(t, newBrowser(t))
	p.open("/")
	p.text("#done")
	got := p.takeProblems()
	for _, want := range []string{
		"CSP violation: style-src-elem blocked inline",
		"CSP violation: script-src-elem blocked inline",
		"console.error: app failed",
		"uncaught exception",
		"missing.js: HTTP 404",
	} {
		if !slices.ContainsFunc(got, func(s string) bool { return strings.Contains(s, want) }) {
			t.Errorf("no problem reported like %q; got:\n%s", want, strings.Join(got, "\n"))
		}
	}
}
