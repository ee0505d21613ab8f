package storage

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"
)

func TestUsers(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *DB, clock *testClock) {
		ctx := context.Background()
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
				if err == nil && (u.Name != "alice" || u.Role != RoleEditor || !u.CreatedAt.Equal(clock.Now())) {
					t.Errorf("user = %+v", u)
				}
			})
		}
		if n, err := db.CountUsers(ctx); err != nil || n != 1 {
			t.Errorf("CountUsers = %d, %v", n, err)
		}
		if _, err := db.User(ctx, "bob"); !errors.Is(err, ErrNotFound) {
			t.Errorf("User(bob): err = %v", err)
		}
	})
}

func TestCreateUserRejects(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *DB, _ *testClock) {
		tests := []struct {
			name, user, pw string
			role           Role
		}{
			{"short password", "carol", "short", RoleViewer},
			{"password past bcrypt's limit", "carol", string(make([]byte, 73)), RoleViewer},
			{"bad name", "carol smith", "long enough password", RoleViewer},
			{"empty name", "", "long enough password", RoleViewer},
			{"unknown role", "dave", "long enough password", Role("root")},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				if err := db.CreateUser(context.Background(), tt.user, tt.pw, tt.role); err == nil {
					t.Fatal("accepted")
				}
			})
		}
		if n, _ := db.CountUsers(context.Background()); n != 0 {
			t.Errorf("%d accounts created", n)
		}
	})
}

func TestManageUsers(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *DB, clock *testClock) {
		ctx := context.Background()
		created := clock.Now()
		for _, u := range []struct {
			name string
			role Role
		}{{"vic", RoleViewer}, {"alice", RoleAdmin}, {"ed", RoleEditor}} {
			if err := db.CreateUser(ctx, u.name, "correct horse battery", u.role); err != nil {
				t.Fatal(err)
			}
		}
		clock.Set(created.Add(time.Hour))

		errAny := errors.New("any error")
		steps := []struct {
			name    string
			do      func() error
			wantErr error
		}{
			{"promote ed", func() error { return db.SetRole(ctx, "ed", RoleAdmin) }, nil},
			{"demote alice", func() error { return db.SetRole(ctx, "alice", RoleViewer) }, nil},
			{"disable ed, the last admin", func() error { return db.SetDisabled(ctx, "ed", true) }, ErrLastAdmin},
			{"demote ed, the last admin", func() error { return db.SetRole(ctx, "ed", RoleEditor) }, ErrLastAdmin},
			{"keep ed admin", func() error { return db.SetRole(ctx, "ed", RoleAdmin) }, nil},
			{"disable vic", func() error { return db.SetDisabled(ctx, "vic", true) }, nil},
			{"new password for vic", func() error { return db.SetPassword(ctx, "vic", "a brand new passphrase") }, nil},
			{"short password", func() error { return db.SetPassword(ctx, "vic", "short") }, errAny},
			{"unknown user role", func() error { return db.SetRole(ctx, "zed", RoleEditor) }, ErrNotFound},
			{"unknown user disable", func() error { return db.SetDisabled(ctx, "zed", true) }, ErrNotFound},
			{"unknown user password", func() error { return db.SetPassword(ctx, "zed", "long enough password") }, ErrNotFound},
			{"bad role", func() error { return db.SetRole(ctx, "vic", Role("root")) }, errAny},
		}
		for _, s := range steps {
			err := s.do()
			if s.wantErr == errAny && err == nil || s.wantErr != errAny && !errors.Is(err, s.wantErr) {
				t.Errorf("%s: err = %v, want %v", s.name, err, s.wantErr)
			}
		}

		users, err := db.ListUsers(ctx)
		if err != nil {
			t.Fatal(err)
		}
		type row struct {
			Name     string
			Role     Role
			Disabled bool
		}
		var got []row
		for _, u := range users {
			got = append(got, row{u.Name, u.Role, u.Disabled})
			if !u.CreatedAt.Equal(created) {
				t.Errorf("%s: CreatedAt = %v, want %v", u.Name, u.CreatedAt, created)
			}
		}
		want := []row{{"alice", RoleViewer, false}, {"ed", RoleAdmin, false}, {"vic", RoleViewer, true}}
		if !slices.Equal(got, want) {
			t.Errorf("ListUsers = %+v, want %+v", got, want)
		}
		if !users[2].UpdatedAt.Equal(created.Add(time.Hour)) {
			t.Errorf("vic UpdatedAt = %v", users[2].UpdatedAt)
		}

		if _, err := db.Authenticate(ctx, "vic", "a brand new passphrase"); !errors.Is(err, ErrBadCredentials) {
			t.Errorf("disabled vic signed in: err = %v", err)
		}
		if err := db.SetDisabled(ctx, "vic", false); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Authenticate(ctx, "vic", "correct horse battery"); !errors.Is(err, ErrBadCredentials) {
			t.Errorf("old password still works: err = %v", err)
		}
		if u, err := db.Authenticate(ctx, "vic", "a brand new passphrase"); err != nil || u.Role != RoleViewer {
			t.Errorf("new password: %+v, %v", u, err)
		}
	})
}

// Two admins demoting each other at the same moment must leave one admin.
func TestLastAdminUnderRace(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *DB, _ *testClock) {
		ctx := context.Background()
		for _, name := range []string{"ann", "bea"} {
			if err := db.CreateUser(ctx, name, "correct horse battery", RoleAdmin); err != nil {
				t.Fatal(err)
			}
		}
		errs := make(chan error, 2)
		for _, name := range []string{"ann", "bea"} {
			go func() { errs <- db.SetDisabled(ctx, name, true) }()
		}
		e1, e2 := <-errs, <-errs
		if (e1 == nil) == (e2 == nil) || !errors.Is(errors.Join(e1, e2), ErrLastAdmin) {
			t.Fatalf("errors = %v, %v: want exactly one ErrLastAdmin", e1, e2)
		}
	})
}
