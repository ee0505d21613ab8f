package emulator

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// right is a permission of a shared access policy.
type right uint8

const (
	rightRegistryRead right = 1 << iota
	rightRegistryWrite
	rightServiceConnect
	rightDeviceConnect
)

// Policy names of the hub's built-in shared access policies.
const (
	PolicyOwner             = "iothubowner"
	PolicyRegistryRead      = "registryRead"
	PolicyRegistryReadWrite = "registryReadWrite"
	PolicyService           = "service"
)

// policyRights are the rights of each built-in policy.
func policyRights(name string) right {
	switch name {
	case PolicyOwner:
		return rightRegistryRead | rightRegistryWrite | rightServiceConnect | rightDeviceConnect
	case PolicyRegistryRead:
		return rightRegistryRead
	case PolicyRegistryReadWrite:
		return rightRegistryRead | rightRegistryWrite
	case PolicyService:
		return rightServiceConnect
	}
	return 0
}

var policyNames = []string{PolicyOwner, PolicyRegistryRead, PolicyRegistryReadWrite, PolicyService}

// policyKeys are a policy's primary and secondary keys (base64).
type policyKeys struct {
	Primary   string `json:"primary"`
	Secondary string `json:"secondary"`
}

// tokenSkew is how long after its expiry a token is still accepted, as the
// hub tolerates clock drift.
const tokenSkew = 5 * time.Minute

// loadPolicies returns the policy keys. With an owner key they derive from
// it, so the same owner key always gives the same connection strings; without
// one they are random and kept in the store, so a durable hub keeps its keys.
func loadPolicies(s Store, ownerKey string) (map[string]policyKeys, error) {
	if ownerKey != "" {
		raw, err := base64.StdEncoding.DecodeString(ownerKey)
		if err != nil || len(raw) < 16 {
			return nil, fmt.Errorf("emulator: owner key must be base64 of at least 16 bytes")
		}
		derive := func(label string) string {
			m := hmac.New(sha256.New, raw)
			m.Write([]byte(label))
			return base64.StdEncoding.EncodeToString(m.Sum(nil))
		}
		keys := make(map[string]policyKeys, len(policyNames))
		for _, n := range policyNames {
			keys[n] = policyKeys{Primary: derive(n + "/primary"), Secondary: derive(n + "/secondary")}
		}
		keys[PolicyOwner] = policyKeys{Primary: ownerKey, Secondary: derive(PolicyOwner + "/secondary")}
		return keys, nil
	}
	var keys map[string]policyKeys
	err := s.Update(func(tx Tx) error {
		keys = nil
		if v := tx.Get(keyPolicies); v != nil {
			if err := json.Unmarshal(v, &keys); err == nil && len(keys) == len(policyNames) {
				return nil
			}
		}
		keys = make(map[string]policyKeys, len(policyNames))
		for _, n := range policyNames {
			keys[n] = policyKeys{Primary: randomKey(), Secondary: randomKey()}
		}
		b, err := json.Marshal(keys)
		if err != nil {
			return err
		}
		return tx.Put(keyPolicies, b)
	})
	if err != nil {
		return nil, fmt.Errorf("emulator: load policy keys: %w", err)
	}
	return keys, nil
}

// randomKey is a new 32-byte key in base64, as the hub generates.
func randomKey() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return base64.StdEncoding.EncodeToString(b[:])
}

// sasToken is a parsed SharedAccessSignature header.
type sasToken struct {
	srRaw, sr, sig, seRaw, skn string
	se                         int64
}

func parseSAS(h string) (sasToken, bool) {
	const prefix = "sharedaccesssignature "
	if len(h) < len(prefix) || !strings.EqualFold(h[:len(prefix)], prefix) {
		return sasToken{}, false
	}
	var t sasToken
	for field := range strings.SplitSeq(strings.TrimSpace(h[len(prefix):]), "&") {
		name, val, found := strings.Cut(field, "=")
		if !found {
			return sasToken{}, false
		}
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "sr":
			t.srRaw = val
		case "sig":
			t.sig = val
		case "se":
			t.seRaw = val
		case "skn":
			t.skn = val
		}
	}
	var err error
	if t.sr, err = url.QueryUnescape(t.srRaw); err != nil {
		return sasToken{}, false
	}
	if t.sig, err = url.QueryUnescape(t.sig); err != nil {
		return sasToken{}, false
	}
	if t.skn, err = url.QueryUnescape(t.skn); err != nil {
		return sasToken{}, false
	}
	if t.se, err = strconv.ParseInt(t.seRaw, 10, 64); err != nil {
		return sasToken{}, false
	}
	return t, t.sr != "" && t.sig != "" && t.skn != ""
}

// authorize checks the request's SAS token and that its policy has one of
// the wanted rights. Any failure is 401 IotHubUnauthorizedAccess, as the
// hub says nothing more.
func (e *Emulator) authorize(r *http.Request, want right) error {
	hdr := r.Header.Get("Authorization")
	t, ok := parseSAS(hdr)
	if !ok {
		return unauthorized()
	}
	keys, found := e.policies[t.skn]
	if !found || policyRights(t.skn)&want == 0 {
		return unauthorized()
	}
	if time.Unix(t.se, 0).Before(e.now().Add(-tokenSkew)) {
		return unauthorized()
	}
	if !e.signed.has(hdr) {
		sig, err := base64.StdEncoding.DecodeString(t.sig)
		if err != nil {
			return unauthorized()
		}
		if !signedBy(sig, t.srRaw+"\n"+t.seRaw, keys.Primary) && !signedBy(sig, t.srRaw+"\n"+t.seRaw, keys.Secondary) {
			return unauthorized()
		}
		e.signed.add(hdr)
	}
	sr := strings.TrimSuffix(strings.ToLower(t.sr), "/")
	for _, host := range []string{r.Host, e.hostName} {
		if host != "" && strings.HasPrefix(strings.ToLower(host+r.URL.Path), sr) {
			return nil
		}
	}
	return unauthorized()
}

func signedBy(sig []byte, msg, key string) bool {
	k, err := base64.StdEncoding.DecodeString(key)
	if err != nil {
		return false
	}
	m := hmac.New(sha256.New, k)
	m.Write([]byte(msg))
	return hmac.Equal(sig, m.Sum(nil))
}

// signatureCache is a set of Authorization headers whose HMAC was verified
// against the policy they name. The policies' keys never change while the
// emulator runs, so a header once verified stays verified; its expiry, the
// policy's rights and the resource are still checked on every request. Only
// verified headers enter, so it grows with the tokens real clients sign; it
// starts over when full.
type signatureCache struct {
	mu   sync.RWMutex
	seen map[string]struct{}
}

const maxSignatureCache = 4096

func (c *signatureCache) has(hdr string) bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	_, ok := c.seen[hdr]
	return ok
}

func (c *signatureCache) add(hdr string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.seen == nil || len(c.seen) >= maxSignatureCache {
		c.seen = make(map[string]struct{})
	}
	c.seen[hdr] = struct{}{}
}
