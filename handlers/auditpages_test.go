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
	"time"

	"github.com/hubdesk/hubdesk/storage"
)

// record appends entries to a's trail directly, oldest first, and returns
// their ids.
func (a *app) record(entries ...storage.AuditEntry) []int64 {
	a.t.Helper()
	var ids []int64
	for _, e := range entries {
		if e.Outcome == "" {
			e.Outcome = storage.AuditOK
		}
		id, err := a.db.RecordAudit(context.Background(), e)
		if err != nil {
			a.t.Fatal(err)
		}
		ids = append(ids, id)
	}
	return ids
}

var entryLink = regexp.MustCompile(`href="/audit/(\d+)"`)

// listedIDs are the entries a list page links, in order.
func listedIDs(page string) []int64 {
	var ids []int64
	for _, m := range entryLink.FindAllStringSubmatch(page, -1) {
		id, _ := strconv.ParseInt(m[1], 10, 64)
		ids = append(ids, id)
	}
	return ids
}

var nextLink = regexp.MustCompile(`href="([^"]*)" rel="next"`)

func TestAuditLogFilters(t *testing.T) {
	a := newTwinApp(t)
	at := func(s string) time.Time {
		tm, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	a.record(
		storage.AuditEntry{At: at("2026-03-01T09:00:00Z"), Actor: "ed", Action: storage.AuditTwinUpdate, DeviceID: "dev1", ModuleID: "mod1", Section: "desired"},
		storage.AuditEntry{At: at("2026-03-01T10:00:00Z"), Actor: "alice", Action: storage.AuditDeviceUpdate, DeviceID: "dev1", Section: "identity"},
		storage.AuditEntry{At: at("2026-03-02T09:00:00Z"), Actor: "ed", Action: storage.AuditTwinUpdate, DeviceID: "dev2", Section: "tags", Outcome: storage.AuditConflict},
		storage.AuditEntry{At: at("2026-03-03T09:00:00Z"), Actor: "alice", Action: storage.AuditKeyReveal, DeviceID: "dev2", Section: "keys"},
		storage.AuditEntry{At: at("2026-03-04T09:00:00Z"), Actor: "ed", Action: storage.AuditTwinReplace, DeviceID: "dev1", ModuleID: "mod2", Section: "tags", Outcome: storage.AuditError},
	)
	b := a.browser()
	b.signIn("vic")
	tests := []struct {
		query string
		want  []int64
	}{
		{"", []int64{5, 4, 3, 2, 1}},
		{"person=ed", []int64{5, 3, 1}},
		{"device=dev1", []int64{5, 2, 1}},
		{"module=mod1", []int64{1}},
		{"device=dev1&module=mod2", []int64{5}},
		{"action=key.reveal", []int64{4}},
		{"outcome=conflict", []int64{3}},
		{"from=2026-03-02T00:00", []int64{5, 4, 3}},
		{"to=2026-03-02T09:00", []int64{2, 1}},
		{"from=2026-03-01T09:30&to=2026-03-03T12:00:00&person=alice", []int64{4, 2}},
		{"person=nobody", nil},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			res, page := b.get("/audit?" + tt.query)
			if res.StatusCode != http.StatusOK {
				t.Fatalf("status %d", res.StatusCode)
			}
			if got := listedIDs(page); !slices.Equal(got, tt.want) {
				t.Errorf("listed %v, want %v", got, tt.want)
			}
			// The form shows the filter again, so the page is its own link.
			q, _ := url.ParseQuery(tt.query)
			f := formPosting(t, page, "/audit")
			for k := range q {
				if f.Get(k) != q.Get(k) {
					t.Errorf("form field %s = %q, want %q", k, f.Get(k), q.Get(k))
				}
			}
		})
	}

	res, page := b.get("/audit?outcome=maybe&from=yesterday")
	if res.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("bad filter: %d", res.StatusCode)
	}
	mustContain(t, page, "The filter was not applied", "there is no outcome &#34;maybe&#34;", "&#34;yesterday&#34; is not a time")
	mustContain(t, page, "All times are UTC")
}

