package handlers_test

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/securecookie"

	"github.com/hubdesk/hubdesk/handlers"
	"github.com/hubdesk/hubdesk/hub"
	"github.com/hubdesk/hubdesk/hub/emulator"
	"github.com/hubdesk/hubdesk/internal/formtest"
	"github.com/hubdesk/hubdesk/storage"
)

// newSecApp is newApp with debug logs from the dashboard and the emulator,
// so that the security tests can look for secrets in everything logged.
func newSecApp(tb testing.TB, opt appOptions) *app {
	opt.debugLogs = true
	return newApp(tb, opt)
}

// seed gives the hub a device and a module with symmetric keys and a twin,
// and the audit trail one twin change made through the dashboard, so every
// route has something real to act on. It returns that entry's id.
func (s *app) seed(t *testing.T) int64 {
	t.Helper()
	ctx := context.Background()
	createDevices(t, s.hub, "dev1", "dev2")
	if _, err := s.hub.CreateModule(ctx, &hub.Module{DeviceID: "dev1", ModuleID: "mod1"}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/devices/dev1/twin", "/devices/dev1/modules/mod1/twin"} {
		al := s.browser()
		al.signIn("alice")
		_, page := al.get(p)
		res, review := al.submit(page, p+"/review", url.Values{"desired": {`{"fw": "1.0"}`}, "tags": {`{"site": "A"}`}})
		if res.StatusCode != http.StatusOK {
			t.Fatalf("seed review %s: %d", p, res.StatusCode)
		}
		if res, _ := al.submit(review, p+"/save", nil); res.StatusCode != http.StatusSeeOther {
			t.Fatalf("seed save %s: %d", p, res.StatusCode)
		}
	}
	entries, _, err := s.db.ListAudit(ctx, storage.AuditFilter{})
	if err != nil || len(entries) == 0 {
		t.Fatalf("seed audit: %v, %d entries", err, len(entries))
	}
	return entries[0].ID
}

// state is everything a write could change: the hub's devices, modules and
// twins with their etags, the audit trail and the accounts.
func (s *app) state(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	var out strings.Builder
	add := func(what string, v any, err error) {
		if err != nil {
			t.Fatalf("state: %s: %v", what, err)
		}
		b, _ := json.Marshal(v)
		fmt.Fprintf(&out, "%s %s\n", what, b)
	}
	devices, err := s.hub.ListDevices(ctx, 1000)
	add("devices", devices, err)
	for _, d := range devices {
		tw, err := s.hub.GetTwin(ctx, d.DeviceID)
		add("twin "+d.DeviceID, tw, err)
		mods, err := s.hub.ListModules(ctx, d.DeviceID)
		add("modules "+d.DeviceID, mods, err)
		for _, m := range mods {
			tw, err := s.hub.GetModuleTwin(ctx, d.DeviceID, m.ModuleID)
			add("twin "+d.DeviceID+"/"+m.ModuleID, tw, err)
		}
	}
	audit, _, err := s.db.ListAudit(ctx, storage.AuditFilter{Limit: storage.MaxAuditLimit})
	add("audit", audit, err)
	users, err := s.db.ListUsers(ctx)
	add("users", users, err)
	return out.String()
}

// routeRule classifies a mutating route: the least role that may use it and
// a request that would do its work, so that a missing check shows.
type routeRule struct {
	role storage.Role
	// page holds the route's form, or (with borrow) a form whose fields
	// the route reads too; "" posts changes alone.
	page, borrow string
	changes      url.Values
	// writes says a permitted request changes the state (the control).
	writes bool
}

const (
	devPage  = "/devices/dev1"
	modPage  = "/devices/dev1/modules/mod1"
	devTwin  = "/devices/dev1/twin"
	modTwin  = "/devices/dev1/modules/mod1/twin"
	newDraft = `{"fw": "6.6.6", "evil": true}`
)

