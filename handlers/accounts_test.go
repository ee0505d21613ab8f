package handlers_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/hubdesk/hubdesk/storage"
)

var revealedPassword = regexp.MustCompile(`id="revealed-password-value"[^>]*value="([^"]+)"`)

// revealed is the generated password the page shows, "" if none.
func revealed(page string) string {
	m := revealedPassword.FindStringSubmatch(page)
	if m == nil {
		return ""
	}
	return m[1]
}

func (a *app) role(t *testing.T, name string) storage.User {
	t.Helper()
	u, err := a.db.User(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestAccountRoutesAreForAdmins(t *testing.T) {
	a := newApp(t, appOptions{})
	routes := []struct {
		method, path string
		form         url.Values
	}{
		{"GET", "/admin/users", nil},
		{"POST", "/admin/users", url.Values{"name": {"mallory"}, "role": {"admin"}, "password": {testPassword}}},
		{"POST", "/admin/users/vic/role", url.Values{"role": {"admin"}}},
		{"POST", "/admin/users/alice/disabled", url.Values{"disabled": {"true"}}},
		{"POST", "/admin/users/alice/password", nil},
	}
	for _, who := range []string{"vic", "ed"} {
		b := a.browser()
		b.signIn(who)
		token := b.csrf("/")
		for _, r := range routes {
			t.Run(who+" "+r.method+" "+r.path, func(t *testing.T) {
				var res *http.Response
				if r.method == "GET" {
					res, _ = b.get(r.path)
				} else {
					form := url.Values{"_csrf": {token}}
					for k, v := range r.form {
						form[k] = v
					}
					res, _ = b.post(r.path, form)
				}
				if res.StatusCode != http.StatusForbidden {
					t.Errorf("status %d, want 403", res.StatusCode)
				}
			})
		}
		if _, body := b.get("/"); strings.Contains(body, `href="/admin/users"`) {
			t.Errorf("%s sees the Accounts link", who)
		}
	}
	if u := a.role(t, "vic"); u.Role != storage.RoleViewer {
		t.Errorf("vic's role became %s", u.Role)
	}
	if u := a.role(t, "alice"); u.Disabled {
		t.Error("alice was disabled")
	}
	if _, err := a.db.User(context.Background(), "mallory"); err == nil {
		t.Error("mallory was created")
	}
	if _, err := a.db.Authenticate(context.Background(), "alice", testPassword); err != nil {
		t.Errorf("alice's password changed: %v", err)
	}
	anon := a.browser()
	if res, _ := anon.get("/admin/users"); res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "/login") {
		t.Errorf("signed out GET /admin/users: %d %s", res.StatusCode, res.Header.Get("Location"))
	}
}

func TestAddAccount(t *testing.T) {
	tests := []struct {
		name       string
		form       url.Values
		wantStatus int
		wantBody   string
		generated  bool
	}{
		{"typed password", url.Values{"name": {"tess"}, "role": {"editor"}, "password": {"twelve chars long"}}, http.StatusSeeOther, "", false},
		{"generated password", url.Values{"name": {"gen"}, "role": {"viewer"}, "password": {""}}, http.StatusSeeOther, "", true},
		{"duplicate name", url.Values{"name": {"vic"}, "role": {"viewer"}, "password": {testPassword}}, http.StatusUnprocessableEntity, "An account called vic already exists.", false},
		{"short password", url.Values{"name": {"shorty"}, "role": {"viewer"}, "password": {"short"}}, http.StatusUnprocessableEntity, "at least 12 characters", false},
		{"bad name", url.Values{"name": {"a b"}, "role": {"viewer"}, "password": {testPassword}}, http.StatusUnprocessableEntity, "Use only letters", false},
		{"bad role", url.Values{"name": {"rolo"}, "role": {"root"}, "password": {testPassword}}, http.StatusUnprocessableEntity, "Choose viewer, editor or admin.", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newApp(t, appOptions{})
			b := a.browser()
			b.signIn("alice")
			_, page := b.get("/admin/users")
			res, body := b.submit(page, "/admin/users", tt.form)
			if res.StatusCode != tt.wantStatus || !strings.Contains(body, tt.wantBody) {
				t.Fatalf("status %d, want %d with %q; body:\n%s", res.StatusCode, tt.wantStatus, tt.wantBody, body)
			}
			if tt.wantStatus != http.StatusSeeOther {
				if n, _ := a.db.CountUsers(context.Background()); n != 3 {
					t.Errorf("%d accounts after a refused add, want 3", n)
				}
				if !strings.Contains(body, `value="`+tt.form.Get("name")+`"`) {
					t.Error("the form lost the name typed")
				}
				return
			}
			name := tt.form.Get("name")
			_, page = b.get(res.Header.Get("Location"))
			if !strings.Contains(page, "Added account "+name) {
				t.Errorf("no confirmation on the next page:\n%s", page)
			}
			password := tt.form.Get("password")
			if got := revealed(page); tt.generated != (got != "") {
				t.Fatalf("revealed password %q, generated %v", got, tt.generated)
			} else if tt.generated {
				password = got
			}
			u, err := a.db.Authenticate(context.Background(), name, password)
			if err != nil || string(u.Role) != tt.form.Get("role") {
				t.Fatalf("sign in as the new account: %+v %v", u, err)
			}
			if _, again := b.get("/admin/users"); revealed(again) != "" {
				t.Error("the generated password is shown a second time")
			}
			if strings.Contains(a.logs.String(), password) {
				t.Error("the password is in the log")
			}
		})
	}
}

