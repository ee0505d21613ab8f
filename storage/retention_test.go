package storage

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"
)

func TestPruneAudit(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *DB, _ *testClock) {
		ctx := context.Background()
		ids := seedAudit(t, db, 30) // an hour apart from 2026-01-01 00:00
		start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		tests := []struct {
			name   string
			before time.Time
			batch  int
			want   int64
			keep   []int64 // the ids left, oldest first
		}{
			{"nothing that old", start, 4, 0, ids},
			{"exactly at an entry's time keeps it", start.Add(3 * time.Hour), 4, 3, ids[3:]},
			{"across batches", start.Add(17*time.Hour + time.Minute), 4, 15, ids[18:]},
			{"a batch exactly full", start.Add(22 * time.Hour), 4, 4, ids[22:]},
			{"again prunes nothing", start.Add(22 * time.Hour), 4, 0, ids[22:]},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				n, err := db.pruneAudit(ctx, tt.before, tt.batch)
				if err != nil || n != tt.want {
					t.Fatalf("pruned %d, %v; want %d", n, err, tt.want)
				}
				if got := remainingIDs(t, db); !slices.Equal(got, tt.keep) {
					t.Errorf("left %v, want %v", got, tt.keep)
				}
			})
		}
		if n, err := db.PruneAudit(ctx, start.Add(1000*time.Hour)); err != nil || n != 8 {
			t.Errorf("PruneAudit of the rest: %d, %v", n, err)
		}
	})
}

func remainingIDs(t *testing.T, db *DB) []int64 {
	t.Helper()
	var ids []int64
	for e, err := range db.AuditEntries(context.Background(), AuditFilter{}) {
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, e.ID)
	}
	slices.Reverse(ids)
	return ids
}

// Replicas pruning at once, each through its own connection pool, delete
// every old entry exactly once between them and nothing newer, while
// entries are still being recorded.
func TestPruneAuditConcurrently(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			open := b.fresh(t)
			const replicas, old, recent = 4, 300, 20
			dbs := make([]*DB, replicas)
			for i := range dbs {
				db, err := open(Options{})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { db.Close() })
				dbs[i] = db
			}
			ctx := context.Background()
			cutoff := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
			tx, err := dbs[0].db.Begin()
			if err != nil {
				t.Fatal(err)
			}
			for i := range old {
				if _, err := tx.Exec(`INSERT INTO audit (at, actor, action, outcome) VALUES ($1, 'ann', 'twin.update', 'ok')`,
					cutoff.Add(-time.Duration(i+1)*time.Minute).UnixMicro()); err != nil {
					t.Fatal(err)
				}
			}
			if err := tx.Commit(); err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			deleted := make([]int64, replicas)
			errs := make([]error, replicas+1)
			for i, db := range dbs {
				wg.Go(func() { deleted[i], errs[i] = db.pruneAudit(ctx, cutoff, 7) })
			}
			wg.Go(func() {
				for i := range recent {
					e := AuditEntry{At: cutoff.Add(time.Duration(i) * time.Second), Actor: "bob", Action: AuditTwinUpdate, Outcome: AuditOK}
					if _, err := dbs[0].RecordAudit(ctx, e); err != nil {
						errs[replicas] = err
						return
					}
				}
			})
			wg.Wait()
			var total int64
			for i := range replicas {
				if errs[i] != nil {
					t.Errorf("replica %d: %v", i, errs[i])
				}
				total += deleted[i]
			}
			if errs[replicas] != nil {
				t.Errorf("recording meanwhile: %v", errs[replicas])
			}
			// A replica that finds the rest being deleted by another stops
			// early, leaving them to it: nothing is left behind.
			rest, err := dbs[0].PruneAudit(ctx, cutoff)
			if err != nil {
				t.Fatal(err)
			}
			if total+rest != old || rest != 0 {
				t.Errorf("replicas deleted %v and a final prune %d, want %d in all by the replicas", deleted, rest, old)
			}
			if left := remainingIDs(t, dbs[0]); len(left) != recent {
				t.Errorf("%d entries left, want the %d recent ones", len(left), recent)
			}
		})
	}
}