// mutatingRoutes classifies every route with a mutating method except
// /login and /logout. A new route fails TestMutatingRoutes until it is
// added here.
func mutatingRoutes() map[string]routeRule {
	twinEdit := url.Values{"desired": {newDraft}}
	rules := map[string]routeRule{
		"POST /devices":                              {role: storage.RoleEditor, changes: url.Values{"deviceId": {"planted"}, "authType": {"sas-auto"}}, writes: true},
		"POST /devices/:id":                          {role: storage.RoleEditor, page: devPage, changes: url.Values{"status": {"disabled"}, "statusReason": {"pwned"}}, writes: true},
		"POST /devices/:id/keys":                     {role: storage.RoleEditor, page: devPage, changes: url.Values{"action": {"regenerate-primary"}}, writes: true},
		"POST /devices/:id/modules":                  {role: storage.RoleEditor, page: devPage, changes: url.Values{"moduleId": {"planted"}}, writes: true},
		"POST /devices/:id/keys/reveal":              {role: storage.RoleAdmin, page: devPage, writes: true},
		"POST /devices/:id/delete":                   {role: storage.RoleAdmin, page: devPage, writes: true},
		"POST /devices/:id/modules/:mid/keys/reveal": {role: storage.RoleAdmin, page: modPage, writes: true},
		"POST /devices/:id/modules/:mid/delete":      {role: storage.RoleAdmin, page: modPage, writes: true},
		"POST /audit/:id/revert":                     {role: storage.RoleEditor, page: "/audit/:id"},
		"POST /admin/users":                          {role: storage.RoleAdmin, changes: url.Values{"name": {"mallory"}, "role": {"admin"}, "password": {"mallory's own password"}}, writes: true},
		"POST /admin/users/:name/role":               {role: storage.RoleAdmin, changes: url.Values{"role": {"admin"}}, writes: true},
		"POST /admin/users/:name/disabled":           {role: storage.RoleAdmin, changes: url.Values{"disabled": {"true"}}, writes: true},
		"POST /admin/users/:name/password":           {role: storage.RoleAdmin, writes: true},
	}
	for _, twin := range []string{devTwin, modTwin} {
		route := strings.NewReplacer("dev1", ":id", "mod1", ":mid").Replace(twin)
		rules["POST "+route+"/edit"] = routeRule{role: storage.RoleEditor, page: twin, borrow: twin + "/review", changes: twinEdit}
		rules["POST "+route+"/review"] = routeRule{role: storage.RoleEditor, page: twin, changes: twinEdit}
		rules["POST "+route+"/save"] = routeRule{role: storage.RoleEditor, page: twin, borrow: twin + "/review", changes: twinEdit, writes: true}
		rules["POST "+route+"/resolve"] = routeRule{role: storage.RoleEditor, page: twin, borrow: twin + "/review", changes: twinEdit}
		rules["POST "+route+"/overwrite"] = routeRule{role: storage.RoleAdmin, page: twin, borrow: twin + "/review", changes: twinEdit}
	}
	return rules
}

func isMutating(method string) bool {
	switch method {
	case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
		return true
	}
	return false
}

// fill puts real ids into a route's path: the seeded device, module,
// audit entry and the viewer's account.
func fill(path string, auditID int64) string {
	if strings.HasPrefix(path, "/audit/:id") {
		path = strings.Replace(path, ":id", strconv.FormatInt(auditID, 10), 1)
	}
	return strings.NewReplacer(":id", "dev1", ":mid", "mod1", ":name", "vic").Replace(path)
}

// lowerRoles are the signed-in users whose role is below need.
func lowerRoles(need storage.Role) []string {
	switch need {
	case storage.RoleAdmin:
		return []string{"vic", "ed"}
	case storage.RoleEditor:
		return []string{"vic"}
	}
	return nil
}

func userWith(r storage.Role) string {
	return map[storage.Role]string{storage.RoleAdmin: "alice", storage.RoleEditor: "ed", storage.RoleViewer: "vic"}[r]
}

// TestMutatingRoutes sends every mutating route of the app, found in the
// router, without a session, without a valid CSRF token and from a role
// below the route's, and checks each is refused with nothing changed. The
// same request from the right role is the control: it is let through, and
// writes when the route writes, so the refusals are the checks' doing.
func TestMutatingRoutes(t *testing.T) {
	probe := newSecApp(t, appOptions{})
	rules := mutatingRoutes()
	var routes []string
	for _, r := range probe.e.Routes() {
		if !isMutating(r.Method) || r.Path == "/login" || r.Path == "/logout" {
			continue
		}
		key := r.Method + " " + r.Path
		if _, ok := rules[key]; !ok {
			t.Errorf("%s is not classified in mutatingRoutes: add the role it needs", key)
			continue
		}
		routes = append(routes, key)
	}
	for key := range rules {
		if !slices.Contains(routes, key) {
			t.Errorf("mutatingRoutes lists %s, which is not a route", key)
		}
	}
	slices.Sort(routes)
	for _, key := range routes {
		t.Run(key, func(t *testing.T) {
			rule := rules[key]
			method, route, _ := strings.Cut(key, " ")
			s := newSecApp(t, appOptions{})
			auditID := s.seed(t)
			path := fill(route, auditID)
			want := s.state(t)
			unchanged := func(what string) {
				t.Helper()
				if got := s.state(t); got != want {
					t.Errorf("%s changed the state:\nbefore %s\nafter  %s", what, want, got)
					want = got
				}
			}
			entitled := s.browser()
			entitled.signIn(userWith(rule.role))
			// form is the request as the entitled user's page makes it,
			// with b's CSRF token.
			form := func(b *browser) url.Values {
				t.Helper()
				f := url.Values{}
				if rule.page != "" {
					_, page := entitled.get(fill(rule.page, auditID))
					action := path
					if rule.borrow != "" {
						action = rule.borrow
					}
					f = formFor(t, page, action)
				}
				for k, v := range rule.changes {
					f[k] = v
				}
				f.Set("_csrf", b.csrf("/devices"))
				return f
			}
			send := func(b *browser, f url.Values) *http.Response {
				t.Helper()
				req, err := http.NewRequest(method, s.url+path, strings.NewReader(f.Encode()))
				if err != nil {
					t.Fatal(err)
				}
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				res, err := b.c.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				res.Body.Close()
				return res
			}
			good := form(entitled)
			want = s.state(t)

			// (a) No session, no cookies at all: the CSRF check refuses.
			if res := send(s.browser(), good); res.StatusCode != http.StatusForbidden {
				t.Errorf("no cookies: %d, want 403", res.StatusCode)
			}
			unchanged("no cookies")
			// (a) A CSRF cookie and token but no session: sign in first.
			anon := s.browser()
			f := url.Values{}
			for k, v := range good {
				f[k] = v
			}
			f.Set("_csrf", anon.csrf("/login"))
			if res := send(anon, f); res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "/login") {
				t.Errorf("no session: %d %q, want 303 to /login", res.StatusCode, res.Header.Get("Location"))
			}
			unchanged("no session")

			// (b) The right role without a valid CSRF token.
			other := s.browser()
			for name, token := range map[string][]string{
				"no token":                nil,
				"empty token":             {""},
				"forged token":            {strings.Repeat("A", 32)},
				"another browser's token": {other.csrf("/login")},
			} {
				f := form(entitled)
				f["_csrf"] = token
				if res := send(entitled, f); res.StatusCode != http.StatusForbidden {
					t.Errorf("%s: %d, want 403", name, res.StatusCode)
				}
				unchanged(name)
			}

			// (c) A lower role with a valid token.
			for _, who := range lowerRoles(rule.role) {
				b := s.browser()
				b.signIn(who)
				if res := send(b, form(b)); res.StatusCode != http.StatusForbidden {
					t.Errorf("%s: %d, want 403", who, res.StatusCode)
				}
				unchanged(who)
			}

			// A GET of the same URL never writes.
			entitled.get(path)
			unchanged("GET")

			// The control: the right role gets through.
			res := send(entitled, form(entitled))
			if res.StatusCode == http.StatusForbidden || res.StatusCode >= 500 {
				t.Errorf("%s: %d, want it let through", userWith(rule.role), res.StatusCode)
			}
			if rule.writes && s.state(t) == want {
				t.Errorf("%s: the control request changed nothing (status %d): the refusals above prove little", userWith(rule.role), res.StatusCode)
			}
		})
	}
}

