package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/hubdesk/hubdesk/storage"
)

const usersHelp = `usage: hubdesk users COMMAND [flags] [NAME [ROLE]]

  list                        list accounts: name, role, disabled, created
  add NAME [-role ROLE]       add an account (role viewer unless given)
  set-role NAME ROLE          change the role: viewer, editor or admin
  disable NAME                stop NAME from signing in
  enable NAME                 let NAME sign in again
  reset-password NAME         give NAME a new password

add and reset-password read the password from -password-file, else from
standard input when it is piped, else make one up and print it once.
Passwords are never taken on the command line, where ps and shell history
would show them.

Every change is recorded in the audit trail as made by "$USER (cli)".

flags (anywhere after the command):
  -data-dir DIR           the server's data directory (HUBDESK_DATA_DIR)
  -database-url URL       the server's PostgreSQL URL (HUBDESK_DATABASE_URL); empty: SQLite under DIR
  -role ROLE              add: the new account's role
  -password-file FILE     add, reset-password: read the password from FILE
`

// usersCommand is one parsed `hubdesk users` invocation.
type usersCommand struct {
	verb         string
	args         []string
	dataDir      string
	databaseURL  string
	role         string
	passwordFile string
	// actor is who the audit trail records as making the change.
	actor storage.Actor
}

// runUsers manages accounts in the database the server uses. stdin supplies
// a piped password; stdout gets results and a generated password.
func runUsers(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	return runUsersWith(ctx, storage.Options{}, args, getenv, stdin, stdout)
}

// runUsersWith is runUsers opening the database with opts, so tests can
// choose a cheap bcrypt cost.
func runUsersWith(ctx context.Context, opts storage.Options, args []string, getenv func(string) string, stdin io.Reader, stdout io.Writer) error {
	if len(args) == 0 {
		return errors.New("users: missing command\n" + usersHelp)
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usersHelp)
		return nil
	}
	cmd, err := parseUsersCommand(args, getenv)
	if err != nil {
		return fmt.Errorf("users %s: %w", args[0], err)
	}
	if err := cmd.exec(ctx, opts, stdin, stdout); err != nil {
		return fmt.Errorf("users %s: %w", cmd.verb, err)
	}
	return nil
}

// parseUsersCommand reads the verb, its arguments and the flags, which may
// come before, between or after the arguments.
func parseUsersCommand(args []string, getenv func(string) string) (usersCommand, error) {
	c := usersCommand{verb: args[0], actor: cliActor(getenv)}
	wantArgs := map[string]int{"list": 0, "add": 1, "set-role": 2, "disable": 1, "enable": 1, "reset-password": 1}
	n, ok := wantArgs[c.verb]
	if !ok {
		return c, fmt.Errorf("unknown command (want list, add, set-role, disable, enable or reset-password)\n%s", usersHelp)
	}
	fs := flag.NewFlagSet("hubdesk users "+c.verb, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	for _, name := range []string{"data-dir", "database-url"} {
		i := settingIndex(name)
		def, err := envDefault(settings[i], getenv)
		if err != nil {
			return c, err
		}
		target := &c.dataDir
		if name == "database-url" {
			target = &c.databaseURL
		}
		fs.StringVar(target, name, def, settings[i].usage)
	}
	fs.StringVar(&c.role, "role", string(storage.RoleViewer), "role of the new account")
	fs.StringVar(&c.passwordFile, "password-file", "", "file holding the password")
	rest := args[1:]
	for {
		if err := fs.Parse(rest); err != nil {
			return c, fmt.Errorf("%w\n%s", err, usersHelp)
		}
		if fs.NArg() == 0 {
			break
		}
		c.args = append(c.args, fs.Arg(0))
		rest = fs.Args()[1:]
	}
	var misplaced []string
	fs.Visit(func(f *flag.Flag) {
		switch {
		case f.Name == "role" && c.verb != "add",
			f.Name == "password-file" && c.verb != "add" && c.verb != "reset-password":
			misplaced = append(misplaced, "-"+f.Name)
		}
	})
	if len(misplaced) > 0 {
		return c, fmt.Errorf("%s does not apply to %s", strings.Join(misplaced, ", "), c.verb)
	}
	if len(c.args) != n {
		return c, fmt.Errorf("want %d argument(s), got %d\n%s", n, len(c.args), usersHelp)
	}
	if strings.TrimSpace(c.dataDir) == "" && c.databaseURL == "" {
		return c, errors.New("data-dir: must not be empty")
	}
	return c, nil
}

// cliActor names the person running the command in the audit trail: the
// operating system's user, marked as coming from the command line so that
// it never passes for the dashboard account of the same name.
func cliActor(getenv func(string) string) storage.Actor {
	if u := strings.TrimSpace(getenv("USER")); u != "" {
		return storage.Actor{Name: u + " (cli)"}
	}
	return storage.Actor{Name: "(cli)"}
}

// settingIndex finds the setting with the given flag name.
func settingIndex(flagName string) int {
	for i, s := range settings {
		if s.flag == flagName {
			return i
		}
	}
	panic("no setting " + flagName)
}

func (c usersCommand) exec(ctx context.Context, opts storage.Options, stdin io.Reader, stdout io.Writer) error {
	// Check what can be checked before asking for a password or opening
	// the database.
	var role storage.Role
	switch c.verb {
	case "add":
		var err error
		if role, err = storage.ParseRole(c.role); err != nil {
			return err
		}
	case "set-role":
		var err error
		if role, err = storage.ParseRole(c.args[1]); err != nil {
			return err
		}
	}
	var password string
	generated := false
	if c.verb == "add" || c.verb == "reset-password" {
		var err error
		if password, generated, err = c.password(stdin); err != nil {
			return err
		}
	}
	db, err := c.open(ctx, opts)
	if err != nil {
		return err
	}
	defer db.Close()

	switch c.verb {
	case "list":
		return listUsers(ctx, db, stdout)
	case "add":
		err = db.CreateUserBy(ctx, c.actor, c.args[0], password, role)
		if errors.Is(err, storage.ErrUserExists) {
			return fmt.Errorf("user %q already exists", c.args[0])
		}
		if err == nil {
			fmt.Fprintf(stdout, "added %s with role %s\n", c.args[0], role)
		}
	case "set-role":
		if err = db.SetRole(ctx, c.actor, c.args[0], role); err == nil {
			fmt.Fprintf(stdout, "%s is now %s\n", c.args[0], role)
		}
	case "disable", "enable":
		if err = db.SetDisabled(ctx, c.actor, c.args[0], c.verb == "disable"); err == nil {
			fmt.Fprintf(stdout, "%sd %s\n", c.verb, c.args[0])
		}
	case "reset-password":
		if err = db.SetPassword(ctx, c.actor, c.args[0], password); err == nil {
			fmt.Fprintf(stdout, "reset the password of %s\n", c.args[0])
		}
	}
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return fmt.Errorf("no user called %q", c.args[0])
	case errors.Is(err, storage.ErrLastAdmin):
		return fmt.Errorf("%s is the last enabled admin: make another account admin first", c.args[0])
	}
	if err == nil && generated {
		fmt.Fprintf(stdout, "password for %s: %s (shown only this once)\n", c.args[0], password)
	}
	return err
}

