// Package storage keeps hubdesk's own records: staff accounts and the audit
// trail of every write sent to the hub. It stores them in an embedded SQLite
// database under the data directory by default, or in PostgreSQL when several
// replicas share one. Both run the same $n queries; what differs between them
// lives in dialect.go.
package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // pure-Go PostgreSQL driver
	"modernc.org/sqlite"               // pure-Go SQLite driver, keeps the binary static
)

// ErrNotFound is returned when a record does not exist.
var ErrNotFound = errors.New("storage: not found")

// DefaultBcryptCost is bcrypt's work factor for passwords: about 50 ms a
// sign-in here.
const DefaultBcryptCost = 11

// Options tune a database; the zero value is production's.
type Options struct {
	// BcryptCost is the work factor for new password hashes; 0 means
	// DefaultBcryptCost. Tests use bcrypt.MinCost (4) to stay fast.
	BcryptCost int
	// Now is the clock that stamps accounts and audit entries; nil means
	// time.Now.
	Now func() time.Time
}

// DB is hubdesk's database.
type DB struct {
	db *sql.DB
	// w is for writes. On SQLite it is a pool of one connection, so that
	// writers of this process queue in Go, each waiting about as long as
	// the writes ahead of it take, instead of polling SQLite's file lock
	// (busy_timeout), where under 50 concurrent writers an unlucky one
	// waited seconds and the audit trail lost entries to its deadline.
	// On PostgreSQL it is db.
	w          *sql.DB
	dialect    dialect
	now        func() time.Time
	bcryptCost int
	dummyHash  func() []byte
}

// Open opens the PostgreSQL database at databaseURL when it is set, else the
// SQLite database at sqlitePath, and brings its schema up to date.
func Open(ctx context.Context, databaseURL, sqlitePath string, opts Options) (*DB, error) {
	if databaseURL != "" {
		return OpenPostgres(ctx, databaseURL, opts)
	}
	return OpenSQLite(ctx, sqlitePath, opts)
}

// OpenSQLite opens (creating if needed) the SQLite database at path and
// brings its schema up to date. At most one Options is used.
func OpenSQLite(ctx context.Context, path string, opts ...Options) (*DB, error) {
	// IMMEDIATE transactions take the write lock at BEGIN: a deferred one
	// that reads and then writes fails at once with SQLITE_BUSY when another
	// process wrote in between, which busy_timeout does not retry.
	dsn := "file:" + path + "?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(on)&_pragma=synchronous(full)&_txlock=immediate"
	sqldb, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	writer, err := sql.Open("sqlite", dsn)
	if err != nil {
		sqldb.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	writer.SetMaxOpenConns(1)
	db := newDB(sqldb, sqliteDialect, opts)
	db.w = writer
	// Two processes opening a new file at once can both be switching it to
	// WAL; SQLite then fails one with SQLITE_BUSY without waiting, to avoid a
	// deadlock. Trying again a moment later finds the switch done.
	for attempt := 1; ; attempt++ {
		err = db.migrate(ctx)
		var se *sqlite.Error
		if err == nil || !errors.As(err, &se) || se.Code()&0xff != sqliteBusy || attempt == 50 {
			break
		}
		select {
		case <-ctx.Done():
		case <-time.After(20 * time.Millisecond):
		}
	}
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("migrate %s: %w", path, err)
	}
	return db, nil
}

// sqliteBusy is SQLite's primary result code SQLITE_BUSY.
const sqliteBusy = 5

// OpenPostgres connects to the PostgreSQL database at databaseURL
// (postgres://user:password@host:port/name?sslmode=...) and brings its schema
// up to date; replicas starting together take turns. At most one Options is
// used.
func OpenPostgres(ctx context.Context, databaseURL string, opts ...Options) (*DB, error) {
	u, err := url.Parse(databaseURL)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || u.Host == "" {
		// Not echoing the value: it holds a password.
		return nil, errors.New("database URL: want postgres://user:password@host:port/name")
	}
	where := u.Redacted()
	sqldb, err := sql.Open("pgx", databaseURL)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", where, err)
	}
	sqldb.SetMaxOpenConns(16)
	sqldb.SetMaxIdleConns(4)
	sqldb.SetConnMaxIdleTime(5 * time.Minute)
	db := newDB(sqldb, postgresDialect, opts)
	if err := db.migrate(ctx); err != nil {
		sqldb.Close()
		return nil, fmt.Errorf("migrate %s: %w", where, err)
	}
	return db, nil
}