// formFor is the fields of the form on page that posts to action.
func formFor(t *testing.T, page, action string) url.Values {
	t.Helper()
	f, err := formtest.For(page, action)
	if err != nil {
		t.Fatalf("%v on the page", err)
	}
	return f
}

// cookieNamed is the Set-Cookie of res named name.
func cookieNamed(t *testing.T, res *http.Response, name string) *http.Cookie {
	t.Helper()
	for _, c := range res.Cookies() {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("%s: no %s cookie set", res.Request.URL.Path, name)
	return nil
}

// signInRaw signs name in with a client that keeps no cookies for it, so
// Secure cookies can be read over plain HTTP; it returns the answer.
func (s *app) signInRaw(t *testing.T, name string) *http.Response {
	t.Helper()
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := c.Get(s.url + "/login")
	if err != nil {
		t.Fatal(err)
	}
	body := readAll(res)
	csrf := cookieNamed(t, res, "hubdesk_csrf")
	m := csrfField.FindStringSubmatch(body)
	if m == nil {
		t.Fatal("no CSRF token on /login")
	}
	req, _ := http.NewRequest(http.MethodPost, s.url+"/login", strings.NewReader(url.Values{
		"_csrf": {m[1]}, "name": {name}, "password": {testPassword}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(&http.Cookie{Name: csrf.Name, Value: csrf.Value})
	res, err = c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	readAll(res)
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign in: %d", res.StatusCode)
	}
	return res
}

func readAll(res *http.Response) string {
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return string(b)
}

func TestCookieFlags(t *testing.T) {
	for _, secure := range []bool{false, true} {
		t.Run("secure="+strconv.FormatBool(secure), func(t *testing.T) {
			s := newSecApp(t, appOptions{secure: secure})
			res := s.signInRaw(t, "vic")
			tests := []struct {
				name     string
				sameSite http.SameSite
			}{
				{"hubdesk_session", http.SameSiteLaxMode},
				// The CSRF cookie is set on the first page; it is Strict.
				{"hubdesk_csrf", http.SameSiteStrictMode},
			}
			for _, tt := range tests {
				var c *http.Cookie
				if tt.name == "hubdesk_session" {
					c = cookieNamed(t, res, tt.name)
				} else {
					r, err := http.Get(s.url + "/login")
					if err != nil {
						t.Fatal(err)
					}
					readAll(r)
					c = cookieNamed(t, r, tt.name)
				}
				if !c.HttpOnly || c.SameSite != tt.sameSite || c.Path != "/" || c.Secure != secure || c.Domain != "" {
					t.Errorf("%s: HttpOnly=%v SameSite=%v Path=%q Secure=%v Domain=%q; want HttpOnly, SameSite %v, Path /, Secure=%v, no Domain",
						c.Name, c.HttpOnly, c.SameSite, c.Path, c.Secure, c.Domain, tt.sameSite, secure)
				}
				if c.Name == "hubdesk_session" && (c.MaxAge <= 0 || c.MaxAge > 3600) {
					t.Errorf("session cookie Max-Age %d, want the session's hour", c.MaxAge)
				}
			}
			// Behind a TLS-terminating proxy, as over TLS, HSTS is sent.
			req, _ := http.NewRequest(http.MethodGet, s.url+"/login", nil)
			req.Header.Set("X-Forwarded-Proto", "https")
			r, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			readAll(r)
			if hsts := r.Header.Get("Strict-Transport-Security"); (hsts != "") != secure {
				t.Errorf("Strict-Transport-Security %q with Secure=%v", hsts, secure)
			}
		})
	}
}

// encodeSession makes a session cookie as the server would with its keys:
// what an attacker could plant is one the server once issued.
func (s *app) encodeSession(t *testing.T, values map[any]any) *http.Cookie {
	t.Helper()
	v, err := securecookie.EncodeMulti("hubdesk_session", values, securecookie.New(s.hashKey, s.blockKey))
	if err != nil {
		t.Fatal(err)
	}
	return &http.Cookie{Name: "hubdesk_session", Value: v, Path: "/"}
}

func (s *app) decodeSession(t *testing.T, c *http.Cookie) map[any]any {
	t.Helper()
	values := map[any]any{}
	if err := securecookie.DecodeMulti("hubdesk_session", c.Value, &values, securecookie.New(s.hashKey, s.blockKey)); err != nil {
		t.Fatalf("decode session cookie: %v", err)
	}
	return values
}

func (b *browser) sessionCookie() *http.Cookie {
	u, _ := url.Parse(b.app.url)
	for _, c := range b.c.Jar.Cookies(u) {
		if c.Name == "hubdesk_session" {
			return c
		}
	}
	return nil
}

func (b *browser) setCookie(c *http.Cookie) {
	u, _ := url.Parse(b.app.url)
	b.c.Jar.SetCookies(u, []*http.Cookie{c})
}

// TestSessionFixation plants a session cookie before sign-in, as an
// attacker who got one into the victim's browser would, and checks that
// signing in issues a fresh one that carries nothing over.
func TestSessionFixation(t *testing.T) {
	s := newSecApp(t, appOptions{})
	planted := s.encodeSession(t, map[any]any{
		"planted":      "by mallory",
		"flash":        []any{"ok\x00Mallory was here"},
		"drafts_saved": "hubdesk:draft:/devices/dev1/twin:desired",
		"revealed":     "mallory\x00a password mallory chose",
	})
	b := s.browser()
	b.setCookie(planted)
	b.signIn("vic")
	got := b.sessionCookie()
	if got == nil || got.Value == planted.Value {
		t.Fatal("signing in kept the planted session cookie")
	}
	values := s.decodeSession(t, got)
	if values["user"] != "vic" {
		t.Errorf("session user %v, want vic", values["user"])
	}
	for k := range values {
		if k != "user" && k != "issued" {
			t.Errorf("the planted %v survived sign-in: %v", k, values[k])
		}
	}
	if _, page := b.get("/"); strings.Contains(page, "Mallory") {
		t.Error("a planted flash is shown after sign-in")
	}
}

// TestForgedSession checks that only the server's keys make a session: a
// cookie naming alice signed with other keys, or tampered with, is no
// session at all.
func TestForgedSession(t *testing.T) {
	s := newSecApp(t, appOptions{})
	real := s.encodeSession(t, map[any]any{"user": "alice", "issued": time.Now().Unix()})
	otherKeys, err := securecookie.EncodeMulti("hubdesk_session", map[any]any{"user": "alice", "issued": time.Now().Unix()},
		securecookie.New(randomBytes(64), randomBytes(32)))
	if err != nil {
		t.Fatal(err)
	}
	tampered := []byte(real.Value)
	tampered[len(tampered)/2] ^= 1
	tests := []struct {
		name, value string
		ok          bool
	}{
		{"the server's own", real.Value, true},
		{"other keys", otherKeys, false},
		{"tampered", string(tampered), false},
		{"empty", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := s.browser()
			b.setCookie(&http.Cookie{Name: "hubdesk_session", Value: tt.value, Path: "/"})
			res, _ := b.get("/admin/users")
			if (res.StatusCode == http.StatusOK) != tt.ok {
				t.Errorf("GET /admin/users: %d, want signed in = %v", res.StatusCode, tt.ok)
			}
		})
	}
}

// TestCapturedCookieAfterLogout documents what a session cookie copied
// before sign-out is worth. The session lives in the cookie alone, so the
// server cannot revoke it: until it expires it still works. What does stop
// it at once is a change to the account, which requireRole reads on every
// request: disabling the account, or lowering its role.
func TestCapturedCookieAfterLogout(t *testing.T) {
	s := newSecApp(t, appOptions{})
	b := s.browser()
	b.signIn("ed")
	captured := b.sessionCookie()
	if res, _ := b.post("/logout", url.Values{"_csrf": {b.csrf("/devices")}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("logout: %d", res.StatusCode)
	}
	thief := s.browser()
	thief.setCookie(captured)
	if res, _ := thief.get("/devices/~new"); res.StatusCode != http.StatusOK {
		t.Fatalf("captured cookie after logout: %d; if sessions became revocable, update this test", res.StatusCode)
	}
	t.Log("a cookie copied before sign-out still works until it expires: cookie sessions cannot be revoked server side")

	// An admin changes the account in the dashboard.
	al := s.browser()
	al.signIn("alice")
	change := func(what string, form url.Values) {
		t.Helper()
		form.Set("_csrf", al.csrf("/admin/users"))
		if res, _ := al.post("/admin/users/ed/"+what, form); res.StatusCode != http.StatusSeeOther {
			t.Fatalf("set %s of ed: %d", what, res.StatusCode)
		}
	}
	change("role", url.Values{"role": {"viewer"}})
	if res, _ := thief.get("/devices/~new"); res.StatusCode != http.StatusForbidden {
		t.Errorf("after demotion to viewer: %d, want 403", res.StatusCode)
	}
	change("disabled", url.Values{"disabled": {"true"}})
	res, _ := thief.get("/devices")
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/login" {
		t.Errorf("after disabling: %d %q, want 303 to /login", res.StatusCode, res.Header.Get("Location"))
	}
	change("disabled", url.Values{"disabled": {"false"}})
	// requireRole also deleted the cookie from the thief's browser; the
	// copy itself works again once the account is enabled: it is the
	// account check, not the cookie, that refuses.
	thief.setCookie(captured)
	if res, _ := thief.get("/devices"); res.StatusCode != http.StatusOK {
		t.Errorf("after enabling again: %d", res.StatusCode)
	}
}

// browserFrom is a browser whose connections come from the loopback
// address ip (127.0.0.0/8), a client of its own as far as the server sees.
func (a *app) browserFrom(ip string) *browser {
	b := a.browser()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	b.c.Transport = &http.Transport{DialContext: d.DialContext}
	return b
}

func (b *browser) tryPassword(name, password string, header http.Header) (*http.Response, string) {
	b.t.Helper()
	csrf := b.csrf("/login")
	req, _ := http.NewRequest(http.MethodPost, b.app.url+"/login", strings.NewReader(url.Values{
		"_csrf": {csrf}, "name": {name}, "password": {password}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range header {
		req.Header[k] = v
	}
	res, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	return res, readAll(res)
}

// TestSignInRateLimit: the existing sign-in tests cover right and wrong
// passwords; this covers guessing. Each client address and each user name
// gets ten attempts, refilled one per 30 s.
func TestSignInRateLimit(t *testing.T) {
	now := time.Now()
	clock := func() time.Time { return now }
	s := newSecApp(t, appOptions{now: clock})
	attacker := s.browserFrom("127.0.0.2")
	for i := 1; i <= 10; i++ {
		if res, _ := attacker.tryPassword("vic", fmt.Sprintf("guess number %d", i), nil); res.StatusCode != http.StatusUnauthorized {
			t.Fatalf("guess %d: %d, want 401", i, res.StatusCode)
		}
	}
	res, body := attacker.tryPassword("vic", "guess number 11", nil)
	if res.StatusCode != http.StatusTooManyRequests || !strings.Contains(body, "Too many sign-in attempts. Wait a few minutes") {
		t.Fatalf("11th guess: %d, want 429 with a message", res.StatusCode)
	}
	tests := []struct {
		name   string
		b      *browser
		user   string
		header http.Header
		want   int
	}{
		// The right password is refused while the user is limited, from
		// the attacker and from vic's own machine alike.
		{"right password from the attacker", attacker, "vic", nil, http.StatusTooManyRequests},
		{"right password from elsewhere", s.browserFrom("127.0.0.3"), "vic", nil, http.StatusTooManyRequests},
		// Rotating X-Forwarded-For escapes no limit on the user.
		{"right password, forged X-Forwarded-For", s.browserFrom("127.0.0.4"), "vic", http.Header{"X-Forwarded-For": {"203.0.113.9"}}, http.StatusTooManyRequests},
		// Another user from another address is not affected.
		{"another user", s.browserFrom("127.0.0.5"), "alice", nil, http.StatusSeeOther},
		// The attacker's address is spent too.
		{"another user from the attacker's address", attacker, "ed", nil, http.StatusTooManyRequests},
	}
	for _, tt := range tests {
		if res, _ := tt.b.tryPassword(tt.user, testPassword, tt.header); res.StatusCode != tt.want {
			t.Errorf("%s: %d, want %d", tt.name, res.StatusCode, tt.want)
		}
	}
	if !strings.Contains(s.logs.String(), "sign-in rate limited") {
		t.Error("the limit is not logged")
	}
	now = now.Add(31 * time.Second)
	if res, _ := s.browserFrom("127.0.0.3").tryPassword("vic", testPassword, nil); res.StatusCode != http.StatusSeeOther {
		t.Errorf("after 31 s: %d, want a sign-in", res.StatusCode)
	}
}

// TestSignInSpraying: one address trying one password on many users is
// stopped by the per-address limit, though it names a new address in
// X-Forwarded-For with every attempt (no proxy is trusted here).
func TestSignInSpraying(t *testing.T) {
	s := newSecApp(t, appOptions{})
	b := s.browserFrom("127.0.0.6")
	for i := 1; i <= 10; i++ {
		xff := http.Header{"X-Forwarded-For": {fmt.Sprintf("203.0.113.%d", i)}}
		if res, _ := b.tryPassword(fmt.Sprintf("user%d", i), "Summer2026!", xff); res.StatusCode != http.StatusUnauthorized {
			t.Fatalf("attempt %d: %d", i, res.StatusCode)
		}
	}
	if res, _ := b.tryPassword("alice", "Summer2026!", http.Header{"X-Forwarded-For": {"203.0.113.11"}}); res.StatusCode != http.StatusTooManyRequests {
		t.Errorf("11th attempt from one address: %d, want 429", res.StatusCode)
	}
}

// offSite are return URLs that lead, or in some browser could lead, away
// from the site.
var offSite = []string{
	"//evil.example",
	"//evil.example/devices",
	"/\\evil.example",
	"\\\\evil.example",
	"/\\/evil.example",
	"https://evil.example",
	"HTTPS://evil.example/",
	"http:evil.example",
	"javascript:alert(1)",
	"JaVaScRiPt:alert(1)",
	"data:text/html,<script>alert(1)</script>",
	"/\t/evil.example",
	"/\r\n/evil.example",
	" //evil.example",
	"///evil.example",
	"evil.example",
	"@evil.example",
	"https:/\\evil.example",
}

// onSite decides whether a Location stays on the site, the way a browser
// resolves it against the page's URL.
func onSite(t *testing.T, base, loc string) bool {
	t.Helper()
	if strings.ContainsAny(loc, "\\\t\r\n") || strings.HasPrefix(loc, "//") {
		return false
	}
	b, _ := url.Parse(base)
	u, err := b.Parse(loc)
	return err == nil && u.Scheme == b.Scheme && u.Host == b.Host && strings.HasPrefix(loc, "/")
}

// TestNoOpenRedirect sends each off-site return URL through the sign-in
// page (GET /login?next=, whose form carries it) and straight to POST
// /login, and through the single sign-on shortcut; every Location stays on
// the site. TestSafeNext covers the function itself.
func TestNoOpenRedirect(t *testing.T) {
	encoded := []string{"/%2F%2Fevil.example", "/%5Cevil.example", "/%2F/evil.example", "/%09/evil.example"}
	for _, next := range append(slices.Clone(offSite), encoded...) {
		// A % in a test's name would reach SQLite's file name.
		t.Run(strings.ReplaceAll(next, "%", "pct"), func(t *testing.T) {
			// Each case signs in twice: a new app keeps clear of the
			// sign-in rate limit.
			s := newSecApp(t, appOptions{})
			b := s.browser()
			// Through the page: the form's next is what the browser posts.
			res, page := b.get("/login?next=" + url.QueryEscape(next))
			if res.StatusCode != http.StatusOK {
				t.Fatalf("GET /login: %d", res.StatusCode)
			}
			f := formFor(t, page, "/login")
			if got := f.Get("next"); got != "" && !onSite(t, s.url, got) {
				t.Errorf("the sign-in form carries next=%q", got)
			}
			f.Set("name", "vic")
			f.Set("password", testPassword)
			res, _ = b.post("/login", f)
			if loc := res.Header.Get("Location"); res.StatusCode != http.StatusSeeOther || !onSite(t, s.url, loc) {
				t.Errorf("via the page: %d to %q", res.StatusCode, loc)
			}
			// Straight to POST /login, raw as the attacker typed it.
			b = s.browser()
			res, _ = b.post("/login", url.Values{"_csrf": {b.csrf("/login")}, "name": {"vic"}, "password": {testPassword}, "next": {next}})
			if loc := res.Header.Get("Location"); res.StatusCode != http.StatusSeeOther || !onSite(t, s.url, loc) {
				t.Errorf("POST: %d to %q", res.StatusCode, loc)
			}
		})
	}
	// A few that must survive, so the filter is not simply "/" for all.
	s := newSecApp(t, appOptions{})
	for _, next := range []string{"/devices?q=sensor", "/devices/dev%2F1/twin", "/audit?person=ed"} {
		b := s.browser()
		res, _ := b.post("/login", url.Values{"_csrf": {b.csrf("/login")}, "name": {"vic"}, "password": {testPassword}, "next": {next}})
		if loc := res.Header.Get("Location"); loc != next {
			t.Errorf("next=%q: redirected to %q", next, loc)
		}
	}
}

// TestNoOpenRedirectSSO: someone the sign-on proxy has signed in skips the
// sign-in page straight to next; it must stay on the site too.
func TestNoOpenRedirectSSO(t *testing.T) {
	s := newSecApp(t, appOptions{proxy: &handlers.ProxyAuth{
		UserHeader: "X-Forwarded-User", GroupsHeader: "X-Forwarded-Groups",
		Trusted: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
		Roles:   []handlers.GroupRole{{Group: "support", Role: storage.RoleViewer}},
	}})
	for _, next := range offSite {
		req, _ := http.NewRequest(http.MethodGet, s.url+"/login?next="+url.QueryEscape(next), nil)
		req.Header.Set("X-Forwarded-User", "sam")
		req.Header.Set("X-Forwarded-Groups", "support")
		res, err := s.browser().c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		readAll(res)
		if loc := res.Header.Get("Location"); res.StatusCode != http.StatusSeeOther || !onSite(t, s.url, loc) {
			t.Errorf("next=%q: %d to %q", next, res.StatusCode, loc)
		}
	}
}

// secrets are the values no page or log line may show, by name.
type secrets map[string]string

func (s *app) secrets(t *testing.T) secrets {
	t.Helper()
	ctx := context.Background()
	out := secrets{}
	devices, err := s.hub.ListDevices(ctx, 1000)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range devices {
		if k := d.Authentication.SymmetricKey; k != nil {
			out[d.DeviceID+" primary key"] = k.PrimaryKey
			out[d.DeviceID+" secondary key"] = k.SecondaryKey
		}
		mods, err := s.hub.ListModules(ctx, d.DeviceID)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range mods {
			mod, err := s.hub.GetModule(ctx, d.DeviceID, m.ModuleID)
			if err != nil {
				t.Fatal(err)
			}
			if k := mod.Authentication.SymmetricKey; k != nil {
				out[d.DeviceID+"/"+m.ModuleID+" primary key"] = k.PrimaryKey
				out[d.DeviceID+"/"+m.ModuleID+" secondary key"] = k.SecondaryKey
			}
		}
	}
	emu := s.emu.Emulator()
	for _, p := range []string{emulator.PolicyOwner, emulator.PolicyRegistryRead, emulator.PolicyRegistryReadWrite, emulator.PolicyService} {
		out[p+" primary key"] = emu.PolicyKey(p)
		out[p+" secondary key"] = emu.PolicySecondaryKey(p)
		out[p+" connection string"] = emu.PolicyConnectionString(s.emu.HostName(), p)
	}
	out["hub connection string"] = s.emu.ConnectionString()
	for name, k := range map[string][]byte{"session hash key": s.hashKey, "session block key": s.blockKey} {
		out[name+" (hex)"] = hex.EncodeToString(k)
		out[name+" (base64)"] = base64.StdEncoding.EncodeToString(k)
		out[name+" (raw)"] = string(k)
	}
	out["sign-in password"] = testPassword
	for name, v := range out {
		if len(v) < 16 {
			t.Fatalf("secret %s is %q: too short to search for", name, v)
		}
	}
	return out
}

// leaks names the secrets text holds.
func (ss secrets) leaks(text string) []string {
	var found []string
	for name, v := range ss {
		if strings.Contains(text, v) {
			found = append(found, name)
		}
	}
	slices.Sort(found)
	return found
}

// TestNoSecretsInPagesOrLogs reads every page of the app as an admin and as
// a viewer, reveals keys, signs in with a wrong password and adds an
// account with a typed one, and checks that no key, connection string,
// session key or password appears in a page (the reveal answers aside,
// which exist to show a device's keys) or in a log line.
func TestNoSecretsInPagesOrLogs(t *testing.T) {
	s := newSecApp(t, appOptions{})
	auditID := s.seed(t)
	ctx := context.Background()
	if _, err := s.hub.CreateDevice(ctx, &hub.Device{DeviceID: "own-keys", Authentication: &hub.AuthenticationMechanism{
		Type: hub.AuthSAS, SymmetricKey: &hub.SymmetricKey{PrimaryKey: base64.StdEncoding.EncodeToString(randomBytes(32)),
			SecondaryKey: base64.StdEncoding.EncodeToString(randomBytes(32))}}}); err != nil {
		t.Fatal(err)
	}
	typedWrong := "typed wrong password 4711"
	typedNew := "typed new account password 0815"

	al := s.browser()
	al.signIn("alice")
	// The writes that put keys within the app's reach: reveals, a key
	// regeneration, an account with a typed password.
	var reveals []string
	for _, p := range []string{"/devices/dev1/keys/reveal", "/devices/dev1/modules/mod1/keys/reveal", "/devices/own-keys/keys/reveal"} {
		res, body := al.post(p, url.Values{"_csrf": {al.csrf("/devices/dev1")}})
		if res.StatusCode != http.StatusOK {
			t.Fatalf("%s: %d", p, res.StatusCode)
		}
		reveals = append(reveals, body)
	}
	_, page := al.get("/devices/dev2")
	if res, _ := al.submit(page, "/devices/dev2/keys", url.Values{"action": {"regenerate-primary"}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("regenerate: %d", res.StatusCode)
	}
	if res, _ := al.post("/admin/users", url.Values{"_csrf": {al.csrf("/admin/users")}, "name": {"nina"}, "role": {"viewer"}, "password": {typedNew}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("add account: %d", res.StatusCode)
	}
	wrong := s.browser()
	if res, _ := wrong.tryPassword("alice", typedWrong, nil); res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("wrong password: %d", res.StatusCode)
	}

	sec := s.secrets(t)
	sec["typed wrong password"] = typedWrong
	sec["typed account password"] = typedNew
	// The control: the scan finds the keys where they are meant to be.
	if got := sec.leaks(reveals[0]); !slices.Contains(got, "dev1 primary key") || !slices.Contains(got, "dev1 secondary key") {
		t.Fatalf("the reveal answer shows %v: the scan is not looking for the right values", got)
	}
	if got := sec.leaks(reveals[1]); !slices.Contains(got, "dev1/mod1 primary key") {
		t.Fatalf("the module reveal answer shows %v", got)
	}
	for i, body := range reveals {
		for _, name := range sec.leaks(body) {
			if !strings.HasPrefix(name, "dev1 ") && !strings.HasPrefix(name, "dev1/mod1 ") && !strings.HasPrefix(name, "own-keys ") {
				t.Errorf("reveal %d shows %s", i, name)
			}
		}
	}

	var paths []string
	for _, r := range s.e.Routes() {
		if r.Method != http.MethodGet || strings.Contains(r.Path, "*") {
			continue
		}
		paths = append(paths, fill(r.Path, auditID))
		if strings.Contains(r.Path, ":id") && !strings.HasPrefix(r.Path, "/audit/") {
			paths = append(paths, strings.Replace(fill(r.Path, auditID), "dev1", "own-keys", 1))
		}
	}
	entries, _, err := s.db.ListAudit(ctx, storage.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		paths = append(paths, "/audit/"+strconv.FormatInt(e.ID, 10))
	}
	paths = append(paths, "/devices?q=dev", "/devices?where=deviceId+%3D+%27dev1%27", "/audit?action=key.reveal",
		"/audit/export.csv?limit=1000", "/audit/export.json?limit=1000", "/devices/dev2/history", "/login?next=/devices")
	for _, who := range []string{"alice", "vic"} {
		b := s.browser()
		b.signIn(who)
		for _, p := range paths {
			res, body := b.get(p)
			if res.StatusCode >= 500 {
				t.Errorf("%s GET %s: %d", who, p, res.StatusCode)
			}
			var head strings.Builder
			res.Header.Write(&head)
			if got := sec.leaks(body + head.String()); got != nil {
				t.Errorf("%s GET %s shows %v", who, p, got)
			}
		}
	}
	if got := sec.leaks(s.logs.String()); got != nil {
		t.Errorf("the logs hold %v", got)
	}
	if !strings.Contains(s.logs.String(), "sign-in refused") {
		t.Error("the log capture missed the failed sign-in: is it capturing?")
	}
}

// TestSignInReturnsToTheWholeURL follows the way back from a page that
// needed sign-in: the return URL keeps all of its query, and a query
// smuggling its own next cannot choose where sign-in leads.
func TestSignInReturnsToTheWholeURL(t *testing.T) {
	s := newSecApp(t, appOptions{})
	tests := []struct{ page, want string }{
		{"/devices?q=sensor&status=disabled&size=25", "/devices?q=sensor&status=disabled&size=25"},
		{"/audit?person=ed&action=twin.update", "/audit?person=ed&action=twin.update"},
		{"/devices?q=a&next=//evil.example", "/devices?q=a&next=//evil.example"},
		{"/devices?next=https%3A%2F%2Fevil.example", "/devices?next=https%3A%2F%2Fevil.example"},
	}
	for _, tt := range tests {
		b := s.browser()
		res, _ := b.get(tt.page)
		loc := res.Header.Get("Location")
		if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, "/login?") {
			t.Fatalf("%s: %d %q, want a redirect to sign in", tt.page, res.StatusCode, loc)
		}
		_, page := b.get(loc)
		f := formFor(t, page, "/login")
		f.Set("name", "vic")
		f.Set("password", testPassword)
		res, _ = b.post("/login", f)
		if got := res.Header.Get("Location"); got != tt.want {
			t.Errorf("%s: signed in to %q, want %q", tt.page, got, tt.want)
		}
	}
}

// TestSuccessfulSignInsAreNotLimited: the limit is on guessing. People
// signing in with their passwords, many from one office address or one
// person many times, are never refused, and do not use up the attempts
// a wrong password has.
func TestSuccessfulSignInsAreNotLimited(t *testing.T) {
	s := newSecApp(t, appOptions{})
	for i := 1; i <= 15; i++ {
		who := []string{"alice", "ed", "vic"}[i%3]
		if res, _ := s.browser().tryPassword(who, testPassword, nil); res.StatusCode != http.StatusSeeOther {
			t.Fatalf("sign-in %d (%s): %d", i, who, res.StatusCode)
		}
	}
	b := s.browser()
	for i := 1; i <= 10; i++ {
		if res, _ := b.tryPassword("vic", "a wrong guess", nil); res.StatusCode != http.StatusUnauthorized {
			t.Fatalf("wrong password %d after the sign-ins: %d, want 401", i, res.StatusCode)
		}
	}
	if res, _ := b.tryPassword("vic", "a wrong guess", nil); res.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("11th wrong password: %d, want 429", res.StatusCode)
	}
}