func TestAuditLogPagesByCursorKeepingTheFilter(t *testing.T) {
	a := newTwinApp(t)
	var entries []storage.AuditEntry
	for i := range 130 {
		actor := "ed"
		if i%2 == 1 {
			actor = "alice"
		}
		entries = append(entries, storage.AuditEntry{Actor: actor, Action: storage.AuditTwinUpdate, DeviceID: "dev1", Section: "tags"})
	}
	a.record(entries...)
	b := a.browser()
	b.signIn("vic")

	// 65 of ed's entries, 50 a page: two pages, none twice, newest first.
	path := "/audit?person=ed"
	var seen []int64
	for pages := 0; path != ""; pages++ {
		if pages > 3 {
			t.Fatal("too many pages")
		}
		res, page := b.get(path)
		if res.StatusCode != http.StatusOK {
			t.Fatalf("%s: %d", path, res.StatusCode)
		}
		ids := listedIDs(page)
		if len(ids) == 0 {
			t.Fatalf("%s lists nothing", path)
		}
		seen = append(seen, ids...)
		path = ""
		if m := nextLink.FindStringSubmatch(page); m != nil {
			path = html.UnescapeString(m[1])
			if !strings.Contains(path, "person=ed") || !strings.Contains(path, "before=") {
				t.Fatalf("next page link %q loses the filter or the cursor", path)
			}
		}
		if pages == 1 {
			mustContain(t, page, `href="/audit?person=ed"`) // back to the newest
		}
	}
	if len(seen) != 65 || !slices.IsSortedFunc(seen, func(x, y int64) int { return int(y - x) }) || seen[0] != 129 {
		t.Fatalf("pages listed %d entries %v", len(seen), seen)
	}

	// A larger page size is kept in the links too.
	_, page := b.get("/audit?size=100")
	if n := len(listedIDs(page)); n != 100 {
		t.Fatalf("size=100 lists %d", n)
	}
	if m := nextLink.FindStringSubmatch(page); m == nil || !strings.Contains(m[1], "size=100") {
		t.Fatalf("next link %v loses the page size", m)
	}
}

// editFirmware saves fw 1.0 -> 2.0 on dev1/mod1 through the dashboard.
func editFirmware(t *testing.T, b *browser, reason string) {
	t.Helper()
	_, page := b.get(twinPath)
	_, review := b.submit(page, reviewPath, url.Values{"desired": {`{"fw": "2.0", "mode": "eco"}`}})
	if res, _ := b.submit(review, savePath, url.Values{"reason": {reason}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("save: %d", res.StatusCode)
	}
}

func TestAuditEntryPage(t *testing.T) {
	a := newTwinApp(t)
	ed := a.browser()
	ed.signIn("ed")
	_, page := ed.get(twinPath)
	_, review := ed.submit(page, reviewPath, url.Values{"desired": {`{"fw": "2.0", "led": {"on": true}}`}})
	ed.submit(review, savePath, url.Values{"reason": {"INC-7"}})
	e := auditTrail(t, a)[0]

	res, page := ed.get("/audit/" + strconv.FormatInt(e.ID, 10))
	if res.StatusCode != http.StatusOK {
		t.Fatalf("entry page: %d", res.StatusCode)
	}
	mustContain(t, page, "Audit entry #1", "twin.update", "INC-7", html.EscapeString(e.ETagBefore), html.EscapeString(e.ETagAfter),
		e.RequestID, `href="/devices/dev1/modules/mod1/twin"`, `href="/devices/dev1/modules/mod1"`,
		// The side-by-side diff, flattened to paths with compact values.
		"3 changed value(s)", "desired.fw", `<td class="mono before">&#34;1.0&#34;</td>`, `<td class="mono after">&#34;2.0&#34;</td>`,
		"desired.mode", "desired.led.on", `<span class="badge">added</span>`, `<span class="badge">removed</span>`,
		// The exact body, indented.
		"&#34;properties&#34;: {", "&#34;mode&#34;: null",
		"Revert this change")
	formPosting(t, page, "/audit/1/revert")

	vic := a.browser()
	vic.signIn("vic")
	_, page = vic.get("/audit/1")
	mustContain(t, page, "desired.fw", "Editors can revert this change")
	if strings.Contains(page, `action="/audit/1/revert"`) {
		t.Error("a viewer is offered the revert button")
	}
	for _, path := range []string{"/audit/99", "/audit/x"} {
		if res, _ := vic.get(path); res.StatusCode != http.StatusNotFound {
			t.Errorf("%s: %d, want 404", path, res.StatusCode)
		}
	}
}

func TestAuditHistoryPages(t *testing.T) {
	a := newTwinApp(t)
	ed := a.browser()
	ed.signIn("ed")
	editFirmware(t, ed, "module change")
	_, page := ed.get("/devices/dev1/twin")
	_, review := ed.submit(page, "/devices/dev1/twin/review", url.Values{"tags": {`{"site": "B"}`}})
	ed.submit(review, "/devices/dev1/twin/save", nil)
	a.record(storage.AuditEntry{Actor: "ed", Action: storage.AuditTwinUpdate, DeviceID: "dev10", Section: "tags"})

	vic := a.browser()
	vic.signIn("vic")
	res, page := vic.get("/devices/dev1/history")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("device history: %d", res.StatusCode)
	}
	// A device's history holds its modules' entries too, diffs inline.
	if got := listedIDs(page); !slices.Equal(got, []int64{2, 1}) {
		t.Errorf("device history lists %v", got)
	}
	mustContain(t, page, "History of device dev1", "tags.site", `&#34;B&#34;`, "desired.fw", `&#34;2.0&#34;`,
		`href="/audit/export.csv?device=dev1"`, `name="module"`)
	if strings.Contains(page, `name="device"`) {
		t.Error("the device history offers a device filter")
	}
	_, page = vic.get("/devices/dev1/history?module=mod1")
	if got := listedIDs(page); !slices.Equal(got, []int64{1}) {
		t.Errorf("device history filtered to mod1 lists %v", got)
	}

	_, page = vic.get("/devices/dev1/modules/mod1/history")
	if got := listedIDs(page); !slices.Equal(got, []int64{1}) {
		t.Errorf("module history lists %v", got)
	}
	mustContain(t, page, "History of module dev1/mod1", "desired.fw", `href="/audit/export.json?device=dev1&amp;module=mod1"`)
}

