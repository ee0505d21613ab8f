package proof

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hubdesk/hubdesk/hub"
	"github.com/hubdesk/hubdesk/storage"
)

// The edited twin: the telemetry module of the demo fleet's first gateway,
// whose reported properties the simulator keeps writing.
const (
	twinDevice = "gateway-00000"
	twinModule = "telemetry"
	twinURL    = "/devices/" + twinDevice + "/modules/" + twinModule + "/twin"
)

// twinSave is one press of Save as the dashboard answered it.
type twinSave struct {
	editor, round int
	etag          string // If-Match: the version the draft is based on
	base, draft   string // desired properties posted: base and draft
	saved         bool   // 303 back to the twin; else the conflict page
}

// TestNoLostUpdateTwin has editors edit one module twin at once through
// the dashboard's forms, each its own desired property every round and now
// and then a shared one, and checks that what the dashboard said is what
// happened: the saved drafts form one unbroken history of the twin, each
// based on the one before, and nothing else was written.
func TestNoLostUpdateTwin(t *testing.T) {
	editors, rounds := size(8, 50), size(10, 100)
	const maxTries = 100
	d := newDashboard(t, dashboardOptions{seedDemo: 20, simulate: true, editors: editors})
	ctx := context.Background()
	start, err := d.hub.GetModuleTwin(ctx, twinDevice, twinModule)
	if err != nil {
		t.Fatal(err)
	}

	var (
		mu      sync.Mutex
		saves   []twinSave
		resolve int // conflicts resolved with keep-mine / take-theirs
		onTop   int // conflicts resolved by applying the draft on top
		gaveUp  int
	)
	took := runEditors(t, d, editors, rounds, func(ctx context.Context, b *browser, rng *rand.Rand, e, r int) error {
		s, err := editTwin(ctx, b, rng, e, r, maxTries)
		mu.Lock()
		defer mu.Unlock()
		saves = append(saves, s.saves...)
		resolve += s.resolved
		onTop += s.onTop
		if s.gaveUp {
			gaveUp++
		}
		return err
	})
	if t.Failed() {
		return
	}

	var saved []twinSave
	conflicts := 0
	for _, s := range saves {
		if s.saved {
			saved = append(saved, s)
		} else {
			conflicts++
		}
	}
	t.Logf("%d editors x %d rounds in %s: %d saves pressed (%s), %d saved (%s), %d shown a conflict, %d resolved per path, %d applied on top, %d rounds given up after %d tries",
		editors, rounds, took.Round(time.Millisecond), len(saves), rate(len(saves), took), len(saved), rate(len(saved), took), conflicts, resolve, onTop, gaveUp, maxTries)

	end, err := d.hub.GetModuleTwin(ctx, twinDevice, twinModule)
	if err != nil {
		t.Fatal(err)
	}
	// One history: ordered by the etag each was based on, the saved drafts
	// follow one another with no gap and no two on the same version, each
	// based on exactly what the one before it saved.
	slices.SortFunc(saved, func(a, b twinSave) int {
		na, _ := twinETagN(a.etag)
		nb, _ := twinETagN(b.etag)
		return cmp.Compare(na, nb)
	})
	first, err := twinETagN(start.ETag)
	if err != nil {
		t.Fatal(err)
	}
	last, err := twinETagN(end.ETag)
	if err != nil {
		t.Fatal(err)
	}
	if got := last - first; got != uint64(len(saved)) {
		t.Errorf("the twin's etag moved %d versions, but the dashboard reported %d saves", got, len(saved))
	}
	state := editable(t, start.Properties.Desired)
	// What desired may ever hold: what it held and what editors wrote.
	allowed := map[string]bool{"shared": true}
	for k := range state {
		allowed[k] = true
	}
	for e := range editors {
		allowed[editorName(e)] = true
	}
	for i, s := range saved {
		n, err := twinETagN(s.etag)
		if err != nil {
			t.Fatal(err)
		}
		if n != first+uint64(i) {
			t.Fatalf("save %d (%s round %d) was based on version %d, want %d: two saves on one version, or a write the dashboard did not report",
				i, editorName(s.editor), s.round, n, first+uint64(i))
		}
		if base := decode(t, s.base); !reflect.DeepEqual(base, state) {
			t.Fatalf("save %d (%s round %d) was based on %v, but the twin then held %v", i, editorName(s.editor), s.round, base, state)
		}
		state = decode(t, s.draft)
		for k := range state {
			if !allowed[k] {
				t.Errorf("save %d (%s round %d) put desired.%s, which no editor wrote", i, editorName(s.editor), s.round, k)
			}
		}
	}
	final := editable(t, end.Properties.Desired)
	if !reflect.DeepEqual(final, state) {
		t.Errorf("final desired properties %v, want the last saved draft %v", final, state)
	}

	// The same, as the brief states it: each editor's own path holds its
	// last saved round, the shared path the last saved write to it.
	lastRound := map[string]float64{}
	var lastShared any
	for _, s := range saved {
		base, draft := decode(t, s.base), decode(t, s.draft)
		lastRound[editorName(s.editor)] = float64(s.round)
		if !reflect.DeepEqual(base["shared"], draft["shared"]) {
			lastShared = draft["shared"]
		}
	}
	for name, r := range lastRound {
		if final[name] != r {
			t.Errorf("desired.%s = %v, want %v, its last saved round", name, final[name], r)
		}
	}
	if lastShared != nil && final["shared"] != lastShared {
		t.Errorf("desired.shared = %v, want %v, the last saved write to it", final["shared"], lastShared)
	}

	// Reported properties stay reported: the simulator wrote some, none
	// reached desired.
	var reported map[string]any
	json.Unmarshal(end.Properties.Reported, &reported)
	for k := range reported {
		if _, ok := final[k]; ok && !strings.HasPrefix(k, "$") {
			t.Errorf("reported property %s is in desired too", k)
		}
	}
	if n := reportedVersion(end) - reportedVersion(start); n == 0 {
		t.Error("the simulator wrote no reported properties during the run")
	} else {
		t.Logf("the simulator wrote reported properties %d times meanwhile; desired holds none of them", n)
	}

	var keys []auditKey
	for _, s := range saved {
		keys = append(keys, auditKey{actor: editorName(s.editor), etag: s.etag})
	}
	checkAudit(t, d.db, storage.AuditFilter{DeviceID: twinDevice, ModuleID: twinModule, Action: storage.AuditTwinUpdate},
		keys, conflicts, nextTwinETag)
}

