package handlers_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/hubdesk/hubdesk/handlers"
	"github.com/hubdesk/hubdesk/hub"
	"github.com/hubdesk/hubdesk/hub/emulator"
	"github.com/hubdesk/hubdesk/static"
	"github.com/hubdesk/hubdesk/storage"
)

// ssoRoles is the group mapping of the single sign-on tests.
const ssoRoles = "iot-admins=admin,iot-support=editor,staff=viewer"

// newSSOApp is a dashboard whose sign-on proxies are at trusted, with a
// local viewer vic for the normal sign-in.
func newSSOApp(t *testing.T, trusted string) *app {
	t.Helper()
	prefixes, err := handlers.ParseTrustedProxies(trusted)
	if err != nil {
		t.Fatal(err)
	}
	roles, err := handlers.ParseGroupRoles(ssoRoles)
	if err != nil {
		t.Fatal(err)
	}
	emu, err := emulator.NewServer(emulator.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emu.Close() })
	db, err := storage.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "hubdesk.db"), storage.Options{BcryptCost: 4})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.CreateUser(context.Background(), "vic", testPassword, storage.RoleViewer); err != nil {
		t.Fatal(err)
	}
	assets, err := static.New()
	if err != nil {
		t.Fatal(err)
	}
	logs := &strings.Builder{}
	h := handlers.New(handlers.Deps{
		Hub:           emu.Client(),
		HubName:       emu.HostName(),
		DB:            db,
		Sessions:      handlers.NewCookieStore([]byte(strings.Repeat("k", 64)), []byte(strings.Repeat("b", 32)), time.Hour, false),
		Assets:        assets,
		Logger:        slog.New(slog.NewTextHandler(&lockedWriter{b: logs}, nil)),
		SessionMaxAge: time.Hour,
		ProxyAuth: &handlers.ProxyAuth{
			UserHeader:   "X-Forwarded-User",
			GroupsHeader: "X-Forwarded-Groups",
			Trusted:      prefixes,
			Roles:        roles,
		},
	})
	e := echo.New()
	h.Register(e)
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	return &app{t: t, url: srv.URL, hub: emu.Client(), db: db, logs: logs}
}

// proxied is a browser behind the sign-on proxy: every request carries the
// headers the proxy adds.
func (a *app) proxied(header http.Header) *browser {
	b := a.browser()
	b.c.Transport = addHeaders{header: header, next: http.DefaultTransport}
	return b
}

type addHeaders struct {
	header http.Header
	next   http.RoundTripper
}

func (t addHeaders) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	for k, vs := range t.header {
		for _, v := range vs {
			r.Header.Add(k, v)
		}
	}
	return t.next.RoundTrip(r)
}

func ssoHeader(user string, groups ...string) http.Header {
	h := http.Header{"X-Forwarded-User": {user}}
	for _, g := range groups {
		h.Add("X-Forwarded-Groups", g)
	}
	return h
}

func TestSSOFromTrustedProxyMapsGroupsToRoles(t *testing.T) {
	a := newSSOApp(t, "127.0.0.1, ::1")
	tests := []struct {
		name   string
		groups []string
		want   storage.Role // "" for refused
	}{
		{"admin group", []string{"iot-admins"}, storage.RoleAdmin},
		{"editor group", []string{"iot-support"}, storage.RoleEditor},
		{"viewer group", []string{"staff"}, storage.RoleViewer},
		{"highest of several wins", []string{"staff, iot-admins,iot-support"}, storage.RoleAdmin},
		{"groups in several header lines", []string{"staff", "iot-support"}, storage.RoleEditor},
		{"group names ignore case", []string{"IOT-Support"}, storage.RoleEditor},
		{"unmapped groups only", []string{"finance,hr"}, ""},
		{"no groups header", nil, ""},
		{"empty groups header", []string{""}, ""},
		{"a group name inside another is no match", []string{"iot-admins-old"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := a.proxied(ssoHeader("carol@corp.example", tt.groups...))
			res, body := b.get("/")
			if tt.want == "" {
				if res.StatusCode != http.StatusForbidden || !strings.Contains(body, "none of your groups gives access") ||
					!strings.Contains(body, "iot-admins, iot-support, staff") {
					t.Fatalf("status %d, want a 403 page naming the groups:\n%s", res.StatusCode, body)
				}
				return
			}
			if res.StatusCode != http.StatusOK || !strings.Contains(body, `carol@corp.example (sso) <span class="badge">`+string(tt.want)+`</span>`) {
				t.Fatalf("status %d, want signed in as carol (sso), %s:\n%s", res.StatusCode, tt.want, body)
			}
			// The role is enforced, not only shown.
			wantAdmin := http.StatusForbidden
			if tt.want == storage.RoleAdmin {
				wantAdmin = http.StatusOK
			}
			if res, _ := b.get("/admin/users"); res.StatusCode != wantAdmin {
				t.Errorf("GET /admin/users: %d, want %d", res.StatusCode, wantAdmin)
			}
			wantEditor := http.StatusForbidden
			if tt.want.Allows(storage.RoleEditor) {
				wantEditor = http.StatusOK
			}
			if res, _ := b.get("/devices/~new"); res.StatusCode != wantEditor {
				t.Errorf("GET /devices/~new: %d, want %d", res.StatusCode, wantEditor)
			}
		})
	}
	if n, _ := a.db.CountUsers(context.Background()); n != 1 {
		t.Errorf("%d accounts, want only vic: sign-on must not create accounts", n)
	}
}