func TestAuditExport(t *testing.T) {
	a := newTwinApp(t)
	a.record(
		storage.AuditEntry{Actor: "ed", Action: storage.AuditTwinUpdate, DeviceID: "dev1", Section: "tags", Reason: "=cmd|' /C calc'!A0",
			Sent: `{"tags":{"a":1}}`, Before: `{}`, After: `{"tags":{"a":1}}`},
		storage.AuditEntry{Actor: "alice", Action: storage.AuditKeyReveal, DeviceID: "dev1", Section: "keys"},
		storage.AuditEntry{Actor: "ed", Action: storage.AuditTwinUpdate, DeviceID: "dev2", Section: "desired", Outcome: storage.AuditConflict, Detail: "412"},
	)
	b := a.browser()
	b.signIn("vic")
	today := time.Now().UTC().Format("2006-01-02")

	res, body := b.get("/audit/export.csv?person=ed&size=100&before=99")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("csv: %d", res.StatusCode)
	}
	if ct := res.Header.Get("Content-Type"); ct != "text/csv; charset=utf-8" {
		t.Errorf("csv content type %q", ct)
	}
	if cd := res.Header.Get("Content-Disposition"); cd != `attachment; filename="hubdesk-audit-`+today+`.csv"` {
		t.Errorf("csv disposition %q", cd)
	}
	rows, err := csv.NewReader(strings.NewReader(body)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 3 || rows[0][0] != "id" || rows[1][0] != "3" || rows[2][0] != "1" {
		t.Fatalf("csv rows %q", rows)
	}
	if rows[2][12] != "'=cmd|' /C calc'!A0" || rows[2][9] != `{"tags":{"a":1}}` {
		t.Errorf("csv row %q", rows[2])
	}

	res, body = b.get("/audit/export.json?device=dev1")
	if ct := res.Header.Get("Content-Type"); ct != "application/json; charset=UTF-8" {
		t.Errorf("json content type %q", ct)
	}
	if cd := res.Header.Get("Content-Disposition"); cd != `attachment; filename="hubdesk-audit-`+today+`.json"` {
		t.Errorf("json disposition %q", cd)
	}
	var got []struct {
		ID    int64           `json:"id"`
		Actor string          `json:"actor"`
		After json.RawMessage `json:"after"`
	}
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatalf("json export: %v\n%s", err, body)
	}
	if len(got) != 2 || got[0].ID != 2 || got[1].ID != 1 || got[1].Actor != "ed" || string(got[1].After) != `{"tags":{"a":1}}` {
		t.Fatalf("json export %s", body)
	}

	if res, _ := b.get("/audit/export.json?outcome=nope"); res.StatusCode != http.StatusBadRequest {
		t.Errorf("export with a bad filter: %d", res.StatusCode)
	}
}

