// Package storetest is the contract suite every emulator.Store must pass.
//
// A Store implementation's test calls Run with a function that opens a fresh,
// empty store. Run closes each store it opens when its subtest ends, so
// Close must be safe to call more than once.
//
// Besides what emulator.Store documents, the suite holds stores to these
// guarantees about memory: Put and Delete copy what they are given, so the
// caller may reuse its buffers as soon as they return; a value returned by
// Get or passed to an Ascend callback may be read until the transaction's fn
// returns and must never be modified; a copy taken inside fn stays valid for
// ever. Present keys never read as nil, even with an empty value. A Put or
// Delete inside an Ascend callback is allowed and does not disturb the
// iteration in progress, which may or may not see it.
package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hubdesk/hubdesk/hub/emulator"
)

// Run runs the contract suite against the stores made by open, one fresh
// store per subtest.
func Run(t *testing.T, open func(t *testing.T) emulator.Store) {
	tests := []struct {
		name string
		test func(t *testing.T, s emulator.Store)
	}{
		{"GetAbsent", testGetAbsent},
		{"PutGet", testPutGet},
		{"Delete", testDelete},
		{"UpdateErrorRollsBack", testUpdateErrorRollsBack},
		{"UpdateReadsOwnWrites", testUpdateReadsOwnWrites},
		{"ViewIsSnapshot", testViewIsSnapshot},
		{"Ascend", testAscend},
		{"AscendSeesOwnWrites", testAscendSeesOwnWrites},
		{"AscendWhileWriting", testAscendWhileWriting},
		{"AscendMatchesModel", testAscendMatchesModel},
		{"ValueOwnership", testValueOwnership},
		{"WriteInView", testWriteInView},
		{"EmptyKey", testEmptyKey},
		{"PanicInUpdate", testPanicInUpdate},
		{"ConcurrentCounters", testConcurrentCounters},
		{"Close", testClose},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
			tt.test(t, s)
		})
	}
}

var errTest = errors.New("storetest: fn failed on purpose")

func update(t *testing.T, s emulator.Store, fn func(tx emulator.Tx) error) {
	t.Helper()
	if err := s.Update(fn); err != nil {
		t.Fatalf("Update: %v", err)
	}
}

func view(t *testing.T, s emulator.Store, fn func(tx emulator.Tx) error) {
	t.Helper()
	if err := s.View(fn); err != nil {
		t.Fatalf("View: %v", err)
	}
}

// put commits the given key, value pairs in one Update.
func put(t *testing.T, s emulator.Store, kv ...string) {
	t.Helper()
	update(t, s, func(tx emulator.Tx) error {
		for i := 0; i < len(kv); i += 2 {
			if err := tx.Put([]byte(kv[i]), []byte(kv[i+1])); err != nil {
				return err
			}
		}
		return nil
	})
}

// get reads key in a View; absent keys read as "<nil>".
func get(t *testing.T, s emulator.Store, key string) string {
	t.Helper()
	var got string
	view(t, s, func(tx emulator.Tx) error {
		got = str(tx.Get([]byte(key)))
		return nil
	})
	return got
}

func str(v []byte) string {
	if v == nil {
		return "<nil>"
	}
	return string(v)
}

// ascend collects up to limit (0: all) keys, as "key=value" when withValues.
func ascend(t *testing.T, tx emulator.Tx, prefix string, after []byte, limit int, withValues bool) []string {
	t.Helper()
	var got []string
	err := tx.Ascend([]byte(prefix), after, func(k, v []byte) bool {
		if withValues {
			got = append(got, string(k)+"="+string(v))
		} else {
			got = append(got, string(k))
		}
		return limit == 0 || len(got) < limit
	})
	if err != nil {
		// Not Fatal: fn may run on a store's own goroutine.
		t.Errorf("Ascend(%q, %q): %v", prefix, after, err)
	}
	return got
}

