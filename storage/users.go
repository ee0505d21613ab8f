package storage

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// Role is what a person may do in hubdesk.
type Role string

// Roles, from least to most allowed.
const (
	RoleViewer Role = "viewer" // read; keys stay hidden
	RoleEditor Role = "editor" // + identity and twin edits
	RoleAdmin  Role = "admin"  // + accounts, force overwrite, key reveal, deletes
)

// ParseRole checks that s names a role.
func ParseRole(s string) (Role, error) {
	switch r := Role(s); r {
	case RoleViewer, RoleEditor, RoleAdmin:
		return r, nil
	}
	return "", fmt.Errorf("unknown role %q (want viewer, editor or admin)", s)
}

// Allows reports whether r has at least the rights of need.
func (r Role) Allows(need Role) bool { return r.rank() >= need.rank() }

func (r Role) rank() int {
	switch r {
	case RoleViewer:
		return 1
	case RoleEditor:
		return 2
	case RoleAdmin:
		return 3
	}
	return 0
}

// User is a hubdesk account.
type User struct {
	Name      string
	Role      Role
	Disabled  bool
	CreatedAt time.Time
	UpdatedAt time.Time // last change of role, password or disabled
}

// ErrBadCredentials is returned by Authenticate for an unknown user, a wrong
// password or a disabled account alike, so the answer reveals nothing.
var ErrBadCredentials = errors.New("storage: wrong user name or password")

// ErrUserExists is returned by CreateUser for a name already taken.
var ErrUserExists = errors.New("storage: user already exists")

// ErrLastAdmin is returned when a change would leave no enabled admin, and
// with it nobody able to manage accounts from the dashboard.
var ErrLastAdmin = errors.New("storage: this would leave no enabled admin account")

// MinPasswordLength is the shortest password accepted.
const MinPasswordLength = 12

// maxPasswordLength is bcrypt's limit: it ignores bytes past it.
const maxPasswordLength = 72

// userLockKey names the lock taken by changes that check the last admin.
const userLockKey = 0x6875626465736b02 // "hubdesk" + 2

// CreateUser adds an account without recording it in the audit trail: for
// the bootstrap admin and for seeding. Changes people make go through
// CreateUserBy.
func (db *DB) CreateUser(ctx context.Context, name, password string, role Role) error {
	return db.createUser(ctx, nil, name, password, role)
}

// CreateUserBy adds an account and records by's change, or by's refused
// attempt when the name is taken (ErrUserExists), in the audit trail.
func (db *DB) CreateUserBy(ctx context.Context, by Actor, name, password string, role Role) error {
	if err := by.check(); err != nil {
		return err
	}
	return db.createUser(ctx, &by, name, password, role)
}

