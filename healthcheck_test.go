package main

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestHealthcheck(t *testing.T) {
	healthy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" {
			http.NotFound(w, r)
		}
	}))
	defer healthy.Close()
	sick := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer sick.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()

	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		wantErr string
	}{
		{"HUBDESK_ADDR", nil, map[string]string{"HUBDESK_ADDR": strings.TrimPrefix(healthy.URL, "http://")}, ""},
		{"unspecified address means loopback", nil, map[string]string{"HUBDESK_ADDR": "0.0.0.0:" + healthy.URL[strings.LastIndex(healthy.URL, ":")+1:]}, ""},
		{"url flag", []string{"-url", healthy.URL + "/healthz"}, nil, ""},
		{"unhealthy", []string{"-url", sick.URL + "/healthz"}, nil, "503"},
		{"nothing listening", nil, map[string]string{"HUBDESK_ADDR": closed}, "healthcheck:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			getenv := func(k string) string { return tt.env[k] }
			err := run(context.Background(), append([]string{"healthcheck"}, tt.args...), getenv, &out, &out)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("err = %v", err)
			case tt.wantErr == "" && !strings.Contains(out.String(), "healthy"):
				t.Fatalf("output %q", out.String())
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("err = %v, want one mentioning %q", err, tt.wantErr)
			}
		})
	}
}
