package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"iter"
	"strconv"
	"strings"
	"time"
)

// AuditAction is what a person did, as recorded in the audit trail.
type AuditAction string

// Audit actions: every write the dashboard sends to the hub, key reveals,
// and every change to hubdesk's own accounts.
const (
	AuditDeviceCreate AuditAction = "device.create"
	AuditDeviceUpdate AuditAction = "device.update"
	AuditDeviceDelete AuditAction = "device.delete"
	AuditModuleCreate AuditAction = "module.create"
	AuditModuleDelete AuditAction = "module.delete"
	AuditTwinUpdate   AuditAction = "twin.update"
	AuditTwinReplace  AuditAction = "twin.replace"
	AuditKeyReveal    AuditAction = "key.reveal"

	AuditAccountCreate        AuditAction = "account.create"
	AuditAccountSetRole       AuditAction = "account.set-role"
	AuditAccountDisable       AuditAction = "account.disable"
	AuditAccountEnable        AuditAction = "account.enable"
	AuditAccountResetPassword AuditAction = "account.reset-password"
)

// IsAccountChange reports whether a is a change to a hubdesk account rather
// than a write to the hub.
func (a AuditAction) IsAccountChange() bool { return strings.HasPrefix(string(a), "account.") }

// AuditOutcome is how a recorded action ended.
type AuditOutcome string

// Audit outcomes.
const (
	AuditOK       AuditOutcome = "ok"       // the hub accepted the write
	AuditConflict AuditOutcome = "conflict" // the hub refused it: the etag had changed
	AuditRefused  AuditOutcome = "refused"  // hubdesk refused it before sending (role, validation)
	AuditError    AuditOutcome = "error"    // the hub or the network failed
	// AuditUnknown: the hub did not answer, and reading back could not
	// tell whether the write was applied.
	AuditUnknown AuditOutcome = "unknown"
)

// ParseAuditOutcome checks that s names an outcome.
func ParseAuditOutcome(s string) (AuditOutcome, error) {
	switch o := AuditOutcome(s); o {
	case AuditOK, AuditConflict, AuditRefused, AuditError, AuditUnknown:
		return o, nil
	}
	return "", fmt.Errorf("unknown audit outcome %q (want ok, conflict, refused, error or unknown)", s)
}

// AuditEntry is one record of the audit trail. A write to the hub names its
// device (and module); an account change names its Account, and its Before
// and After hold the account's role and disabled flag, never a password.
type AuditEntry struct {
	ID         int64
	At         time.Time // UTC, microsecond precision
	Actor      string    // user name; "name (sso)" or "name (cli)" when not a local sign-in
	Action     AuditAction
	DeviceID   string
	ModuleID   string
	Account    string // the account an account change changes
	Section    string // "identity", "tags", "desired", "tags+desired", "keys", "role", "password"...
	ETagBefore string
	ETagAfter  string
	Sent       string // the exact patch or body sent to the hub (JSON), "" if nothing was sent
	Before     string // JSON snapshot of the changed parts before the change
	After      string // JSON snapshot of the changed parts after it
	Reason     string // the optional reason or ticket reference the person typed
	Outcome    AuditOutcome
	Detail     string // error text for a conflict or an error
	RequestID  string
}

// RecordAudit appends e to the audit trail and returns its id. It stamps At
// from the database's clock when it is zero. Text that is not valid UTF-8 is
// stored with U+FFFD in place of the bad bytes (and of NUL), as PostgreSQL
// cannot store either.
func (db *DB) RecordAudit(ctx context.Context, e AuditEntry) (int64, error) {
	return db.recordAudit(ctx, db.w, e)
}

