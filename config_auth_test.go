package main

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/hubdesk/hubdesk/storage"
)

func TestParseConfigSingleSignOn(t *testing.T) {
	full := map[string]string{
		"HUBDESK_AUTH_PROXY_HEADER":        "x-forwarded-user",
		"HUBDESK_AUTH_PROXY_GROUPS_HEADER": "X-Forwarded-Groups",
		"HUBDESK_AUTH_TRUSTED_PROXIES":     "10.0.0.5, 192.168.10.0/24,::1",
		"HUBDESK_AUTH_GROUP_ROLES":         "iot-admins=admin, iot-support=editor,staff=viewer",
	}
	with := func(k, v string) map[string]string {
		env := map[string]string{}
		for key, val := range full {
			env[key] = val
		}
		env[k] = v
		return env
	}
	tests := []struct {
		name    string
		env     map[string]string
		wantErr []string
	}{
		{name: "off by default", env: map[string]string{}},
		{name: "complete", env: full},
		{name: "no trusted proxies", env: with("HUBDESK_AUTH_TRUSTED_PROXIES", ""), wantErr: []string{"auth-trusted-proxies: required"}},
		{name: "no groups header", env: with("HUBDESK_AUTH_PROXY_GROUPS_HEADER", ""), wantErr: []string{"auth-proxy-groups-header: required"}},
		{name: "no group roles", env: with("HUBDESK_AUTH_GROUP_ROLES", ""), wantErr: []string{"auth-group-roles: required"}},
		{name: "bad proxy address", env: with("HUBDESK_AUTH_TRUSTED_PROXIES", "10.0.0.5,proxy.internal"), wantErr: []string{`auth-trusted-proxies: "proxy.internal" is not an IP address or CIDR prefix`}},
		{name: "bad prefix", env: with("HUBDESK_AUTH_TRUSTED_PROXIES", "10.0.0.0/40"), wantErr: []string{"auth-trusted-proxies"}},
		{name: "unknown role", env: with("HUBDESK_AUTH_GROUP_ROLES", "ops=root"), wantErr: []string{`auth-group-roles: "ops=root": unknown role`}},
		{name: "pair without role", env: with("HUBDESK_AUTH_GROUP_ROLES", "ops"), wantErr: []string{"want group=role"}},
		{name: "group with two roles", env: with("HUBDESK_AUTH_GROUP_ROLES", "ops=admin,OPS=viewer"), wantErr: []string{"mapped to both"}},
		{name: "bad header name", env: with("HUBDESK_AUTH_PROXY_HEADER", "X User"), wantErr: []string{"auth-proxy-header", "not an HTTP header name"}},
		{
			name:    "everything missing is reported at once",
			env:     map[string]string{"HUBDESK_AUTH_PROXY_HEADER": "X-Forwarded-User"},
			wantErr: []string{"auth-trusted-proxies: required", "auth-proxy-groups-header: required", "auth-group-roles: required"},
		},
		{
			name:    "settings without the header",
			env:     map[string]string{"HUBDESK_AUTH_TRUSTED_PROXIES": "10.0.0.5"},
			wantErr: []string{"auth-proxy-header: the other auth-* settings do nothing without it"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parseConfig(nil, func(k string) string { return tt.env[k] })
			if len(tt.wantErr) > 0 {
				if err == nil {
					t.Fatalf("no error; config %+v", c.ProxyAuth)
				}
				for _, want := range tt.wantErr {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("error %q lacks %q", err, want)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.env["HUBDESK_AUTH_PROXY_HEADER"] == "" {
				if c.ProxyAuth.UserHeader != "" {
					t.Errorf("single sign-on is on: %+v", c.ProxyAuth)
				}
				return
			}
			p := c.ProxyAuth
			if p.UserHeader != "X-Forwarded-User" || p.GroupsHeader != "X-Forwarded-Groups" {
				t.Errorf("headers %q %q", p.UserHeader, p.GroupsHeader)
			}
			wantTrusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.5/32"), netip.MustParsePrefix("192.168.10.0/24"), netip.MustParsePrefix("::1/128")}
			if len(p.Trusted) != len(wantTrusted) {
				t.Fatalf("trusted %v", p.Trusted)
			}
			for i := range wantTrusted {
				if p.Trusted[i] != wantTrusted[i] {
					t.Errorf("trusted[%d] = %v, want %v", i, p.Trusted[i], wantTrusted[i])
				}
			}
			if len(p.Roles) != 3 || p.Roles[0].Group != "iot-admins" || p.Roles[0].Role != storage.RoleAdmin || p.Roles[2].Role != storage.RoleViewer {
				t.Errorf("roles %+v", p.Roles)
			}
		})
	}
}
