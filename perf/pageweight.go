package perf

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// ChromiumPath is where the page weight scenario finds Chromium:
// $HUBDESK_CHROMIUM, else Debian's /usr/bin/chromium (the e2e tests look
// in the same places).
func ChromiumPath(getenv func(string) string) string {
	if p := getenv("HUBDESK_CHROMIUM"); p != "" {
		return p
	}
	return "/usr/bin/chromium"
}

// chromiumTimeout bounds one page load, browser start included.
const chromiumTimeout = time.Minute

// PageWeight measures what a cold load of a module twin page with its
// editor puts on the wire: headless Chromium, with an empty cache and
// profile, loads the page from the bench dashboard, and every byte the
// server writes to its connections (headers, bodies after compression) is
// counted, per request too. The target is budgetKB kilobytes in all.
//
// Chromium runs as a separate process (os/exec, --dump-dom), so hubdesk
// does not link a browser driver. Without Chromium the row is skipped.
func PageWeight(budgetKB int) Scenario {
	return Scenario{
		Name:   "twin editor page weight",
		Target: fmt.Sprintf("<= %d KB", budgetKB),
		Run: func(ctx context.Context, env *Env) (Result, error) {
			chromium := ChromiumPath(os.Getenv)
			if _, err := os.Stat(chromium); err != nil {
				return Result{Verdict: Skip, Note: fmt.Sprintf("skipped: no Chromium at %s (install Debian's chromium package or set HUBDESK_CHROMIUM)", chromium)}, nil
			}
			d, err := dashboardFor(ctx, env)
			if err != nil {
				return Result{}, err
			}
			w, err := loadCold(ctx, env, chromium, d, twinPage.path(0))
			if err != nil {
				return Result{}, err
			}
			total := w.wire.Load()
			kb := float64(total) / 1024
			v := Pass
			if kb > float64(budgetKB) {
				v = Fail
			}
			return Result{Measured: kb, Unit: "KB", Ops: len(w.requests), Verdict: v, Note: w.note(total)}, nil
		},
	}
}

// weighed is what one page load cost on the wire.
type weighed struct {
	wire atomic.Int64 // every byte written to the browser's connections

	mu       sync.Mutex
	requests []weighedRequest
}

// weighedRequest is one request of the load, as the server answered it.
type weighedRequest struct {
	path, acceptEncoding, userAgent string
	status                          int
	contentType, contentEncoding    string
	body                            int64
}

// loadCold loads page from d's dashboard in a fresh headless Chromium,
// through a server of its own that signs the browser in as the bench user
// and counts what it sends.
func loadCold(ctx context.Context, env *Env, chromium string, d *dashboard, page string) (*weighed, error) {
	w := &weighed{}
	u, err := url.Parse(d.url)
	if err != nil {
		return nil, err
	}
	cookies := d.browsers[0].Jar.Cookies(u)
	if len(cookies) == 0 {
		return nil, errors.New("page weight: the bench session has no cookie")
	}
	srv := httptest.NewUnstartedServer(w.count(signedIn(cookies, d.handler)))
	srv.Listener = &countingListener{Listener: srv.Listener, n: &w.wire}
	srv.Start()
	defer srv.Close()

	profile, err := os.MkdirTemp(env.dir, "chromium-")
	if err != nil {
		return nil, fmt.Errorf("page weight: %w", err)
	}
	defer os.RemoveAll(profile)
	ctx, cancel := context.WithTimeout(ctx, chromiumTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir="+profile, "--dump-dom", srv.URL+page)
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("page weight: %s: %w: %s", chromium, err, lastLines(stderr.String(), 3))
	}
	// Only a page whose editor script ran has the editor's host element:
	// without it the figure would be of a sign-in page or an error.
	if !bytes.Contains(stdout.Bytes(), []byte("json-editor-host")) {
		return nil, fmt.Errorf("page weight: %s shows no editor; Chromium printed %d bytes of DOM: %.300s", page, stdout.Len(), stdout.String())
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	// Requests are noted as they end; the page's goes first in the note.
	i := slices.IndexFunc(w.requests, func(r weighedRequest) bool { return r.path == page })
	if i < 0 || w.requests[i].status != http.StatusOK {
		return nil, fmt.Errorf("page weight: no 200 for %s: %+v", page, w.requests)
	}
	w.requests[0], w.requests[i] = w.requests[i], w.requests[0]
	return w, nil
}

// signedIn sends every request to next with the bench user's session
// cookies added where the browser has none of that name. It serves only
// the bench's own Chromium, on loopback, for the time of one load.
func signedIn(cookies []*http.Cookie, next http.Handler) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		for _, c := range cookies {
			if _, err := r.Cookie(c.Name); err != nil {
				r.AddCookie(c)
			}
		}
		next.ServeHTTP(rw, r)
	})
}

