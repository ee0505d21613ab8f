package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
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
				if c.SessionMaxAge != 12*time.Hour || c.HubConnString != "" {
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
