package handlers_test

import (
	"context"
	"crypto/rand"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/hubdesk/hubdesk/handlers"
	"github.com/hubdesk/hubdesk/hub"
	"github.com/hubdesk/hubdesk/hub/emulator"
	"github.com/hubdesk/hubdesk/static"
	"github.com/hubdesk/hubdesk/storage"
)

const testPassword = "correct horse battery staple"

// app is a dashboard served over real HTTP on an emulated hub.
type app struct {
	// t is nil when the app serves a fuzz target; the browser helpers
	// need it.
	t    *testing.T
	url  string
	hub  *hub.Client
	emu  *emulator.Server
	db   *storage.DB
	logs *strings.Builder
	// e is the dashboard's echo instance, for its routes and for serving
	// requests without HTTP.
	e *echo.Echo
	// hashKey and blockKey are the session cookies' keys, random per app,
	// so that tests can forge cookies and look for the keys in output.
	hashKey, blockKey []byte
}

type appOptions struct {
	maxAge time.Duration
	now    func() time.Time
	// emulator configures the hub (faults, latency).
	emulator emulator.Options
	// dashboardHub, if set, makes the dashboard's hub client, for tests
	// that put something between the dashboard and the hub.
	dashboardHub func(emu *emulator.Server) *hub.Client
	hubTimeout   time.Duration
	proxies      []netip.Prefix
	// secure serves the dashboard as if behind TLS: Secure cookies, HSTS.
	secure bool
	proxy  *handlers.ProxyAuth
	// debugLogs logs at debug level, the emulator's logs too, so that the
	// logs hold everything a leak could hide in.
	debugLogs bool
}

// newApp starts a dashboard with three people (alice the admin, ed the
// editor, vic the viewer). It takes a testing.TB so that fuzz targets can
// use it too; the browser helpers need a *testing.T.
func newApp(tb testing.TB, opt appOptions) *app {
	tb.Helper()
	logs := &strings.Builder{}
	level := slog.LevelInfo
	if opt.debugLogs {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(&lockedWriter{b: logs}, &slog.HandlerOptions{Level: level}))
	if opt.debugLogs && opt.emulator.Logger == nil {
		opt.emulator.Logger = logger
	}
	emu, err := emulator.NewServer(opt.emulator)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { emu.Close() })
	db, err := storage.OpenSQLite(context.Background(), filepath.Join(tb.TempDir(), "hubdesk.db"), storage.Options{BcryptCost: 4})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	for _, u := range []struct {
		name string
		role storage.Role
	}{{"alice", storage.RoleAdmin}, {"ed", storage.RoleEditor}, {"vic", storage.RoleViewer}} {
		if err := db.CreateUser(context.Background(), u.name, testPassword, u.role); err != nil {
			tb.Fatal(err)
		}
	}
	assets, err := static.New()
	if err != nil {
		tb.Fatal(err)
	}
	if opt.maxAge == 0 {
		opt.maxAge = time.Hour
	}
	metrics := handlers.NewMetrics()
	dashboardHub := emu.Client(hub.WithObserver(metrics.ObserveHub))
	if opt.dashboardHub != nil {
		dashboardHub = opt.dashboardHub(emu)
	}
	hashKey, blockKey := randomBytes(64), randomBytes(32)
	h := handlers.New(handlers.Deps{
		Hub:           dashboardHub,
		Metrics:       metrics,
		HubName:       emu.HostName(),
		DB:            db,
		Sessions:      handlers.NewCookieStore(hashKey, blockKey, opt.maxAge, opt.secure),
		Assets:        assets,
		Logger:        logger,
		Secure:        opt.secure,
		SessionMaxAge: opt.maxAge,
		HubTimeout:    opt.hubTimeout,
		Proxies:       opt.proxies,
		ProxyAuth:     opt.proxy,
		Now:           opt.now,
	})
	e := echo.New()
	h.Register(e)
	srv := httptest.NewServer(e)
	tb.Cleanup(srv.Close)
	t, _ := tb.(*testing.T)
	return &app{t: t, url: srv.URL, hub: emu.Client(), emu: emu, db: db, logs: logs, e: e, hashKey: hashKey, blockKey: blockKey}
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// lockedWriter lets the server's goroutines log into one builder.
type lockedWriter struct {
	mu sync.Mutex
	b  *strings.Builder
}

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

// browser is a person's browser: a cookie jar that does not follow redirects.
type browser struct {
	t   *testing.T
	app *app
	c   *http.Client
}

func (a *app) browser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: a.t, app: a, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

func (b *browser) get(path string) (*http.Response, string) {
	b.t.Helper()
	res, err := b.c.Get(b.app.url + path)
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res, string(body)
}

