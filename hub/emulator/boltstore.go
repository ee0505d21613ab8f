package emulator

import (
	"bytes"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

const (
	boltBucket = "registry"
	// boltOpenTimeout bounds the wait for the data file's lock, so a second
	// emulator on the same file fails with a clear error instead of hanging.
	boltOpenTimeout = time.Second
	// boltMmapSize is reserved address space, not memory. bbolt must remap,
	// waiting for every open read transaction, whenever the file outgrows
	// its mapping; a large first mapping keeps long Views from stalling
	// writers that way until the file passes 1 GiB.
	boltMmapSize = 1 << 30
	// boltMaxGroup caps how many Updates share one bbolt transaction.
	boltMaxGroup = 512
)

// boltStore is a durable Store in one bbolt file.
//
// Updates use natural group commit: one committer goroutine takes every
// Update queued while the previous transaction was committing and runs them
// all in one bbolt transaction, so one fsync serves them all, and a lone
// Update is committed at once rather than after a batching delay.
//
// Each fn writes to its own overlay of buffered writes, which reads through
// to the transaction (and so sees the fns before it in the group). If fn
// fails its overlay is dropped and nothing else is disturbed; if it succeeds
// the overlay is applied. Failures, such as precondition failures, are
// common, and this costs them nothing, where rolling back the group and
// running everyone again (bbolt's Batch) costs a retry per failure.
type boltStore struct {
	db     *bolt.DB
	bucket []byte
	commit func(s *boltStore, group []*boltCall)

	mu     sync.RWMutex // guards closed and sends on calls
	closed bool
	calls  chan *boltCall
	done   chan struct{} // closed when the committer has finished

	closeOnce sync.Once
	closeErr  error
}

// boltCall is one Update waiting for the committer.
type boltCall struct {
	fn   func(tx Tx) error
	err  error
	done chan struct{}
}

func (c *boltCall) finish(err error) {
	c.err = err
	close(c.done)
}

// panicked carries a panic in fn from the committer to fn's caller.
type panicked struct{ value any }

func (p panicked) Error() string { return fmt.Sprintf("emulator: panic in Update: %v", p.value) }

// OpenBoltStore opens, or creates, the durable Store kept in the bbolt file at
// path. When Update returns nil its writes are on disk (fsynced). The file is
// locked while open: opening it again, from this process or another, fails
// after a second with an error saying that the data file is in use.
func OpenBoltStore(path string) (Store, error) {
	return openBolt(path, (*boltStore).commitGroup)
}

func openBolt(path string, commit func(*boltStore, []*boltCall)) (*boltStore, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{
		Timeout:         boltOpenTimeout,
		FreelistType:    bolt.FreelistMapType,
		InitialMmapSize: boltMmapSize,
	})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("emulator: open store %s: the data file is in use by another process (its lock was not released within %s): %w", path, boltOpenTimeout, err)
	}
	if err != nil {
		return nil, fmt.Errorf("emulator: open store %s: %w", path, err)
	}
	s := &boltStore{
		db:     db,
		bucket: []byte(boltBucket),
		commit: commit,
		calls:  make(chan *boltCall, boltMaxGroup),
		done:   make(chan struct{}),
	}
	err = db.Update(func(btx *bolt.Tx) error {
		_, err := btx.CreateBucketIfNotExists(s.bucket)
		return err
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("emulator: open store %s: create bucket: %w", path, err)
	}
	go s.run()
	return s, nil
}

// View implements Store. It runs fn in a bbolt read transaction, which sees
// the last commit and is not disturbed by later ones.
func (s *boltStore) View(fn func(tx Tx) error) error {
	err := s.db.View(func(btx *bolt.Tx) error {
		tx := &boltTx{b: btx.Bucket(s.bucket)}
		defer func() { tx.done = true }()
		return fn(tx)
	})
	if errors.Is(err, berrors.ErrDatabaseNotOpen) {
		return ErrClosed
	}
	return err
}