func TestSSOSkipsTheSignInPage(t *testing.T) {
	a := newSSOApp(t, "127.0.0.1")
	b := a.proxied(ssoHeader("carol", "staff"))
	res, _ := b.get("/login?next=/devices")
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/devices" {
		t.Errorf("GET /login: %d %s, want 303 to /devices", res.StatusCode, res.Header.Get("Location"))
	}
	if res, _ := b.get("/login?next=/login"); res.Header.Get("Location") != "/" {
		t.Errorf("GET /login?next=/login: redirects to %q, want /", res.Header.Get("Location"))
	}
	res, body := b.post("/logout", url.Values{"_csrf": {b.csrf("/")}})
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/" {
		t.Fatalf("sign out: %d %s", res.StatusCode, res.Header.Get("Location"))
	}
	if _, body = b.get("/"); !strings.Contains(body, "sign out there") {
		t.Error("signing out says nothing about the sign-on")
	}

	// Without the header, from the proxy's own address, local accounts
	// still sign in (a way in when the identity provider is down).
	local := a.browser()
	if res, _ := local.get("/login"); res.StatusCode != http.StatusOK {
		t.Errorf("GET /login without the header: %d", res.StatusCode)
	}
	local.signIn("vic")
}

func TestSSOHeaderFromUntrustedAddressIsIgnored(t *testing.T) {
	a := newSSOApp(t, "10.0.0.0/8, 192.0.2.7")
	h := ssoHeader("mallory", "iot-admins")
	h.Set("X-Forwarded-For", "10.0.0.1")
	h.Set("X-Real-Ip", "10.0.0.1")
	b := a.proxied(h)
	for _, path := range []string{"/", "/admin/users"} {
		res, _ := b.get(path)
		if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "/login") {
			t.Errorf("GET %s: %d %s, want a redirect to /login", path, res.StatusCode, res.Header.Get("Location"))
		}
	}
	if res, body := b.get("/login"); res.StatusCode != http.StatusOK || !strings.Contains(body, `name="password"`) {
		t.Errorf("GET /login: %d, want the sign-in form", res.StatusCode)
	}
	if !strings.Contains(a.logs.String(), "ignored user header from an untrusted address") || !strings.Contains(a.logs.String(), "mallory") {
		t.Errorf("the ignored header is not logged:\n%s", a.logs.String())
	}

	// A local session is what counts; the header does not lift its role.
	b.signIn("vic")
	res, body := b.get("/")
	if res.StatusCode != http.StatusOK || !strings.Contains(body, `vic <span class="badge">viewer</span>`) || strings.Contains(body, "mallory") {
		t.Errorf("signed in as vic with a foreign header: %d\n%s", res.StatusCode, body)
	}
	if res, _ := b.get("/admin/users"); res.StatusCode != http.StatusForbidden {
		t.Errorf("vic with an admin header: GET /admin/users %d, want 403", res.StatusCode)
	}
}

func TestSSOAuditNamesThePerson(t *testing.T) {
	a := newSSOApp(t, "127.0.0.1")
	if _, err := a.hub.CreateDevice(context.Background(), &hub.Device{DeviceID: "dev1"}); err != nil {
		t.Fatal(err)
	}
	b := a.proxied(ssoHeader("dana@corp.example", "iot-admins"))
	res, _ := b.post("/devices/dev1/keys/reveal", url.Values{"_csrf": {b.csrf("/devices/dev1")}})
	if res.StatusCode != http.StatusOK {
		t.Fatalf("reveal keys: %d", res.StatusCode)
	}
	entries := auditTrail(t, a)
	if len(entries) != 1 || entries[0].Actor != "dana@corp.example (sso)" {
		t.Fatalf("audit trail %+v, want one entry by dana@corp.example (sso)", entries)
	}
}

func TestParseGroupRolesAndTrustedProxies(t *testing.T) {
	roles, err := handlers.ParseGroupRoles(" a=viewer , b = admin,a=viewer ")
	if err != nil || len(roles) != 3 || roles[1] != (handlers.GroupRole{Group: "b", Role: storage.RoleAdmin}) {
		t.Errorf("ParseGroupRoles: %+v %v", roles, err)
	}
	for _, bad := range []string{"=admin", "a=", "a=owner", "a"} {
		if _, err := handlers.ParseGroupRoles(bad); err == nil {
			t.Errorf("ParseGroupRoles(%q): no error", bad)
		}
	}
	trusted, err := handlers.ParseTrustedProxies("::ffff:10.0.0.5, 10.1.2.3/8, fe80::1/64")
	if err != nil || len(trusted) != 3 || trusted[0].String() != "10.0.0.5/32" || trusted[1].String() != "10.0.0.0/8" || trusted[2].String() != "fe80::/64" {
		t.Errorf("ParseTrustedProxies: %v %v", trusted, err)
	}
	for _, bad := range []string{"localhost", "10.0.0.300", "10.0.0.0/33", "fe80::1%eth0"} {
		if _, err := handlers.ParseTrustedProxies(bad); err == nil {
			t.Errorf("ParseTrustedProxies(%q): no error", bad)
		}
	}
	for _, tt := range []struct{ in, want string }{{"x-forwarded-user", "X-Forwarded-User"}, {"", ""}, {" X-Email ", "X-Email"}} {
		if got, err := handlers.ParseHeaderName(tt.in); err != nil || got != tt.want {
			t.Errorf("ParseHeaderName(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"X User", "X-User:", "Ünicode"} {
		if _, err := handlers.ParseHeaderName(bad); err == nil {
			t.Errorf("ParseHeaderName(%q): no error", bad)
		}
	}
}
