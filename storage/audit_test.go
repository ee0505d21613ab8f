package storage

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestRecordAudit(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *DB, clock *testClock) {
		ctx := context.Background()
		full := AuditEntry{
			Actor: "ed", Action: AuditTwinUpdate, DeviceID: "dev-1", ModuleID: "mod/a",
			Section: "tags+desired", ETagBefore: `"AAA"`, ETagAfter: `"AAB"`,
			Sent:   `{"properties":{"desired":{"fw":"2.0"}}}`,
			Before: `{"desired":{"fw":"1.0"}}`, After: `{"desired":{"fw":"2.0"}}`,
			Reason: "INC-42: roll forward", Outcome: AuditOK, RequestID: "req-1", Account: "acct",
		}
		id, err := db.RecordAudit(ctx, full)
		if err != nil {
			t.Fatal(err)
		}
		got, err := db.AuditEntry(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		want := full
		want.ID, want.At = id, clock.Now()
		if got != want {
			t.Errorf("AuditEntry =\n%+v\nwant\n%+v", got, want)
		}

		// An explicit time is kept, to the microsecond, in UTC.
		at := time.Date(2025, 12, 31, 23, 59, 59, 123456789, time.FixedZone("CET", 3600))
		id, err = db.RecordAudit(ctx, AuditEntry{At: at, Actor: "ed", Action: AuditKeyReveal, DeviceID: "d", Outcome: AuditOK})
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := db.AuditEntry(ctx, id); !got.At.Equal(at.Truncate(time.Microsecond)) || got.At.Location() != time.UTC {
			t.Errorf("At = %v, want %v in UTC", got.At, at.Truncate(time.Microsecond))
		}

		// Text PostgreSQL cannot hold is stored the same way on both.
		id, err = db.RecordAudit(ctx, AuditEntry{Actor: "ed", Action: AuditTwinUpdate, Outcome: AuditError, Detail: "bad\x00byte\xff here"})
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := db.AuditEntry(ctx, id); got.Detail != "bad\uFFFDbyte\uFFFD here" {
			t.Errorf("Detail = %q", got.Detail)
		}

		if _, err := db.AuditEntry(ctx, 9999); !errors.Is(err, ErrNotFound) {
			t.Errorf("unknown id: err = %v", err)
		}
		for _, bad := range []AuditEntry{
			{Action: AuditTwinUpdate, Outcome: AuditOK},
			{Actor: "ed", Outcome: AuditOK},
			{Actor: "ed", Action: AuditTwinUpdate},
			{Actor: "ed", Action: AuditTwinUpdate, Outcome: "maybe"},
		} {
			if _, err := db.RecordAudit(ctx, bad); err == nil {
				t.Errorf("RecordAudit(%+v) accepted", bad)
			}
		}
	})
}

// seedAudit records n entries spread over actors, devices, outcomes and an
// hour per entry, and returns their ids in order.
func seedAudit(t *testing.T, db *DB, n int) []int64 {
	t.Helper()
	actors := []string{"ann", "bob", "cy"}
	outcomes := []AuditOutcome{AuditOK, AuditOK, AuditConflict, AuditError, AuditRefused}
	actions := []AuditAction{AuditTwinUpdate, AuditDeviceUpdate, AuditKeyReveal}
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ids := make([]int64, n)
	for i := range n {
		e := AuditEntry{
			At:       start.Add(time.Duration(i) * time.Hour),
			Actor:    actors[i%len(actors)],
			Action:   actions[i%len(actions)],
			DeviceID: fmt.Sprintf("dev-%d", i%4),
			Outcome:  outcomes[i%len(outcomes)],
		}
		if i%2 == 1 {
			e.ModuleID = "edge"
		}
		if i%5 == 1 {
			e.Account = "acct-1"
		}
		id, err := db.RecordAudit(context.Background(), e)
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = id
	}
	return ids
}

