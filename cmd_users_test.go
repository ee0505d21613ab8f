package main

import (
	"bytes"
	"context"
	"database/sql"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/hubdesk/hubdesk/storage"
)

// usersEnv is a data directory and the environment naming it.
func usersEnv(t *testing.T) (dir string, getenv func(string) string) {
	t.Helper()
	dir = t.TempDir()
	env := map[string]string{"HUBDESK_DATA_DIR": dir}
	return dir, func(k string) string { return env[k] }
}

func writeFile(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// cheapBcrypt opens databases with bcrypt's lowest cost: at the default, each
// hash takes over a second under the race detector.
var cheapBcrypt = storage.Options{BcryptCost: bcrypt.MinCost}

// TestUsersCommand walks an operator's session, each step seeing the
// database the previous ones left.
func TestUsersCommand(t *testing.T) {
	dir, getenv := usersEnv(t)
	pwFile := writeFile(t, "correct horse battery\n")
	newPwFile := writeFile(t, "a brand new passphrase\r\n")
	steps := []struct {
		name    string
		args    []string
		wantOut string // a regexp the output must match
		wantErr string
	}{
		{"list before any database", []string{"list"}, "", "no accounts database at"},
		{"add admin", []string{"add", "ann", "-role", "admin", "-password-file", pwFile}, "^added ann with role admin\n$", ""},
		{"flags before the name", []string{"add", "-password-file", pwFile, "-role=editor", "ed"}, "^added ed with role editor\n$", ""},
		{"viewer by default", []string{"add", "-password-file", pwFile, "vic"}, "^added vic with role viewer\n$", ""},
		{"duplicate", []string{"add", "ann", "-password-file", pwFile}, "", `user "ann" already exists`},
		{"bad role on add", []string{"add", "bo", "-role", "root", "-password-file", pwFile}, "", `unknown role "root"`},
		{"short password", []string{"add", "bo", "-password-file", writeFile(t, "short\n")}, "", "at least 12 characters"},
		{"two-line password", []string{"add", "bo", "-password-file", writeFile(t, "first line long\nsecond\n")}, "", "must be one line"},
		{"bad name", []string{"add", "bo bo", "-password-file", pwFile}, "", "use letters, digits"},
		{"set role", []string{"set-role", "ed", "admin"}, "^ed is now admin\n$", ""},
		{"bad role", []string{"set-role", "ed", "boss"}, "", `unknown role "boss"`},
		{"set role of nobody", []string{"set-role", "zed", "viewer"}, "", `no user called "zed"`},
		{"disable", []string{"disable", "vic"}, "^disabled vic\n$", ""},
		{"disable nobody", []string{"disable", "zed"}, "", `no user called "zed"`},
		{"demote ann", []string{"set-role", "ann", "viewer"}, "^ann is now viewer\n$", ""},
		{"keep the last admin", []string{"disable", "ed"}, "", "ed is the last enabled admin"},
		{"reset password", []string{"reset-password", "vic", "-password-file", newPwFile}, "^reset the password of vic\n$", ""},
		{"reset nobody", []string{"reset-password", "zed", "-password-file", newPwFile}, "", `no user called "zed"`},
		{"list", []string{"list"}, `^NAME +ROLE +DISABLED +CREATED\nann +viewer +no +\d{4}-\d\d-\d\d \d\d:\d\d UTC\ned +admin +no +.*\nvic +viewer +yes +.*\n$`, ""},
		{"enable", []string{"enable", "vic"}, "^enabled vic\n$", ""},
		{"role flag on list", []string{"list", "-role", "admin"}, "", "-role does not apply to list"},
		{"missing argument", []string{"set-role", "ed"}, "", "want 2 argument(s), got 1"},
		{"unknown command", []string{"delete", "ed"}, "", "unknown command"},
		{"help", []string{"help"}, "^usage: hubdesk users", ""},
	}
	for _, s := range steps {
		var stdout bytes.Buffer
		err := runUsersWith(context.Background(), cheapBcrypt, s.args, getenv, nil, &stdout)
		if s.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), s.wantErr) {
				t.Errorf("%s: err = %v, want it to contain %q", s.name, err, s.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", s.name, err)
			continue
		}
		if !regexp.MustCompile(s.wantOut).MatchString(stdout.String()) {
			t.Errorf("%s: output %q does not match %q", s.name, stdout.String(), s.wantOut)
		}
	}

	db, err := storage.OpenSQLite(context.Background(), filepath.Join(dir, "hubdesk.db"), cheapBcrypt)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Authenticate(context.Background(), "vic", "a brand new passphrase"); err != nil {
		t.Errorf("vic cannot sign in with the new password: %v", err)
	}
}