// count notes each request and the body bytes its answer wrote.
func (w *weighed) count(next http.Handler) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		cw := &countingWriter{ResponseWriter: rw}
		next.ServeHTTP(cw, r)
		h := rw.Header()
		w.mu.Lock()
		defer w.mu.Unlock()
		w.requests = append(w.requests, weighedRequest{
			path: r.URL.RequestURI(), acceptEncoding: r.Header.Get("Accept-Encoding"), userAgent: r.UserAgent(),
			status: cw.statusOr200(), contentType: h.Get("Content-Type"), contentEncoding: h.Get("Content-Encoding"),
			body: cw.n,
		})
	})
}

// note names each resource with its body bytes and encoding, what the
// headers cost, and whether the browser's Accept-Encoding was honoured.
func (w *weighed) note(total int64) string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var parts []string
	var bodies int64
	gzipOffered, allGzipped := true, true
	for i, r := range w.requests {
		bodies += r.body
		enc := r.contentEncoding
		if enc == "" {
			enc = "identity"
			if r.status == http.StatusOK {
				allGzipped = false
			}
		}
		name := path.Base(strings.SplitN(r.path, "?", 2)[0])
		if i == 0 {
			name = "page HTML"
		}
		parts = append(parts, fmt.Sprintf("%s %s %s", name, formatKB(r.body), enc))
		if !strings.Contains(r.acceptEncoding, "gzip") {
			gzipOffered = false
		}
	}
	browser := "headless Chromium"
	if m := regexp.MustCompile(`HeadlessChrome/([0-9]+)`).FindStringSubmatch(w.requests[0].userAgent); m != nil {
		browser += " " + m[1]
	}
	gz := "every response gzipped"
	switch {
	case !gzipOffered:
		gz = "the browser did not offer gzip"
	case !allGzipped:
		gz = "Accept-Encoding gzip honoured for static assets only (the HTML goes uncompressed)"
	}
	return fmt.Sprintf("cold load in %s, %d requests: %s; headers %s; %s",
		browser, len(w.requests), strings.Join(parts, ", "), formatKB(total-bodies), gz)
}

func formatKB(n int64) string { return threeDigits(float64(n)/1024) + " KB" }

// lastLines is the last n lines of s, for an error message.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], " | ")
}

// countingWriter counts the body bytes written to a response.
type countingWriter struct {
	http.ResponseWriter
	status int
	n      int64
}

func (c *countingWriter) WriteHeader(status int) {
	if c.status == 0 {
		c.status = status
	}
	c.ResponseWriter.WriteHeader(status)
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.ResponseWriter.Write(p)
	c.n += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (c *countingWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }

func (c *countingWriter) statusOr200() int {
	if c.status == 0 {
		return http.StatusOK
	}
	return c.status
}

// countingListener counts every byte written to the connections it
// accepts: status lines, headers, chunk framing and bodies.
type countingListener struct {
	net.Listener
	n *atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &countingConn{Conn: c, n: l.n}, nil
}

type countingConn struct {
	net.Conn
	n *atomic.Int64
}

func (c *countingConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.n.Add(int64(n))
	return n, err
}