func TestKeepAudit(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *DB, clock *testClock) {
		seedAudit(t, db, 10) // hourly from 2026-01-01 00:00
		clock.Set(time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC))
		ctx, cancel := context.WithCancel(context.Background())
		type result struct {
			n   int64
			err error
		}
		results := make(chan result)
		done := make(chan struct{})
		go func() {
			defer close(done)
			db.KeepAudit(ctx, 8*time.Hour, 5*time.Millisecond, func(n int64, err error) { results <- result{n, err} })
		}()
		// At start: older than 04:00 goes.
		if r := <-results; r.err != nil || r.n != 4 {
			t.Errorf("first prune: %+v, want 4", r)
		}
		// Then on every tick, as the clock moves on.
		clock.Set(time.Date(2026, 1, 1, 15, 30, 0, 0, time.UTC))
		var n int64
		for n < 4 {
			r := <-results
			if r.err != nil {
				t.Fatal(r.err)
			}
			n += r.n
		}
		if n != 4 {
			t.Errorf("later prunes deleted %d, want 4", n)
		}
		cancel()
		for {
			select {
			case <-results:
				continue
			case <-done:
			}
			break
		}
		if left := remainingIDs(t, db); len(left) != 2 {
			t.Errorf("%d entries left, want 2", len(left))
		}
	})
}

// BenchmarkPruneAudit deletes a trail of 100,000 old entries while
// entries are recorded every 10 ms (far busier than people saving), and
// reports how long those saves took: pruning in batches must never hold
// the table for long. Run it with -benchtime=1x; each round seeds the
// trail again.
func BenchmarkPruneAudit(b *testing.B) {
	const n = 100_000
	for _, be := range backends() {
		b.Run(be.name, func(b *testing.B) {
			db, err := be.fresh(b)(Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			ctx := context.Background()
			cutoff := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			var waits []time.Duration
			for b.Loop() {
				b.StopTimer()
				tx, err := db.db.Begin()
				if err != nil {
					b.Fatal(err)
				}
				for i := range n {
					_, err := tx.Exec(`INSERT INTO audit (at, actor, action, device_id, sent, outcome) VALUES ($1, 'ed', 'twin.update', 'dev-1', $2, 'ok')`,
						cutoff.Add(-time.Duration(i+1)*time.Second).UnixMicro(), `{"properties":{"desired":{"fw":"2.0"}}}`)
					if err != nil {
						b.Fatal(err)
					}
				}
				if err := tx.Commit(); err != nil {
					b.Fatal(err)
				}
				stop := make(chan struct{})
				done := make(chan struct{})
				go func() {
					defer close(done)
					e := AuditEntry{At: cutoff, Actor: "ann", Action: AuditTwinUpdate, Outcome: AuditOK}
					for {
						select {
						case <-stop:
							return
						case <-time.After(10 * time.Millisecond):
						}
						start := time.Now()
						if _, err := db.RecordAudit(ctx, e); err != nil {
							b.Error(err)
							return
						}
						waits = append(waits, time.Since(start))
					}
				}()
				b.StartTimer()
				deleted, err := db.PruneAudit(ctx, cutoff)
				b.StopTimer()
				close(stop)
				<-done
				if err != nil || deleted != n {
					b.Fatalf("pruned %d, %v; want %d", deleted, err, n)
				}
				b.StartTimer()
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "deleted/s")
			slices.Sort(waits)
			ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
			b.ReportMetric(ms(waits[len(waits)*99/100]), "p99-save-ms")
			b.ReportMetric(ms(waits[len(waits)-1]), "slowest-save-ms")
			b.ReportMetric(float64(len(waits))/float64(b.N), "saves/prune")
		})
	}
}
