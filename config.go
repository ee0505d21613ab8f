package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/hubdesk/hubdesk/handlers"
)

// config is everything the dashboard needs to start. Each field comes from a
// flag whose default is read from an environment variable; secrets may also
// come from a file named by the variable with a _FILE suffix.
type config struct {
	Addr           string
	DataDir        string
	DatabaseURL    string
	AdminPassword  string
	HubConnString  string
	HubURL         string
	SessionKey     string
	SeedDemo       int
	Simulate       bool
	TLSCert        string
	TLSKey         string
	SessionMaxAge  time.Duration
	LogFormat      string
	LogLevel       string
	ShutdownGrace  time.Duration
	EmulatorListen string
	// AuditRetention is how long audit entries are kept; 0 keeps them
	// forever.
	AuditRetention time.Duration
	// SecureCookies marks cookies Secure and sends HSTS without serving
	// TLS here: people reach hubdesk over HTTPS through a proxy.
	SecureCookies bool
	// HubTimeout bounds each write to the hub and its read-back.
	HubTimeout time.Duration
	// TrustedProxies are the reverse proxies whose X-Forwarded-For names
	// the client; none means the TCP peer is the client.
	TrustedProxies []netip.Prefix
	// ProxyAuth is single sign-on through an authenticating reverse
	// proxy; off when its UserHeader is empty.
	ProxyAuth handlers.ProxyAuth
}

// setting describes one configuration value, for flags, the environment and
// the README's table.
type setting struct {
	flag, env, def, usage string
	secret                bool
}

// settings are the dashboard's settings in the order the README lists them.
var settings = []setting{
	{"addr", "HUBDESK_ADDR", "127.0.0.1:8080", "address the dashboard listens on", false},
	{"data-dir", "HUBDESK_DATA_DIR", "./data", "directory for the embedded hub, sessions key and accounts", false},
	{"database-url", "HUBDESK_DATABASE_URL", "", "PostgreSQL URL (postgres://user:password@host:5432/name) for accounts and the audit trail, shared by replicas; empty keeps them in SQLite under the data dir", true},
	{"admin-password", "HUBDESK_ADMIN_PASSWORD", "", "password of the bootstrap admin account (random and printed once if empty)", true},
	{"hub-connection-string", "IOTHUB_CONNECTION_STRING", "", "service connection string of the IoT Hub; empty runs the embedded emulator", true},
	{"hub-url", "HUBDESK_HUB_URL", "", "base URL of the hub, e.g. http://emulator:8081 for a standalone emulator (default https://HostName)", false},
	{"session-key", "HUBDESK_SESSION_KEY", "", "secret for signing session cookies, at least 32 bytes; shared by all replicas (generated under the data dir if empty)", true},
	{"seed-demo", "HUBDESK_SEED_DEMO", "500", "demo devices to seed into an empty embedded hub (0: none)", false},
	{"simulate", "HUBDESK_SIMULATE", "true", "let seeded devices of the embedded hub report properties every few seconds", false},
	{"tls-cert", "HUBDESK_TLS_CERT", "", "TLS certificate file (serve HTTPS; cookies become Secure)", false},
	{"tls-key", "HUBDESK_TLS_KEY", "", "TLS private key file", false},
	{"secure-cookies", "HUBDESK_SECURE_COOKIES", "false", "mark cookies Secure and send HSTS although hubdesk serves plain HTTP: set when people reach it over HTTPS through a TLS-terminating proxy (always on with -tls-cert)", false},
	{"session-max-age", "HUBDESK_SESSION_MAX_AGE", "12h", "how long a sign-in lasts", false},
	{"log-format", "HUBDESK_LOG_FORMAT", "text", "log format: text or json", false},
	{"log-level", "HUBDESK_LOG_LEVEL", "info", "log level: debug, info, warn or error", false},
	{"shutdown-grace", "HUBDESK_SHUTDOWN_GRACE", "20s", "how long in-flight requests may finish after SIGTERM", false},
	{"hub-timeout", "HUBDESK_HUB_TIMEOUT", "15s", "how long a write to the hub may take before hubdesk reads the resource back to learn whether it was applied", false},
	{"trusted-proxies", "HUBDESK_TRUSTED_PROXIES", "", "comma-separated IPs or CIDRs of reverse proxies in front of hubdesk, whose X-Forwarded-For names the client (for sign-in rate limits and logs); empty: the TCP peer is the client", false},
	{"emulator-addr", "HUBDESK_EMULATOR_ADDR", "127.0.0.1:0", "address of the embedded emulator (loopback)", false},
	{"audit-retention", "HUBDESK_AUDIT_RETENTION", "0", "how long audit entries are kept, as hours, e.g. 2160h for 90 days (at least 24h); older ones are deleted at start and hourly; 0 keeps them forever", false},
	{"auth-proxy-header", "HUBDESK_AUTH_PROXY_HEADER", "", "single sign-on: header in which an authenticating reverse proxy (e.g. oauth2-proxy) names the signed-in person, e.g. X-Forwarded-User; empty: off. The proxy must overwrite it on every request", false},
	{"auth-proxy-groups-header", "HUBDESK_AUTH_PROXY_GROUPS_HEADER", "", "single sign-on: header with the person's groups, comma-separated, e.g. X-Forwarded-Groups", false},
	{"auth-trusted-proxies", "HUBDESK_AUTH_TRUSTED_PROXIES", "", "single sign-on: comma-separated IPs or CIDRs of the proxies; the headers count only when the TCP peer is one of them (required with -auth-proxy-header)", false},
	{"auth-group-roles", "HUBDESK_AUTH_GROUP_ROLES", "", "single sign-on: group=role pairs, e.g. iot-admins=admin,iot-support=editor,staff=viewer; the highest role of a person's groups wins, no matching group is refused", false},
}

