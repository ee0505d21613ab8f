package handlers_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/hubdesk/hubdesk/storage"
	"github.com/hubdesk/hubdesk/twinedit"
)

func auditTrail(t *testing.T, a *app) []storage.AuditEntry {
	t.Helper()
	entries, _, err := a.db.ListAudit(context.Background(), storage.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	return entries
}

func TestTwinSavesAreAudited(t *testing.T) {
	a := newTwinApp(t)
	b := a.browser()
	b.signIn("ed")
	_, page := b.get(twinPath)
	_, _, etag := a.twinState()
	_, review := b.submit(page, reviewPath, url.Values{"desired": {`{"fw": "2.0"}`}})
	b.submit(review, savePath, url.Values{"reason": {"INC-42 firmware rollout"}})

	entries := auditTrail(t, a)
	if len(entries) != 1 {
		t.Fatalf("%d entries, want 1", len(entries))
	}
	e := entries[0]
	_, _, newETag := a.twinState()
	if e.Actor != "ed" || e.Action != storage.AuditTwinUpdate || e.DeviceID != "dev1" || e.ModuleID != "mod1" ||
		e.Section != "desired" || e.ETagBefore != etag || e.ETagAfter != newETag || e.Outcome != storage.AuditOK ||
		e.Reason != "INC-42 firmware rollout" || e.RequestID == "" {
		t.Fatalf("entry %+v", e)
	}
	if e.Sent != `{"properties":{"desired":{"fw":"2.0","mode":null}}}` {
		t.Errorf("sent %s", e.Sent)
	}
	// The snapshots are enough to revert: their inverse patch restores
	// exactly the changed values.
	inverse, err := twinedit.Inverse(json.RawMessage(e.Before), json.RawMessage(e.After))
	if err != nil {
		t.Fatal(err)
	}
	if string(inverse) != `{"properties":{"desired":{"fw":"1.0","mode":"eco"}}}` {
		t.Errorf("inverse of the snapshots: %s (before %s after %s)", inverse, e.Before, e.After)
	}

	// A conflict is recorded too, with what was sent and refused.
	_, page = b.get(twinPath)
	_, review = b.submit(page, reviewPath, url.Values{"tags": {`{"site": "B"}`}})
	a.patchTwin(`{"tags":{"site":"C"}}`)
	if res, _ := b.submit(review, savePath, nil); res.StatusCode != http.StatusConflict {
		t.Fatalf("save: %d", res.StatusCode)
	}
	e = auditTrail(t, a)[0]
	if e.Outcome != storage.AuditConflict || e.Sent != `{"tags":{"site":"B"}}` || e.ETagAfter != "" || !strings.Contains(e.Detail, "412") {
		t.Fatalf("conflict entry %+v", e)
	}
}

func TestIdentityWritesAndRevealsAreAuditedWithoutKeys(t *testing.T) {
	a := newTwinApp(t)
	d := getDevice(t, a, "dev1")
	al := a.browser()
	al.signIn("alice")
	_, page := al.get("/devices/dev1")
	al.submit(page, "/devices/dev1", url.Values{"statusReason": {"audit me"}})
	al.post("/devices/dev1/keys/reveal", url.Values{"_csrf": {al.csrf("/devices/dev1")}})
	_, page = al.get("/devices/dev1")
	al.submit(page, "/devices/dev1/keys", url.Values{"action": {"regenerate-primary"}})
	al.post("/devices/dev1/modules/mod1/keys/reveal", url.Values{"_csrf": {al.csrf("/devices/dev1")}})
	_, page = al.get("/devices/dev1")
	al.submit(page, "/devices/dev1/modules", url.Values{"moduleId": {"extra"}})

	entries := auditTrail(t, a)
	var got []string
	for i := len(entries) - 1; i >= 0; i-- {
		e := entries[i]
		got = append(got, string(e.Action)+" "+e.Section+" "+e.ModuleID+" "+string(e.Outcome))
		all, _ := json.Marshal(e)
		for _, secret := range []string{d.Authentication.SymmetricKey.PrimaryKey, d.Authentication.SymmetricKey.SecondaryKey,
			getDevice(t, a, "dev1").Authentication.SymmetricKey.PrimaryKey} {
			if strings.Contains(string(all), secret) {
				t.Errorf("entry %d holds a key: %s", e.ID, all)
			}
		}
	}
	want := []string{
		"device.update identity  ok",
		"key.reveal keys  ok",
		"device.update keys  ok",
		"key.reveal keys mod1 ok",
		"module.create identity extra ok",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("trail:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// An added key's snapshot keeps its parent, so reverting removes the key
// alone, not every tag.
func TestAuditSnapshotsRevertAnAddedKeyAlone(t *testing.T) {
	a := newTwinApp(t)
	b := a.browser()
	b.signIn("ed")
	_, page := b.get(twinPath)
	_, review := b.submit(page, reviewPath, url.Values{"tags": {`{"site": "A", "room": 12}`}, "desired": {`{"fw": "1.0", "mode": "eco", "led": {"on": true}}`}})
	b.submit(review, savePath, nil)
	e := auditTrail(t, a)[0]
	inverse, err := twinedit.Inverse(json.RawMessage(e.Before), json.RawMessage(e.After))
	if err != nil {
		t.Fatal(err)
	}
	if string(inverse) != `{"properties":{"desired":{"led":null}},"tags":{"room":null}}` {
		t.Fatalf("inverse %s (before %s after %s)", inverse, e.Before, e.After)
	}
}

func TestOverviewShowsRecentActivity(t *testing.T) {
	a := newTwinApp(t)
	b := a.browser()
	b.signIn("ed")
	_, page := b.get("/")
	mustContain(t, page, "Recent activity", "No changes made through hubdesk yet")
	_, page = b.get(twinPath)
	_, review := b.submit(page, reviewPath, url.Values{"tags": {`{"site": "B"}`}})
	b.submit(review, savePath, url.Values{"reason": {"CHG-9"}})
	_, page = b.get("/")
	mustContain(t, page, "twin.update", "CHG-9", `href="/audit/1"`, `href="/devices/dev1/modules/mod1/twin"`)
}
