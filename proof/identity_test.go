package proof

import (
	"cmp"
	"context"
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

const (
	identityDevice = "proof-identity"
	identityURL    = "/devices/" + identityDevice
)

// identitySave is one press of Save on the identity form.
type identitySave struct {
	editor, round        int
	etag                 string // If-Match
	base                 string // the identity the form was loaded with (JSON)
	status, statusReason string // what the form held
	saved                bool
}

// TestNoLostUpdateIdentity has editors change one device's status and
// status reason at once through the device page, and checks that the
// accepted saves form one unbroken history of the identity, each based on
// the one before, that every refused save showed the rebase page, and that
// the audit trail agrees.
func TestNoLostUpdateIdentity(t *testing.T) {
	editors, rounds := size(8, 50), size(10, 100)
	const maxTries = 100
	d := newDashboard(t, dashboardOptions{editors: editors})
	ctx := context.Background()
	start, err := d.hub.CreateDevice(ctx, &hub.Device{DeviceID: identityDevice})
	if err != nil {
		t.Fatal(err)
	}

	var (
		mu     sync.Mutex
		saves  []identitySave
		gaveUp int
	)
	took := runEditors(t, d, editors, rounds, func(ctx context.Context, b *browser, rng *rand.Rand, e, r int) error {
		s, err := editIdentity(ctx, b, rng, e, r, maxTries)
		mu.Lock()
		defer mu.Unlock()
		saves = append(saves, s...)
		if err == nil && !s[len(s)-1].saved {
			gaveUp++
		}
		return err
	})
	if t.Failed() {
		return
	}
	var saved []identitySave
	for _, s := range saves {
		if s.saved {
			saved = append(saved, s)
		}
	}
	conflicts := len(saves) - len(saved)
	t.Logf("%d editors x %d rounds in %s: %d saves pressed (%s), %d saved (%s), %d shown the rebase page, %d rounds given up after %d tries",
		editors, rounds, took.Round(time.Millisecond), len(saves), rate(len(saves), took), len(saved), rate(len(saved), took), conflicts, gaveUp, maxTries)

	end, err := d.hub.GetDevice(ctx, identityDevice)
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(saved, func(a, b identitySave) int {
		na, _ := deviceETagN(a.etag)
		nb, _ := deviceETagN(b.etag)
		return cmp.Compare(na, nb)
	})
	first, err := deviceETagN(start.ETag)
	if err != nil {
		t.Fatal(err)
	}
	last, err := deviceETagN(end.ETag)
	if err != nil {
		t.Fatal(err)
	}
	if got := last - first; got != uint64(len(saved)) {
		t.Errorf("the device's etag moved %d versions, but the dashboard reported %d saves", got, len(saved))
	}
	if len(saved) == 0 {
		t.Fatal("nothing was saved")
	}
	// One history: each accepted save was based on the identity exactly
	// as the save before it left it.
	state := decode(t, saved[0].base)
	if state["status"] != string(start.Status) || state["statusReason"] != start.StatusReason {
		t.Fatalf("the first save was based on %v, but the device was created %s %q", state, start.Status, start.StatusReason)
	}
	for i, s := range saved {
		n, err := deviceETagN(s.etag)
		if err != nil {
			t.Fatal(err)
		}
		if n != first+uint64(i) {
			t.Fatalf("save %d (%s round %d) was based on version %d, want %d: two saves on one version, or a write the dashboard did not report",
				i, editorName(s.editor), s.round, n, first+uint64(i))
		}
		if base := decode(t, s.base); !reflect.DeepEqual(base, state) {
			t.Fatalf("save %d (%s round %d) was based on %v, but the identity then was %v", i, editorName(s.editor), s.round, base, state)
		}
		state["status"], state["statusReason"] = s.status, s.statusReason
	}
	if string(end.Status) != state["status"] || end.StatusReason != state["statusReason"] {
		t.Errorf("final identity %s %q, want the last saved %v %q", end.Status, end.StatusReason, state["status"], state["statusReason"])
	}

	var keys []auditKey
	for _, s := range saved {
		keys = append(keys, auditKey{actor: editorName(s.editor), etag: s.etag})
	}
	checkAudit(t, d.db, storage.AuditFilter{DeviceID: identityDevice, Action: storage.AuditDeviceUpdate},
		keys, conflicts, nextDeviceETag)
}

// editIdentity is one round of editor e: load the device page, set the
// status reason to its own marker (and now and then flip the status),
// save; on the rebase page, which holds the latest version with the
// editor's changes on top, save again, at most tries times.
func editIdentity(ctx context.Context, b *browser, rng *rand.Rand, e, round, tries int) ([]identitySave, error) {
	var saves []identitySave
	p, err := b.get(ctx, identityURL)
	if err != nil {
		return saves, err
	}
	f, err := formFor(p.body, identityURL)
	if err != nil {
		return saves, err
	}
	reason := fmt.Sprintf("e%02d-r%03d", e, round)
	f.Set("statusReason", reason)
	if rng.IntN(3) == 0 {
		f.Set("status", map[string]string{"enabled": "disabled", "disabled": "enabled"}[f.Get("status")])
	}
	for try := 1; ; try++ {
		s := identitySave{editor: e, round: round, etag: f.Get("etag"), base: f.Get("base"), status: f.Get("status"), statusReason: f.Get("statusReason")}
		if s.statusReason != reason {
			return saves, fmt.Errorf("round %d: the rebase page dropped the status reason typed: %q", round, s.statusReason)
		}
		if p, err = b.post(ctx, identityURL, f); err != nil {
			return saves, err
		}
		switch {
		case p.status == http.StatusSeeOther && p.location == identityURL:
			s.saved = true
			return append(saves, s), nil
		case p.status == http.StatusConflict && strings.Contains(p.body, "Not saved: this identity changed since you loaded it"):
			saves = append(saves, s)
		default:
			return saves, fmt.Errorf("round %d: save: status %d %s", round, p.status, p.location)
		}
		if try == tries {
			return saves, nil
		}
		if f, err = formFor(p.body, identityURL); err != nil {
			return saves, fmt.Errorf("round %d: rebase page: %w", round, err)
		}
	}
}
