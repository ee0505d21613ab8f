package proof

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/hubdesk/hubdesk/handlers"
	"github.com/hubdesk/hubdesk/hub"
	"github.com/hubdesk/hubdesk/hub/emulator"
	"github.com/hubdesk/hubdesk/internal/formtest"
	"github.com/hubdesk/hubdesk/static"
	"github.com/hubdesk/hubdesk/storage"
)

// full reports whether the full forms of the proofs were asked for.
func full() bool { return os.Getenv("HUBDESK_PROOF") == "full" }

// size picks the short or the full figure of a proof.
func size[T any](short, long T) T {
	if full() {
		return long
	}
	return short
}

const password = "proof password 1234"

// dashboard is hubdesk served over loopback HTTP on a durable emulator,
// assembled as perf/dashboard.go and main.go do.
type dashboard struct {
	url string
	emu *emulator.Server
	hub *hub.Client
	db  *storage.DB
	// hubConns are the dashboard's connections to the hub.
	hubConns *http.Transport
	// logs holds what the dashboard logged at warning level and above.
	logs *lockedBuffer
}

// lockedBuffer lets the server's goroutines log into one buffer.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

type dashboardOptions struct {
	seedDemo int  // demo devices in the hub
	simulate bool // run the device simulator
	editors  int  // editor accounts editor00, editor01, ...
}

func newDashboard(t *testing.T, o dashboardOptions) *dashboard {
	t.Helper()
	ctx := context.Background()
	emu, err := emulator.NewServer(emulator.Options{
		DataDir:          t.TempDir(),
		SeedDemo:         o.seedDemo,
		SeedRandom:       1,
		Simulate:         o.simulate,
		SimulateInterval: 20 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emu.Close() })
	db, err := storage.OpenSQLite(ctx, filepath.Join(t.TempDir(), "hubdesk.db"), storage.Options{BcryptCost: 4})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	for i := range o.editors {
		if err := db.CreateUser(ctx, editorName(i), password, storage.RoleEditor); err != nil {
			t.Fatal(err)
		}
	}
	assets, err := static.New()
	if err != nil {
		t.Fatal(err)
	}
	hubConns := &http.Transport{MaxIdleConnsPerHost: 16}
	logs := &lockedBuffer{}
	t.Cleanup(func() {
		if t.Failed() && logs.String() != "" {
			t.Logf("the dashboard logged:\n%s", logs)
		}
	})
	h := handlers.New(handlers.Deps{
		Hub:           emu.Client(hub.WithHTTPClient(&http.Client{Transport: hubConns, Timeout: time.Minute})),
		HubName:       emu.HostName(),
		DB:            db,
		Sessions:      handlers.NewCookieStore([]byte(strings.Repeat("p", 64)), []byte(strings.Repeat("q", 32)), time.Hour, false),
		Assets:        assets,
		Logger:        slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn})),
		SessionMaxAge: time.Hour,
	})
	e := echo.New()
	h.Register(e)
	web := httptest.NewServer(e)
	t.Cleanup(web.Close)
	return &dashboard{url: web.URL, emu: emu, hub: emu.Client(), db: db, hubConns: hubConns, logs: logs}
}

func editorName(i int) string { return fmt.Sprintf("editor%02d", i) }

// browser is one person's browser: its own cookie jar, connections and
// loopback address, and it does not follow redirects. Each browser dials
// from its own 127.0.0.x address, as people sit at different machines; the
// sign-in limiter counts attempts per address.
type browser struct {
	base string
	c    *http.Client
	tr   *http.Transport
}