func (db *DB) createUser(ctx context.Context, by *Actor, name, password string, role Role) error {
	if err := checkUserName(name); err != nil {
		return err
	}
	if _, err := ParseRole(string(role)); err != nil {
		return err
	}
	hash, err := db.hashPassword(password)
	if err != nil {
		return err
	}
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("create user %q: %w", name, err)
	}
	defer tx.Rollback()
	now := db.now()
	res, err := tx.ExecContext(ctx,
		`INSERT INTO users (name, password_hash, role, created_at, updated_at) VALUES ($1, $2, $3, $4, $4) ON CONFLICT (name) DO NOTHING`,
		name, hash, string(role), now.UTC().Format(time.RFC3339Nano))
	if err != nil {
		return fmt.Errorf("create user %q: %w", name, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("create user %q: %w", name, err)
	}
	var refusal error
	if n == 0 {
		refusal = ErrUserExists
	}
	if by != nil {
		e := by.entry(now, AuditAccountCreate, name, "account", refusal)
		e.After = accountState{Role: role}.json()
		if _, err := db.recordAudit(ctx, tx, e); err != nil {
			return fmt.Errorf("create user %q: %w", name, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("create user %q: %w", name, err)
	}
	return refusal
}

// Authenticate returns the enabled user whose name and password match.
func (db *DB) Authenticate(ctx context.Context, name, password string) (User, error) {
	var hash string
	u, err := db.scanUser(ctx, name, &hash)
	if errors.Is(err, ErrNotFound) {
		// Spend the same time as a real check so timing does not reveal names.
		bcrypt.CompareHashAndPassword(db.dummyHash(), []byte(password))
		return User{}, ErrBadCredentials
	}
	if err != nil {
		return User{}, err
	}
	if bcrypt.CompareHashAndPassword([]byte(hash), []byte(password)) != nil || u.Disabled {
		return User{}, ErrBadCredentials
	}
	return u, nil
}

// dummyHashOnce returns a function giving a hash of the given cost to
// compare against when the user does not exist, made on first use so that
// opening a database costs no bcrypt round.
func dummyHashOnce(cost int) func() []byte {
	return sync.OnceValue(func() []byte {
		h, _ := bcrypt.GenerateFromPassword([]byte("not a real password, only for timing"), cost)
		return h
	})
}

// User returns the account called name, or ErrNotFound.
func (db *DB) User(ctx context.Context, name string) (User, error) {
	var hash string
	return db.scanUser(ctx, name, &hash)
}

const userColumns = `name, role, disabled, created_at, updated_at`

func (db *DB) scanUser(ctx context.Context, name string, hash *string) (User, error) {
	row := db.db.QueryRowContext(ctx, `SELECT password_hash, `+userColumns+` FROM users WHERE name = $1`, name)
	var u User
	err := scanUserRow(row, &u, hash)
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, ErrNotFound
	}
	if err != nil {
		return User{}, fmt.Errorf("read user %q: %w", name, err)
	}
	return u, nil
}

// scanUserRow reads userColumns, preceded by the password hash when hash is
// not nil.
func scanUserRow(row interface{ Scan(...any) error }, u *User, hash *string) error {
	var role, created, updated string
	dest := []any{&u.Name, &role, &u.Disabled, &created, &updated}
	if hash != nil {
		dest = append([]any{hash}, dest...)
	}
	if err := row.Scan(dest...); err != nil {
		return err
	}
	u.Role = Role(role)
	u.CreatedAt, _ = time.Parse(time.RFC3339Nano, created)
	u.UpdatedAt, _ = time.Parse(time.RFC3339Nano, updated)
	return nil
}

// ListUsers returns every account, by name.
func (db *DB) ListUsers(ctx context.Context) ([]User, error) {
	rows, err := db.db.QueryContext(ctx, `SELECT `+userColumns+` FROM users ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	defer rows.Close()
	var users []User
	for rows.Next() {
		var u User
		if err := scanUserRow(rows, &u, nil); err != nil {
			return nil, fmt.Errorf("list users: %w", err)
		}
		users = append(users, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	return users, nil
}

// CountUsers returns how many accounts exist.
func (db *DB) CountUsers(ctx context.Context) (int, error) {
	var n int
	err := db.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM users`).Scan(&n)
	return n, err
}

// Actor is who changes an account, as the audit trail records it.
type Actor struct {
	// Name is the person: a local account's name, "name (sso)" for a
	// person signed in by the proxy, "name (cli)" for the users command.
	Name string
	// RequestID ties the entry to the request's log lines; "" from the
	// command line.
	RequestID string
}

func (a Actor) check() error {
	if a.Name == "" {
		return errors.New("account change: the actor is required for the audit trail")
	}
	return nil
}

// entry is the audit entry of an account change by a, refused when
// refusal is not nil.
func (a Actor) entry(at time.Time, action AuditAction, account, section string, refusal error) AuditEntry {
	e := AuditEntry{At: at, Actor: a.Name, Action: action, Account: account, Section: section,
		Outcome: AuditOK, RequestID: a.RequestID}
	if refusal != nil {
		e.Outcome = AuditRefused
		e.Detail = strings.TrimPrefix(refusal.Error(), "storage: ")
	}
	return e
}

// accountState is what the audit trail keeps of an account: its role and
// whether it is disabled, never a password or its hash.
type accountState struct {
	Role     Role `json:"role"`
	Disabled bool `json:"disabled"`
}

func (s accountState) json() string {
	b, _ := json.Marshal(s)
	return string(b)
}

// ErrDisableSelf is returned when a person tries to disable the account
// they are signed in with, which would end their own session mid-task.
var ErrDisableSelf = errors.New("storage: an account cannot disable itself")

// SetRole changes the role of the account called name and records it, or
// the refusal, in the audit trail. It returns ErrNotFound for an unknown
// name and ErrLastAdmin when it would demote the last enabled admin.
func (db *DB) SetRole(ctx context.Context, by Actor, name string, role Role) error {
	if _, err := ParseRole(string(role)); err != nil {
		return err
	}
	return db.updateUser(ctx, by, name, userChange{
		action: AuditAccountSetRole, section: "role", demotes: role != RoleAdmin,
		set: `role = $2`, value: string(role),
		apply: func(s accountState) accountState { s.Role = role; return s },
	})
}

// SetDisabled disables or re-enables the account called name and records
// it, or the refusal, in the audit trail; a disabled account cannot sign
// in. It returns ErrNotFound for an unknown name, ErrDisableSelf when by
// is name, and ErrLastAdmin when it would disable the last enabled admin.
func (db *DB) SetDisabled(ctx context.Context, by Actor, name string, disabled bool) error {
	flag, action := 0, AuditAccountEnable
	if disabled {
		flag, action = 1, AuditAccountDisable
	}
	ch := userChange{
		action: action, section: "disabled", demotes: disabled,
		set: `disabled = $2`, value: flag,
		apply: func(s accountState) accountState { s.Disabled = disabled; return s },
	}
	if disabled && by.Name == name {
		ch.refusal = ErrDisableSelf
	}
	return db.updateUser(ctx, by, name, ch)
}

// SetPassword replaces the password of the account called name and records
// that it did (not the password) in the audit trail, or returns
// ErrNotFound.
func (db *DB) SetPassword(ctx context.Context, by Actor, name, password string) error {
	hash, err := db.hashPassword(password)
	if err != nil {
		return err
	}
	return db.updateUser(ctx, by, name, userChange{
		action: AuditAccountResetPassword, section: "password",
		set: `password_hash = $2`, value: hash,
		apply: func(s accountState) accountState { return s },
	})
}

// userChange is a change of one column of an account.
type userChange struct {
	action  AuditAction
	section string
	// demotes is true when the change may take away admin rights.
	demotes bool
	// set is the SQL assignment, value its $2.
	set   string
	value any
	// apply is the change as the trail records it.
	apply func(accountState) accountState
	// refusal, when set, refuses the change before it is tried.
	refusal error
}

// updateUser makes ch to the account called name and records it in the
// audit trail in the same transaction, so the trail holds every change
// made and nothing that was not. A change that may take away admin rights
// is refused if name is the last enabled admin; the check and the change
// hold a lock so two admins demoting each other at once cannot both
// succeed. A refusal is recorded too, with the state it would have led to.
func (db *DB) updateUser(ctx context.Context, by Actor, name string, ch userChange) error {
	if err := by.check(); err != nil {
		return err
	}
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("update user %q: %w", name, err)
	}
	defer tx.Rollback()
	if ch.demotes {
		if err := db.dialect.lock(ctx, tx, userLockKey); err != nil {
			return fmt.Errorf("update user %q: %w", name, err)
		}
	}
	var before accountState
	var role string
	err = tx.QueryRowContext(ctx, `SELECT role, disabled FROM users WHERE name = $1`+db.dialect.forUpdate, name).
		Scan(&role, &before.Disabled)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("user %q: %w", name, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("update user %q: %w", name, err)
	}
	before.Role = Role(role)
	refusal := ch.refusal
	if refusal == nil && ch.demotes && before.Role == RoleAdmin && !before.Disabled {
		var others int
		err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM users WHERE role = 'admin' AND disabled = 0 AND name <> $1`, name).Scan(&others)
		if err != nil {
			return fmt.Errorf("update user %q: %w", name, err)
		}
		if others == 0 {
			refusal = ErrLastAdmin
		}
	}
	now := db.now()
	if refusal == nil {
		_, err := tx.ExecContext(ctx, `UPDATE users SET `+ch.set+`, updated_at = $3 WHERE name = $1`,
			name, ch.value, now.UTC().Format(time.RFC3339Nano))
		if err != nil {
			return fmt.Errorf("update user %q: %w", name, err)
		}
	}
	e := by.entry(now, ch.action, name, ch.section, refusal)
	e.Before, e.After = before.json(), ch.apply(before).json()
	if _, err := db.recordAudit(ctx, tx, e); err != nil {
		return fmt.Errorf("update user %q: %w", name, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("update user %q: %w", name, err)
	}
	return refusal
}

func (db *DB) hashPassword(password string) (string, error) {
	if len(password) < MinPasswordLength {
		return "", fmt.Errorf("password must be at least %d characters", MinPasswordLength)
	}
	if len(password) > maxPasswordLength {
		return "", fmt.Errorf("password must be at most %d bytes (bcrypt's limit)", maxPasswordLength)
	}
	h, err := bcrypt.GenerateFromPassword([]byte(password), db.bcryptCost)
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return string(h), nil
}

func checkUserName(name string) error {
	if name == "" || len(name) > 64 {
		return errors.New("user name must be 1 to 64 characters")
	}
	for _, r := range name {
		ok := r == '-' || r == '_' || r == '.' || r == '@' || (r >= '0' && r <= '9') || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z')
		if !ok {
			return fmt.Errorf("user name %q: use letters, digits and - _ . @", name)
		}
	}
	return nil
}
