package handlers_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/hubdesk/hubdesk/hub"
)

func getDevice(t *testing.T, a *app, id string) *hub.Device {
	t.Helper()
	d, err := a.hub.GetDevice(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestDevicePageHidesKeysAndListsModules(t *testing.T) {
	a := newTwinApp(t)
	d := getDevice(t, a, "dev1")
	for _, who := range []string{"vic", "ed", "alice"} {
		b := a.browser()
		b.signIn(who)
		res, page := b.get("/devices/dev1")
		if res.StatusCode != http.StatusOK {
			t.Fatalf("%s: GET device: %d", who, res.StatusCode)
		}
		mustContain(t, page, d.GenerationID, "mod1", "/devices/dev1/modules/mod1/twin", "Primary and secondary keys are set")
		if strings.Contains(page, d.Authentication.SymmetricKey.PrimaryKey) {
			t.Fatalf("%s: the device page shows a key", who)
		}
		if (who == "alice") != strings.Contains(page, "Reveal keys") {
			t.Errorf("%s: reveal offered = %v", who, !(who == "alice"))
		}
	}
}

func TestRevealKeysIsForAdmins(t *testing.T) {
	a := newTwinApp(t)
	d := getDevice(t, a, "dev1")
	ed := a.browser()
	ed.signIn("ed")
	if res, _ := ed.post("/devices/dev1/keys/reveal", url.Values{"_csrf": {ed.csrf("/devices/dev1")}}); res.StatusCode != http.StatusForbidden {
		t.Errorf("editor reveal: %d, want 403", res.StatusCode)
	}
	al := a.browser()
	al.signIn("alice")
	res, page := al.post("/devices/dev1/keys/reveal", url.Values{"_csrf": {al.csrf("/devices/dev1")}})
	if res.StatusCode != http.StatusOK {
		t.Fatalf("admin reveal: %d", res.StatusCode)
	}
	mustContain(t, page, d.Authentication.SymmetricKey.PrimaryKey, d.Authentication.SymmetricKey.SecondaryKey,
		"HostName="+a.hub.HostName()+";DeviceId=dev1;SharedAccessKey=", "data-copy")
	if strings.Contains(a.logs.String(), d.Authentication.SymmetricKey.PrimaryKey) {
		t.Error("a key reached the log")
	}
	res, page = al.post("/devices/dev1/modules/mod1/keys/reveal", url.Values{"_csrf": {al.csrf("/devices/dev1")}})
	if res.StatusCode != http.StatusOK || !strings.Contains(page, ";ModuleId=mod1;SharedAccessKey=") {
		t.Errorf("module reveal: %d", res.StatusCode)
	}
}

func TestIdentityEdit(t *testing.T) {
	a := newTwinApp(t)
	b := a.browser()
	b.signIn("ed")
	_, page := b.get("/devices/dev1")
	before := getDevice(t, a, "dev1")
	res, body := b.submit(page, "/devices/dev1", url.Values{"status": {"disabled"}, "statusReason": {"stolen"}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("save identity: %d\n%s", res.StatusCode, body)
	}
	d := getDevice(t, a, "dev1")
	if d.Status != hub.StatusDisabled || d.StatusReason != "stolen" {
		t.Fatalf("after save: %s %q", d.Status, d.StatusReason)
	}
	if d.Authentication.SymmetricKey.PrimaryKey != before.Authentication.SymmetricKey.PrimaryKey {
		t.Fatal("saving the identity changed the keys")
	}

	tests := []struct {
		name   string
		change url.Values
		want   string
	}{
		{"bad status", url.Values{"status": {"sleeping"}}, "Choose enabled or disabled"},
		{"long reason", url.Values{"statusReason": {strings.Repeat("r", 129)}}, "At most 128 characters"},
		{"self-signed without thumbprint", url.Values{"authType": {"selfSigned"}}, "needs a primary thumbprint"},
		{"bad thumbprint", url.Values{"authType": {"selfSigned"}, "primaryThumbprint": {"xyz"}}, "40 or 64 hex digits"},
	}
	_, page = b.get("/devices/dev1")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, body := b.submit(page, "/devices/dev1", tt.change)
			if res.StatusCode != http.StatusUnprocessableEntity {
				t.Fatalf("status %d, want 422", res.StatusCode)
			}
			mustContain(t, body, tt.want)
		})
	}
	if getDevice(t, a, "dev1").ETag != d.ETag {
		t.Fatal("a refused identity form reached the hub")
	}

	tp := strings.Repeat("AB", 20)
	res, _ = b.submit(page, "/devices/dev1", url.Values{"authType": {"selfSigned"}, "primaryThumbprint": {tp}, "edge": {"on"}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("switch to self-signed: %d", res.StatusCode)
	}
	d = getDevice(t, a, "dev1")
	if d.Authentication.Type != hub.AuthSelfSigned || d.Authentication.X509Thumbprint.PrimaryThumbprint != tp || !d.IsEdge() {
		t.Fatalf("after switch: %+v edge %v", d.Authentication, d.IsEdge())
	}
}

func TestIdentityConflictShowsWhatChangedUnderneath(t *testing.T) {
	a := newTwinApp(t)
	b := a.browser()
	b.signIn("ed")
	_, page := b.get("/devices/dev1")

	// Someone else disables the device meanwhile.
	d := getDevice(t, a, "dev1")
	d.Status, d.StatusReason = hub.StatusDisabled, "lost"
	if _, err := a.hub.UpdateDevice(context.Background(), d, hub.Unconditional()); err != nil {
		t.Fatal(err)
	}
	res, prompt := b.submit(page, "/devices/dev1", url.Values{"statusReason": {"checked by ed"}, "edge": {"on"}})
	if res.StatusCode != http.StatusConflict {
		t.Fatalf("save over a change: %d, want 409", res.StatusCode)
	}
	mustContain(t, prompt, "Changed since you loaded the form", "Status reason", "lost", "checked by ed", "you both changed it", "Not saved")
	if d := getDevice(t, a, "dev1"); d.StatusReason != "lost" || d.IsEdge() {
		t.Fatal("the refused save changed the device")
	}
	// The form now holds theirs with my changes on top; saving it keeps
	// their status and my reason and edge flag.
	res, _ = b.submit(prompt, "/devices/dev1", nil)
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("save again: %d", res.StatusCode)
	}
	d = getDevice(t, a, "dev1")
	if d.Status != hub.StatusDisabled || d.StatusReason != "checked by ed" || !d.IsEdge() {
		t.Fatalf("after second save: %s %q edge %v", d.Status, d.StatusReason, d.IsEdge())
	}
}

