package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hubdesk/hubdesk/storage"
)

func TestParseConfig(t *testing.T) {
	secretFile := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(secretFile, []byte("from-file-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		check   func(t *testing.T, c config)
		wantErr string
	}{
		{
			name: "defaults",
			check: func(t *testing.T, c config) {
				if c.Addr != "127.0.0.1:8080" || c.DataDir != "./data" || c.SeedDemo != 500 || !c.Simulate {
					t.Errorf("defaults = %+v", c)
				}
				if c.SessionMaxAge != 12*time.Hour || c.HubConnString != "" || c.AuditRetention != 0 {
					t.Errorf("defaults = %+v", c)
				}
			},
		},
		{
			name: "environment",
			env:  map[string]string{"HUBDESK_ADDR": "0.0.0.0:9000", "HUBDESK_DATA_DIR": "/var/lib/hubdesk", "HUBDESK_SIMULATE": "false"},
			check: func(t *testing.T, c config) {
				if c.Addr != "0.0.0.0:9000" || c.DataDir != "/var/lib/hubdesk" || c.Simulate {
					t.Errorf("got %+v", c)
				}
			},
		},
		{
			name: "flag wins over environment",
			args: []string{"-addr", "127.0.0.1:1234"},
			env:  map[string]string{"HUBDESK_ADDR": "0.0.0.0:9000"},
			check: func(t *testing.T, c config) {
				if c.Addr != "127.0.0.1:1234" {
					t.Errorf("Addr = %q", c.Addr)
				}
			},
		},
		{
			name: "secret from _FILE",
			env:  map[string]string{"HUBDESK_ADMIN_PASSWORD_FILE": secretFile},
			check: func(t *testing.T, c config) {
				if c.AdminPassword != "from-file-secret" {
					t.Errorf("AdminPassword = %q", c.AdminPassword)
				}
			},
		},
		{
			name: "variable wins over _FILE",
			env:  map[string]string{"HUBDESK_ADMIN_PASSWORD": "direct", "HUBDESK_ADMIN_PASSWORD_FILE": secretFile},
			check: func(t *testing.T, c config) {
				if c.AdminPassword != "direct" {
					t.Errorf("AdminPassword = %q", c.AdminPassword)
				}
			},
		},
		{
			name: "audit retention",
			env:  map[string]string{"HUBDESK_AUDIT_RETENTION": "2160h"},
			check: func(t *testing.T, c config) {
				if c.AuditRetention != 90*24*time.Hour {
					t.Errorf("AuditRetention = %v", c.AuditRetention)
				}
			},
		},
		{
			name: "proxies and hub timeout",
			env:  map[string]string{"HUBDESK_TRUSTED_PROXIES": "10.0.0.0/8, 192.168.1.5", "HUBDESK_HUB_TIMEOUT": "4s", "HUBDESK_SECURE_COOKIES": "true"},
			check: func(t *testing.T, c config) {
				if len(c.TrustedProxies) != 2 || c.TrustedProxies[1].String() != "192.168.1.5/32" || c.HubTimeout != 4*time.Second || !c.SecureCookies {
					t.Errorf("TrustedProxies = %v, HubTimeout = %v", c.TrustedProxies, c.HubTimeout)
				}
			},
		},
		{
			name: "audit retention flag, 0 keeps forever",
			args: []string{"-audit-retention", "0"},
			env:  map[string]string{"HUBDESK_AUDIT_RETENTION": "24h"},
			check: func(t *testing.T, c config) {
				if c.AuditRetention != 0 {
					t.Errorf("AuditRetention = %v", c.AuditRetention)
				}
			},
		},
		{name: "bad secure-cookies", env: map[string]string{"HUBDESK_SECURE_COOKIES": "yes please"}, wantErr: `secure-cookies: want true or false, got "yes please"`},
		{name: "bad trusted proxy", env: map[string]string{"HUBDESK_TRUSTED_PROXIES": "10.0.0.0/8,proxy.local"}, wantErr: `trusted-proxies: "proxy.local" is not an IP address or CIDR prefix`},
		{name: "zero hub timeout", env: map[string]string{"HUBDESK_HUB_TIMEOUT": "0s"}, wantErr: `hub-timeout: want a positive duration such as 30s or 12h, got "0s"`},
		{name: "negative audit retention", env: map[string]string{"HUBDESK_AUDIT_RETENTION": "-720h"}, wantErr: `audit-retention: must not be negative, got "-720h"`},
		{name: "audit retention without a unit", env: map[string]string{"HUBDESK_AUDIT_RETENTION": "90"}, wantErr: `audit-retention: want a duration in hours such as 2160h (90 days), or 0 to keep entries forever, got "90"`},
		{name: "audit retention in days", args: []string{"-audit-retention", "90d"}, wantErr: `got "90d"`},
		{name: "audit retention too short", env: map[string]string{"HUBDESK_AUDIT_RETENTION": "30m"}, wantErr: `audit-retention: want at least 24h, got "30m"`},
		{name: "missing _FILE", env: map[string]string{"IOTHUB_CONNECTION_STRING_FILE": "/nonexistent/cs"}, wantErr: "IOTHUB_CONNECTION_STRING_FILE"},
		{name: "bad addr", env: map[string]string{"HUBDESK_ADDR": "8080"}, wantErr: "addr: want host:port"},
		{name: "bad seed", args: []string{"-seed-demo", "-3"}, wantErr: "seed-demo"},
		{name: "bad bool", env: map[string]string{"HUBDESK_SIMULATE": "sometimes"}, wantErr: "simulate: want true or false"},
		{name: "bad duration", env: map[string]string{"HUBDESK_SESSION_MAX_AGE": "forever"}, wantErr: "session-max-age"},
		{name: "tls needs both", env: map[string]string{"HUBDESK_TLS_CERT": "c.pem"}, wantErr: "give both or neither"},
		{name: "hub url needs connection string", env: map[string]string{"HUBDESK_HUB_URL": "http://emulator:8081"}, wantErr: "hub-url needs hub-connection-string"},
		{name: "hub url scheme", env: map[string]string{"HUBDESK_HUB_URL": "ftp://x", "IOTHUB_CONNECTION_STRING": "HostName=x"}, wantErr: "hub-url: want an http"},
		{name: "short session key", env: map[string]string{"HUBDESK_SESSION_KEY": "short"}, wantErr: "at least 32 bytes"},
		{name: "log format", env: map[string]string{"HUBDESK_LOG_FORMAT": "xml"}, wantErr: "log-format"},
		{name: "unknown flag", args: []string{"-nope"}, wantErr: "flag provided but not defined"},
		{name: "stray argument", args: []string{"extra"}, wantErr: `unexpected argument "extra"`},
		{
			name:    "all errors at once",
			env:     map[string]string{"HUBDESK_ADDR": "x", "HUBDESK_LOG_LEVEL": "loud"},
			wantErr: "log-level",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			getenv := func(k string) string { return tt.env[k] }
			c, err := parseConfig(tt.args, getenv)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, c)
		})
	}
}

