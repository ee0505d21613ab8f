package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
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
}

// ErrBadCredentials is returned by Authenticate for an unknown user, a wrong
// password or a disabled account alike, so the answer reveals nothing.
var ErrBadCredentials = errors.New("storage: wrong user name or password")

// ErrUserExists is returned by CreateUser for a name already taken.
var ErrUserExists = errors.New("storage: user already exists")

// MinPasswordLength is the shortest password accepted.
const MinPasswordLength = 12

// bcryptCost is bcrypt's work factor: about 50 ms a sign-in here.
const bcryptCost = 11

// CreateUser adds an account.
func (db *DB) CreateUser(ctx context.Context, name, password string, role Role) error {
	if err := checkUserName(name); err != nil {
		return err
	}
	if _, err := ParseRole(string(role)); err != nil {
		return err
	}
	hash, err := hashPassword(password)
	if err != nil {
		return err
	}
	now := db.now().UTC().Format(time.RFC3339Nano)
	res, err := db.db.ExecContext(ctx,
		`INSERT INTO users (name, password_hash, role, created_at, updated_at) VALUES ($1, $2, $3, $4, $4) ON CONFLICT (name) DO NOTHING`,
		name, hash, string(role), now)
	if err != nil {
		return fmt.Errorf("create user %q: %w", name, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrUserExists
	}
	return nil
}

// Authenticate returns the enabled user whose name and password match.
func (db *DB) Authenticate(ctx context.Context, name, password string) (User, error) {
	var hash string
	u, err := db.scanUser(ctx, name, &hash)
	if errors.Is(err, ErrNotFound) {
		// Spend the same time as a real check so timing does not reveal names.
		bcrypt.CompareHashAndPassword(dummyHash, []byte(password))
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

// dummyHash is compared against when the user does not exist.
var dummyHash, _ = bcrypt.GenerateFromPassword([]byte("not a real password, only for timing"), bcryptCost)

// User returns the account called name.
func (db *DB) User(ctx context.Context, name string) (User, error) {
	var hash string
	return db.scanUser(ctx, name, &hash)
}

func (db *DB) scanUser(ctx context.Context, name string, hash *string) (User, error) {
	var u User
	var role, created string
	err := db.db.QueryRowContext(ctx,
		`SELECT name, password_hash, role, disabled, created_at FROM users WHERE name = $1`, name).
		Scan(&u.Name, hash, &role, &u.Disabled, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, ErrNotFound
	}
	if err != nil {
		return User{}, fmt.Errorf("read user %q: %w", name, err)
	}
	u.Role = Role(role)
	u.CreatedAt, _ = time.Parse(time.RFC3339Nano, created)
	return u, nil
}

// CountUsers returns how many accounts exist.
func (db *DB) CountUsers(ctx context.Context) (int, error) {
	var n int
	err := db.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM users`).Scan(&n)
	return n, err
}

func hashPassword(password string) (string, error) {
	if len(password) < MinPasswordLength {
		return "", fmt.Errorf("password must be at least %d characters", MinPasswordLength)
	}
	if len(password) > 72 {
		return "", errors.New("password must be at most 72 bytes (bcrypt's limit)")
	}
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcryptCost)
	return string(h), err
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
