package emulator

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hubdesk/hubdesk/hub"
)

// fuzzHost is the fuzzed emulator's host name.
const fuzzHost = "hub.example"

// fuzzEmulator is an emulator with fixed keys and a fixed clock.
func fuzzEmulator(f *testing.F) (*Emulator, time.Time) {
	f.Helper()
	now := time.Unix(1_800_000_000, 0)
	e, err := New(Options{HostName: fuzzHost, OwnerKey: base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef")),
		Now: func() time.Time { return now }})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { e.Close() })
	return e, now
}

// sasModel is the SAS check as the spec (SPEC-hub.md section 6) states it,
// written apart from auth.go: it says whether header authorises a request
// for host+path needing want.
func sasModel(e *Emulator, now time.Time, header, host, path string, want right) bool {
	const prefix = "sharedaccesssignature "
	if len(header) < len(prefix) || strings.ToLower(header[:len(prefix)]) != prefix {
		return false
	}
	fields := map[string]string{}
	for _, f := range strings.Split(strings.TrimSpace(header[len(prefix):]), "&") {
		i := strings.IndexByte(f, '=')
		if i < 0 {
			return false
		}
		fields[strings.ToLower(strings.TrimSpace(f[:i]))] = f[i+1:]
	}
	sr, err1 := url.QueryUnescape(fields["sr"])
	sig, err2 := url.QueryUnescape(fields["sig"])
	skn, err3 := url.QueryUnescape(fields["skn"])
	se, err4 := strconv.ParseInt(fields["se"], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil || err4 != nil || sr == "" || sig == "" || skn == "" {
		return false
	}
	keys, ok := e.policies[skn]
	if !ok || policyRights(skn)&want == 0 || time.Unix(se, 0).Add(tokenSkew).Before(now) {
		return false
	}
	mac, err := base64.StdEncoding.DecodeString(sig)
	if err != nil {
		return false
	}
	signed := false
	for _, k := range []string{keys.Primary, keys.Secondary} {
		raw, _ := base64.StdEncoding.DecodeString(k)
		m := hmac.New(sha256.New, raw)
		m.Write([]byte(fields["sr"] + "\n" + fields["se"]))
		signed = signed || hmac.Equal(mac, m.Sum(nil))
	}
	if !signed {
		return false
	}
	sr = strings.TrimSuffix(strings.ToLower(sr), "/")
	for _, h := range []string{host, fuzzHost} {
		if h != "" && strings.HasPrefix(strings.ToLower(h+path), sr) {
			return true
		}
	}
	return false
}

var fuzzRights = []right{rightRegistryRead, rightRegistryWrite, rightServiceConnect}

// FuzzSASHeader feeds arbitrary Authorization headers, hosts and paths to
// the emulator's SAS check: it must never panic, a parsed token must have
// its required fields, and a token is accepted exactly when the spec's
// check accepts it, for every right.
func FuzzSASHeader(f *testing.F) {
	e, now := fuzzEmulator(f)
	owner := e.policies[PolicyOwner]
	valid, err := hub.SignSAS(fuzzHost, PolicyOwner, owner.Primary, now.Add(time.Hour))
	if err != nil {
		f.Fatal(err)
	}
	read, _ := hub.SignSAS(fuzzHost+"/devices", PolicyRegistryRead, e.policies[PolicyRegistryRead].Secondary, now.Add(-4*time.Minute))
	for _, s := range []struct{ header, host, path string }{
		{valid, fuzzHost, "/devices/d1"},
		{valid, "other.example", "/devices/d1"},
		{read, fuzzHost, "/devices/d1"},
		{read, fuzzHost, "/twins/d1"},
		{strings.ToUpper(valid[:22]) + valid[22:], fuzzHost, "/"},
		{strings.Replace(valid, "&", "& ", 1), fuzzHost, "/"},
		{valid + "&", fuzzHost, "/"},
		{valid + "&sig=AAAA", fuzzHost, "/"},
		{"SharedAccessSignature sr=%zz&sig=a&se=1&skn=b", "", ""},
		{"SharedAccessSignature ", "", ""},
		{"sharedaccesssignature sr=hub.example&sig=&se=9999999999&skn=iothubowner", fuzzHost, "/"},
		{"SharedAccessSignature sr=hub.example&sig=abc%3D&se=-9223372036854775808&skn=iothubowner", fuzzHost, "/"},
	} {
		f.Add(s.header, s.host, s.path)
	}
	f.Fuzz(func(t *testing.T, header, host, path string) {
		if tok, ok := parseSAS(header); ok && (tok.sr == "" || tok.sig == "" || tok.skn == "") {
			t.Fatalf("parsed %q with a field missing: %+v", header, tok)
		}
		for _, want := range fuzzRights {
			r := &http.Request{Host: host, URL: &url.URL{Path: path}, Header: http.Header{"Authorization": {header}}}
			got := e.authorize(r, want) == nil
			if model := sasModel(e, now, header, host, path, want); got != model {
				t.Fatalf("right %d, host %q, path %q, %q: accepted %v, the spec says %v", want, host, path, header, got, model)
			}
		}
	})
}

// FuzzSASSigned signs tokens the way clients do (hub.SignSAS) with any
// resource, policy name, expiry and one of the hub's keys or a stranger's,
// and checks the emulator accepts exactly the ones that should pass: the
// round trip of the client's signing and the emulator's checking.
func FuzzSASSigned(f *testing.F) {
	e, now := fuzzEmulator(f)
	type key struct{ policy, key string }
	var keys []key
	for _, p := range policyNames {
		keys = append(keys, key{p, e.policies[p].Primary}, key{p, e.policies[p].Secondary})
	}
	keys = append(keys, key{"", base64.StdEncoding.EncodeToString([]byte("a stranger's key, 32 bytes long!"))})
	for _, s := range []struct {
		resource, policy string
		key              uint8
		expiry           int64
		path             string
	}{
		{fuzzHost, PolicyOwner, 0, 3600, "/devices/d1"},
		{fuzzHost + "/devices", PolicyRegistryRead, 3, -240, "/devices/d1"},
		{fuzzHost + "/devices", PolicyRegistryRead, 3, -360, "/devices/d1"},
		{"HUB.EXAMPLE/", PolicyService, 6, 60, "/twins/d1"},
		{fuzzHost, PolicyOwner, 8, 3600, "/"},
		{fuzzHost, PolicyService, 0, 3600, "/"},
		{"hub.example/twins&x=y", "iothubowner&skn=service", 0, 3600, "/twins&x=y"},
		{fuzzHost, PolicyRegistryReadWrite, 2, 3600, "/"},
	} {
		f.Add(s.resource, s.policy, s.key, s.expiry, s.path)
	}
	f.Fuzz(func(t *testing.T, resource, policy string, keyIndex uint8, expiry int64, path string) {
		k := keys[int(keyIndex)%len(keys)]
		se := now.Unix() + expiry
		if (expiry > 0) != (se > now.Unix()) {
			return // overflowed
		}
		tok, err := hub.SignSAS(resource, policy, k.key, time.Unix(se, 0))
		if err != nil {
			if resource != "" {
				t.Fatalf("SignSAS(%q, %q): %v", resource, policy, err)
			}
			return
		}
		if strings.Contains(tok, k.key) {
			t.Fatalf("the token %q holds the key", tok)
		}
		for _, want := range fuzzRights {
			r := &http.Request{Host: fuzzHost, URL: &url.URL{Path: path}, Header: http.Header{"Authorization": {tok}}}
			got := e.authorize(r, want) == nil
			sr := strings.TrimSuffix(strings.ToLower(resource), "/")
			should := policy != "" && k.policy == policy && policyRights(policy)&want != 0 &&
				expiry >= -int64(tokenSkew/time.Second) && strings.HasPrefix(strings.ToLower(fuzzHost+path), sr)
			if got != should {
				t.Fatalf("right %d: %q signed with %s's key, path %q: accepted %v, want %v", want, tok, k.policy, path, got, should)
			}
		}
	})
}