// Update implements Store.
func (s *boltStore) Update(fn func(tx Tx) error) error {
	c := &boltCall{fn: fn, done: make(chan struct{})}
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return ErrClosed
	}
	s.calls <- c
	s.mu.RUnlock()
	<-c.done
	if p, ok := c.err.(panicked); ok {
		panic(p.value)
	}
	return c.err
}

// Close implements Store. Queued Updates are committed first; a second Close
// returns the first one's result.
func (s *boltStore) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		close(s.calls)
		s.mu.Unlock()
		<-s.done
		if err := s.db.Close(); err != nil {
			s.closeErr = fmt.Errorf("emulator: close store: %w", err)
		}
	})
	return s.closeErr
}

// run is the committer: it commits whatever has queued up while it was busy.
func (s *boltStore) run() {
	defer close(s.done)
	group := make([]*boltCall, 0, boltMaxGroup)
	for c := range s.calls {
		group = append(group[:0], c)
	fill:
		for len(group) < boltMaxGroup {
			select {
			case c, ok := <-s.calls:
				if !ok {
					break fill
				}
				group = append(group, c)
			default:
				break fill
			}
		}
		s.commit(s, group)
		clear(group)
		// Let the callers just released queue their next Updates, or every
		// other group is only the half that queued during the last commit
		// (measured with 32 writers: 16 per group without, 24 with).
		runtime.Gosched()
	}
}

// commitGroup runs every call of group in one bbolt transaction, each in its
// own overlay, and commits the ones that succeed.
func (s *boltStore) commitGroup(group []*boltCall) {
	btx, err := s.db.Begin(true)
	if err != nil {
		for _, c := range group {
			c.finish(fmt.Errorf("emulator: update: %w", err))
		}
		return
	}
	b := btx.Bucket(s.bucket)
	ok := make([]*boltCall, 0, len(group))
	for i, c := range group {
		tx := &boltTx{b: b, writable: true}
		err := callSafely(c.fn, tx)
		tx.done = true
		if err != nil {
			// Nothing of fn's is in btx, so its caller can have its
			// answer now.
			c.finish(err)
			continue
		}
		if err := tx.apply(); err != nil {
			// Writes were checked in Put, so this is bbolt failing midway;
			// btx is spoiled. Drop it and run the others again.
			_ = btx.Rollback()
			c.finish(fmt.Errorf("emulator: update: %w", err))
			s.commitGroup(append(ok, group[i+1:]...))
			return
		}
		ok = append(ok, c)
	}
	if len(ok) == 0 {
		_ = btx.Rollback()
		return
	}
	if err := btx.Commit(); err != nil {
		err = fmt.Errorf("emulator: update: commit: %w", err)
		for _, c := range ok {
			c.finish(err)
		}
		return
	}
	for _, c := range ok {
		c.finish(nil)
	}
}

// callSafely runs fn, turning a panic into a panicked error that Update
// raises again in the caller's goroutine, so that one bad fn cannot bring the
// committer, and every other caller, down with it.
func callSafely(fn func(tx Tx) error, tx Tx) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = panicked{p}
		}
	}()
	return fn(tx)
}

// boltTx is a transaction of a boltStore: a read-only one, or one Update's
// overlay of buffered writes on top of the group's bbolt transaction.
type boltTx struct {
	b        *bolt.Bucket
	writable bool
	done     bool
	writes   map[string]boltWrite
	sorted   []boltWrite // writes in key order; nil when stale
}

// boltWrite is a buffered Put or, with del set, Delete.
type boltWrite struct {
	key []byte
	val []byte
	del bool
}

// Get implements Tx.
func (tx *boltTx) Get(key []byte) []byte {
	if w, ok := tx.writes[string(key)]; ok {
		if w.del {
			return nil
		}
		return w.val
	}
	if tx.done {
		return nil
	}
	return tx.b.Get(key)
}