func TestKeyActions(t *testing.T) {
	a := newTwinApp(t)
	b := a.browser()
	b.signIn("ed")
	before := getDevice(t, a, "dev1").Authentication.SymmetricKey
	_, page := b.get("/devices/dev1")
	res, _ := b.post("/devices/dev1/keys", url.Values{"_csrf": {b.csrf("/devices/dev1")}, "etag": {getDevice(t, a, "dev1").ETag}, "action": {"swap"}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("swap: %d", res.StatusCode)
	}
	k := getDevice(t, a, "dev1").Authentication.SymmetricKey
	if k.PrimaryKey != before.SecondaryKey || k.SecondaryKey != before.PrimaryKey {
		t.Fatal("swap did not swap")
	}
	// The page loaded before the swap holds a stale etag: regenerating
	// from it changes nothing.
	res, _ = b.submit(page, "/devices/dev1/keys", url.Values{"action": {"regenerate-primary"}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("stale regenerate: %d", res.StatusCode)
	}
	if getDevice(t, a, "dev1").Authentication.SymmetricKey.PrimaryKey != k.PrimaryKey {
		t.Fatal("a stale page regenerated a key")
	}
	_, page = b.get("/devices/dev1")
	mustContain(t, page, "Keys not changed: the identity changed")
	b.submit(page, "/devices/dev1/keys", url.Values{"action": {"regenerate-secondary"}})
	k2 := getDevice(t, a, "dev1").Authentication.SymmetricKey
	if k2.PrimaryKey != k.PrimaryKey || k2.SecondaryKey == k.SecondaryKey || len(k2.SecondaryKey) != 44 {
		t.Fatalf("regenerate secondary: %+v", k2)
	}
}

func TestCreateAndDeleteDevice(t *testing.T) {
	a := newTwinApp(t)
	if _, err := a.hub.CreateDevice(context.Background(), &hub.Device{DeviceID: "gw1", Capabilities: &hub.DeviceCapabilities{IoTEdge: true}}); err != nil {
		t.Fatal(err)
	}
	ed := a.browser()
	ed.signIn("ed")
	res, form := ed.get("/devices/~new")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("new device page: %d", res.StatusCode)
	}
	tests := []struct {
		name   string
		values url.Values
		want   string
	}{
		{"bad id", url.Values{"deviceId": {"a b"}}, "A device id is 1 to 128 characters"},
		{"taken", url.Values{"deviceId": {"dev1"}}, "already exists"},
		{"short key", url.Values{"deviceId": {"k1"}, "authType": {"sas-manual"}, "primaryKey": {"YWJj"}, "secondaryKey": {"YWJj"}}, "base64 of 16 to 64 bytes"},
		{"parent missing", url.Values{"deviceId": {"leaf"}, "parent": {"nope"}}, "No device nope"},
		{"parent not edge", url.Values{"deviceId": {"leaf"}, "parent": {"dev1"}}, "not an IoT Edge device"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, body := ed.submit(form, "/devices", tt.values)
			if res.StatusCode != http.StatusUnprocessableEntity {
				t.Fatalf("status %d, want 422", res.StatusCode)
			}
			mustContain(t, body, tt.want)
		})
	}
	res, _ = ed.submit(form, "/devices", url.Values{"deviceId": {"leaf#1"}, "parent": {"gw1"}})
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/devices/leaf%231" {
		t.Fatalf("create: %d %s", res.StatusCode, res.Header.Get("Location"))
	}
	gw := getDevice(t, a, "gw1")
	leaf := getDevice(t, a, "leaf#1")
	if leaf.DeviceScope != gw.DeviceScope || len(leaf.ParentScopes) != 1 || leaf.Authentication.SymmetricKey.PrimaryKey == "" {
		t.Fatalf("leaf: scope %q parents %v", leaf.DeviceScope, leaf.ParentScopes)
	}
	if res, _ := ed.post("/devices/leaf%231/delete", url.Values{"_csrf": {ed.csrf("/devices")}, "etag": {leaf.ETag}}); res.StatusCode != http.StatusForbidden {
		t.Errorf("editor delete: %d, want 403", res.StatusCode)
	}

	al := a.browser()
	al.signIn("alice")
	_, page := al.get("/devices/leaf%231")
	// A change after the page was loaded makes its delete button stale.
	leaf.StatusReason = "moved"
	if _, err := a.hub.UpdateDevice(context.Background(), leaf, hub.Unconditional()); err != nil {
		t.Fatal(err)
	}
	al.submit(page, "/devices/leaf%231/delete", nil)
	getDevice(t, a, "leaf#1")
	_, page = al.get("/devices/leaf%231")
	mustContain(t, page, "Not deleted: the device changed")
	res, _ = al.submit(page, "/devices/leaf%231/delete", nil)
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/devices" {
		t.Fatalf("delete: %d %s", res.StatusCode, res.Header.Get("Location"))
	}
	if _, err := a.hub.GetDevice(context.Background(), "leaf#1"); !errors.Is(err, hub.ErrDeviceNotFound) {
		t.Fatalf("after delete: %v", err)
	}
}