func testGetAbsent(t *testing.T, s emulator.Store) {
	put(t, s, "a", "1")
	if got := get(t, s, "b"); got != "<nil>" {
		t.Errorf("View Get(absent) = %q, want nil", got)
	}
	update(t, s, func(tx emulator.Tx) error {
		if got := tx.Get([]byte("b")); got != nil {
			t.Errorf("Update Get(absent) = %q, want nil", got)
		}
		if got := tx.Get([]byte("a\x00")); got != nil {
			t.Errorf("Update Get(a\\x00) = %q, want nil", got)
		}
		return nil
	})
}

func testPutGet(t *testing.T, s emulator.Store) {
	put(t, s, "a", "1", "b", "2", "empty", "")
	put(t, s, "b", "3")
	tests := []struct{ key, want string }{
		{"a", "1"},
		{"b", "3"},
		{"empty", ""},
		{"c", "<nil>"},
	}
	for _, tt := range tests {
		if got := get(t, s, tt.key); got != tt.want {
			t.Errorf("Get(%q) = %q, want %q", tt.key, got, tt.want)
		}
	}
}

func testDelete(t *testing.T, s emulator.Store) {
	put(t, s, "a", "1", "b", "2")
	update(t, s, func(tx emulator.Tx) error {
		if err := tx.Delete([]byte("a")); err != nil {
			return err
		}
		return tx.Delete([]byte("absent"))
	})
	if got := get(t, s, "a"); got != "<nil>" {
		t.Errorf("Get(deleted) = %q, want nil", got)
	}
	if got := get(t, s, "b"); got != "2" {
		t.Errorf("Get(b) = %q, want 2", got)
	}
	put(t, s, "a", "again")
	if got := get(t, s, "a"); got != "again" {
		t.Errorf("Get(a) after delete and put = %q, want again", got)
	}
}

func testUpdateErrorRollsBack(t *testing.T, s emulator.Store) {
	put(t, s, "a", "1", "c", "3")
	err := s.Update(func(tx emulator.Tx) error {
		for _, w := range []struct{ k, v string }{{"a", "2"}, {"b", "new"}, {"d", "new"}} {
			if err := tx.Put([]byte(w.k), []byte(w.v)); err != nil {
				return err
			}
		}
		if err := tx.Delete([]byte("c")); err != nil {
			return err
		}
		return fmt.Errorf("precondition: %w", errTest)
	})
	if !errors.Is(err, errTest) {
		t.Fatalf("Update = %v, want fn's error", err)
	}
	want := map[string]string{"a": "1", "b": "<nil>", "c": "3", "d": "<nil>"}
	for k, v := range want {
		if got := get(t, s, k); got != v {
			t.Errorf("after failed Update: Get(%q) = %q, want %q", k, got, v)
		}
	}
	view(t, s, func(tx emulator.Tx) error {
		if got := ascend(t, tx, "", nil, 0, true); !slices.Equal(got, []string{"a=1", "c=3"}) {
			t.Errorf("after failed Update: keys %q, want [a=1 c=3]", got)
		}
		return nil
	})
}

func testUpdateReadsOwnWrites(t *testing.T, s emulator.Store) {
	put(t, s, "old", "1", "gone", "x")
	update(t, s, func(tx emulator.Tx) error {
		steps := []struct {
			op, key, val, want string
		}{
			{"put", "new", "n1", "n1"},
			{"put", "new", "n2", "n2"},
			{"put", "old", "2", "2"},
			{"del", "gone", "", "<nil>"},
			{"del", "new", "", "<nil>"},
			{"put", "gone", "back", "back"},
		}
		for _, st := range steps {
			var err error
			if st.op == "put" {
				err = tx.Put([]byte(st.key), []byte(st.val))
			} else {
				err = tx.Delete([]byte(st.key))
			}
			if err != nil {
				return err
			}
			if got := str(tx.Get([]byte(st.key))); got != st.want {
				t.Errorf("after %s %s: Get = %q, want %q", st.op, st.key, got, st.want)
			}
		}
		return nil
	})
	for k, v := range map[string]string{"new": "<nil>", "old": "2", "gone": "back"} {
		if got := get(t, s, k); got != v {
			t.Errorf("after Update: Get(%q) = %q, want %q", k, got, v)
		}
	}
}

