package emulator_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hubdesk/hubdesk/hub"
	"github.com/hubdesk/hubdesk/hub/emulator"
)

// rawToken builds a SharedAccessSignature header field by field, so that
// tests can reorder, recase and break them.
func rawToken(sr, key string, se int64, skn string, order []string, nameCase func(string) string) string {
	k, _ := base64.StdEncoding.DecodeString(key)
	srEnc := url.QueryEscape(sr)
	seText := strconv.FormatInt(se, 10)
	m := hmac.New(sha256.New, k)
	m.Write([]byte(srEnc + "\n" + seText))
	vals := map[string]string{
		"sr":  srEnc,
		"sig": url.QueryEscape(base64.StdEncoding.EncodeToString(m.Sum(nil))),
		"se":  seText,
		"skn": skn,
	}
	var parts []string
	for _, n := range order {
		parts = append(parts, nameCase(n)+"="+vals[n])
	}
	return "SharedAccessSignature " + strings.Join(parts, "&")
}

func TestSASValidation(t *testing.T) {
	h := newTestHub(t, emulator.Options{})
	h.createDevice("d1", nil)
	emu := h.srv.Emulator()
	owner := emu.PolicyKey(emulator.PolicyOwner)
	host := h.srv.HostName()
	future := time.Now().Add(time.Hour).Unix()
	std := []string{"sr", "sig", "se", "skn"}
	same := func(s string) string { return s }
	tests := []struct {
		name  string
		token string
		ok    bool
	}{
		{"standard", rawToken(host, owner, future, "iothubowner", std, same), true},
		{"fields reordered", rawToken(host, owner, future, "iothubowner", []string{"skn", "se", "sig", "sr"}, same), true},
		{"names upper case", rawToken(host, owner, future, "iothubowner", std, strings.ToUpper), true},
		{"sr with path", rawToken(host+"/devices", owner, future, "iothubowner", std, same), true},
		{"sr upper case host", rawToken(strings.ToUpper(host), owner, future, "iothubowner", std, same), true},
		{"sr trailing slash", rawToken(host+"/", owner, future, "iothubowner", std, same), true},
		{"sr other path", rawToken(host+"/twins", owner, future, "iothubowner", std, same), false},
		{"sr other host", rawToken("evil.example.com", owner, future, "iothubowner", std, same), false},
		{"expired 4 minutes ago", rawToken(host, owner, time.Now().Add(-4*time.Minute).Unix(), "iothubowner", std, same), true},
		{"expired 6 minutes ago", rawToken(host, owner, time.Now().Add(-6*time.Minute).Unix(), "iothubowner", std, same), false},
		{"wrong key", rawToken(host, emu.PolicyKey(emulator.PolicyService), future, "iothubowner", std, same), false},
		{"unknown policy", rawToken(host, owner, future, "nobody", std, same), false},
		{"no skn", rawToken(host, owner, future, "", []string{"sr", "sig", "se"}, same), false},
		{"no se", rawToken(host, owner, future, "iothubowner", []string{"sr", "sig", "skn"}, same), false},
		{"garbage", "SharedAccessSignature lol", false},
		{"wrong scheme", "Bearer abc", false},
		{"empty", "", false},
		{"secondary key", rawToken(host, emu.PolicySecondaryKey(emulator.PolicyOwner), future, "iothubowner", std, same), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := h.do(call{method: "GET", path: "/devices/d1", policy: "-", header: map[string]string{"Authorization": tt.token}})
			if tt.ok {
				want(t, r, 200, "")
			} else {
				want(t, r, 401, "IotHubUnauthorizedAccess")
				if !strings.Contains(string(r.body), "ErrorCode:IotHubUnauthorizedAccess;Unauthorized") {
					t.Errorf("body %s", r.body)
				}
			}
		})
	}
}