func newBrowser(base string, n int) *browser {
	jar, _ := cookiejar.New(nil)
	local := &net.TCPAddr{IP: net.IPv4(127, 0, byte(1+n/250), byte(2+n%250))}
	tr := &http.Transport{
		DialContext:         (&net.Dialer{LocalAddr: local, Timeout: 5 * time.Second}).DialContext,
		MaxIdleConnsPerHost: 2,
	}
	return &browser{base: base, tr: tr, c: &http.Client{Jar: jar, Transport: tr, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// close drops the browser's idle connections.
func (b *browser) close() { b.tr.CloseIdleConnections() }

// page is a response as the person sees it.
type page struct {
	status   int
	location string
	body     string
}

func (b *browser) do(ctx context.Context, method, path string, form url.Values) (page, error) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, b.base+path, body)
	if err != nil {
		return page{}, err
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	res, err := b.c.Do(req)
	if err != nil {
		return page{}, err
	}
	defer res.Body.Close()
	text, err := io.ReadAll(res.Body)
	if err != nil {
		return page{}, fmt.Errorf("%s %s: %w", method, path, err)
	}
	return page{status: res.StatusCode, location: res.Header.Get("Location"), body: string(text)}, nil
}

// get loads path and insists on 200.
func (b *browser) get(ctx context.Context, path string) (page, error) {
	p, err := b.do(ctx, http.MethodGet, path, nil)
	if err == nil && p.status != http.StatusOK {
		err = fmt.Errorf("GET %s: status %d", path, p.status)
	}
	return p, err
}

func (b *browser) post(ctx context.Context, path string, form url.Values) (page, error) {
	return b.do(ctx, http.MethodPost, path, form)
}

var csrfField = regexp.MustCompile(`name="_csrf" value="([^"]+)"`)

func (b *browser) signIn(ctx context.Context, name string) error {
	p, err := b.get(ctx, "/login")
	if err != nil {
		return err
	}
	m := csrfField.FindStringSubmatch(p.body)
	if m == nil {
		return fmt.Errorf("sign-in page has no CSRF token")
	}
	p, err = b.post(ctx, "/login", url.Values{"_csrf": {m[1]}, "name": {name}, "password": {password}})
	if err != nil {
		return err
	}
	if p.status != http.StatusSeeOther {
		return fmt.Errorf("sign in %s: status %d", name, p.status)
	}
	return nil
}

// formFor returns the values of the form on body that can be sent to
// action (by its action or a button's formaction), as a browser fills it
// in.
func formFor(body, action string) (url.Values, error) {
	return formtest.For(body, action)
}

// twinETagN is the counter a twin etag encodes (base64 of 8 bytes, big
// endian, one more per service write), which orders the writes.
func twinETagN(etag string) (uint64, error) {
	b, err := base64.StdEncoding.DecodeString(unquote(etag))
	if err != nil || len(b) != 8 {
		return 0, fmt.Errorf("twin etag %q is not base64 of 8 bytes", etag)
	}
	return binary.BigEndian.Uint64(b), nil
}

// deviceETagN is the counter a device etag encodes (base64 of its decimal
// text, one more per update).
func deviceETagN(etag string) (uint64, error) {
	b, err := base64.StdEncoding.DecodeString(unquote(etag))
	if err != nil {
		return 0, fmt.Errorf("device etag %q: %w", etag, err)
	}
	n, err := strconv.ParseUint(string(b), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("device etag %q: %w", etag, err)
	}
	return n, nil
}

func unquote(etag string) string {
	return strings.Trim(strings.TrimPrefix(etag, "W/"), `"`)
}

// rate is n per d, for logs.
func rate(n int, d time.Duration) string {
	return fmt.Sprintf("%.1f/s", float64(n)/d.Seconds())
}

// runEditors has editors people play rounds rounds of round at once, each
// in a browser of their own signed in as editorName(e) and with a random
// source of their own, and returns how long they took. An editor's first
// error ends its rounds and fails t.
func runEditors(t *testing.T, d *dashboard, editors, rounds int, round func(ctx context.Context, b *browser, rng *rand.Rand, e, r int) error) time.Duration {
	t.Helper()
	ctx := context.Background()
	began := time.Now()
	errs := make(chan error, editors)
	var wg sync.WaitGroup
	for e := range editors {
		wg.Go(func() {
			b := newBrowser(d.url, e)
			defer b.close()
			rng := rand.New(rand.NewPCG(uint64(e), 7))
			err := b.signIn(ctx, editorName(e))
			for r := 0; err == nil && r < rounds; r++ {
				err = round(ctx, b, rng, e, r)
			}
			if err != nil {
				errs <- fmt.Errorf("%s: %w", editorName(e), err)
			}
		})
	}
	wg.Wait()
	took := time.Since(began)
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	return took
}