func TestListAuditFilters(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *DB, _ *testClock) {
		const n = 40
		ids := seedAudit(t, db, n)
		start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		// want lists, by seed index, the entries a filter selects.
		pick := func(keep func(i int) bool) []int64 {
			var out []int64
			for i := n - 1; i >= 0; i-- {
				if keep(i) {
					out = append(out, ids[i])
				}
			}
			return out
		}
		tests := []struct {
			name   string
			filter AuditFilter
			want   []int64
		}{
			{"all", AuditFilter{Limit: 100}, pick(func(int) bool { return true })},
			{"actor", AuditFilter{Actor: "bob"}, pick(func(i int) bool { return i%3 == 1 })},
			{"device", AuditFilter{DeviceID: "dev-2"}, pick(func(i int) bool { return i%4 == 2 })},
			{"device and module", AuditFilter{DeviceID: "dev-1", ModuleID: "edge"}, pick(func(i int) bool { return i%4 == 1 })},
			{"module of a device without one", AuditFilter{DeviceID: "dev-2", ModuleID: "edge"}, nil},
			{"outcome", AuditFilter{Outcome: AuditConflict}, pick(func(i int) bool { return i%5 == 2 })},
			{"action", AuditFilter{Action: AuditKeyReveal}, pick(func(i int) bool { return i%3 == 2 })},
			{"since", AuditFilter{Since: start.Add(30 * time.Hour)}, pick(func(i int) bool { return i >= 30 })},
			{"until", AuditFilter{Until: start.Add(5 * time.Hour)}, pick(func(i int) bool { return i < 5 })},
			{"time range and actor", AuditFilter{Actor: "ann", Since: start.Add(10 * time.Hour), Until: start.Add(20 * time.Hour)},
				pick(func(i int) bool { return i%3 == 0 && i >= 10 && i < 20 })},
			{"before cursor", AuditFilter{Before: ids[10]}, pick(func(i int) bool { return i < 10 })},
			{"unknown actor", AuditFilter{Actor: "zed"}, nil},
			{"account", AuditFilter{Account: "acct-1"}, pick(func(i int) bool { return i%5 == 1 })},
			{"account and actor", AuditFilter{Account: "acct-1", Actor: "bob"}, pick(func(i int) bool { return i%5 == 1 && i%3 == 1 })},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got, next, err := db.ListAudit(context.Background(), tt.filter)
				if err != nil {
					t.Fatal(err)
				}
				if next != 0 {
					t.Errorf("next = %d, want 0", next)
				}
				if gotIDs := auditIDs(got); !slices.Equal(gotIDs, tt.want) {
					t.Errorf("ids = %v\nwant  %v", gotIDs, tt.want)
				}
			})
		}
	})
}

func auditIDs(entries []AuditEntry) []int64 {
	var ids []int64
	for _, e := range entries {
		ids = append(ids, e.ID)
	}
	return ids
}

func TestListAuditPaging(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *DB, _ *testClock) {
		ctx := context.Background()
		ids := seedAudit(t, db, 25)
		var seen []int64
		f := AuditFilter{Limit: 10}
		var sizes []int
		for page := 0; ; page++ {
			entries, next, err := db.ListAudit(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			sizes = append(sizes, len(entries))
			seen = append(seen, auditIDs(entries)...)
			if page == 0 {
				// Entries recorded while someone pages appear on no later page.
				seedAudit(t, db, 3)
			}
			if next == 0 {
				break
			}
			if next != entries[len(entries)-1].ID {
				t.Fatalf("next = %d, want the last id shown", next)
			}
			f.Before = next
		}
		want := slices.Clone(ids)
		slices.Reverse(want)
		if !slices.Equal(seen, want) || !slices.Equal(sizes, []int{10, 10, 5}) {
			t.Errorf("pages of %v gave %v\nwant %v", sizes, seen, want)
		}

		entries, _, err := db.ListAudit(ctx, AuditFilter{})
		if err != nil || len(entries) != 28 {
			t.Errorf("default limit: %d entries, %v", len(entries), err)
		}
		if _, next, _ := db.ListAudit(ctx, AuditFilter{Limit: 28}); next != 0 {
			t.Errorf("an exactly full last page has next = %d, want 0", next)
		}
	})
}

