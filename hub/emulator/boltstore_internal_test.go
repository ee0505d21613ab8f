package emulator

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"syscall"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// This file measures the bolt store's group commit against the alternatives
// it was chosen over; they live here, not in the store.

// commitRetry is group commit the way bbolt's Batch isolates failures: all
// fns write straight to one transaction; when one fails the transaction is
// rolled back, the failing fn runs alone to return its error, and the others
// run again.
func commitRetry(s *boltStore, group []*boltCall) {
	for len(group) > 0 {
		btx, err := s.db.Begin(true)
		if err != nil {
			for _, c := range group {
				c.finish(err)
			}
			return
		}
		b := btx.Bucket(s.bucket)
		failed := -1
		for i, c := range group {
			if callSafely(c.fn, directTx{b}) != nil {
				failed = i
				break
			}
		}
		if failed < 0 {
			err := btx.Commit()
			for _, c := range group {
				c.finish(err)
			}
			return
		}
		_ = btx.Rollback()
		c := group[failed]
		group = append(group[:failed:failed], group[failed+1:]...)
		c.finish(s.db.Update(func(btx *bolt.Tx) error {
			return callSafely(c.fn, directTx{btx.Bucket(s.bucket)})
		}))
	}
}

// directTx writes straight to a bbolt bucket.
type directTx struct{ b *bolt.Bucket }

func (tx directTx) Get(key []byte) []byte { return tx.b.Get(key) }
func (tx directTx) Put(key, val []byte) error {
	return tx.b.Put(bytes.Clone(key), bytes.Clone(val))
}
func (tx directTx) Delete(key []byte) error { return tx.b.Delete(key) }
func (tx directTx) Ascend(prefix, after []byte, fn func(k, v []byte) bool) error {
	return (&boltTx{b: tx.b}).Ascend(prefix, after, fn)
}

// batchStore updates through bbolt's own Batch, which waits up to
// MaxBatchDelay (10ms) for a batch to fill.
type batchStore struct{ *boltStore }

func (s batchStore) Update(fn func(tx Tx) error) error {
	return s.db.Batch(func(btx *bolt.Tx) error { return fn(directTx{btx.Bucket(s.bucket)}) })
}

var errBench = errors.New("precondition failed")

// BenchmarkStoreUpdateParallel runs 32 writers, each Update reading and
// rewriting a 2 KB value, with no failures, with one Update in ten and
// with one in two failing after its Put, as precondition failures would.
func BenchmarkStoreUpdateParallel(b *testing.B) {
	stores := []struct {
		name string
		open func(b *testing.B) Store
	}{
		{"memory", func(*testing.B) Store { return NewMemoryStore() }},
		{"bolt-overlay", func(b *testing.B) Store { return openBench(b, (*boltStore).commitGroup) }},
		{"bolt-retry", func(b *testing.B) Store { return openBench(b, commitRetry) }},
		{"bolt-Batch", func(b *testing.B) Store { return batchStore{openBench(b, (*boltStore).commitGroup)} }},
	}
	for _, failEvery := range []int{0, 10, 2} {
		for _, st := range stores {
			pct := 0
			if failEvery > 0 {
				pct = 100 / failEvery
			}
			b.Run(fmt.Sprintf("%s/fail=%d%%", st.name, pct), func(b *testing.B) {
				s := st.open(b)
				defer s.Close()
				benchWrites(b, s, failEvery)
			})
		}
	}
}

// benchWrites loads 10,000 2 KB values and then rewrites random ones from 32
// goroutines, failing every failEvery-th Update (never when 0).
func benchWrites(b *testing.B, s Store, failEvery int) {
	const keys = 10_000
	val := bytes.Repeat([]byte("v"), 2048)
	err := s.Update(func(tx Tx) error {
		for i := range keys {
			if err := tx.Put(fmt.Appendf(nil, "d/%05d", i), val); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	var writes atomic.Int64
	b.SetParallelism((32 + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		rng := rand.New(rand.NewPCG(rand.Uint64(), 0))
		for i := 1; pb.Next(); i++ {
			key := fmt.Appendf(nil, "d/%05d", rng.IntN(keys))
			fail := failEvery > 0 && i%failEvery == 0
			err := s.Update(func(tx Tx) error {
				v := tx.Get(key)
				next := append(v[:0:0], v...)
				next[0]++
				if err := tx.Put(key, next); err != nil {
					return err
				}
				if fail {
					return errBench
				}
				return nil
			})
			switch {
			case err == nil:
				writes.Add(1)
			case !errors.Is(err, errBench):
				b.Error(err)
			}
		}
	})
	b.ReportMetric(float64(writes.Load())/b.Elapsed().Seconds(), "writes/s")
}

func openBench(b *testing.B, commit func(*boltStore, []*boltCall)) *boltStore {
	s, err := openBolt(filepath.Join(b.TempDir(), "hub.db"), commit)
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// BenchmarkFdatasync measures what the disk charges for one page write and
// fdatasync, the floor under every durable commit (bbolt syncs twice).
func BenchmarkFdatasync(b *testing.B) {
	f, err := os.Create(filepath.Join(b.TempDir(), "sync"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	page := make([]byte, 4096)
	for b.Loop() {
		if _, err := f.WriteAt(page, 0); err != nil {
			b.Fatal(err)
		}
		if err := syscall.Fdatasync(int(f.Fd())); err != nil {
			b.Fatal(err)
		}
	}
}