// revertFrom opens entry id's page and presses "Revert this change".
func revertFrom(t *testing.T, b *browser, id int64) (*http.Response, string) {
	t.Helper()
	p := "/audit/" + strconv.FormatInt(id, 10)
	_, page := b.get(p)
	return b.submit(page, p+"/revert", nil)
}

func TestAuditRevertGoesThroughReview(t *testing.T) {
	a := newTwinApp(t)
	b := a.browser()
	b.signIn("ed")
	editFirmware(t, b, "rollout")
	_, _, etag := a.twinState()

	res, review := revertFrom(t, b, 1)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("revert: %d\n%s", res.StatusCode, review)
	}
	mustContain(t, review, "Review changes to", "Reverting audit entry #1", "1 change(s) to save", "desired.fw",
		`<td class="mono before">&#34;2.0&#34;</td>`, `<td class="mono after">&#34;1.0&#34;</td>`,
		`value="Revert of audit entry #1"`, "PATCH", html.EscapeString(etag))
	if strings.Contains(review, "changed since audit entry") {
		t.Error("warns of later changes where there are none")
	}
	if _, desired, now := a.twinState(); now != etag || desired["fw"] != "2.0" {
		t.Fatal("preparing a revert changed the twin")
	}
	f := formPosting(t, review, savePath)
	if f.Get("etag") != etag {
		t.Fatalf("revert saves with If-Match %q, want the twin's etag now %q", f.Get("etag"), etag)
	}

	res, _ = b.submit(review, savePath, nil)
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("save revert: %d", res.StatusCode)
	}
	tags, desired, _ := a.twinState()
	if desired["fw"] != "1.0" || desired["mode"] != "eco" || tags["site"] != "A" {
		t.Fatalf("after revert: tags %v desired %v", tags, desired)
	}
	e := auditTrail(t, a)[0]
	if e.ID != 2 || e.Outcome != storage.AuditOK || e.Reason != "Revert of audit entry #1" || e.Sent != `{"properties":{"desired":{"fw":"1.0"}}}` {
		t.Fatalf("revert entry %+v", e)
	}

	// Reverting again finds nothing to do.
	res, page := revertFrom(t, b, 1)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("second revert: %d", res.StatusCode)
	}
	mustContain(t, page, "already holds the values from before audit entry #1", "Nothing was sent")
}

func TestAuditRevertThroughAConflict(t *testing.T) {
	a := newTwinApp(t)
	b := a.browser()
	b.signIn("ed")
	editFirmware(t, b, "rollout")
	_, review := revertFrom(t, b, 1)

	// A colleague changes fw between the revert's review and its save.
	a.patchTwin(`{"properties":{"desired":{"fw":"3.0"}}}`)
	res, prompt := b.submit(review, savePath, nil)
	if res.StatusCode != http.StatusConflict {
		t.Fatalf("save over a change: %d, want 409", res.StatusCode)
	}
	mustContain(t, prompt, "Your changes were not saved", "1 conflicting change(s)", "desired.fw", `&#34;3.0&#34;`)
	if _, desired, _ := a.twinState(); desired["fw"] != "3.0" {
		t.Fatal("the refused revert changed the twin")
	}
	e := auditTrail(t, a)[0]
	if e.Outcome != storage.AuditConflict || e.Reason != "Revert of audit entry #1" {
		t.Fatalf("refused revert entry %+v", e)
	}

	res, review = b.submit(prompt, twinPath+"/resolve", url.Values{"choice0": {"mine"}})
	if res.StatusCode != http.StatusOK {
		t.Fatalf("resolve: %d", res.StatusCode)
	}
	if res, _ := b.submit(review, savePath, nil); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("save resolved revert: %d", res.StatusCode)
	}
	if _, desired, _ := a.twinState(); desired["fw"] != "1.0" {
		t.Fatalf("fw after the resolved revert: %v", desired["fw"])
	}
}

func TestAuditRevertWarnsOfLaterChanges(t *testing.T) {
	a := newTwinApp(t)
	b := a.browser()
	b.signIn("ed")
	editFirmware(t, b, "rollout")
	a.patchTwin(`{"properties":{"desired":{"fw":"3.0","mode":"turbo"}}}`)

	_, review := revertFrom(t, b, 1)
	mustContain(t, review, "The twin changed since audit entry #1 at desired.fw:",
		`<td class="mono before">&#34;3.0&#34;</td>`, `<td class="mono after">&#34;1.0&#34;</td>`)
	if strings.Contains(review, "desired.mode") {
		t.Error("the revert touches desired.mode, which the entry did not change")
	}
}