// password returns the password from -password-file, else from stdin when
// it is piped, else a generated one.
func (c usersCommand) password(stdin io.Reader) (password string, generated bool, err error) {
	var src io.Reader
	var from string
	switch {
	case c.passwordFile != "":
		f, err := os.Open(c.passwordFile)
		if err != nil {
			return "", false, fmt.Errorf("password-file: %w", err)
		}
		defer f.Close()
		src, from = f, "password-file"
	case piped(stdin):
		src, from = stdin, "standard input"
	default:
		return randomToken(18), true, nil
	}
	b, err := io.ReadAll(io.LimitReader(src, 4096))
	if err != nil {
		return "", false, fmt.Errorf("read password from %s: %w", from, err)
	}
	password = strings.TrimRight(string(b), "\r\n")
	switch {
	case password == "":
		return "", false, fmt.Errorf("no password on %s", from)
	case strings.ContainsAny(password, "\r\n"):
		return "", false, fmt.Errorf("the password on %s must be one line", from)
	case len(password) < storage.MinPasswordLength:
		return "", false, fmt.Errorf("password must be at least %d characters", storage.MinPasswordLength)
	}
	return password, false, nil
}

// piped reports whether r has input to read: a pipe or a file, not a
// terminal or /dev/null. Readers other than files (tests) count as piped.
func piped(r io.Reader) bool {
	if r == nil {
		return false
	}
	f, ok := r.(*os.File)
	if !ok {
		return true
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice == 0
}

// open opens the server's database. Only add may create a SQLite database,
// so a mistyped -data-dir does not quietly list an empty one.
func (c usersCommand) open(ctx context.Context, opts storage.Options) (*storage.DB, error) {
	path := filepath.Join(c.dataDir, "hubdesk.db")
	if c.databaseURL == "" {
		if c.verb == "add" {
			if err := os.MkdirAll(c.dataDir, 0o700); err != nil {
				return nil, fmt.Errorf("data dir: %w", err)
			}
		} else if _, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("no accounts database at %s (check -data-dir or HUBDESK_DATA_DIR): %w", path, err)
		}
	}
	return storage.Open(ctx, c.databaseURL, path, opts)
}

func listUsers(ctx context.Context, db *storage.DB, stdout io.Writer) error {
	users, err := db.ListUsers(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tROLE\tDISABLED\tCREATED")
	for _, u := range users {
		disabled := "no"
		if u.Disabled {
			disabled = "yes"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", u.Name, u.Role, disabled, u.CreatedAt.UTC().Format("2006-01-02 15:04 UTC"))
	}
	return tw.Flush()
}