func newDB(sqldb *sql.DB, d dialect, opts []Options) *DB {
	var o Options
	if len(opts) > 0 {
		o = opts[0]
	}
	if o.BcryptCost == 0 {
		o.BcryptCost = DefaultBcryptCost
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	db := &DB{db: sqldb, w: sqldb, dialect: d, now: o.Now, bcryptCost: o.BcryptCost}
	db.dummyHash = dummyHashOnce(o.BcryptCost)
	return db
}

// Close closes the database.
func (db *DB) Close() error {
	if db.w != db.db {
		return errors.Join(db.w.Close(), db.db.Close())
	}
	return db.db.Close()
}

// Backend names the database in use: "sqlite" or "postgres".
func (db *DB) Backend() string { return db.dialect.name }

// Ping checks that the database answers and accepts writes.
func (db *DB) Ping(ctx context.Context) error {
	_, err := db.w.ExecContext(ctx, `UPDATE schema_version SET checked_at = $1`, db.now().UTC().Format(time.RFC3339Nano))
	return err
}

// migrations are applied in order, each once, one statement each; never
// edit a released one, append a new one. {{autoid}} becomes the dialect's
// auto-incrementing primary key.
var migrations = []string{
	`CREATE TABLE users (
		name          TEXT PRIMARY KEY,
		password_hash TEXT NOT NULL,
		role          TEXT NOT NULL CHECK (role IN ('viewer', 'editor', 'admin')),
		disabled      INTEGER NOT NULL DEFAULT 0,
		created_at    TEXT NOT NULL,
		updated_at    TEXT NOT NULL
	)`,
	// at is microseconds since 1970 UTC: an integer sorts and compares the
	// same way in both databases, where their time types do not.
	`CREATE TABLE audit (
		id          {{autoid}},
		at          BIGINT NOT NULL,
		actor       TEXT NOT NULL,
		action      TEXT NOT NULL,
		device_id   TEXT NOT NULL DEFAULT '',
		module_id   TEXT NOT NULL DEFAULT '',
		section     TEXT NOT NULL DEFAULT '',
		etag_before TEXT NOT NULL DEFAULT '',
		etag_after  TEXT NOT NULL DEFAULT '',
		sent        TEXT NOT NULL DEFAULT '',
		before_json TEXT NOT NULL DEFAULT '',
		after_json  TEXT NOT NULL DEFAULT '',
		reason      TEXT NOT NULL DEFAULT '',
		outcome     TEXT NOT NULL,
		detail      TEXT NOT NULL DEFAULT '',
		request_id  TEXT NOT NULL DEFAULT ''
	)`,
	// Every filter of ListAudit has an index ending in id, so a page is a
	// range scan in the order it is shown.
	`CREATE INDEX audit_actor ON audit (actor, id)`,
	`CREATE INDEX audit_device ON audit (device_id, id)`,
	`CREATE INDEX audit_device_module ON audit (device_id, module_id, id)`,
	`CREATE INDEX audit_module ON audit (module_id, id)`,
	`CREATE INDEX audit_outcome ON audit (outcome, id)`,
	`CREATE INDEX audit_action ON audit (action, id)`,
	`CREATE INDEX audit_at ON audit (at)`,
	// Account changes name the account they change, as twin writes name
	// their device.
	`ALTER TABLE audit ADD COLUMN account TEXT NOT NULL DEFAULT ''`,
	`CREATE INDEX audit_account ON audit (account, id)`,
}

// migrateLockKey names the advisory lock replicas take to migrate in turn.
const migrateLockKey = 0x6875626465736b01 // "hubdesk" + 1

func (db *DB) migrate(ctx context.Context) error {
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback()
	if err := db.dialect.lock(ctx, tx, migrateLockKey); err != nil {
		return fmt.Errorf("lock schema: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL, checked_at TEXT)`); err != nil {
		return fmt.Errorf("create schema_version: %w", err)
	}
	var version int
	switch err := tx.QueryRowContext(ctx, `SELECT version FROM schema_version`).Scan(&version); {
	case errors.Is(err, sql.ErrNoRows):
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_version (version) VALUES (0)`); err != nil {
			return fmt.Errorf("start schema_version: %w", err)
		}
	case err != nil:
		return fmt.Errorf("read schema_version: %w", err)
	}
	if version > len(migrations) {
		return fmt.Errorf("database schema version %d is newer than this hubdesk (%d): upgrade hubdesk", version, len(migrations))
	}
	if version == len(migrations) {
		return nil
	}
	for i := version; i < len(migrations); i++ {
		if _, err := tx.ExecContext(ctx, db.dialect.rewrite(migrations[i])); err != nil {
			return fmt.Errorf("migration %d: %w", i+1, err)
		}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE schema_version SET version = $1`, len(migrations)); err != nil {
		return fmt.Errorf("update schema_version: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}
