package storage

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
)

func openTest(t *testing.T) *DB {
	t.Helper()
	db, err := OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "hubdesk.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestUsers(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	if err := db.CreateUser(ctx, "alice", "correct horse battery", RoleEditor); err != nil {
		t.Fatal(err)
	}
	if err := db.CreateUser(ctx, "alice", "another long password", RoleAdmin); !errors.Is(err, ErrUserExists) {
		t.Fatalf("duplicate: err = %v", err)
	}
	tests := []struct {
		name, user, pw string
		wantErr        error
	}{
		{"right password", "alice", "correct horse battery", nil},
		{"wrong password", "alice", "correct horse batterY", ErrBadCredentials},
		{"unknown user", "bob", "correct horse battery", ErrBadCredentials},
		{"empty password", "alice", "", ErrBadCredentials},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := db.Authenticate(ctx, tt.user, tt.pw)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if err == nil && (u.Name != "alice" || u.Role != RoleEditor) {
				t.Errorf("user = %+v", u)
			}
		})
	}
	if n, err := db.CountUsers(ctx); err != nil || n != 1 {
		t.Errorf("CountUsers = %d, %v", n, err)
	}
}

func TestCreateUserRejects(t *testing.T) {
	db := openTest(t)
	tests := []struct{ name, user, pw string }{
		{"short password", "carol", "short"},
		{"bad name", "carol smith", "long enough password"},
		{"empty name", "", "long enough password"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := db.CreateUser(context.Background(), tt.user, tt.pw, RoleViewer); err == nil {
				t.Fatal("accepted")
			}
		})
	}
	if err := db.CreateUser(context.Background(), "dave", "long enough password", Role("root")); err == nil {
		t.Fatal("accepted unknown role")
	}
}

func TestMigrateIsIdempotent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hubdesk.db")
	for i := 0; i < 3; i++ {
		db, err := OpenSQLite(context.Background(), path)
		if err != nil {
			t.Fatalf("open %d: %v", i, err)
		}
		if err := db.Ping(context.Background()); err != nil {
			t.Fatal(err)
		}
		db.Close()
	}
}

func TestRoleAllows(t *testing.T) {
	tests := []struct {
		have, need Role
		want       bool
	}{
		{RoleViewer, RoleViewer, true}, {RoleViewer, RoleEditor, false}, {RoleEditor, RoleEditor, true},
		{RoleEditor, RoleAdmin, false}, {RoleAdmin, RoleEditor, true}, {Role(""), RoleViewer, false},
	}
	for _, tt := range tests {
		if got := tt.have.Allows(tt.need); got != tt.want {
			t.Errorf("%q.Allows(%q) = %v", tt.have, tt.need, got)
		}
	}
}