func TestCreateAndDeleteModule(t *testing.T) {
	a := newTwinApp(t)
	al := a.browser()
	al.signIn("alice")
	_, page := al.get("/devices/dev1")
	for _, bad := range []string{"$edgeHub", "a b", "mod1"} {
		res, _ := al.submit(page, "/devices/dev1/modules", url.Values{"moduleId": {bad}})
		if res.StatusCode != http.StatusSeeOther {
			t.Fatalf("create %q: %d", bad, res.StatusCode)
		}
		_, after := al.get("/devices/dev1")
		mustContain(t, after, "Module not created")
	}
	res, _ := al.submit(page, "/devices/dev1/modules", url.Values{"moduleId": {"m+2"}})
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/devices/dev1/modules/m+2" {
		t.Fatalf("create module: %d %s", res.StatusCode, res.Header.Get("Location"))
	}
	res, page = al.get("/devices/dev1/modules/m+2")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("module page: %d", res.StatusCode)
	}
	mustContain(t, page, "Created module m+2", "Module twin", "Delete this module")
	res, _ = al.submit(page, "/devices/dev1/modules/m+2/delete", nil)
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("delete module: %d", res.StatusCode)
	}
	if _, err := a.hub.GetModule(context.Background(), "dev1", "m+2"); !errors.Is(err, hub.ErrModuleNotFound) {
		t.Fatalf("after delete: %v", err)
	}
}