// queryer is a database or a transaction.
type queryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func (db *DB) recordAudit(ctx context.Context, q queryer, e AuditEntry) (int64, error) {
	if e.Actor == "" || e.Action == "" {
		return 0, errors.New("record audit: actor and action are required")
	}
	if _, err := ParseAuditOutcome(string(e.Outcome)); err != nil {
		return 0, fmt.Errorf("record audit: %w", err)
	}
	if e.At.IsZero() {
		e.At = db.now()
	}
	var id int64
	err := q.QueryRowContext(ctx, `INSERT INTO audit
		(at, actor, action, device_id, module_id, section, etag_before, etag_after,
		 sent, before_json, after_json, reason, outcome, detail, request_id, account)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
		RETURNING id`,
		e.At.UnixMicro(), clean(e.Actor), clean(string(e.Action)), clean(e.DeviceID), clean(e.ModuleID),
		clean(e.Section), clean(e.ETagBefore), clean(e.ETagAfter), clean(e.Sent), clean(e.Before),
		clean(e.After), clean(e.Reason), string(e.Outcome), clean(e.Detail), clean(e.RequestID),
		clean(e.Account),
	).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("record audit: %w", err)
	}
	return id, nil
}

// clean makes s storable as text in both databases.
func clean(s string) string {
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}

const auditColumns = `id, at, actor, action, device_id, module_id, section, etag_before, etag_after,
	sent, before_json, after_json, reason, outcome, detail, request_id, account`

func scanAudit(row interface{ Scan(...any) error }) (AuditEntry, error) {
	var e AuditEntry
	var at int64
	var action, outcome string
	err := row.Scan(&e.ID, &at, &e.Actor, &action, &e.DeviceID, &e.ModuleID, &e.Section,
		&e.ETagBefore, &e.ETagAfter, &e.Sent, &e.Before, &e.After, &e.Reason, &outcome,
		&e.Detail, &e.RequestID, &e.Account)
	e.At = time.UnixMicro(at).UTC()
	e.Action, e.Outcome = AuditAction(action), AuditOutcome(outcome)
	return e, err
}