func TestChangeAccounts(t *testing.T) {
	a := newApp(t, appOptions{})
	ctx := context.Background()
	alice := a.browser()
	alice.signIn("alice")
	ed := a.browser()
	ed.signIn("ed")

	_, page := alice.get("/admin/users")
	if res, _ := alice.submit(page, "/admin/users/vic/role", url.Values{"role": {"editor"}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("set role: %d", res.StatusCode)
	}
	if u := a.role(t, "vic"); u.Role != storage.RoleEditor {
		t.Errorf("vic's role is %s, want editor", u.Role)
	}

	_, page = alice.get("/admin/users")
	if res, _ := alice.submit(page, "/admin/users/ed/disabled", nil); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("disable: %d", res.StatusCode)
	}
	if res, _ := ed.get("/devices"); res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/login" {
		t.Errorf("disabled account's session still works: %d %s", res.StatusCode, res.Header.Get("Location"))
	}
	_, page = alice.get("/admin/users")
	if !strings.Contains(page, "Account ed is disabled.") {
		t.Error("no confirmation of disabling")
	}
	if res, _ := alice.submit(page, "/admin/users/ed/disabled", nil); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("enable: %d", res.StatusCode)
	}
	if u := a.role(t, "ed"); u.Disabled {
		t.Error("ed is still disabled")
	}

	_, page = alice.get("/admin/users")
	if res, _ := alice.submit(page, "/admin/users/vic/password", nil); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("reset password: %d", res.StatusCode)
	}
	_, page = alice.get("/admin/users")
	pw := revealed(page)
	if pw == "" || !strings.Contains(page, "The password of vic was reset.") {
		t.Fatalf("no new password shown:\n%s", page)
	}
	if _, err := a.db.Authenticate(ctx, "vic", pw); err != nil {
		t.Errorf("new password: %v", err)
	}
	if _, err := a.db.Authenticate(ctx, "vic", testPassword); err == nil {
		t.Error("old password still works")
	}
	if strings.Contains(a.logs.String(), pw) {
		t.Error("the password is in the log")
	}

	res, body := alice.post("/admin/users/nobody/role", url.Values{"_csrf": {alice.csrf("/admin/users")}, "role": {"viewer"}})
	if res.StatusCode != http.StatusNotFound || !strings.Contains(body, "no account called nobody") {
		t.Errorf("unknown account: %d", res.StatusCode)
	}
}

func TestAdminCannotLockThemselvesOut(t *testing.T) {
	a := newApp(t, appOptions{})
	alice := a.browser()
	alice.signIn("alice")
	tests := []struct {
		name, action string
		changes      url.Values
		want         string
	}{
		{"disable self", "/admin/users/alice/disabled", url.Values{"disabled": {"true"}}, "You cannot disable the account you are signed in with."},
		{"demote self unconfirmed", "/admin/users/alice/role", url.Values{"role": {"editor"}}, "Tick the box to confirm."},
		{"demote the last admin", "/admin/users/alice/role", url.Values{"role": {"viewer"}, "confirm": {"yes"}}, "At least one enabled admin must remain."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			form := url.Values{"_csrf": {alice.csrf("/admin/users")}}
			for k, v := range tt.changes {
				form[k] = v
			}
			res, body := alice.post(tt.action, form)
			if res.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, tt.want) {
				t.Fatalf("status %d, want 422 with %q", res.StatusCode, tt.want)
			}
			if u := a.role(t, "alice"); u.Role != storage.RoleAdmin || u.Disabled {
				t.Fatalf("alice is now %+v", u)
			}
		})
	}

	// With a second admin, a confirmed demotion goes through and says so.
	if err := a.db.CreateUser(context.Background(), "bob", testPassword, storage.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	_, page := alice.get("/admin/users")
	res, _ := alice.submit(page, "/admin/users/alice/role", url.Values{"role": {"editor"}, "confirm": {"yes"}})
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/" {
		t.Fatalf("confirmed demotion: %d %s", res.StatusCode, res.Header.Get("Location"))
	}
	if _, body := alice.get("/"); !strings.Contains(body, "The role of alice is now editor.") {
		t.Error("no word of the new role")
	}
	if res, _ := alice.get("/admin/users"); res.StatusCode != http.StatusForbidden {
		t.Errorf("demoted admin GET /admin/users: %d", res.StatusCode)
	}

	bob := a.browser()
	bob.signIn("bob")
	if _, body := bob.get("/"); !strings.Contains(body, `href="/admin/users"`) {
		t.Error("an admin sees no Accounts link")
	}
	_, page = bob.get("/admin/users")
	for _, f := range pageForms(page) {
		if f.action == "/admin/users/bob/disabled" {
			t.Error("the page offers to disable one's own account")
		}
	}
}
