package handlers_test

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
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

// accountEntries are the trail's entries about account changes, oldest
// first.
func (a *app) accountEntries(t *testing.T) []storage.AuditEntry {
	t.Helper()
	var out []storage.AuditEntry
	for e, err := range a.db.AuditEntries(context.Background(), storage.AuditFilter{}) {
		if err != nil {
			t.Fatal(err)
		}
		if e.Action.IsAccountChange() {
			out = append([]storage.AuditEntry{e}, out...)
		}
	}
	return out
}

// Every change on the accounts page, and every refusal of one, lands in
// the audit trail under the admin who made it, and the trail's pages show
// it as an account change: the account as its target, no revert, no
// password.
func TestAccountChangesInTheAuditTrail(t *testing.T) {
	a := newApp(t, appOptions{})
	alice := a.browser()
	alice.signIn("alice")
	steps := []struct {
		action string
		form   url.Values
		status int
	}{
		{"/admin/users", url.Values{"name": {"tess"}, "role": {"editor"}, "password": {testPassword}}, http.StatusSeeOther},
		{"/admin/users/vic/role", url.Values{"role": {"editor"}}, http.StatusSeeOther},
		{"/admin/users/ed/disabled", url.Values{"disabled": {"true"}}, http.StatusSeeOther},
		{"/admin/users/ed/disabled", url.Values{"disabled": {"false"}}, http.StatusSeeOther},
		{"/admin/users/vic/password", nil, http.StatusSeeOther},
		{"/admin/users/alice/role", url.Values{"role": {"viewer"}, "confirm": {"yes"}}, http.StatusUnprocessableEntity},
		{"/admin/users/alice/disabled", url.Values{"disabled": {"true"}}, http.StatusUnprocessableEntity},
		// Form mistakes and the confirmation prompt change nothing and
		// are not recorded.
		{"/admin/users/alice/role", url.Values{"role": {"editor"}}, http.StatusUnprocessableEntity},
		{"/admin/users", url.Values{"name": {"a b"}, "role": {"viewer"}, "password": {testPassword}}, http.StatusUnprocessableEntity},
	}
	var password string
	for _, s := range steps {
		form := url.Values{"_csrf": {alice.csrf("/admin/users")}}
		for k, v := range s.form {
			form[k] = v
		}
		res, _ := alice.post(s.action, form)
		if res.StatusCode != s.status {
			t.Fatalf("POST %s %v: %d, want %d", s.action, s.form, res.StatusCode, s.status)
		}
		if strings.HasSuffix(s.action, "/password") {
			_, page := alice.get("/admin/users")
			password = revealed(page)
		}
	}

	type row struct {
		Action   storage.AuditAction
		Account  string
		Outcome  storage.AuditOutcome
		Before   string
		After    string
		Actor    string
		HasReqID bool
	}
	var got []row
	entries := a.accountEntries(t)
	for _, e := range entries {
		got = append(got, row{e.Action, e.Account, e.Outcome, e.Before, e.After, e.Actor, e.RequestID != ""})
	}
	const (
		viewer   = `{"role":"viewer","disabled":false}`
		editor   = `{"role":"editor","disabled":false}`
		admin    = `{"role":"admin","disabled":false}`
		disabled = `{"role":"editor","disabled":true}`
	)
	want := []row{
		{storage.AuditAccountCreate, "tess", storage.AuditOK, "", editor, "alice", true},
		{storage.AuditAccountSetRole, "vic", storage.AuditOK, viewer, editor, "alice", true},
		{storage.AuditAccountDisable, "ed", storage.AuditOK, editor, disabled, "alice", true},
		{storage.AuditAccountEnable, "ed", storage.AuditOK, disabled, editor, "alice", true},
		{storage.AuditAccountResetPassword, "vic", storage.AuditOK, editor, editor, "alice", true},
		{storage.AuditAccountSetRole, "alice", storage.AuditRefused, admin, viewer, "alice", true},
		{storage.AuditAccountDisable, "alice", storage.AuditRefused, admin, `{"role":"admin","disabled":true}`, "alice", true},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("trail:\n%+v\nwant\n%+v", got, want)
	}

	ed := a.browser()
	ed.signIn("ed")
	// The log: the account is the target and links to its own trail;
	// the person filter finds the admin's changes, the account filter
	// one account's.
	_, page := ed.get("/audit?person=alice")
	if ids := listedIDs(page); len(ids) != len(want) {
		t.Errorf("person=alice lists %d entries, want %d", len(ids), len(want))
	}
	if !strings.Contains(page, `account <a href="/audit?account=vic"`) {
		t.Errorf("the target column does not name account vic:\n%s", page)
	}
	_, page = ed.get("/audit?account=vic")
	if ids := listedIDs(page); len(ids) != 2 || ids[0] != entries[4].ID || ids[1] != entries[1].ID {
		t.Errorf("account=vic lists %v, want entries %d and %d", ids, entries[4].ID, entries[1].ID)
	}
	_, page = ed.get("/audit?action=account.set-role&outcome=refused")
	if ids := listedIDs(page); len(ids) != 1 || ids[0] != entries[5].ID {
		t.Errorf("refused role changes: %v, want [%d]", ids, entries[5].ID)
	}
	if _, page = alice.get("/admin/users"); !strings.Contains(page, `href="/audit?account=tess"`) {
		t.Error("the accounts page does not link an account's changes")
	}

	// An entry's page: the change, no revert, nothing sent to the hub.
	for _, e := range entries {
		p := "/audit/" + strconv.FormatInt(e.ID, 10)
		for _, b := range []*browser{ed, alice} {
			res, page := b.get(p)
			if res.StatusCode != http.StatusOK {
				t.Fatalf("GET %s: %d", p, res.StatusCode)
			}
			if strings.Contains(page, "/revert") || strings.Contains(page, "Exact request body sent") || strings.Contains(page, "Etag before") {
				t.Errorf("%s (%s) shows hub write parts or a revert:\n%s", p, e.Action, page)
			}
			if password != "" && strings.Contains(page, password) {
				t.Errorf("%s shows the new password", p)
			}
		}
		res, _ := alice.post(p+"/revert", url.Values{"_csrf": {alice.csrf(p)}})
		if res.StatusCode != http.StatusUnprocessableEntity {
			t.Errorf("revert of %s: %d, want 422", e.Action, res.StatusCode)
		}
	}
	_, page = ed.get("/audit/" + strconv.FormatInt(entries[1].ID, 10))
	if page = html.UnescapeString(page); !strings.Contains(page, `role <span class="badge">changed</span></th><td class="mono before">"viewer"</td><td class="mono after">"editor"`) ||
		!strings.Contains(page, "1 changed value(s)") {
		t.Errorf("role change page lacks its diff:\n%s", page)
	}
	_, page = ed.get("/audit/" + strconv.FormatInt(entries[4].ID, 10))
	if !strings.Contains(page, "The password was replaced.") {
		t.Errorf("password reset page:\n%s", page)
	}
	_, page = ed.get("/audit/" + strconv.FormatInt(entries[5].ID, 10))
	if !strings.Contains(page, "not applied (refused)") || !strings.Contains(page, "no enabled admin") {
		t.Errorf("refused change page:\n%s", page)
	}

	// Exports carry the account.
	_, body := ed.get("/audit/export.csv?account=vic")
	records, err := csv.NewReader(strings.NewReader(body)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	accountCol := slices.Index(records[0], "account")
	if len(records) != 3 || accountCol < 0 || records[1][accountCol] != "vic" || records[2][accountCol] != "vic" {
		t.Errorf("csv export: %q", records)
	}
	_, body = ed.get("/audit/export.json?person=alice")
	var exported []struct {
		Action  string `json:"action"`
		Account string `json:"account"`
	}
	if err := json.Unmarshal([]byte(body), &exported); err != nil {
		t.Fatal(err)
	}
	if len(exported) != len(want) || exported[0].Account != "alice" || exported[len(exported)-1].Action != "account.create" {
		t.Errorf("json export: %s", body)
	}
	if password == "" || strings.Contains(body, password) || strings.Contains(body, testPassword) {
		t.Errorf("json export holds a password (or none was generated)")
	}
}