func TestParseConfigNeverEchoesSecrets(t *testing.T) {
	env := map[string]string{"HUBDESK_SESSION_KEY": "tooshort-secret", "HUBDESK_ADDR": "bad"}
	_, err := parseConfig(nil, func(k string) string { return env[k] })
	if err == nil || strings.Contains(err.Error(), "tooshort-secret") {
		t.Fatalf("err = %v: must fail without echoing the secret", err)
	}
}

// With a retention set, the server deletes what is older at start, and
// only that, and stops pruning before the database closes.
func TestKeepAuditAtStart(t *testing.T) {
	cfg, err := parseConfig(nil, func(k string) string {
		return map[string]string{"HUBDESK_AUDIT_RETENTION": "720h"}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	db, err := storage.OpenSQLite(ctx, filepath.Join(t.TempDir(), "hubdesk.db"), cheapBcrypt)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	now := time.Now()
	for _, age := range []time.Duration{1000 * time.Hour, 721 * time.Hour, 719 * time.Hour, time.Minute} {
		e := storage.AuditEntry{At: now.Add(-age), Actor: "ed", Action: storage.AuditTwinUpdate, Outcome: storage.AuditOK}
		if _, err := db.RecordAudit(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	var logs syncBuffer
	stop := keepAudit(ctx, db, cfg.AuditRetention, newLogger("text", "info", &logs))
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(logs.String(), "deleted=2") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	stop()
	entries, _, err := db.ListAudit(ctx, storage.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 2 || !strings.Contains(logs.String(), "audit retention: deleted old entries") {
		t.Errorf("%d entries left, want the 2 younger than 720h; log:\n%s", len(entries), logs.String())
	}
}

// syncBuffer is a buffer a background goroutine may log into.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