func TestAuditRevertRemovesOnlyWhatTheEntryAdded(t *testing.T) {
	a := newTwinApp(t)
	b := a.browser()
	b.signIn("ed")
	// The snapshot of an addition holds no "before": its inverse removes
	// the whole section, which must not take the other tags with it.
	_, page := b.get(twinPath)
	_, review := b.submit(page, reviewPath, url.Values{"tags": {`{"site": "A", "room": 12, "rack": {"u": 4}}`}})
	b.submit(review, savePath, nil)
	a.patchTwin(`{"tags":{"owner":"bob"}}`)

	_, review = revertFrom(t, b, 1)
	mustContain(t, review, "2 change(s) to save", "tags.room", "tags.rack")
	if strings.Contains(review, "changed since audit entry") {
		t.Error("warns of later changes to paths the revert does not touch")
	}
	b.submit(review, savePath, nil)
	tags, _, _ := a.twinState()
	if tags["site"] != "A" || tags["owner"] != "bob" || tags["room"] != nil || tags["rack"] != nil {
		t.Fatalf("tags after the revert: %v", tags)
	}
}

func TestAuditRevertRefusals(t *testing.T) {
	a := newTwinApp(t)
	ed := a.browser()
	ed.signIn("ed")
	editFirmware(t, ed, "rollout")
	a.record(
		storage.AuditEntry{Actor: "ed", Action: storage.AuditDeviceUpdate, DeviceID: "dev1", Section: "identity", Before: `{"status":"enabled"}`, After: `{"status":"disabled"}`},
		storage.AuditEntry{Actor: "ed", Action: storage.AuditTwinUpdate, DeviceID: "dev1", ModuleID: "mod1", Section: "desired", Outcome: storage.AuditConflict,
			Before: `{"properties":{"desired":{"fw":"1.0"}}}`, After: `{"properties":{"desired":{"fw":"9.0"}}}`},
		storage.AuditEntry{Actor: "ed", Action: storage.AuditTwinUpdate, DeviceID: "dev1", ModuleID: "$edgeAgent", Section: "desired",
			Before: `{"properties":{"desired":{"a":1}}}`, After: `{"properties":{"desired":{"a":2}}}`},
	)
	csrf := ed.csrf("/audit")
	tests := []struct {
		name   string
		who    string
		id     string
		status int
		want   string
	}{
		{"viewer", "vic", "1", http.StatusForbidden, "does not allow this"},
		{"identity change", "ed", "2", http.StatusUnprocessableEntity, "Only twin changes can be reverted"},
		{"change not applied", "ed", "3", http.StatusUnprocessableEntity, "nothing to revert"},
		{"system module", "ed", "4", http.StatusForbidden, "read-only here"},
		{"no such entry", "ed", "77", http.StatusNotFound, "no audit entry #77"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, token := ed, csrf
			if tt.who != "ed" {
				b = a.browser()
				b.signIn(tt.who)
				token = b.csrf("/audit")
			}
			res, body := b.post("/audit/"+tt.id+"/revert", url.Values{"_csrf": {token}})
			if res.StatusCode != tt.status {
				t.Fatalf("status %d, want %d", res.StatusCode, tt.status)
			}
			mustContain(t, body, tt.want)
		})
	}
	if _, desired, _ := a.twinState(); desired["fw"] != "2.0" {
		t.Fatal("a refused revert changed the twin")
	}
	_, page := ed.get("/audit/2")
	mustContain(t, page, "Only twin changes can be reverted")
}

func TestPagesLinkTheHistory(t *testing.T) {
	a := newTwinApp(t)
	b := a.browser()
	b.signIn("vic")
	for path, want := range map[string]string{
		"/":                          `href="/audit"`,
		"/devices/dev1":              `href="/devices/dev1/history"`,
		"/devices/dev1/twin":         `href="/devices/dev1/history"`,
		"/devices/dev1/modules/mod1": `href="/devices/dev1/modules/mod1/history"`,
		twinPath:                     `href="/devices/dev1/modules/mod1/history"`,
	} {
		_, page := b.get(path)
		if !strings.Contains(page, want) {
			t.Errorf("%s lacks %s", path, want)
		}
	}
	_, page := b.get("/audit")
	mustContain(t, page, `<a href="/audit" aria-current="page">Audit</a>`)
}
