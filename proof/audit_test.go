package proof

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"strconv"
	"testing"

	"github.com/hubdesk/hubdesk/storage"
)

// auditKey names a save the dashboard reported: who, on which version.
type auditKey struct{ actor, etag string }

// checkAudit checks that the audit trail entries f selects hold one ok
// entry for each saved write (same person, same If-Match, and the etag
// after it the version next to it) and one conflict entry for each save
// refused with a conflict, and nothing else.
func checkAudit(t *testing.T, db *storage.DB, f storage.AuditFilter, saved []auditKey, conflicts int, next func(etag string) (string, error)) {
	t.Helper()
	ok := map[auditKey]storage.AuditEntry{}
	counts := map[storage.AuditOutcome]int{}
	for e, err := range db.AuditEntries(context.Background(), f) {
		if err != nil {
			t.Fatal(err)
		}
		counts[e.Outcome]++
		if e.Outcome != storage.AuditOK {
			continue
		}
		k := auditKey{actor: e.Actor, etag: unquote(e.ETagBefore)}
		if _, dup := ok[k]; dup {
			t.Errorf("two ok audit entries by %s on version %s", k.actor, k.etag)
		}
		ok[k] = e
	}
	t.Logf("audit trail: %d ok, %d conflict, %d error entries", counts[storage.AuditOK], counts[storage.AuditConflict], counts[storage.AuditError])
	if counts[storage.AuditOK] != len(saved) {
		t.Errorf("%d ok audit entries for %d saves", counts[storage.AuditOK], len(saved))
	}
	if counts[storage.AuditConflict] != conflicts {
		t.Errorf("%d conflict audit entries for %d conflicts shown", counts[storage.AuditConflict], conflicts)
	}
	if n := len(counts) - min(counts[storage.AuditOK], 1) - min(counts[storage.AuditConflict], 1); n > 0 {
		t.Errorf("audit outcomes other than ok and conflict: %v", counts)
	}
	for _, s := range saved {
		e, found := ok[auditKey{actor: s.actor, etag: unquote(s.etag)}]
		if !found {
			t.Errorf("no ok audit entry for the save by %s on version %s", s.actor, s.etag)
			continue
		}
		want, err := next(s.etag)
		if err != nil {
			t.Fatal(err)
		}
		if unquote(e.ETagAfter) != want {
			t.Errorf("audit entry %d: etag after %s, want %s", e.ID, e.ETagAfter, want)
		}
	}
}

// nextTwinETag is the twin etag after one more service write.
func nextTwinETag(etag string) (string, error) {
	n, err := twinETagN(etag)
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(binary.BigEndian.AppendUint64(nil, n+1)), nil
}

// nextDeviceETag is the device etag after one more update.
func nextDeviceETag(etag string) (string, error) {
	n, err := deviceETagN(etag)
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString([]byte(strconv.FormatUint(n+1, 10))), nil
}