// editOutcome is one round of one editor.
type editOutcome struct {
	saves           []twinSave
	resolved, onTop int
	gaveUp          bool
}

// editTwin is one round of editor e: load the twin, set desired.editorNN
// to the round (and now and then desired.shared), review and save; on a
// conflict page resolve, keeping their own path, and save again, at most
// tries times. An error is an answer a person would not expect.
func editTwin(ctx context.Context, b *browser, rng *rand.Rand, e, round, tries int) (editOutcome, error) {
	var out editOutcome
	p, err := b.get(ctx, twinURL)
	if err != nil {
		return out, err
	}
	f, err := formFor(p.body, twinURL+"/review")
	if err != nil {
		return out, err
	}
	var desired map[string]any
	if err := json.Unmarshal([]byte(f.Get("desired")), &desired); err != nil {
		return out, fmt.Errorf("round %d: the editor's desired properties: %w", round, err)
	}
	desired[editorName(e)] = round
	if rng.IntN(4) == 0 {
		desired["shared"] = fmt.Sprintf("e%02d-r%03d", e, round)
	}
	draft, _ := json.MarshalIndent(desired, "", "  ")
	f.Set("desired", string(draft))
	if p, err = b.post(ctx, twinURL+"/review", f); err != nil {
		return out, err
	}
	if p.status != http.StatusOK {
		return out, fmt.Errorf("round %d: review: status %d", round, p.status)
	}
	for try := 1; ; try++ {
		sf, err := formFor(p.body, twinURL+"/save")
		if err != nil {
			return out, fmt.Errorf("round %d: %w", round, err)
		}
		s := twinSave{editor: e, round: round, etag: sf.Get("etag"), base: sf.Get("base_desired"), draft: sf.Get("desired")}
		if p, err = b.post(ctx, twinURL+"/save", sf); err != nil {
			return out, err
		}
		switch {
		case p.status == http.StatusSeeOther && p.location == twinURL:
			s.saved = true
			out.saves = append(out.saves, s)
			return out, nil
		case p.status == http.StatusConflict && strings.Contains(p.body, "Your changes were not saved"):
			out.saves = append(out.saves, s)
		default:
			return out, fmt.Errorf("round %d: save: status %d %s", round, p.status, p.location)
		}
		if try == tries {
			out.gaveUp = true
			return out, nil
		}
		rf, err := formFor(p.body, twinURL+"/resolve")
		if err != nil {
			// No path of theirs overlaps the draft: the page offers to
			// save it on top of the latest version, and p's save form
			// is that offer.
			out.onTop++
			continue
		}
		for i := 0; rf.Has(fmt.Sprintf("path%d", i)); i++ {
			choice := "mine"
			if rf.Get(fmt.Sprintf("path%d", i)) != "properties.desired."+editorName(e) && rng.IntN(2) == 0 {
				choice = "theirs"
			}
			rf.Set(fmt.Sprintf("choice%d", i), choice)
		}
		if p, err = b.post(ctx, twinURL+"/resolve", rf); err != nil {
			return out, err
		}
		if p.status != http.StatusOK {
			return out, fmt.Errorf("round %d: resolve: status %d", round, p.status)
		}
		out.resolved++
	}
}

// editable is a desired section as the editors show it: no $metadata,
// no $version.
func editable(t *testing.T, section json.RawMessage) map[string]any {
	t.Helper()
	m := decode(t, string(section))
	delete(m, "$metadata")
	delete(m, "$version")
	return m
}

func decode(t *testing.T, doc string) map[string]any {
	t.Helper()
	m := map[string]any{}
	if strings.TrimSpace(doc) == "" {
		return m
	}
	if err := json.Unmarshal([]byte(doc), &m); err != nil {
		t.Fatalf("decode %q: %v", doc, err)
	}
	return m
}

// reportedVersion is the $version of tw's reported properties, which
// counts the device's writes.
func reportedVersion(tw *hub.Twin) int64 {
	var v struct {
		Version int64 `json:"$version"`
	}
	json.Unmarshal(tw.Properties.Reported, &v)
	return v.Version
}