func (b *browser) post(path string, form url.Values) (*http.Response, string) {
	b.t.Helper()
	res, err := b.c.PostForm(b.app.url+path, form)
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res, string(body)
}

var csrfField = regexp.MustCompile(`name="_csrf" value="([^"]+)"`)

// csrf loads path and returns the CSRF token of its form.
func (b *browser) csrf(path string) string {
	b.t.Helper()
	_, body := b.get(path)
	m := csrfField.FindStringSubmatch(body)
	if m == nil {
		b.t.Fatalf("no CSRF token on %s", path)
	}
	return m[1]
}

func (b *browser) signIn(name string) {
	b.t.Helper()
	res, _ := b.post("/login", url.Values{"_csrf": {b.csrf("/login")}, "name": {name}, "password": {testPassword}})
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/" {
		b.t.Fatalf("sign in: %d %s", res.StatusCode, res.Header.Get("Location"))
	}
}

func TestSignIn(t *testing.T) {
	a := newApp(t, appOptions{})
	tests := []struct {
		name, user, password string
		csrf                 bool
		wantStatus           int
		wantBody             string
	}{
		{"right password", "alice", testPassword, true, http.StatusSeeOther, ""},
		{"wrong password", "alice", "nope nope nope", true, http.StatusUnauthorized, "Wrong user name or password."},
		{"unknown user", "mallory", testPassword, true, http.StatusUnauthorized, "Wrong user name or password."},
		{"no CSRF token", "alice", testPassword, false, http.StatusForbidden, "Reload the page"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := a.browser()
			form := url.Values{"name": {tt.user}, "password": {tt.password}}
			if tt.csrf {
				form.Set("_csrf", b.csrf("/login"))
			}
			res, body := b.post("/login", form)
			if res.StatusCode != tt.wantStatus || !strings.Contains(body, tt.wantBody) {
				t.Fatalf("status %d, body %q", res.StatusCode, body)
			}
		})
	}
}

func TestPagesNeedSignIn(t *testing.T) {
	a := newApp(t, appOptions{})
	b := a.browser()
	for _, path := range []string{"/", "/devices", "/devices?q=x"} {
		res, _ := b.get(path)
		if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "/login?next=") {
			t.Errorf("%s: %d %s", path, res.StatusCode, res.Header.Get("Location"))
		}
	}
}

func TestSignInReturnsOnlyToThisSite(t *testing.T) {
	a := newApp(t, appOptions{})
	tests := []struct{ next, want string }{
		{"/devices?q=a", "/devices?q=a"},
		{"https://evil.example/", "/"},
		{"//evil.example/x", "/"},
		{"/\\evil.example", "/"},
		{"javascript:alert(1)", "/"},
		{"", "/"},
	}
	for _, tt := range tests {
		b := a.browser()
		res, _ := b.post("/login", url.Values{"_csrf": {b.csrf("/login")}, "name": {"vic"}, "password": {testPassword}, "next": {tt.next}})
		if got := res.Header.Get("Location"); got != tt.want {
			t.Errorf("next=%q: redirected to %q, want %q", tt.next, got, tt.want)
		}
	}
}

func TestSessionExpires(t *testing.T) {
	now := time.Now()
	clock := func() time.Time { return now }
	a := newApp(t, appOptions{maxAge: time.Hour, now: clock})
	b := a.browser()
	b.signIn("vic")
	if res, _ := b.get("/devices"); res.StatusCode != http.StatusOK {
		t.Fatalf("signed in: %d", res.StatusCode)
	}
	now = now.Add(61 * time.Minute)
	if res, _ := b.get("/devices"); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("after expiry: %d, want a redirect to sign in", res.StatusCode)
	}
}

func TestSignOutNeedsCSRFAndEndsSession(t *testing.T) {
	a := newApp(t, appOptions{})
	b := a.browser()
	b.signIn("vic")
	if res, _ := b.post("/logout", url.Values{}); res.StatusCode != http.StatusForbidden {
		t.Fatalf("logout without token: %d", res.StatusCode)
	}
	if res, _ := b.post("/logout", url.Values{"_csrf": {b.csrf("/devices")}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("logout: %d", res.StatusCode)
	}
	if res, _ := b.get("/devices"); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("after logout: %d", res.StatusCode)
	}
}

func TestSecurityHeaders(t *testing.T) {
	a := newApp(t, appOptions{})
	res, _ := a.browser().get("/login")
	for h, want := range map[string]string{
		"Content-Security-Policy": "script-src 'self'",
		"X-Frame-Options":         "DENY",
		"X-Content-Type-Options":  "nosniff",
	} {
		if got := res.Header.Get(h); !strings.Contains(got, want) {
			t.Errorf("%s = %q, want %q", h, got, want)
		}
	}
	for _, c := range res.Cookies() {
		if !c.HttpOnly {
			t.Errorf("cookie %s is not HttpOnly", c.Name)
		}
	}
}

