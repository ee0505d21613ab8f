package storage

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
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
		by := Actor{Name: "root (cli)"}

		errAny := errors.New("any error")
		steps := []struct {
			name    string
			do      func() error
			wantErr error
		}{
			{"promote ed", func() error { return db.SetRole(ctx, by, "ed", RoleAdmin) }, nil},
			{"demote alice", func() error { return db.SetRole(ctx, by, "alice", RoleViewer) }, nil},
			{"disable ed, the last admin", func() error { return db.SetDisabled(ctx, by, "ed", true) }, ErrLastAdmin},
			{"demote ed, the last admin", func() error { return db.SetRole(ctx, by, "ed", RoleEditor) }, ErrLastAdmin},
			{"keep ed admin", func() error { return db.SetRole(ctx, by, "ed", RoleAdmin) }, nil},
			{"disable vic", func() error { return db.SetDisabled(ctx, by, "vic", true) }, nil},
			{"new password for vic", func() error { return db.SetPassword(ctx, by, "vic", "a brand new passphrase") }, nil},
			{"short password", func() error { return db.SetPassword(ctx, by, "vic", "short") }, errAny},
			{"unknown user role", func() error { return db.SetRole(ctx, by, "zed", RoleEditor) }, ErrNotFound},
			{"unknown user disable", func() error { return db.SetDisabled(ctx, by, "zed", true) }, ErrNotFound},
			{"unknown user password", func() error { return db.SetPassword(ctx, by, "zed", "long enough password") }, ErrNotFound},
			{"bad role", func() error { return db.SetRole(ctx, by, "vic", Role("root")) }, errAny},
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
		if err := db.SetDisabled(ctx, by, "vic", false); err != nil {
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
		for _, p := range [][2]string{{"ann", "bea"}, {"bea", "ann"}} {
			go func() { errs <- db.SetDisabled(ctx, Actor{Name: p[0]}, p[1], true) }()
		}
		e1, e2 := <-errs, <-errs
		if (e1 == nil) == (e2 == nil) || !errors.Is(errors.Join(e1, e2), ErrLastAdmin) {
			t.Fatalf("errors = %v, %v: want exactly one ErrLastAdmin", e1, e2)
		}
		// The trail tells the same story: one change, one refusal.
		entries, _, err := db.ListAudit(ctx, AuditFilter{Action: AuditAccountDisable})
		if err != nil {
			t.Fatal(err)
		}
		var outcomes []AuditOutcome
		for _, e := range entries {
			outcomes = append(outcomes, e.Outcome)
		}
		slices.Sort(outcomes)
		if !slices.Equal(outcomes, []AuditOutcome{AuditOK, AuditRefused}) {
			t.Errorf("recorded outcomes %v, want one ok and one refused", outcomes)
		}
	})
}

