package handlers_test

import (
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"testing"
)

// TestClientAddressBehindProxies: sign-in limits count against the client's
// address. X-Forwarded-For names it only when the request comes from a
// configured proxy; from anyone else the header is ignored, so that a
// guesser cannot escape the limit by inventing a new address per attempt.
func TestClientAddressBehindProxies(t *testing.T) {
	tests := []struct {
		name    string
		proxies []netip.Prefix
		limited bool // whether attempts with distinct forwarded addresses share one limit
	}{
		{"no proxies: the header is ignored", nil, true},
		{"a proxy elsewhere: the header is ignored", []netip.Prefix{netip.MustParsePrefix("10.9.9.9/32")}, true},
		{"from the proxy: each forwarded client has its own limit", []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newApp(t, appOptions{proxies: tt.proxies})
			b := a.browser()
			tok := b.csrf("/login")
			var last int
			for i := range 12 {
				// A new user name each time: only the address limit can bite.
				form := url.Values{"_csrf": {tok}, "name": {"guess" + strconv.Itoa(i)}, "password": {"wrong"}}
				req, err := http.NewRequest(http.MethodPost, a.url+"/login", strings.NewReader(form.Encode()))
				if err != nil {
					t.Fatal(err)
				}
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.Header.Set("X-Forwarded-For", "203.0.113."+strconv.Itoa(i+1))
				res, err := b.c.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				res.Body.Close()
				last = res.StatusCode
			}
			if got := last == http.StatusTooManyRequests; got != tt.limited {
				t.Errorf("12th attempt: status %d, want limited=%v", last, tt.limited)
			}
			want := "ip=127.0.0.1"
			if !tt.limited {
				want = "ip=203.0.113.12"
			}
			if !strings.Contains(a.logs.String(), want) {
				t.Errorf("logs do not name the client as %s:\n%s", want, a.logs.String())
			}
		})
	}
}