func createDevices(t *testing.T, c *hub.Client, ids ...string) {
	t.Helper()
	for _, id := range ids {
		if _, err := c.CreateDevice(context.Background(), &hub.Device{DeviceID: id}); err != nil {
			t.Fatalf("create %s: %v", id, err)
		}
	}
}

func TestDeviceListPagesWithContinuation(t *testing.T) {
	a := newApp(t, appOptions{})
	var ids []string
	for i := 0; i < 60; i++ {
		ids = append(ids, "dev-"+string(rune('a'+i/26))+string(rune('a'+i%26)))
	}
	createDevices(t, a.hub, ids...)
	b := a.browser()
	b.signIn("vic")
	seen := map[string]bool{}
	path := "/devices?size=25"
	for pages := 0; path != ""; pages++ {
		if pages > 5 {
			t.Fatal("too many pages")
		}
		res, body := b.get(path)
		if res.StatusCode != http.StatusOK {
			t.Fatalf("%s: %d", path, res.StatusCode)
		}
		if !strings.Contains(body, "60 matching devices") {
			t.Errorf("page %d does not show the total", pages+1)
		}
		for _, m := range regexp.MustCompile(`href="/devices/(dev-[a-z]+)"`).FindAllStringSubmatch(body, -1) {
			if seen[m[1]] {
				t.Errorf("%s listed twice", m[1])
			}
			seen[m[1]] = true
		}
		path = ""
		if m := regexp.MustCompile(`href="(/devices\?[^"]*ct=[^"]*)" rel="next"`).FindStringSubmatch(body); m != nil {
			path = strings.ReplaceAll(m[1], "&amp;", "&")
		}
	}
	if len(seen) != 60 {
		t.Fatalf("listed %d devices, want 60", len(seen))
	}
}

func TestDeviceListFilters(t *testing.T) {
	a := newApp(t, appOptions{})
	createDevices(t, a.hub, "sensor-1", "sensor-2", "gateway-1")
	b := a.browser()
	b.signIn("vic")
	tests := []struct {
		query      string
		wantStatus int
		want, not  []string
	}{
		{"q=sensor", 200, []string{"sensor-1", "sensor-2"}, []string{"gateway-1"}},
		{"q=*way", 200, []string{"gateway-1"}, []string{"sensor-1"}},
		{"status=disabled", 200, []string{"No devices match."}, []string{"sensor-1"}},
		{"where=deviceId+%3D+%27sensor-2%27", 200, []string{"sensor-2"}, []string{"sensor-1"}},
		{"where=deviceId+%3D%3D", 422, []string{"The hub rejected the query"}, nil},
		{"tag=bad+key%3Dx", 422, []string{"write it as name=value"}, nil},
		{"q=%27+OR+1%3D1+--", 200, []string{"No devices match."}, []string{"sensor-1"}},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			res, body := b.get("/devices?" + tt.query)
			if res.StatusCode != tt.wantStatus {
				t.Fatalf("status %d", res.StatusCode)
			}
			for _, w := range tt.want {
				if !strings.Contains(body, w) {
					t.Errorf("missing %q", w)
				}
			}
			for _, n := range tt.not {
				if strings.Contains(body, ">"+n+"<") {
					t.Errorf("unexpected %q", n)
				}
			}
		})
	}
}

func TestDeviceIDsAreEscaped(t *testing.T) {
	a := newApp(t, appOptions{})
	evil := "x'(onload)=alert(1);$"
	createDevices(t, a.hub, evil)
	b := a.browser()
	b.signIn("vic")
	_, body := b.get("/devices")
	if strings.Contains(body, "x'(onload)") {
		t.Fatal("device id rendered unescaped")
	}
	if !strings.Contains(body, "x&#39;(onload)=alert(1);$") {
		t.Fatal("device id missing from the list")
	}
	if !strings.Contains(body, `href="/devices/x%27%28onload%29=alert%281%29;$"`) && !strings.Contains(body, "/devices/x&#39;") {
		t.Logf("link: %s", regexp.MustCompile(`href="/devices/x[^"]*"`).FindString(body))
	}
}

func TestUnknownPathsAre404ForEveryRole(t *testing.T) {
	a := newApp(t, appOptions{})
	for _, who := range []string{"", "vic", "ed", "alice"} {
		b := a.browser()
		if who != "" {
			b.signIn(who)
		}
		for _, path := range []string{"/favicon.ico", "/no/such/page", "/devices/x/nothing"} {
			if res, _ := b.get(path); res.StatusCode != http.StatusNotFound {
				t.Errorf("%q GET %s: %d, want 404", who, path, res.StatusCode)
			}
		}
	}
}