func TestAuditEntries(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *DB, _ *testClock) {
		ctx := context.Background()
		ids := seedAudit(t, db, 12)
		slices.Reverse(ids)
		tests := []struct {
			name     string
			filter   AuditFilter
			pageSize int
			want     []int64
		}{
			{"one page", AuditFilter{}, 100, ids},
			{"many pages", AuditFilter{}, 5, ids},
			{"limit across pages", AuditFilter{Limit: 7}, 5, ids[:7]},
			{"limit on a page boundary", AuditFilter{Limit: 10}, 5, ids[:10]},
			{"filtered", AuditFilter{Actor: "ann"}, 2, []int64{ids[2], ids[5], ids[8], ids[11]}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				var got []int64
				for e, err := range db.auditEntries(ctx, tt.filter, tt.pageSize) {
					if err != nil {
						t.Fatal(err)
					}
					got = append(got, e.ID)
				}
				if !slices.Equal(got, tt.want) {
					t.Errorf("got %v, want %v", got, tt.want)
				}
			})
		}
		// Stopping early stops reading.
		n := 0
		for range db.AuditEntries(ctx, AuditFilter{}) {
			n++
			break
		}
		if n != 1 {
			t.Errorf("break after 1 gave %d", n)
		}
	})
}

// Every equality filter of ListAudit must be answered through its index,
// or the audit page slows down as the trail grows. (Time filters alone walk
// ids downwards, which stops at the page's end as time follows id.)
// SQLite's planner is deterministic on an empty table; PostgreSQL's rightly
// prefers a scan there, so it is not checked the same way.
func TestListAuditUsesIndexes(t *testing.T) {
	db := openSQLiteTest(t)
	tests := []struct {
		name   string
		filter AuditFilter
		index  string
	}{
		{"actor", AuditFilter{Actor: "a"}, "audit_actor"},
		{"actor, next page", AuditFilter{Actor: "a", Before: 100}, "audit_actor"},
		{"device", AuditFilter{DeviceID: "d"}, "audit_device"},
		{"device and module", AuditFilter{DeviceID: "d", ModuleID: "m"}, "audit_device_module"},
		{"module", AuditFilter{ModuleID: "m"}, "audit_module"},
		{"outcome", AuditFilter{Outcome: AuditOK}, "audit_outcome"},
		{"action", AuditFilter{Action: AuditTwinUpdate}, "audit_action"},
		{"account", AuditFilter{Account: "a"}, "audit_account"},
		{"next page", AuditFilter{Before: 100}, "INTEGER PRIMARY KEY"},
	}
	for _, tt := range tests {
		where, args := tt.filter.where()
		rows, err := db.db.Query(`EXPLAIN QUERY PLAN SELECT `+auditColumns+` FROM audit`+where+` ORDER BY id DESC LIMIT 51`, args...)
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, notused int
			var detail string
			if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		text := strings.Join(plan, "; ")
		if !strings.Contains(text, "USING "+tt.index+" ") && !strings.Contains(text, "INDEX "+tt.index+" ") || strings.Contains(text, "TEMP B-TREE") {
			t.Errorf("%s: plan %q, want a search of %s in id order", tt.name, text, tt.index)
		}
	}
}