// Every account change made by someone is in the audit trail, refused ones
// included, with the account's role and disabled flag before and after and
// never its password.
func TestAccountChangesAreAudited(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *DB, clock *testClock) {
		ctx := context.Background()
		if err := db.CreateUser(ctx, "alice", "correct horse battery", RoleAdmin); err != nil {
			t.Fatal(err)
		}
		alice := Actor{Name: "alice", RequestID: "req-1"}
		cli := Actor{Name: "root (cli)"}
		const vicPassword, newPassword = "vic's first passphrase", "vic's second passphrase"
		errAny := errors.New("any error")
		type want struct {
			actor   string
			action  AuditAction
			account string
			section string
			before  string
			after   string
			outcome AuditOutcome
			detail  string
		}
		steps := []struct {
			name    string
			do      func() error
			wantErr error
			want    *want // nil: nothing recorded
		}{
			{"create", func() error { return db.CreateUserBy(ctx, alice, "vic", vicPassword, RoleViewer) }, nil,
				&want{"alice", AuditAccountCreate, "vic", "account", "", `{"role":"viewer","disabled":false}`, AuditOK, ""}},
			{"create taken name", func() error { return db.CreateUserBy(ctx, cli, "vic", vicPassword, RoleAdmin) }, ErrUserExists,
				&want{"root (cli)", AuditAccountCreate, "vic", "account", "", `{"role":"admin","disabled":false}`, AuditRefused, "user already exists"}},
			{"promote", func() error { return db.SetRole(ctx, cli, "vic", RoleEditor) }, nil,
				&want{"root (cli)", AuditAccountSetRole, "vic", "role", `{"role":"viewer","disabled":false}`, `{"role":"editor","disabled":false}`, AuditOK, ""}},
			{"disable", func() error { return db.SetDisabled(ctx, alice, "vic", true) }, nil,
				&want{"alice", AuditAccountDisable, "vic", "disabled", `{"role":"editor","disabled":false}`, `{"role":"editor","disabled":true}`, AuditOK, ""}},
			{"enable", func() error { return db.SetDisabled(ctx, alice, "vic", false) }, nil,
				&want{"alice", AuditAccountEnable, "vic", "disabled", `{"role":"editor","disabled":true}`, `{"role":"editor","disabled":false}`, AuditOK, ""}},
			{"reset password", func() error { return db.SetPassword(ctx, alice, "vic", newPassword) }, nil,
				&want{"alice", AuditAccountResetPassword, "vic", "password", `{"role":"editor","disabled":false}`, `{"role":"editor","disabled":false}`, AuditOK, ""}},
			{"demote the last admin", func() error { return db.SetRole(ctx, cli, "alice", RoleViewer) }, ErrLastAdmin,
				&want{"root (cli)", AuditAccountSetRole, "alice", "role", `{"role":"admin","disabled":false}`, `{"role":"viewer","disabled":false}`, AuditRefused, "this would leave no enabled admin account"}},
			{"disable oneself", func() error { return db.SetDisabled(ctx, alice, "alice", true) }, ErrDisableSelf,
				&want{"alice", AuditAccountDisable, "alice", "disabled", `{"role":"admin","disabled":false}`, `{"role":"admin","disabled":true}`, AuditRefused, "an account cannot disable itself"}},
			{"unknown account", func() error { return db.SetRole(ctx, alice, "zed", RoleViewer) }, ErrNotFound, nil},
			{"bad role", func() error { return db.SetRole(ctx, alice, "vic", Role("root")) }, errAny, nil},
			{"short password", func() error { return db.SetPassword(ctx, alice, "vic", "short") }, errAny, nil},
			{"no actor", func() error { return db.SetRole(ctx, Actor{}, "vic", RoleViewer) }, errAny, nil},
			{"no actor for create", func() error { return db.CreateUserBy(ctx, Actor{}, "nobody", vicPassword, RoleViewer) }, errAny, nil},
		}
		var last int64
		for i, s := range steps {
			clock.Set(time.Date(2026, 3, 1, 10, i, 0, 0, time.UTC))
			err := s.do()
			if s.wantErr == errAny && err == nil || s.wantErr != errAny && !errors.Is(err, s.wantErr) {
				t.Errorf("%s: err = %v, want %v", s.name, err, s.wantErr)
			}
			entries, _, err := db.ListAudit(ctx, AuditFilter{Limit: 1})
			if err != nil {
				t.Fatal(err)
			}
			var newest AuditEntry
			if len(entries) == 1 && entries[0].ID > last {
				newest, last = entries[0], entries[0].ID
			}
			if s.want == nil {
				if newest.ID != 0 {
					t.Errorf("%s: recorded %+v, want nothing", s.name, newest)
				}
				continue
			}
			w := s.want
			got := want{newest.Actor, newest.Action, newest.Account, newest.Section, newest.Before, newest.After, newest.Outcome, newest.Detail}
			if got != *w {
				t.Errorf("%s: recorded\n%+v\nwant\n%+v", s.name, got, *w)
			}
			if !newest.At.Equal(clock.Now()) || newest.DeviceID != "" || newest.Sent != "" {
				t.Errorf("%s: entry %+v", s.name, newest)
			}
			wantReq := ""
			if w.actor == "alice" {
				wantReq = "req-1"
			}
			if newest.RequestID != wantReq {
				t.Errorf("%s: request id %q, want %q", s.name, newest.RequestID, wantReq)
			}
		}

		// The change and its entry are one: a refused change changed
		// nothing, and no entry holds a password or a hash of one.
		if u, err := db.User(ctx, "alice"); err != nil || u.Role != RoleAdmin || u.Disabled {
			t.Errorf("alice = %+v, %v after refusals", u, err)
		}
		if _, err := db.Authenticate(ctx, "vic", newPassword); err != nil {
			t.Errorf("vic's new password: %v", err)
		}
		var hash string
		if err := db.db.QueryRow(`SELECT password_hash FROM users WHERE name = 'vic'`).Scan(&hash); err != nil {
			t.Fatal(err)
		}
		for e, err := range db.AuditEntries(ctx, AuditFilter{}) {
			if err != nil {
				t.Fatal(err)
			}
			all := fmt.Sprintf("%+v", e)
			for _, secret := range []string{vicPassword, newPassword, hash, "$2a$"} {
				if strings.Contains(all, secret) {
					t.Errorf("entry #%d holds %q", e.ID, secret)
				}
			}
		}
		if entries, _, _ := db.ListAudit(ctx, AuditFilter{Account: "vic"}); len(entries) != 6 {
			t.Errorf("%d entries for account vic, want 6", len(entries))
		}
	})
}