// parseConfig reads the dashboard's configuration from args and getenv and
// checks it. Flags win over the environment; NAME_FILE is read when NAME is
// empty for secrets.
func parseConfig(args []string, getenv func(string) string) (config, error) {
	fs := flag.NewFlagSet("hubdesk", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	vals := make(map[string]*string, len(settings))
	for _, s := range settings {
		v, err := envDefault(s, getenv)
		if err != nil {
			return config{}, err
		}
		vals[s.flag] = fs.String(s.flag, v, s.usage)
	}
	if err := fs.Parse(args); err != nil {
		return config{}, fmt.Errorf("%w\n%s", err, usage(fs))
	}
	if fs.NArg() > 0 {
		return config{}, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	get := func(name string) string { return strings.TrimSpace(*vals[name]) }
	c := config{
		Addr:           get("addr"),
		DataDir:        get("data-dir"),
		DatabaseURL:    get("database-url"),
		AdminPassword:  *vals["admin-password"],
		HubConnString:  get("hub-connection-string"),
		HubURL:         get("hub-url"),
		SessionKey:     *vals["session-key"],
		TLSCert:        get("tls-cert"),
		TLSKey:         get("tls-key"),
		LogFormat:      get("log-format"),
		LogLevel:       get("log-level"),
		EmulatorListen: get("emulator-addr"),
	}
	var errs []error
	check := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	check(checkAddr("addr", c.Addr))
	check(checkAddr("emulator-addr", c.EmulatorListen))
	var err error
	if c.SeedDemo, err = strconv.Atoi(get("seed-demo")); err != nil || c.SeedDemo < 0 || c.SeedDemo > 1_000_000 {
		errs = append(errs, fmt.Errorf("seed-demo: want a number of devices from 0 to 1000000, got %q", get("seed-demo")))
	}
	if c.Simulate, err = strconv.ParseBool(get("simulate")); err != nil {
		errs = append(errs, fmt.Errorf("simulate: want true or false, got %q", get("simulate")))
	}
	if c.SecureCookies, err = strconv.ParseBool(get("secure-cookies")); err != nil {
		errs = append(errs, fmt.Errorf("secure-cookies: want true or false, got %q", get("secure-cookies")))
	}
	c.SessionMaxAge, err = parseDuration("session-max-age", get("session-max-age"))
	check(err)
	c.ShutdownGrace, err = parseDuration("shutdown-grace", get("shutdown-grace"))
	check(err)
	c.AuditRetention, err = parseRetention(get("audit-retention"))
	check(err)
	c.HubTimeout, err = parseDuration("hub-timeout", get("hub-timeout"))
	check(err)
	if c.TrustedProxies, err = handlers.ParseTrustedProxies(get("trusted-proxies")); err != nil {
		errs = append(errs, fmt.Errorf("trusted-proxies: %w", err))
	}
	if c.DataDir == "" {
		errs = append(errs, errors.New("data-dir: must not be empty"))
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		errs = append(errs, errors.New("tls-cert and tls-key: give both or neither"))
	}
	if c.HubURL != "" {
		if u, err := url.Parse(c.HubURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("hub-url: want an http:// or https:// URL, got %q", c.HubURL))
		} else if c.HubConnString == "" {
			errs = append(errs, errors.New("hub-url needs hub-connection-string (IOTHUB_CONNECTION_STRING): the standalone emulator prints it at start"))
		}
	}
	if c.SessionKey != "" && len(c.SessionKey) < 32 {
		errs = append(errs, errors.New("session-key: must be at least 32 bytes"))
	}
	c.ProxyAuth, err = parseProxyAuth(get)
	check(err)
	switch c.LogFormat {
	case "text", "json":
	default:
		errs = append(errs, fmt.Errorf("log-format: want text or json, got %q", c.LogFormat))
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("log-level: want debug, info, warn or error, got %q", c.LogLevel))
	}
	if len(errs) > 0 {
		return config{}, fmt.Errorf("invalid configuration:\n  %w", joinLines(errs))
	}
	return c, nil
}