// BenchmarkListAudit pages through a trail of 100,000 entries: the first
// page, one 90% of the way down, and a filtered one there.
func BenchmarkListAudit(b *testing.B) {
	const n = 100_000
	for _, be := range backends() {
		b.Run(be.name, func(b *testing.B) {
			db, err := be.fresh(b)(Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			tx, err := db.db.Begin()
			if err != nil {
				b.Fatal(err)
			}
			start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			for i := range n {
				_, err := tx.Exec(`INSERT INTO audit (at, actor, action, device_id, module_id, sent, outcome) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
					start.Add(time.Duration(i)*time.Second).UnixMicro(), fmt.Sprintf("user-%d", i%20), string(AuditTwinUpdate),
					fmt.Sprintf("dev-%d", i%5000), "edge", `{"properties":{"desired":{"fw":"2.0"}}}`, string(AuditOK))
				if err != nil {
					b.Fatal(err)
				}
			}
			if err := tx.Commit(); err != nil {
				b.Fatal(err)
			}
			deep := int64(n / 10)
			for _, c := range []struct {
				name string
				f    AuditFilter
			}{
				{"first page", AuditFilter{}},
				{"deep page", AuditFilter{Before: deep}},
				{"actor deep", AuditFilter{Actor: "user-7", Before: deep}},
				{"device timeline", AuditFilter{DeviceID: "dev-42"}},
			} {
				b.Run(c.name, func(b *testing.B) {
					for b.Loop() {
						if _, _, err := db.ListAudit(context.Background(), c.f); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
		})
	}
}

// BenchmarkRecordAudit is the cost one write adds to every edit: a durable
// insert (SQLite syncs each commit to disk).
func BenchmarkRecordAudit(b *testing.B) {
	for _, be := range backends() {
		b.Run(be.name, func(b *testing.B) {
			db, err := be.fresh(b)(Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			e := AuditEntry{Actor: "ed", Action: AuditTwinUpdate, DeviceID: "dev-1", Section: "desired",
				Sent: `{"properties":{"desired":{"fw":"2.0"}}}`, Before: `{"fw":"1.0"}`, After: `{"fw":"2.0"}`, Outcome: AuditOK}
			for b.Loop() {
				if _, err := db.RecordAudit(context.Background(), e); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkRecordAuditConcurrent is 50 editors saving at once, each save
// recording its entry: the slowest wait is what the audit trail's deadline
// must cover. On SQLite it runs side by side with writers polling SQLite's
// file lock (busy_timeout), as every write did before writes got a pool of
// one connection.
func BenchmarkRecordAuditConcurrent(b *testing.B) {
	type variant struct {
		name    string
		polling bool
	}
	for _, be := range backends() {
		for _, v := range []variant{{"queued", false}, {"polling", true}} {
			if v.polling && be.name != "sqlite" {
				continue
			}
			b.Run(be.name+"/"+v.name, func(b *testing.B) {
				db, err := be.fresh(b)(Options{})
				if err != nil {
					b.Fatal(err)
				}
				defer db.Close()
				if v.polling {
					db.w = db.db
				}
				e := AuditEntry{Actor: "ed", Action: AuditTwinUpdate, DeviceID: "dev-1", Section: "desired",
					Sent: `{"properties":{"desired":{"fw":"2.0"}}}`, Before: `{"fw":"1.0"}`, After: `{"fw":"2.0"}`, Outcome: AuditOK}
				var (
					mu  sync.Mutex
					lat []time.Duration
				)
				b.SetParallelism(25) // 50 writers on 2 cores
				b.RunParallel(func(pb *testing.PB) {
					var mine []time.Duration
					for pb.Next() {
						t0 := time.Now()
						if _, err := db.RecordAudit(context.Background(), e); err != nil {
							b.Error(err)
							return
						}
						mine = append(mine, time.Since(t0))
					}
					mu.Lock()
					lat = append(lat, mine...)
					mu.Unlock()
				})
				slices.Sort(lat)
				if n := len(lat); n > 0 {
					b.ReportMetric(float64(lat[n/2].Microseconds())/1000, "p50-ms")
					b.ReportMetric(float64(lat[n*99/100].Microseconds())/1000, "p99-ms")
					b.ReportMetric(float64(lat[n-1].Microseconds())/1000, "max-ms")
				}
			})
		}
	}
}
