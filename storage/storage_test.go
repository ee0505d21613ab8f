package storage

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// The contract suite: every test that calls forEachBackend runs against
// SQLite and against PostgreSQL. PostgreSQL runs when
// HUBDESK_TEST_POSTGRES_URL names a database the test may create schemas in
// (.ci/postgres.sh starts one); without it those runs skip, or fail when
// CI=true so CI cannot pass by silently testing one backend.

// opener opens one database, the same one on every call.
type opener func(Options) (*DB, error)

type backend struct {
	name string
	// fresh makes a new, empty database for t and returns its opener.
	fresh func(t testing.TB) opener
}

func backends() []backend {
	return []backend{
		{"sqlite", func(t testing.TB) opener {
			path := filepath.Join(t.TempDir(), "hubdesk.db")
			return func(o Options) (*DB, error) { return OpenSQLite(context.Background(), path, o) }
		}},
		{"postgres", freshPostgres},
	}
}

// freshPostgres gives each test a schema of its own in the test database,
// dropped at the end, so tests start empty and may run in parallel.
func freshPostgres(t testing.TB) opener {
	t.Helper()
	base := os.Getenv("HUBDESK_TEST_POSTGRES_URL")
	if base == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI=true but HUBDESK_TEST_POSTGRES_URL is not set: run .ci/postgres.sh first")
		}
		t.Skip("PostgreSQL tests skipped: set HUBDESK_TEST_POSTGRES_URL (.ci/postgres.sh prints it)")
	}
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	var b [6]byte
	rand.Read(b[:])
	schema := "test_" + hex.EncodeToString(b[:])
	if _, err := admin.Exec(`CREATE SCHEMA ` + schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		if _, err := admin.Exec(`DROP SCHEMA ` + schema + ` CASCADE`); err != nil {
			t.Errorf("drop schema: %v", err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	dsn := u.String()
	return func(o Options) (*DB, error) { return OpenPostgres(context.Background(), dsn, o) }
}

// testClock is a settable clock for Options.Now.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// forEachBackend runs test once per backend on a fresh database with a
// cheap bcrypt cost and a test clock.
func forEachBackend(t *testing.T, test func(t *testing.T, db *DB, clock *testClock)) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			clock := &testClock{t: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
			db, err := b.fresh(t)(Options{BcryptCost: bcrypt.MinCost, Now: clock.Now})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			if db.Backend() != b.name {
				t.Fatalf("Backend() = %q", db.Backend())
			}
			test(t, db, clock)
		})
	}
}

func TestMigrateIsIdempotent(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			open := b.fresh(t)
			for i := range 3 {
				db, err := open(Options{BcryptCost: bcrypt.MinCost})
				if err != nil {
					t.Fatalf("open %d: %v", i, err)
				}
				if err := db.Ping(context.Background()); err != nil {
					t.Fatal(err)
				}
				if i == 0 {
					if err := db.CreateUser(context.Background(), "alice", "correct horse battery", RoleAdmin); err != nil {
						t.Fatal(err)
					}
				} else if _, err := db.User(context.Background(), "alice"); err != nil {
					t.Fatalf("reopen %d lost the account: %v", i, err)
				}
				db.Close()
			}
		})
	}
}

// Replicas starting at once against one database must not trip over each
// other's migrations.
func TestConcurrentMigrations(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			open := b.fresh(t)
			const replicas = 4
			errs := make(chan error, replicas)
			var wg sync.WaitGroup
			for range replicas {
				wg.Go(func() {
					db, err := open(Options{BcryptCost: bcrypt.MinCost})
					if err == nil {
						_, _, err = db.ListAudit(context.Background(), AuditFilter{})
						db.Close()
					}
					errs <- err
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Error(err)
				}
			}
		})
	}
}

func TestRefusesNewerSchema(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			open := b.fresh(t)
			db, err := open(Options{})
			if err != nil {
				t.Fatal(err)
			}
			_, err = db.db.Exec(`UPDATE schema_version SET version = $1`, len(migrations)+1)
			db.Close()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := open(Options{}); err == nil || !strings.Contains(err.Error(), "upgrade hubdesk") {
				t.Fatalf("err = %v, want a refusal", err)
			}
		})
	}
}

func TestOpenPostgresHidesPassword(t *testing.T) {
	tests := []struct{ name, url string }{
		{"not a postgres URL", "mysql://u:s3cret-pw@host/db"},
		{"unreachable", "postgres://u:s3cret-pw@127.0.0.1:1/db?connect_timeout=2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Open(context.Background(), tt.url, "unused", Options{})
			if err == nil || strings.Contains(err.Error(), "s3cret-pw") {
				t.Fatalf("err = %v: want a failure that does not echo the password", err)
			}
		})
	}
}

// openSQLiteTest opens a fresh SQLite database, for the tests that look at
// SQLite itself.
func openSQLiteTest(t *testing.T) *DB {
	t.Helper()
	db, err := OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "hubdesk.db"), Options{BcryptCost: bcrypt.MinCost})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// A trail recorded before account changes were audited keeps its entries
// through the migration that adds the account column.
func TestMigrateAddsAuditAccount(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			open := b.fresh(t)
			db, err := open(Options{})
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			// Roll the schema back to before the account column.
			for _, stmt := range []string{
				`DROP INDEX audit_account`,
				`ALTER TABLE audit DROP COLUMN account`,
				`INSERT INTO audit (at, actor, action, device_id, outcome) VALUES (1, 'ed', 'twin.update', 'dev-1', 'ok')`,
				`UPDATE schema_version SET version = ` + strconv.Itoa(len(migrations)-2),
			} {
				if _, err := db.db.ExecContext(ctx, stmt); err != nil {
					t.Fatalf("%s: %v", stmt, err)
				}
			}
			db.Close()
			if db, err = open(Options{}); err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			entries, _, err := db.ListAudit(ctx, AuditFilter{})
			if err != nil || len(entries) != 1 || entries[0].DeviceID != "dev-1" || entries[0].Account != "" {
				t.Fatalf("after migrating: %+v, %v", entries, err)
			}
			if _, err := db.RecordAudit(ctx, AuditEntry{Actor: "ann", Action: AuditAccountCreate, Account: "vic", Outcome: AuditOK}); err != nil {
				t.Fatal(err)
			}
			if entries, _, err := db.ListAudit(ctx, AuditFilter{Account: "vic"}); err != nil || len(entries) != 1 {
				t.Errorf("by account: %+v, %v", entries, err)
			}
		})
	}
}
