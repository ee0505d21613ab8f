package emulator

import "errors"

// Store is where the emulator keeps its registry: an ordered key-value store
// with atomic, isolated transactions. The emulator's own logic (records,
// etags, twins) lives above it, so every Store behaves the same by
// construction and one contract suite (storetest) checks each of them.
//
// Keys are compared as bytes. Values handed to callbacks are only valid
// inside the callback; copy them to keep them.
type Store interface {
	// View runs fn on a consistent read-only snapshot.
	View(fn func(tx Tx) error) error
	// Update runs fn in a read-write transaction. If fn returns an error
	// nothing it wrote is kept. When Update returns nil the writes are
	// durable (for a durable store: on disk, surviving kill -9) and
	// visible to every later View. Update may run fn more than once (group
	// commit), so fn must have no effects outside tx.
	Update(fn func(tx Tx) error) error
	// Close releases the store. Pending Updates finish first.
	Close() error
}

// Tx is a transaction of a Store.
type Tx interface {
	// Get returns the value of key, or nil if absent.
	Get(key []byte) []byte
	// Put sets key to val. It fails in a read-only transaction.
	Put(key, val []byte) error
	// Delete removes key; absent keys are fine. It fails in a read-only
	// transaction.
	Delete(key []byte) error
	// Ascend calls fn for each key k with prefix <= k, in ascending key
	// order, starting after `after` when it is non-nil (exclusive), while k
	// has the given prefix and fn returns true.
	Ascend(prefix, after []byte, fn func(k, v []byte) bool) error
}

// ErrReadOnly is returned by Put and Delete in a View.
var ErrReadOnly = errors.New("emulator: write in a read-only transaction")

// ErrClosed is returned by View and Update after Close.
var ErrClosed = errors.New("emulator: store is closed")

var (
	errEmptyKey = errors.New("empty key")
	errTxDone   = errors.New("emulator: transaction used after its function returned")
)
