package e2e_test

import (
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// Selectors of the audit pages.
const (
	auditEntryLinks = `table.audit a[aria-label^="Audit entry #"]`
	filterButton    = `form.filters button[type=submit]`
	revertButton    = `form.revert button.primary` // "Revert this change…"
)

// saveWithReason types a new tags section (if not empty) and desired
// section into the twin editor at twin, reviews, gives the reason and
// saves; it checks that the save went through.
func (p *person) saveWithReason(twin, tags, desired, reason string) {
	p.t.Helper()
	p.openEditor(twin)
	if tags != "" {
		p.typeInEditor("ed-tags", tags)
	}
	p.typeInEditor("ed-desired", desired)
	p.waitStatus("ed-desired", "Valid JSON")
	if st := p.click(reviewButton); st != 200 {
		p.t.Fatalf("review: HTTP %d", st)
	}
	p.do(chromedp.SendKeys(chromedp.ID("reason"), reason))
	if st := p.click(saveButton); st != 200 || p.path() != twin {
		p.t.Fatalf("save: HTTP %d at %s", st, p.path())
	}
}

// filterAudit fills the audit list's device filter through its form.
func (p *person) filterAudit(deviceID string) {
	p.t.Helper()
	if st := p.click(`header nav a[href="/audit"]`); st != 200 {
		p.t.Fatalf("audit trail: HTTP %d", st)
	}
	p.do(chromedp.SendKeys(chromedp.ID("device"), deviceID))
	if st := p.click(filterButton); st != 200 {
		p.t.Fatalf("filter the audit trail: HTTP %d", st)
	}
	u, err := url.Parse(p.path())
	if err != nil || u.Path != "/audit" || u.Query().Get("device") != deviceID {
		p.t.Errorf("filtered audit trail at %s", p.path())
	}
}

// auditRows is the audit list as (person, action, target, outcome, reason)
// per entry, newest first.
func (p *person) auditRows() [][]string {
	p.t.Helper()
	var out [][]string
	for _, r := range p.rows("table.audit") {
		if len(r) < 7 {
			continue // "No entries match."
		}
		out = append(out, []string{r[1], r[2], r[3], r[5], r[6]})
	}
	return out
}

// revertEntry opens the newest entry the list shows and starts its
// revert, checking that it leads to the review page; it returns the
// entry's number, as in "#3".
func (p *person) revertEntry() string {
	p.t.Helper()
	n := p.text(auditEntryLinks)
	if st := p.click(auditEntryLinks); st != 200 {
		p.t.Fatalf("audit entry %s: HTTP %d", n, st)
	}
	if st := p.click(revertButton); st != 200 {
		p.t.Fatalf("revert %s: HTTP %d", n, st)
	}
	if h := p.text("h1"); !strings.HasPrefix(h, "Review changes to") {
		p.t.Errorf("revert leads to %q, want the review page", h)
	}
	if got := run(p, chromedp.Value(chromedp.ID("reason"))); got != "Revert of audit entry "+n {
		p.t.Errorf("the revert's reason field holds %q", got)
	}
	return n
}

func TestAuditTrailRevert(t *testing.T) {
	s := newSite(t, 0)
	twin := s.newModule(t, "dev1", "mod1")
	other := s.newModule(t, "dev2", "mod1")
	ed := s.person(t, newBrowser(t))
	ed.signIn("ed")
	ed.saveWithReason(twin, `{"site": "A", "room": 12}`, `{"fw": "2.0", "mode": "eco"}`, "INC-42 firmware rollout")
	ed.saveWithReason(other, "", `{"fw": "9.9", "mode": "eco"}`, "another device")

	ed.filterAudit("dev1")
	want := [][]string{{"ed", "twin.update", "dev1 / mod1 twin", "ok", "INC-42 firmware rollout"}}
	if got := ed.auditRows(); !reflect.DeepEqual(got, want) {
		t.Fatalf("audit trail of dev1 lists %q, want %q", got, want)
	}

	n := ed.text(auditEntryLinks)
	if st := ed.click(auditEntryLinks); st != 200 {
		t.Fatalf("audit entry %s: HTTP %d", n, st)
	}
	if h := ed.text("h1"); h != "Audit entry "+n+" ok" {
		t.Errorf("entry heading %q", h)
	}
	wantDiff := [][]string{
		{"tags.room added", "(absent)", "12"},
		{"desired.fw changed", `"1.0"`, `"2.0"`},
	}
	if got := ed.rows("table.diff"); !reflect.DeepEqual(got, wantDiff) {
		t.Errorf("entry %s shows %q, want %q", n, got, wantDiff)
	}

	if st := ed.click(revertButton); st != 200 {
		t.Fatalf("revert %s: HTTP %d", n, st)
	}
	if h := ed.text("h1"); h != "Review changes to dev1 / mod1" {
		t.Errorf("revert leads to %q, want the review page", h)
	}
	if got := ed.flash("note"); !strings.HasPrefix(got, "Reverting audit entry "+n+": twin.update by ed at ") {
		t.Errorf("note %q", got)
	}
	wantRevert := [][]string{
		{"tags.room removed", "12", "(removed)"},
		{"desired.fw changed", `"2.0"`, `"1.0"`},
	}
	if got := ed.rows("table.diff"); !reflect.DeepEqual(got, wantRevert) {
		t.Errorf("the revert's review lists %q, want %q", got, wantRevert)
	}
	ed.wantPatch(`{"tags": {"room": null}, "properties": {"desired": {"fw": "1.0"}}}`)
	s.wantTwin(t, "dev1", "mod1", `{"site": "A", "room": 12}`, `{"fw": "2.0", "mode": "eco"}`) // review sends nothing

	// The reason field comes filled in; the person says why in their words.
	const reason = "INC-43 roll back the rollout"
	ed.do(chromedp.Clear(chromedp.ID("reason")), chromedp.SendKeys(chromedp.ID("reason"), reason))
	if st := ed.click(saveButton); st != 200 || ed.path() != twin {
		t.Fatalf("save the revert: HTTP %d at %s", st, ed.path())
	}
	if got := ed.flash("ok"); got != "Saved 2 changes: tags.room (removed), desired.fw (changed)." {
		t.Errorf("flash %q", got)
	}
	s.wantTwin(t, "dev1", "mod1", `{"site": "A"}`, `{"fw": "1.0", "mode": "eco"}`)

	ed.filterAudit("dev1")
	want = append([][]string{{"ed", "twin.update", "dev1 / mod1 twin", "ok", reason}}, want...)
	if got := ed.auditRows(); !reflect.DeepEqual(got, want) {
		t.Errorf("after the revert the audit trail of dev1 lists %q, want %q", got, want)
	}
	if st := ed.click(auditEntryLinks); st != 200 {
		t.Fatalf("the revert's audit entry: HTTP %d", st)
	}
	if got := ed.rows("table.diff"); !reflect.DeepEqual(got, wantRevert) {
		t.Errorf("the revert's entry shows %q, want %q", got, wantRevert)
	}
}

// TestAuditRevertConflict reverts an entry while a script changes the
// same value through the hub: the save meets the conflict prompt, the
// person keeps the revert's value, and the script's other change
// survives. (TestConflictOverlappingChoosesPerPath covers choosing
// theirs; a revert is saved as any other edit.)
func TestAuditRevertConflict(t *testing.T) {
	s := newSite(t, 0)
	twin := s.newModule(t, "dev1", "mod1")
	ed := s.person(t, newBrowser(t))
	ed.signIn("ed")
	ed.saveWithReason(twin, `{"site": "A", "room": 12}`, `{"fw": "2.0", "mode": "eco"}`, "INC-42 firmware rollout")
	ed.filterAudit("dev1")
	n := ed.revertEntry()

	// A deployment script moves the firmware on and sets a value of its
	// own while the revert waits on the review page.
	s.patchTwin(t, "dev1", "mod1", `{"properties":{"desired":{"fw":"3.0","retries":5}}}`)
	if st := ed.click(saveButton); st != 409 {
		t.Fatalf("save the revert over the script's change: HTTP %d, want 409", st)
	}
	if h := ed.text("h1"); h != "Changed underneath: dev1 / mod1" {
		t.Errorf("heading %q", h)
	}
	wantConflicts := [][]string{{"desired.fw", `"2.0"`, `"3.0"`, `"1.0"`, "mine theirs"}}
	if got := ed.rows("table.conflicts"); !reflect.DeepEqual(got, wantConflicts) {
		t.Errorf("conflicts %q, want %q", got, wantConflicts)
	}
	s.wantTwin(t, "dev1", "mod1", `{"site": "A", "room": 12}`, `{"fw": "3.0", "mode": "eco", "retries": 5}`)

	ed.do(chromedp.Click(chromedp.CSS(`input[name=choice0][value=mine]`)))
	if st := ed.click(resolveButton); st != 200 {
		t.Fatalf("review the result: HTTP %d", st)
	}
	ed.wantPatch(`{"tags": {"room": null}, "properties": {"desired": {"fw": "1.0"}}}`)
	if got := run(ed, chromedp.Value(chromedp.ID("reason"))); got != "Revert of audit entry "+n {
		t.Errorf("after the conflict the reason field holds %q", got)
	}
	if st := ed.click(saveButton); st != 200 || ed.path() != twin {
		t.Fatalf("save: HTTP %d at %s", st, ed.path())
	}
	s.wantTwin(t, "dev1", "mod1", `{"site": "A"}`, `{"fw": "1.0", "mode": "eco", "retries": 5}`)

	ed.filterAudit("dev1")
	want := [][]string{
		{"ed", "twin.update", "dev1 / mod1 twin", "ok", "Revert of audit entry " + n},
		{"ed", "twin.update", "dev1 / mod1 twin", "conflict", "Revert of audit entry " + n +
			" the hub refused the write: the etag changed since it was loaded (412)"},
		{"ed", "twin.update", "dev1 / mod1 twin", "ok", "INC-42 firmware rollout"},
	}
	if got := ed.auditRows(); !reflect.DeepEqual(got, want) {
		t.Errorf("audit trail of dev1 lists %q, want %q", got, want)
	}
}