// testViewIsSnapshot commits Updates while a View is open; the View must not
// see them, and must not stop them from committing.
func testViewIsSnapshot(t *testing.T, s emulator.Store) {
	put(t, s, "k/a", "1", "k/c", "1")
	inView := make(chan struct{})
	updated := make(chan error)
	go func() {
		<-inView
		updated <- s.Update(func(tx emulator.Tx) error {
			if err := tx.Put([]byte("k/a"), []byte("2")); err != nil {
				return err
			}
			if err := tx.Put([]byte("k/b"), []byte("2")); err != nil {
				return err
			}
			return tx.Delete([]byte("k/c"))
		})
	}()
	view(t, s, func(tx emulator.Tx) error {
		before := ascend(t, tx, "k/", nil, 0, true)
		close(inView)
		select {
		case err := <-updated:
			if err != nil {
				t.Fatalf("Update during View: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Update did not finish while a View was open")
		}
		if got := str(tx.Get([]byte("k/a"))); got != "1" {
			t.Errorf("View Get(k/a) after concurrent Update = %q, want 1", got)
		}
		if got := tx.Get([]byte("k/b")); got != nil {
			t.Errorf("View Get(k/b) after concurrent Update = %q, want nil", got)
		}
		if got := ascend(t, tx, "k/", nil, 0, true); !slices.Equal(got, before) {
			t.Errorf("View Ascend after concurrent Update = %q, want %q", got, before)
		}
		return nil
	})
	view(t, s, func(tx emulator.Tx) error {
		if got, want := ascend(t, tx, "k/", nil, 0, true), []string{"k/a=2", "k/b=2"}; !slices.Equal(got, want) {
			t.Errorf("a later View sees %q, want %q", got, want)
		}
		return nil
	})
}

func testAscend(t *testing.T, s emulator.Store) {
	keys := []string{"a", "b", "b/1", "b/2", "b/3", "b/\xff", "b0", "c"}
	var kv []string
	for _, k := range keys {
		kv = append(kv, k, "v"+k)
	}
	put(t, s, kv...)
	tests := []struct {
		name   string
		prefix string
		after  []byte
		limit  int
		want   []string
	}{
		{"all", "", nil, 0, keys},
		{"prefix", "b/", nil, 0, []string{"b/1", "b/2", "b/3", "b/\xff"}},
		{"prefix is a key", "b", nil, 0, []string{"b", "b/1", "b/2", "b/3", "b/\xff", "b0"}},
		{"prefix is only a key", "b/2", nil, 0, []string{"b/2"}},
		{"prefix matches nothing", "z", nil, 0, nil},
		{"prefix between keys", "ab", nil, 0, nil},
		{"after is exclusive", "b/", []byte("b/1"), 0, []string{"b/2", "b/3", "b/\xff"}},
		{"after absent key", "b/", []byte("b/25"), 0, []string{"b/3", "b/\xff"}},
		{"after before prefix", "b/", []byte("a"), 0, []string{"b/1", "b/2", "b/3", "b/\xff"}},
		{"after equals prefix", "b/", []byte("b/"), 0, []string{"b/1", "b/2", "b/3", "b/\xff"}},
		{"after last of prefix", "b/", []byte("b/\xff"), 0, nil},
		{"after beyond prefix", "b/", []byte("c"), 0, nil},
		{"after without prefix", "", []byte("b0"), 0, []string{"c"}},
		{"after empty, not nil", "", []byte{}, 0, keys},
		{"after last key", "", []byte("c"), 0, nil},
		{"early stop", "b/", nil, 2, []string{"b/1", "b/2"}},
		{"early stop after", "", []byte("b/2"), 1, []string{"b/3"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			check := func(where string, tx emulator.Tx) {
				got := ascend(t, tx, tt.prefix, tt.after, tt.limit, false)
				if !slices.Equal(got, tt.want) {
					t.Errorf("%s: Ascend(%q, %q) = %q, want %q", where, tt.prefix, tt.after, got, tt.want)
				}
			}
			view(t, s, func(tx emulator.Tx) error { check("View", tx); return nil })
			update(t, s, func(tx emulator.Tx) error { check("Update", tx); return nil })
		})
	}
	view(t, s, func(tx emulator.Tx) error {
		if got := ascend(t, tx, "b/", nil, 1, true); !slices.Equal(got, []string{"b/1=vb/1"}) {
			t.Errorf("Ascend values = %q, want [b/1=vb/1]", got)
		}
		return nil
	})
}

func testAscendSeesOwnWrites(t *testing.T, s emulator.Store) {
	put(t, s, "a", "0", "d/1", "old", "d/3", "old", "d/5", "old", "e", "0")
	update(t, s, func(tx emulator.Tx) error {
		for _, k := range []string{"d/0", "d/1", "d/2", "d/6", "d/9"} {
			if err := tx.Put([]byte(k), []byte("new")); err != nil {
				return err
			}
		}
		for _, k := range []string{"d/3", "d/6", "d/7"} {
			if err := tx.Delete([]byte(k)); err != nil {
				return err
			}
		}
		tests := []struct {
			after []byte
			limit int
			want  []string
		}{
			{nil, 0, []string{"d/0=new", "d/1=new", "d/2=new", "d/5=old", "d/9=new"}},
			{[]byte("d/1"), 0, []string{"d/2=new", "d/5=old", "d/9=new"}},
			{[]byte("d/3"), 0, []string{"d/5=old", "d/9=new"}},
			{[]byte("d/5"), 0, []string{"d/9=new"}},
			{[]byte("d/6"), 0, []string{"d/9=new"}},
			{nil, 2, []string{"d/0=new", "d/1=new"}},
		}
		for _, tt := range tests {
			if got := ascend(t, tx, "d/", tt.after, tt.limit, true); !slices.Equal(got, tt.want) {
				t.Errorf("Ascend(d/, %q) inside Update = %q, want %q", tt.after, got, tt.want)
			}
		}
		return nil
	})
}

// testAscendWhileWriting deletes and adds keys from inside an Ascend
// callback, as a handler removing a device and its modules would.
func testAscendWhileWriting(t *testing.T, s emulator.Store) {
	var kv []string
	for i := range 100 {
		kv = append(kv, fmt.Sprintf("m/%03d", i), "x")
	}
	put(t, s, kv...)
	update(t, s, func(tx emulator.Tx) error {
		var seen int
		err := tx.Ascend([]byte("m/"), nil, func(k, v []byte) bool {
			seen++
			if err := tx.Delete(k); err != nil {
				t.Errorf("Delete in Ascend: %v", err)
			}
			if err := tx.Put(append([]byte("n/"), k[2:]...), v); err != nil {
				t.Errorf("Put in Ascend: %v", err)
			}
			return true
		})
		if err != nil {
			return err
		}
		if seen != 100 {
			t.Errorf("Ascend that deletes as it goes saw %d keys, want 100", seen)
		}
		return nil
	})
	view(t, s, func(tx emulator.Tx) error {
		if got := ascend(t, tx, "m/", nil, 0, false); len(got) != 0 {
			t.Errorf("%d m/ keys left, want 0", len(got))
		}
		if got := ascend(t, tx, "n/", nil, 0, false); len(got) != 100 {
			t.Errorf("%d n/ keys, want 100", len(got))
		}
		return nil
	})
}

// testAscendMatchesModel compares Ascend, inside Updates that write and then
// succeed or fail, with a plain sorted map.
func testAscendMatchesModel(t *testing.T, s emulator.Store) {
	type op struct {
		del      bool
		key, val string
	}
	type query struct {
		prefix string
		after  []byte
		limit  int
		want   []string
	}
	rng := rand.New(rand.NewPCG(1, 2))
	randKey := func() string {
		return fmt.Sprintf("%c/%d", 'a'+rune(rng.IntN(3)), rng.IntN(40))
	}
	model := map[string]string{}
	for round := range 30 {
		// fn may run more than once, so it only replays what is drawn here.
		next := maps(model)
		var ops []op
		for range 1 + rng.IntN(20) {
			o := op{del: rng.IntN(3) == 0, key: randKey(), val: strconv.Itoa(round)}
			if o.del {
				delete(next, o.key)
			} else {
				next[o.key] = o.val
			}
			ops = append(ops, o)
		}
		var queries []query
		for range 10 {
			q := query{prefix: []string{"", "a", "b/", "b/1", "c/3"}[rng.IntN(5)], limit: rng.IntN(5)}
			if rng.IntN(2) == 0 {
				q.after = []byte(randKey())
			}
			q.want = modelAscend(next, q.prefix, q.after, q.limit)
			queries = append(queries, q)
		}
		fail := round%4 == 3
		err := s.Update(func(tx emulator.Tx) error {
			for _, o := range ops {
				var err error
				if o.del {
					err = tx.Delete([]byte(o.key))
				} else {
					err = tx.Put([]byte(o.key), []byte(o.val))
				}
				if err != nil {
					return err
				}
			}
			for _, q := range queries {
				if got := ascend(t, tx, q.prefix, q.after, q.limit, true); !slices.Equal(got, q.want) {
					t.Errorf("round %d: Ascend(%q, %q, limit %d) = %q, want %q", round, q.prefix, q.after, q.limit, got, q.want)
				}
			}
			if fail {
				return errTest
			}
			return nil
		})
		if t.Failed() {
			t.FailNow()
		}
		if fail {
			if !errors.Is(err, errTest) {
				t.Fatalf("round %d: Update = %v, want errTest", round, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("round %d: Update: %v", round, err)
		}
		model = next
		view(t, s, func(tx emulator.Tx) error {
			if got, want := ascend(t, tx, "", nil, 0, true), modelAscend(model, "", nil, 0); !slices.Equal(got, want) {
				t.Fatalf("round %d: View sees %q, want %q", round, got, want)
			}
			return nil
		})
	}
}

func maps(m map[string]string) map[string]string {
	c := make(map[string]string, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

func modelAscend(m map[string]string, prefix string, after []byte, limit int) []string {
	var keys []string
	for k := range m {
		if strings.HasPrefix(k, prefix) && (after == nil || k > string(after)) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	if limit > 0 && len(keys) > limit {
		keys = keys[:limit]
	}
	var out []string
	for _, k := range keys {
		out = append(out, k+"="+m[k])
	}
	return out
}

func testValueOwnership(t *testing.T, s emulator.Store) {
	key := []byte("key")
	buf := []byte("original")
	update(t, s, func(tx emulator.Tx) error {
		if err := tx.Put(key, buf); err != nil {
			return err
		}
		copy(buf, "CHANGED!")
		key[0] = 'X'
		if got := str(tx.Get([]byte("key"))); got != "original" {
			t.Errorf("Get after the caller reused Put's buffers = %q, want original", got)
		}
		return nil
	})
	if got := get(t, s, "key"); got != "original" {
		t.Errorf("committed value after the caller reused Put's buffers = %q, want original", got)
	}

	var kept []byte
	view(t, s, func(tx emulator.Tx) error {
		kept = bytes.Clone(tx.Get([]byte("key")))
		return nil
	})
	// Churn enough to make a paged store reuse the pages kept came from.
	for i := range 20 {
		update(t, s, func(tx emulator.Tx) error {
			for j := range 50 {
				k := fmt.Appendf(nil, "churn/%02d", j)
				if err := tx.Put(k, bytes.Repeat([]byte{byte(i)}, 512)); err != nil {
					return err
				}
			}
			return tx.Delete([]byte("key"))
		})
	}
	if string(kept) != "original" {
		t.Errorf("copy taken in a View = %q after later Updates, want original", kept)
	}
}

func testWriteInView(t *testing.T, s emulator.Store) {
	put(t, s, "a", "1")
	err := s.View(func(tx emulator.Tx) error {
		if err := tx.Put([]byte("a"), []byte("2")); !errors.Is(err, emulator.ErrReadOnly) {
			t.Errorf("Put in View = %v, want ErrReadOnly", err)
		}
		if err := tx.Delete([]byte("a")); !errors.Is(err, emulator.ErrReadOnly) {
			t.Errorf("Delete in View = %v, want ErrReadOnly", err)
		}
		return tx.Put([]byte("b"), []byte("2"))
	})
	if !errors.Is(err, emulator.ErrReadOnly) {
		t.Errorf("View = %v, want fn's ErrReadOnly", err)
	}
	if got := get(t, s, "a"); got != "1" {
		t.Errorf("Get(a) = %q after writes in a View, want 1", got)
	}
}

func testEmptyKey(t *testing.T, s emulator.Store) {
	err := s.Update(func(tx emulator.Tx) error {
		if err := tx.Put([]byte("ok"), []byte("1")); err != nil {
			return err
		}
		return tx.Put(nil, []byte("x"))
	})
	if err == nil {
		t.Fatal("Put of an empty key: Update = nil, want an error")
	}
	if got := get(t, s, "ok"); got != "<nil>" {
		t.Errorf("Get(ok) = %q after the Update failed, want nil", got)
	}
}

// testPanicInUpdate checks that a panic in fn reaches Update's caller and
// leaves the store working.
func testPanicInUpdate(t *testing.T, s emulator.Store) {
	recovered := func() (p any) {
		defer func() { p = recover() }()
		_ = s.Update(func(tx emulator.Tx) error {
			if err := tx.Put([]byte("p"), []byte("1")); err != nil {
				return err
			}
			panic("boom")
		})
		return nil
	}()
	if recovered != "boom" {
		t.Errorf("recovered %v from Update, want boom", recovered)
	}
	put(t, s, "after", "1")
	if got := get(t, s, "p"); got != "<nil>" {
		t.Errorf("Get(p) = %q after fn panicked, want nil", got)
	}
	if got := get(t, s, "after"); got != "1" {
		t.Errorf("Get(after) = %q, want 1", got)
	}
}

// testConcurrentCounters increments counters from 32 goroutines while every
// third Update writes and then fails; nothing may be lost or leak.
func testConcurrentCounters(t *testing.T, s emulator.Store) {
	const (
		workers   = 32
		perWorker = 30
		counters  = 4
	)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range perWorker {
				key := fmt.Appendf(nil, "counter/%d", (w+i)%counters)
				fail := i%3 == 2
				err := s.Update(func(tx emulator.Tx) error {
					n := 0
					if v := tx.Get(key); v != nil {
						var err error
						if n, err = strconv.Atoi(string(v)); err != nil {
							return err
						}
					}
					if err := tx.Put(key, strconv.AppendInt(nil, int64(n+1), 10)); err != nil {
						return err
					}
					if fail {
						if err := tx.Put(fmt.Appendf(nil, "leak/%d/%d", w, i), []byte("x")); err != nil {
							return err
						}
						return errTest
					}
					return nil
				})
				if fail != errors.Is(err, errTest) || (!fail && err != nil) {
					t.Errorf("worker %d, Update %d: %v", w, i, err)
				}
			}
		})
	}
	wg.Wait()
	view(t, s, func(tx emulator.Tx) error {
		total := 0
		for _, kv := range ascend(t, tx, "counter/", nil, 0, true) {
			n, err := strconv.Atoi(kv[strings.IndexByte(kv, '=')+1:])
			if err != nil {
				t.Fatal(err)
			}
			total += n
		}
		if want := workers * (perWorker - perWorker/3); total != want {
			t.Errorf("counters add up to %d, want %d", total, want)
		}
		if leaked := ascend(t, tx, "leak/", nil, 0, false); len(leaked) > 0 {
			t.Errorf("failed Updates left %d keys, e.g. %q", len(leaked), leaked[0])
		}
		return nil
	})
}

func testClose(t *testing.T, s emulator.Store) {
	put(t, s, "a", "1")
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.View(func(emulator.Tx) error { return nil }); !errors.Is(err, emulator.ErrClosed) {
		t.Errorf("View after Close = %v, want ErrClosed", err)
	}
	if err := s.Update(func(emulator.Tx) error { return nil }); !errors.Is(err, emulator.ErrClosed) {
		t.Errorf("Update after Close = %v, want ErrClosed", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}