// parseProxyAuth reads the single sign-on settings. Each needs the others:
// a user header believed from anywhere would let anyone claim any name.
func parseProxyAuth(get func(string) string) (handlers.ProxyAuth, error) {
	var p handlers.ProxyAuth
	var errs []error
	var err error
	if p.UserHeader, err = handlers.ParseHeaderName(get("auth-proxy-header")); err != nil {
		errs = append(errs, fmt.Errorf("auth-proxy-header: %w", err))
	}
	if p.GroupsHeader, err = handlers.ParseHeaderName(get("auth-proxy-groups-header")); err != nil {
		errs = append(errs, fmt.Errorf("auth-proxy-groups-header: %w", err))
	}
	if p.Trusted, err = handlers.ParseTrustedProxies(get("auth-trusted-proxies")); err != nil {
		errs = append(errs, fmt.Errorf("auth-trusted-proxies: %w", err))
	}
	if p.Roles, err = handlers.ParseGroupRoles(get("auth-group-roles")); err != nil {
		errs = append(errs, fmt.Errorf("auth-group-roles: %w", err))
	}
	if len(errs) > 0 {
		return handlers.ProxyAuth{}, joinLines(errs)
	}
	if get("auth-proxy-header") == "" {
		if p.GroupsHeader != "" || len(p.Trusted) > 0 || len(p.Roles) > 0 {
			return handlers.ProxyAuth{}, errors.New("auth-proxy-header: the other auth-* settings do nothing without it; set it to turn on single sign-on")
		}
		return handlers.ProxyAuth{}, nil
	}
	if len(p.Trusted) == 0 {
		errs = append(errs, errors.New("auth-trusted-proxies: required with auth-proxy-header, or anyone could send the header and claim any name"))
	}
	if p.GroupsHeader == "" {
		errs = append(errs, errors.New("auth-proxy-groups-header: required with auth-proxy-header; roles come from groups"))
	}
	if len(p.Roles) == 0 {
		errs = append(errs, errors.New("auth-group-roles: required with auth-proxy-header, or nobody gets a role"))
	}
	if len(errs) > 0 {
		return handlers.ProxyAuth{}, joinLines(errs)
	}
	return p, nil
}

// envDefault is the default of s from the environment: NAME, else for a
// secret the contents of the file named by NAME_FILE, else the built-in one.
func envDefault(s setting, getenv func(string) string) (string, error) {
	if v := getenv(s.env); v != "" {
		return v, nil
	}
	if s.secret {
		if path := getenv(s.env + "_FILE"); path != "" {
			b, err := os.ReadFile(path)
			if err != nil {
				return "", fmt.Errorf("%s_FILE: %w", s.env, err)
			}
			return strings.TrimRight(string(b), "\r\n"), nil
		}
	}
	return s.def, nil
}

func checkAddr(name, addr string) error {
	if _, port, err := net.SplitHostPort(addr); err != nil || port == "" {
		return fmt.Errorf("%s: want host:port, got %q", name, addr)
	}
	return nil
}

func parseDuration(name, v string) (time.Duration, error) {
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%s: want a positive duration such as 30s or 12h, got %q", name, v)
	}
	return d, nil
}

// minAuditRetention is the shortest audit retention accepted: anything
// shorter is far more likely a mistyped unit than a wish to keep the trail
// for minutes.
const minAuditRetention = 24 * time.Hour

// parseRetention reads the audit retention: a duration of at least
// minAuditRetention, or 0 to keep entries forever.
func parseRetention(v string) (time.Duration, error) {
	if v == "" || v == "0" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	switch {
	case err != nil:
		return 0, fmt.Errorf("audit-retention: want a duration in hours such as 2160h (90 days), or 0 to keep entries forever, got %q", v)
	case d < 0:
		return 0, fmt.Errorf("audit-retention: must not be negative, got %q (0 keeps entries forever)", v)
	case d > 0 && d < minAuditRetention:
		return 0, fmt.Errorf("audit-retention: want at least %s, got %q (0 keeps entries forever)", "24h", v)
	}
	return d, nil
}

// joinLines joins errors one per line, indented under the heading.
func joinLines(errs []error) error {
	msgs := make([]string, len(errs))
	for i, e := range errs {
		msgs[i] = e.Error()
	}
	return errors.New(strings.Join(msgs, "\n  "))
}

func usage(fs *flag.FlagSet) string {
	var b strings.Builder
	b.WriteString("usage: hubdesk [flags]\n")
	fs.VisitAll(func(f *flag.Flag) {
		fmt.Fprintf(&b, "  -%s\t%s\n", f.Name, f.Usage)
	})
	return b.String()
}