func TestOwnerKeyAndSecondaryKey(t *testing.T) {
	owner := base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))
	h := newTestHub(t, emulator.Options{OwnerKey: owner})
	if got := h.srv.Emulator().PolicyKey(emulator.PolicyOwner); got != owner {
		t.Fatalf("owner key %q, want %q", got, owner)
	}
	cs := h.srv.ConnectionString()
	if !strings.Contains(cs, "SharedAccessKeyName=iothubowner") || !strings.Contains(cs, "SharedAccessKey="+owner) ||
		!strings.HasPrefix(cs, "HostName="+h.srv.HostName()+";") {
		t.Errorf("connection string %q", cs)
	}
	// The same owner key gives the same keys to every policy.
	h2 := newTestHub(t, emulator.Options{OwnerKey: owner})
	for _, p := range []string{emulator.PolicyService, emulator.PolicyRegistryRead, emulator.PolicyRegistryReadWrite} {
		if h.srv.Emulator().PolicyKey(p) != h2.srv.Emulator().PolicyKey(p) {
			t.Errorf("policy %s key not derived from the owner key", p)
		}
	}
	if _, err := emulator.New(emulator.Options{OwnerKey: "not base64!"}); err == nil {
		t.Error("New accepted an invalid owner key")
	}
}

func TestPolicyRights(t *testing.T) {
	h := newTestHub(t, emulator.Options{})
	h.createDevice("d1", nil)
	ops := map[string]call{
		"get device":    {method: "GET", path: "/devices/d1"},
		"list devices":  {method: "GET", path: "/devices"},
		"statistics":    {method: "GET", path: "/statistics/devices"},
		"put device":    {method: "PUT", path: "/devices/d2", body: `{}`},
		"delete device": {method: "DELETE", path: "/devices/nope"},
		"get twin":      {method: "GET", path: "/twins/d1"},
		"patch twin":    {method: "PATCH", path: "/twins/d1", body: `{}`},
		"query":         {method: "POST", path: "/devices/query", body: `{"query":"SELECT * FROM devices"}`},
	}
	allowed := map[string][]string{
		emulator.PolicyOwner:             {"get device", "list devices", "statistics", "put device", "delete device", "get twin", "patch twin", "query"},
		emulator.PolicyRegistryRead:      {"get device", "list devices", "statistics", "query"},
		emulator.PolicyRegistryReadWrite: {"get device", "list devices", "statistics", "put device", "delete device", "query"},
		emulator.PolicyService:           {"get twin", "patch twin", "query"},
	}
	for policy, ok := range allowed {
		for name, c := range ops {
			t.Run(policy+" "+name, func(t *testing.T) {
				c.policy = policy
				r := h.do(c)
				isAllowed := strings.Contains(","+strings.Join(ok, ",")+",", ","+name+",")
				if isAllowed && r.status == 401 {
					t.Errorf("denied: %s", r.body)
				}
				if !isAllowed {
					want(t, r, 401, "IotHubUnauthorizedAccess")
				}
			})
		}
	}
}

func TestClientAgainstServer(t *testing.T) {
	h := newTestHub(t, emulator.Options{})
	c := h.srv.Client()
	if c.HostName() != h.srv.HostName() {
		t.Errorf("client host %q, server %q", c.HostName(), h.srv.HostName())
	}
	// The hub package's own signer must be accepted.
	tok, err := hub.SignSAS(h.srv.HostName(), "service", h.srv.Emulator().PolicyKey("service"), time.Now().Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	h.createDevice("d1", nil)
	want(t, h.do(call{method: "GET", path: "/twins/d1", policy: "-", header: map[string]string{"Authorization": tok}}), 200, "")
}

// TestVerifiedTokenStillExpires: a token whose signature was verified once
// is remembered, but its expiry is still checked on every request.
func TestVerifiedTokenStillExpires(t *testing.T) {
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	h := newTestHub(t, emulator.Options{Now: clock})
	h.createDevice("d1", nil)
	emu := h.srv.Emulator()
	tok := rawToken(h.srv.HostName(), emu.PolicyKey(emulator.PolicyOwner), now.Add(time.Minute).Unix(), "iothubowner",
		[]string{"sr", "sig", "se", "skn"}, func(s string) string { return s })
	get := call{method: "GET", path: "/devices/d1", policy: "-", header: map[string]string{"Authorization": tok}}
	want(t, h.do(get), 200, "")
	want(t, h.do(get), 200, "")
	mu.Lock()
	now = now.Add(time.Minute + 6*time.Minute)
	mu.Unlock()
	want(t, h.do(get), 401, "IotHubUnauthorizedAccess")
	// The same policy's rights and resource are still checked, too.
	other := get
	other.path = "/twins/d1"
	other.method = "PATCH"
	other.body = `{}`
	mu.Lock()
	now = now.Add(-7 * time.Minute)
	mu.Unlock()
	want(t, h.do(other), 200, "")
}