// AuditEntry returns the entry with the given id, or ErrNotFound.
func (db *DB) AuditEntry(ctx context.Context, id int64) (AuditEntry, error) {
	e, err := scanAudit(db.db.QueryRowContext(ctx, `SELECT `+auditColumns+` FROM audit WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return AuditEntry{}, fmt.Errorf("audit entry %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return AuditEntry{}, fmt.Errorf("audit entry %d: %w", id, err)
	}
	return e, nil
}

// AuditFilter selects audit entries; zero fields select everything.
type AuditFilter struct {
	Actor    string
	DeviceID string
	ModuleID string // with or without DeviceID
	Account  string // the account an account change changes
	Outcome  AuditOutcome
	Action   AuditAction
	Since    time.Time // At >= Since
	Until    time.Time // At < Until
	Before   int64     // paging cursor: only entries with ID < Before
	Limit    int       // page size: 0 means DefaultAuditLimit, at most MaxAuditLimit
}

// Page sizes of ListAudit.
const (
	DefaultAuditLimit = 50
	MaxAuditLimit     = 1000
)

// ListAudit returns a page of the entries f selects, newest (highest ID)
// first, and the cursor of the next page: pass it as f.Before to continue,
// 0 means there is none. Pages are found by ID range, never by offset, so
// deep pages cost what the first does and entries recorded meanwhile neither
// repeat nor go missing.
func (db *DB) ListAudit(ctx context.Context, f AuditFilter) ([]AuditEntry, int64, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = DefaultAuditLimit
	}
	limit = min(limit, MaxAuditLimit)
	where, args := f.where()
	args = append(args, limit+1)
	q := `SELECT ` + auditColumns + ` FROM audit` + where + ` ORDER BY id DESC LIMIT $` + strconv.Itoa(len(args))
	rows, err := db.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, 0, fmt.Errorf("list audit: %w", err)
	}
	defer rows.Close()
	entries := make([]AuditEntry, 0, min(limit+1, 64))
	for rows.Next() {
		e, err := scanAudit(rows)
		if err != nil {
			return nil, 0, fmt.Errorf("list audit: %w", err)
		}
		entries = append(entries, e)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("list audit: %w", err)
	}
	var next int64
	if len(entries) > limit {
		entries = entries[:limit]
		next = entries[limit-1].ID
	}
	return entries, next, nil
}

// AuditEntries yields every entry f selects, newest first, up to f.Limit of
// them when it is positive, for exports. It reads a page at a time, so no
// query stays open while the caller writes to a slow client.
func (db *DB) AuditEntries(ctx context.Context, f AuditFilter) iter.Seq2[AuditEntry, error] {
	return db.auditEntries(ctx, f, MaxAuditLimit)
}

func (db *DB) auditEntries(ctx context.Context, f AuditFilter, pageSize int) iter.Seq2[AuditEntry, error] {
	return func(yield func(AuditEntry, error) bool) {
		remaining := f.Limit
		page := f
		for {
			page.Limit = pageSize
			if remaining > 0 {
				page.Limit = min(remaining, pageSize)
			}
			entries, next, err := db.ListAudit(ctx, page)
			if err != nil {
				yield(AuditEntry{}, err)
				return
			}
			for _, e := range entries {
				if !yield(e, nil) {
					return
				}
			}
			if remaining > 0 {
				remaining -= len(entries)
				if remaining <= 0 {
					return
				}
			}
			if next == 0 {
				return
			}
			page.Before = next
		}
	}
}

// where is f's WHERE clause and its arguments.
func (f AuditFilter) where() (string, []any) {
	var conds []string
	var args []any
	add := func(cond string, v any) {
		args = append(args, v)
		conds = append(conds, strings.Replace(cond, "?", "$"+strconv.Itoa(len(args)), 1))
	}
	if f.Actor != "" {
		add("actor = ?", f.Actor)
	}
	if f.DeviceID != "" {
		add("device_id = ?", f.DeviceID)
	}
	if f.ModuleID != "" {
		add("module_id = ?", f.ModuleID)
	}
	if f.Account != "" {
		add("account = ?", f.Account)
	}
	if f.Outcome != "" {
		add("outcome = ?", string(f.Outcome))
	}
	if f.Action != "" {
		add("action = ?", string(f.Action))
	}
	if !f.Since.IsZero() {
		add("at >= ?", f.Since.UnixMicro())
	}
	if !f.Until.IsZero() {
		add("at < ?", f.Until.UnixMicro())
	}
	if f.Before > 0 {
		add("id < ?", f.Before)
	}
	if len(conds) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(conds, " AND "), args
}

// pruneBatch is how many entries one statement of PruneAudit deletes: a
// short statement holds its locks only briefly, so the recording of new
// entries never waits long behind a prune.
const pruneBatch = 1000

// PruneAudit deletes the entries recorded before before, a batch at a time,
// and returns how many it deleted. Replicas may prune at once: in
// PostgreSQL each skips the rows another is deleting, in SQLite they take
// turns; either way every old entry goes once and nothing else goes.
func (db *DB) PruneAudit(ctx context.Context, before time.Time) (int64, error) {
	return db.pruneAudit(ctx, before, pruneBatch)
}

func (db *DB) pruneAudit(ctx context.Context, before time.Time, batch int) (int64, error) {
	q := `DELETE FROM audit WHERE id IN (SELECT id FROM audit WHERE at < $1 LIMIT $2` + db.dialect.skipLocked + `)`
	var total int64
	for {
		start := time.Now()
		res, err := db.w.ExecContext(ctx, q, before.UnixMicro(), batch)
		if err != nil {
			return total, fmt.Errorf("prune audit: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return total, fmt.Errorf("prune audit: %w", err)
		}
		total += n
		// A short batch may mean another replica holds the rest, which
		// it deletes itself.
		if n < int64(batch) {
			return total, nil
		}
		// In SQLite a writer kept waiting retries only now and then, so
		// batches back to back would starve everyone else's saves for the
		// whole prune (measured: a save waited 0.95 s behind 100,000
		// deletions). Resting twice as long as a batch took leaves the
		// database free two thirds of the time. PostgreSQL's row locks
		// never make a new entry wait for a deletion.
		if !db.dialect.oneWriter {
			continue
		}
		select {
		case <-ctx.Done():
			return total, fmt.Errorf("prune audit: %w", ctx.Err())
		case <-time.After(2 * time.Since(start)):
		}
	}
}

// KeepAudit prunes the entries older than retention now and then every
// interval until ctx is done, reporting each prune's result to report
// (which may be nil). A failed prune is retried at the next interval.
func (db *DB) KeepAudit(ctx context.Context, retention, interval time.Duration, report func(deleted int64, err error)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		n, err := db.PruneAudit(ctx, db.now().Add(-retention))
		if ctx.Err() != nil {
			return
		}
		if report != nil {
			report(n, err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