// The subcommand is wired into run() with the server's settings.
func TestUsersThroughRun(t *testing.T) {
	dir, getenv := usersEnv(t)
	pwFile := writeFile(t, "correct horse battery\n")
	steps := []struct {
		args    []string
		wantOut string
		wantErr string
	}{
		{[]string{"users", "add", "ann", "-role", "admin", "-password-file", pwFile}, "added ann with role admin\n", ""},
		{[]string{"users", "list"}, "ann   admin  no", ""},
		{[]string{"users", "list", "-data-dir", filepath.Join(dir, "elsewhere")}, "", "no accounts database at " + filepath.Join(dir, "elsewhere")},
		{[]string{"users"}, "", "missing command"},
		{[]string{"users", "-h"}, "usage: hubdesk users", ""},
	}
	for _, s := range steps {
		var stdout, stderr bytes.Buffer
		err := run(context.Background(), s.args, getenv, &stdout, &stderr)
		if s.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), s.wantErr) {
				t.Errorf("%v: err = %v, want %q", s.args, err, s.wantErr)
			}
			continue
		}
		if err != nil || !strings.Contains(stdout.String(), s.wantOut) {
			t.Errorf("%v: %v, output %q, want %q", s.args, err, stdout.String(), s.wantOut)
		}
	}
}

func TestUsersPasswordSources(t *testing.T) {
	devNull := func(t *testing.T) io.Reader {
		f, err := os.Open(os.DevNull)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		return f
	}
	tests := []struct {
		name    string
		stdin   func(t *testing.T) io.Reader
		want    string // the password to sign in with; "" when generated
		wantErr string
	}{
		{"piped", func(*testing.T) io.Reader { return strings.NewReader("piped passphrase ok\n") }, "piped passphrase ok", ""},
		{"empty pipe", func(*testing.T) io.Reader { return strings.NewReader("") }, "", "no password on standard input"},
		{"no stdin", func(*testing.T) io.Reader { return nil }, "", ""},
		{"stdin not piped", devNull, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, getenv := usersEnv(t)
			var stdout bytes.Buffer
			err := runUsersWith(context.Background(), cheapBcrypt, []string{"add", "pat"}, getenv, tt.stdin(t), &stdout)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			password := tt.want
			m := regexp.MustCompile(`password for pat: (\S+) \(shown only this once\)`).FindStringSubmatch(stdout.String())
			switch {
			case password == "" && m == nil:
				t.Fatalf("no generated password in %q", stdout.String())
			case password == "":
				password = m[1]
			case m != nil:
				t.Errorf("printed a password it was given: %q", stdout.String())
			}
			db, err := storage.OpenSQLite(context.Background(), filepath.Join(dir, "hubdesk.db"), cheapBcrypt)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if _, err := db.Authenticate(context.Background(), "pat", password); err != nil {
				t.Errorf("cannot sign in with %q: %v", password, err)
			}
		})
	}
}

