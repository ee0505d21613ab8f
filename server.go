package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/hubdesk/hubdesk/handlers"
	"github.com/hubdesk/hubdesk/hub"
	"github.com/hubdesk/hubdesk/hub/emulator"
	"github.com/hubdesk/hubdesk/static"
	"github.com/hubdesk/hubdesk/storage"
)

// serve runs the dashboard until ctx is cancelled.
func serve(ctx context.Context, cfg config, stdout, stderr io.Writer) error {
	logger := newLogger(cfg.LogFormat, cfg.LogLevel, stderr)
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	metrics := handlers.NewMetrics()
	client, hubName, closeHub, err := connectHub(cfg, logger, hub.WithObserver(metrics.ObserveHub))
	if err != nil {
		return err
	}
	defer closeHub()

	db, err := storage.Open(ctx, cfg.DatabaseURL, filepath.Join(cfg.DataDir, "hubdesk.db"), storage.Options{})
	if err != nil {
		return err
	}
	defer db.Close()
	if err := bootstrapAdmin(ctx, db, cfg.AdminPassword, stdout); err != nil {
		return err
	}
	if cfg.AuditRetention > 0 {
		logger.Info("audit retention", "keep", cfg.AuditRetention, "prune_every", auditPruneInterval)
		stopPruning := keepAudit(ctx, db, cfg.AuditRetention, logger)
		defer stopPruning()
	}
	sessionKey, err := loadSessionKey(cfg)
	if err != nil {
		return err
	}
	assets, err := static.New()
	if err != nil {
		return err
	}
	tls := cfg.TLSCert != ""
	secure := tls || cfg.SecureCookies
	hashKey, blockKey := deriveKeys(sessionKey)
	var proxyAuth *handlers.ProxyAuth
	if cfg.ProxyAuth.UserHeader != "" {
		proxyAuth = &cfg.ProxyAuth
		logger.Info("single sign-on from proxy headers", "header", proxyAuth.UserHeader, "trusted", len(proxyAuth.Trusted))
	}
	h := handlers.New(handlers.Deps{
		Hub:           client,
		HubName:       hubName,
		DB:            db,
		Sessions:      handlers.NewCookieStore(hashKey, blockKey, cfg.SessionMaxAge, secure),
		Assets:        assets,
		Logger:        logger,
		Secure:        secure,
		SessionMaxAge: cfg.SessionMaxAge,
		Metrics:       metrics,
		ProxyAuth:     proxyAuth,
		HubTimeout:    cfg.HubTimeout,
		Proxies:       cfg.TrustedProxies,
		Ready: func(ctx context.Context) error {
			if _, err := client.Statistics(ctx); err != nil {
				return fmt.Errorf("hub: %w", err)
			}
			return db.Ping(ctx)
		},
	})
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	h.Register(e)

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	srv := &http.Server{
		Handler:           e,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	scheme := "http"
	if tls {
		scheme = "https"
	}
	fmt.Fprintf(stdout, "hubdesk: dashboard at %s://%s/ (hub: %s)\n", scheme, displayAddr(ln.Addr()), hubName)
	logger.Info("serving", "addr", ln.Addr().String(), "hub", hubName)

	errc := make(chan error, 1)
	go func() {
		if tls {
			errc <- srv.ServeTLS(ln, cfg.TLSCert, cfg.TLSKey)
		} else {
			errc <- srv.Serve(ln)
		}
	}()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	logger.Info("shutting down", "grace", cfg.ShutdownGrace)
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// auditPruneInterval is how often the server deletes audit entries past
// their retention.
const auditPruneInterval = time.Hour

// keepAudit deletes audit entries older than retention now and then every
// auditPruneInterval, in the background, until ctx is done or stop is
// called; stop returns once pruning has stopped, so the database can be
// closed after it.
func keepAudit(ctx context.Context, db *storage.DB, retention time.Duration, logger *slog.Logger) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		db.KeepAudit(ctx, retention, auditPruneInterval, func(n int64, err error) {
			switch {
			case err != nil:
				logger.Error("audit retention: prune failed; trying again in an hour", "deleted", n, "err", err)
			case n > 0:
				logger.Info("audit retention: deleted old entries", "deleted", n, "older_than", retention)
			}
		})
	}()
	return func() {
		cancel()
		<-done
	}
}