// Put implements Tx. It copies key and val.
func (tx *boltTx) Put(key, val []byte) error {
	if err := tx.checkWrite(key); err != nil {
		return err
	}
	if len(val) > bolt.MaxValueSize {
		return fmt.Errorf("emulator: put: value of %d bytes is larger than %d", len(val), bolt.MaxValueSize)
	}
	v := make([]byte, len(val))
	copy(v, val)
	tx.buffer(boltWrite{key: key, val: v})
	return nil
}

// Delete implements Tx.
func (tx *boltTx) Delete(key []byte) error {
	if err := tx.checkWrite(key); err != nil {
		return err
	}
	tx.buffer(boltWrite{key: key, del: true})
	return nil
}

func (tx *boltTx) checkWrite(key []byte) error {
	switch {
	case !tx.writable:
		return ErrReadOnly
	case tx.done:
		return errTxDone
	case len(key) == 0:
		return fmt.Errorf("emulator: put: %w", errEmptyKey)
	case len(key) > bolt.MaxKeySize:
		return fmt.Errorf("emulator: put: key of %d bytes is longer than %d", len(key), bolt.MaxKeySize)
	}
	return nil
}

func (tx *boltTx) buffer(w boltWrite) {
	if tx.writes == nil {
		tx.writes = make(map[string]boltWrite)
	}
	k := string(w.key)
	w.key = []byte(k)
	tx.writes[k] = w
	tx.sorted = nil
}

// sortedWrites returns the buffered writes in key order. The slice is not
// changed by later writes, so an Ascend may write as it goes.
func (tx *boltTx) sortedWrites() []boltWrite {
	if tx.sorted == nil && len(tx.writes) > 0 {
		tx.sorted = make([]boltWrite, 0, len(tx.writes))
		for _, w := range tx.writes {
			tx.sorted = append(tx.sorted, w)
		}
		slices.SortFunc(tx.sorted, func(a, b boltWrite) int { return bytes.Compare(a.key, b.key) })
	}
	return tx.sorted
}

// apply writes the buffered writes to the bbolt transaction, in key order,
// which is the order bbolt inserts fastest.
func (tx *boltTx) apply() error {
	for _, w := range tx.sortedWrites() {
		var err error
		if w.del {
			err = tx.b.Delete(w.key)
		} else {
			err = tx.b.Put(w.key, w.val)
		}
		if err != nil {
			return fmt.Errorf("write %q: %w", w.key, err)
		}
	}
	return nil
}

// Ascend implements Tx. It seeks straight to the first key, so a page deep
// into the keys costs about as much as the first page, and merges the
// buffered writes into the committed keys.
func (tx *boltTx) Ascend(prefix, after []byte, fn func(k, v []byte) bool) error {
	if tx.done {
		return errTxDone
	}
	start := prefix
	if after != nil && bytes.Compare(after, prefix) >= 0 {
		start = after
	}
	ws := tx.sortedWrites()
	i, _ := slices.BinarySearchFunc(ws, start, func(w boltWrite, t []byte) int { return bytes.Compare(w.key, t) })
	c := tx.b.Cursor()
	k, v := c.Seek(start)
	for {
		if k != nil && after != nil && bytes.Equal(k, after) {
			k, v = c.Next()
			continue
		}
		if i < len(ws) && after != nil && bytes.Equal(ws[i].key, after) {
			i++
			continue
		}
		inCommitted := k != nil && bytes.HasPrefix(k, prefix)
		inBuffered := i < len(ws) && bytes.HasPrefix(ws[i].key, prefix)
		var key, val []byte
		switch {
		case !inCommitted && !inBuffered:
			return nil
		case inBuffered && (!inCommitted || bytes.Compare(ws[i].key, k) <= 0):
			if inCommitted && bytes.Equal(ws[i].key, k) {
				k, v = c.Next()
			}
			w := ws[i]
			i++
			if w.del {
				continue
			}
			key, val = w.key, w.val
		default:
			key, val = k, v
			k, v = c.Next()
		}
		if !fn(key, val) {
			return nil
		}
	}
}