// postgresTestSchema makes a schema of the test's own in the database at
// base, dropped at the end, and returns a URL that uses it.
func postgresTestSchema(t *testing.T, base string) string {
	t.Helper()
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	schema := "test_users_" + strings.ToLower(randomToken(6))
	schema = strings.NewReplacer("-", "_").Replace(schema)
	if _, err := admin.Exec(`CREATE SCHEMA "` + schema + `"`); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Exec(`DROP SCHEMA "` + schema + `" CASCADE`) })
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// The command finds the PostgreSQL database the server is configured with.
func TestUsersCommandOnPostgres(t *testing.T) {
	dbURL := os.Getenv("HUBDESK_TEST_POSTGRES_URL")
	if dbURL == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI=true but HUBDESK_TEST_POSTGRES_URL is not set: run .ci/postgres.sh first")
		}
		t.Skip("set HUBDESK_TEST_POSTGRES_URL to run against PostgreSQL")
	}
	dbURL = postgresTestSchema(t, dbURL)
	env := map[string]string{"HUBDESK_DATA_DIR": filepath.Join(t.TempDir(), "never-created"), "HUBDESK_DATABASE_URL_FILE": writeFile(t, dbURL+"\n")}
	getenv := func(k string) string { return env[k] }
	pwFile := writeFile(t, "correct horse battery\n")
	for _, args := range [][]string{{"add", "ann", "-role", "admin", "-password-file", pwFile}, {"disable", "ann"}} {
		err := run(context.Background(), append([]string{"users"}, args...), getenv, &bytes.Buffer{}, &bytes.Buffer{})
		if args[0] == "disable" {
			if err == nil || !strings.Contains(err.Error(), "last enabled admin") {
				t.Errorf("disable the only admin: err = %v", err)
			}
		} else if err != nil {
			t.Fatal(err)
		}
	}
	var out bytes.Buffer
	if err := run(context.Background(), []string{"users", "list"}, getenv, &out, &out); err != nil || !strings.Contains(out.String(), "ann ") {
		t.Errorf("list: %v\n%s", err, out.String())
	}
	if _, err := os.Stat(env["HUBDESK_DATA_DIR"]); !os.IsNotExist(err) {
		t.Errorf("the data dir was created though the database is PostgreSQL: %v", err)
	}
}

// Every change the command makes, or is refused, is in the audit trail
// under the operating system's user, marked as the command line.
func TestUsersCommandIsAudited(t *testing.T) {
	tests := []struct {
		name, user, wantActor string
	}{
		{"from $USER", "ops", "ops (cli)"},
		{"without $USER", "", "(cli)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			env := map[string]string{"HUBDESK_DATA_DIR": dir, "USER": tt.user}
			getenv := func(k string) string { return env[k] }
			pwFile := writeFile(t, "correct horse battery\n")
			steps := [][]string{
				{"add", "ann", "-role", "admin", "-password-file", pwFile},
				{"add", "ann", "-password-file", pwFile},
				{"set-role", "ann", "viewer"},
				{"add", "vic", "-password-file", pwFile},
				{"disable", "vic"},
				{"enable", "vic"},
				{"reset-password", "vic"},
				{"list"},
				{"set-role", "nobody", "viewer"},
			}
			for _, args := range steps {
				runUsersWith(context.Background(), cheapBcrypt, args, getenv, nil, io.Discard)
			}
			db, err := storage.OpenSQLite(context.Background(), filepath.Join(dir, "hubdesk.db"), cheapBcrypt)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			entries, _, err := db.ListAudit(context.Background(), storage.AuditFilter{Actor: tt.wantActor})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, e := range slices.Backward(entries) {
				got = append(got, string(e.Action)+" "+e.Account+" "+string(e.Outcome))
				if e.RequestID != "" || e.DeviceID != "" {
					t.Errorf("entry %+v", e)
				}
			}
			want := []string{
				"account.create ann ok",
				"account.create ann refused",
				"account.set-role ann refused",
				"account.create vic ok",
				"account.disable vic ok",
				"account.enable vic ok",
				"account.reset-password vic ok",
			}
			if !slices.Equal(got, want) {
				t.Errorf("trail by %q:\n%s\nwant\n%s", tt.wantActor, strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	}
}

// The admin account made on first start is in the trail like any other
// new account; later starts add nothing.
func TestBootstrapAdminIsAudited(t *testing.T) {
	ctx := context.Background()
	db, err := storage.OpenSQLite(ctx, filepath.Join(t.TempDir(), "hubdesk.db"), cheapBcrypt)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for range 2 {
		if err := bootstrapAdmin(ctx, db, "", io.Discard); err != nil {
			t.Fatal(err)
		}
	}
	entries, _, err := db.ListAudit(ctx, storage.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Actor != bootstrapActor || entries[0].Action != storage.AuditAccountCreate ||
		entries[0].Account != "admin" || entries[0].After != `{"role":"admin","disabled":false}` {
		t.Errorf("trail after two starts: %+v", entries)
	}
}
