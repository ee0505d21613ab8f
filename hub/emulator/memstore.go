package emulator

import (
	"bytes"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/google/btree"
)

// memItem is one key-value pair of a memory store. Items in a published tree
// are never modified, so readers may keep them for the life of a View.
type memItem struct {
	key, val []byte
}

func lessMemItem(a, b memItem) bool { return bytes.Compare(a.key, b.key) < 0 }

// memDegree gives nodes of up to 31 items: shallow enough for fast lookups,
// small enough that the copy-on-write path copies of an Update stay cheap.
const memDegree = 16

// memStore is a Store held in memory.
//
// The committed state is an immutable B-tree published through an atomic
// pointer. A View loads the pointer and reads that tree without any lock, so
// a scan of a million keys never holds up writers. An Update clones the tree
// (O(1): btree clones are lazy, copy-on-write), lets fn write to the clone and
// publishes it only if fn succeeds; an error just drops the clone. An undo log
// applied to a shared mutable tree would need readers to clone it under a lock
// that writers also hold, and once any reader had cloned, the writer's changes
// would pay the same path copies anyway, so it would be slower and blocking.
type memStore struct {
	wmu    sync.Mutex // serializes writers
	cur    atomic.Pointer[btree.BTreeG[memItem]]
	closed atomic.Bool
}

// NewMemoryStore returns an empty Store held in memory. Updates are atomic
// and isolated but, of course, not durable.
func NewMemoryStore() Store {
	s := &memStore{}
	s.cur.Store(btree.NewG(memDegree, lessMemItem))
	return s
}

// View implements Store.
func (s *memStore) View(fn func(tx Tx) error) error {
	if s.closed.Load() {
		return ErrClosed
	}
	return fn(&memTx{tree: s.cur.Load()})
}

// Update implements Store.
func (s *memStore) Update(fn func(tx Tx) error) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.closed.Load() {
		return ErrClosed
	}
	// Only this writer ever clones cur, and Clone does not touch what
	// readers of cur read, so this is safe while Views scan cur.
	tx := &memTx{tree: s.cur.Load().Clone(), writable: true}
	err := fn(tx)
	tx.done = true
	if err != nil {
		return err
	}
	s.cur.Store(tx.tree)
	return nil
}

// Close implements Store. Taking the writer lock lets a running Update
// finish first; later calls return ErrClosed.
func (s *memStore) Close() error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.closed.Store(true)
	return nil
}

// memTx is a transaction of a memStore: a read-only snapshot, or the private
// clone an Update writes to.
type memTx struct {
	tree     *btree.BTreeG[memItem]
	writable bool
	done     bool
	// iterating counts the Ascends in progress; a write during one moves
	// the tree to a fresh clone so that the iteration is not disturbed.
	iterating int
}

// Get implements Tx.
func (tx *memTx) Get(key []byte) []byte {
	it, ok := tx.tree.Get(memItem{key: key})
	if !ok {
		return nil
	}
	return it.val
}

// Put implements Tx. It copies key and val.
func (tx *memTx) Put(key, val []byte) error {
	if err := tx.checkWrite(key); err != nil {
		return err
	}
	k := bytes.Clone(key)
	v := make([]byte, len(val))
	copy(v, val)
	tx.tree.ReplaceOrInsert(memItem{key: k, val: v})
	return nil
}

// Delete implements Tx.
func (tx *memTx) Delete(key []byte) error {
	if err := tx.checkWrite(key); err != nil {
		return err
	}
	tx.tree.Delete(memItem{key: key})
	return nil
}

func (tx *memTx) checkWrite(key []byte) error {
	switch {
	case !tx.writable:
		return ErrReadOnly
	case tx.done:
		return errTxDone
	case len(key) == 0:
		return fmt.Errorf("emulator: put: %w", errEmptyKey)
	}
	if tx.iterating > 0 {
		// btree iteration must not see concurrent changes to its nodes;
		// writing to a clone copies them instead.
		tx.tree = tx.tree.Clone()
		tx.iterating = 0
	}
	return nil
}

// Ascend implements Tx.
func (tx *memTx) Ascend(prefix, after []byte, fn func(k, v []byte) bool) error {
	start := prefix
	if after != nil && bytes.Compare(after, prefix) >= 0 {
		start = after
	}
	tree := tx.tree
	tx.iterating++
	defer func() {
		if tx.tree == tree {
			tx.iterating--
		}
	}()
	tree.AscendGreaterOrEqual(memItem{key: start}, func(it memItem) bool {
		if !bytes.HasPrefix(it.key, prefix) {
			return false
		}
		if after != nil && bytes.Equal(it.key, after) {
			return true
		}
		return fn(it.key, it.val)
	})
	return nil
}