// connectHub returns a client for the configured hub, or starts the
// embedded, durable emulator under the data directory when none is set.
func connectHub(cfg config, logger *slog.Logger, opts ...hub.Option) (*hub.Client, string, func(), error) {
	if cfg.HubConnString != "" {
		if cfg.HubURL != "" {
			opts = append(opts, hub.WithBaseURL(cfg.HubURL))
		}
		c, err := hub.New(cfg.HubConnString, opts...)
		if err != nil {
			return nil, "", nil, fmt.Errorf("IOTHUB_CONNECTION_STRING: %w", err)
		}
		return c, c.HostName(), func() {}, nil
	}
	hubDir := filepath.Join(cfg.DataDir, "hub")
	if err := os.MkdirAll(hubDir, 0o700); err != nil {
		return nil, "", nil, fmt.Errorf("embedded hub: %w", err)
	}
	srv, err := emulator.NewServer(emulator.Options{
		DataDir:  hubDir,
		SeedDemo: cfg.SeedDemo,
		Simulate: cfg.Simulate,
		Addr:     cfg.EmulatorListen,
		Logger:   logger.With("component", "emulator"),
	})
	if err != nil {
		return nil, "", nil, fmt.Errorf("embedded hub: %w", err)
	}
	return srv.Client(opts...), "embedded emulator (" + srv.HostName() + ")", func() { srv.Close() }, nil
}

// bootstrapActor is who the audit trail says created the first admin.
const bootstrapActor = "hubdesk (first start)"

// bootstrapAdmin creates the admin account on first start, with the
// configured password or a random one printed once, and records it in the
// audit trail like any other new account.
func bootstrapAdmin(ctx context.Context, db *storage.DB, password string, stdout io.Writer) error {
	n, err := db.CountUsers(ctx)
	if err != nil || n > 0 {
		return err
	}
	generated := password == ""
	if generated {
		password = randomToken(18)
	}
	switch err := db.CreateUserBy(ctx, storage.Actor{Name: bootstrapActor}, "admin", password, storage.RoleAdmin); {
	case errors.Is(err, storage.ErrUserExists):
		// Another replica sharing the database created it first; its
		// password is the one that counts, so print nothing. (The trail
		// shows this replica's attempt, refused.)
		return nil
	case err != nil:
		return fmt.Errorf("bootstrap admin account: %w", err)
	}
	if generated {
		fmt.Fprintf(stdout, "hubdesk: created account admin with password %s (shown only this once; set HUBDESK_ADMIN_PASSWORD to choose it)\n", password)
	} else {
		fmt.Fprintln(stdout, "hubdesk: created account admin with the password from HUBDESK_ADMIN_PASSWORD")
	}
	return nil
}

// loadSessionKey returns the configured session secret, or one generated
// once and kept in the data directory.
func loadSessionKey(cfg config) ([]byte, error) {
	if cfg.SessionKey != "" {
		return []byte(cfg.SessionKey), nil
	}
	path := filepath.Join(cfg.DataDir, "session.key")
	b, err := os.ReadFile(path)
	if err == nil && len(b) >= 32 {
		return b, nil
	}
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("session key: %w", err)
	}
	key := []byte(randomToken(48))
	if err := os.WriteFile(path, key, 0o600); err != nil {
		return nil, fmt.Errorf("session key: %w", err)
	}
	return key, nil
}

// deriveKeys turns the session secret into separate signing and encryption
// keys, so neither is used for two purposes.
func deriveKeys(secret []byte) (hashKey, blockKey []byte) {
	h := sha256.Sum256(append([]byte("hubdesk session signing\x00"), secret...))
	b := sha256.Sum256(append([]byte("hubdesk session encryption\x00"), secret...))
	return append(h[:], b[:]...), b[:]
}

func randomToken(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// displayAddr is an address people can open: 0.0.0.0 and :: become localhost.
func displayAddr(a net.Addr) string {
	host, port, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "localhost"
	}
	return net.JoinHostPort(host, port)
}

func newLogger(format, level string, w io.Writer) *slog.Logger {
	var lv slog.Level
	lv.UnmarshalText([]byte(strings.ToUpper(level)))
	opts := &slog.HandlerOptions{Level: lv}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
