package emulator

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/big"
	"strings"

	"github.com/hubdesk/hubdesk/hub"
)

// maxIDLength is the longest device or module id.
const maxIDLength = 128

// checkID enforces the hub's id rules: 1..128 characters of letters,
// digits and - : . + % _ # * ? ! ( ) , = @ ; $ '.
func checkID(kind, id string) error {
	if id == "" || len(id) > maxIDLength {
		return badRequest("%s id must be 1 to %d characters long.", kind, maxIDLength)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			strings.IndexByte("-:.+%_#*?!(),=@;$'", c) >= 0 {
			continue
		}
		return badRequest("%s id '%s' is invalid: it contains a character that is not allowed.", kind, id)
	}
	return nil
}

// members decodes a JSON object with member names lowercased, since the
// hub matches request member names case-insensitively. JSON null or an
// absent body is an empty object.
func members(b []byte) (map[string]json.RawMessage, error) {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || string(b) == "null" {
		return map[string]json.RawMessage{}, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	out := make(map[string]json.RawMessage, len(m))
	for k, v := range m {
		out[strings.ToLower(k)] = v
	}
	return out, nil
}

// isNull reports whether a member is absent or JSON null.
func isNull(v json.RawMessage) bool {
	v = bytes.TrimSpace(v)
	return len(v) == 0 || string(v) == "null"
}

// stringMember reads an optional string member; null and absent are "".
func stringMember(m map[string]json.RawMessage, name string) (string, error) {
	v := m[strings.ToLower(name)]
	if isNull(v) {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return "", badRequest("'%s' must be a string.", name)
	}
	return s, nil
}

// objectMember reads an optional object member; nil when absent or null.
func objectMember(m map[string]json.RawMessage, name string) (map[string]json.RawMessage, error) {
	v := m[strings.ToLower(name)]
	if isNull(v) {
		return nil, nil
	}
	o, err := members(v)
	if err != nil {
		return nil, badRequest("'%s' must be an object.", name)
	}
	return o, nil
}

// identityInput is what a device or module PUT may change. Every other
// member of the body is read-only and ignored, whatever its type.
type identityInput struct {
	deviceID     string
	moduleID     string
	managedBy    string
	status       hub.Status
	statusReason string
	auth         *hub.AuthenticationMechanism // nil: generate SAS keys
	iotEdge      bool
	deviceScope  string
	parentScopes []string
}

// decodeIdentity reads a device or module PUT body leniently: names match
// case-insensitively, read-only members are skipped unread.
func decodeIdentity(body []byte, module bool) (identityInput, error) {
	var in identityInput
	m, err := members(body)
	if err != nil {
		return in, formatError(err)
	}
	if in.deviceID, err = stringMember(m, "deviceId"); err != nil {
		return in, err
	}
	if in.auth, err = decodeAuth(m); err != nil {
		return in, err
	}
	if module {
		if in.moduleID, err = stringMember(m, "moduleId"); err != nil {
			return in, err
		}
		in.managedBy, err = stringMember(m, "managedBy")
		return in, err
	}
	status, err := stringMember(m, "status")
	if err != nil {
		return in, err
	}
	switch strings.ToLower(status) {
	case "", "enabled":
		in.status = hub.StatusEnabled
	case "disabled":
		in.status = hub.StatusDisabled
	default:
		return in, badRequest("Invalid status '%s': must be 'enabled' or 'disabled'.", status)
	}
	if in.statusReason, err = stringMember(m, "statusReason"); err != nil {
		return in, err
	}
	if len([]rune(in.statusReason)) > 128 {
		return in, badRequest("statusReason must be at most 128 characters.")
	}
	caps, err := objectMember(m, "capabilities")
	if err != nil {
		return in, err
	}
	if v := caps["iotedge"]; !isNull(v) {
		if err := json.Unmarshal(v, &in.iotEdge); err != nil {
			return in, badRequest("'capabilities.iotEdge' must be a boolean.")
		}
	}
	if in.deviceScope, err = stringMember(m, "deviceScope"); err != nil {
		return in, err
	}
	if v := m["parentscopes"]; !isNull(v) {
		if err := json.Unmarshal(v, &in.parentScopes); err != nil {
			return in, badRequest("'parentScopes' must be an array of strings.")
		}
	}
	return in, nil
}

// decodeAuth reads and checks the authentication member. It returns nil
// when the hub must generate SAS keys.
func decodeAuth(m map[string]json.RawMessage) (*hub.AuthenticationMechanism, error) {
	a, err := objectMember(m, "authentication")
	if err != nil || a == nil {
		return nil, err
	}
	typ, err := stringMember(a, "type")
	if err != nil {
		return nil, err
	}
	sk, err := objectMember(a, "symmetricKey")
	if err != nil {
		return nil, err
	}
	var primary, secondary string
	if sk != nil {
		if primary, err = stringMember(sk, "primaryKey"); err != nil {
			return nil, err
		}
		if secondary, err = stringMember(sk, "secondaryKey"); err != nil {
			return nil, err
		}
	}
	tp, err := objectMember(a, "x509Thumbprint")
	if err != nil {
		return nil, err
	}
	var pt, st string
	if tp != nil {
		if pt, err = stringMember(tp, "primaryThumbprint"); err != nil {
			return nil, err
		}
		if st, err = stringMember(tp, "secondaryThumbprint"); err != nil {
			return nil, err
		}
	}
	switch strings.ToLower(typ) {
	case "", "sas":
		switch {
		case primary == "" && secondary == "":
			return nil, nil
		case primary == "" || secondary == "":
			return nil, badRequest("Both primary and secondary keys must be specified, or neither.")
		}
		for _, k := range []string{primary, secondary} {
			raw, err := base64.StdEncoding.DecodeString(k)
			if err != nil || len(raw) < 16 || len(raw) > 64 {
				return nil, badRequest("The symmetric key must be base64 of 16 to 64 bytes.")
			}
		}
		return &hub.AuthenticationMechanism{
			Type:           hub.AuthSAS,
			SymmetricKey:   &hub.SymmetricKey{PrimaryKey: primary, SecondaryKey: secondary},
			X509Thumbprint: &hub.X509Thumbprint{},
		}, nil
	case "selfsigned":
		if pt == "" {
			return nil, badRequest("A self-signed device needs a primary thumbprint.")
		}
		for _, t := range []string{pt, st} {
			if t != "" && !isThumbprint(t) {
				return nil, badRequest("A thumbprint must be 40 or 64 hexadecimal characters.")
			}
		}
		return &hub.AuthenticationMechanism{
			Type:           hub.AuthSelfSigned,
			SymmetricKey:   &hub.SymmetricKey{},
			X509Thumbprint: &hub.X509Thumbprint{PrimaryThumbprint: pt, SecondaryThumbprint: st},
		}, nil
	case "certificateauthority":
		return &hub.AuthenticationMechanism{Type: hub.AuthCertificateAuthority,
			SymmetricKey: &hub.SymmetricKey{}, X509Thumbprint: &hub.X509Thumbprint{}}, nil
	case "none":
		return &hub.AuthenticationMechanism{Type: hub.AuthNone,
			SymmetricKey: &hub.SymmetricKey{}, X509Thumbprint: &hub.X509Thumbprint{}}, nil
	}
	return nil, badRequest("Invalid authentication type '%s'.", typ)
}

func isThumbprint(s string) bool {
	if len(s) != 40 && len(s) != 64 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

// generatedAuth is SAS authentication with two new keys.
func generatedAuth() *hub.AuthenticationMechanism {
	return &hub.AuthenticationMechanism{
		Type:           hub.AuthSAS,
		SymmetricKey:   &hub.SymmetricKey{PrimaryKey: randomKey(), SecondaryKey: randomKey()},
		X509Thumbprint: &hub.X509Thumbprint{},
	}
}

// newGenerationID is a new generation id: 18 decimal digits, like the hub's.
func newGenerationID() string {
	n, err := rand.Int(rand.Reader, big.NewInt(1e16))
	if err != nil {
		panic(fmt.Sprintf("crypto/rand: %v", err))
	}
	return fmt.Sprintf("63%016d", n)
}

// ifMatch is a parsed If-Match header.
type ifMatch struct {
	any  bool   // "*": unconditional
	etag string // a quoted etag, unquoted
}

// present reports whether the header asks for a condition at all.
func (c ifMatch) present() bool { return c.any || c.etag != "" }

// parseIfMatch reads If-Match as the hub does: * or "*" is unconditional,
// a quoted (or W/ quoted) value is an etag, and an unquoted value other
// than * is ignored.
func parseIfMatch(h string) ifMatch {
	h = strings.TrimSpace(h)
	h = strings.TrimPrefix(h, "W/")
	switch {
	case h == "*" || h == `"*"`:
		return ifMatch{any: true}
	case len(h) >= 2 && h[0] == '"' && h[len(h)-1] == '"':
		return ifMatch{etag: h[1 : len(h)-1]}
	}
	return ifMatch{}
}

// checkIdentityPut applies the create-or-update rules of an identity PUT
// (SPEC section 3). rec is the identity as stored when exists, or as the
// PUT would create it: without If-Match a PUT creates, so an identity that
// exists is a conflict; with If-Match it updates, so a missing identity is
// not found and, unless the condition is *, a stale etag fails the
// precondition. An update counts one more identity etag on rec.
func checkIdentityPut(kind string, exists bool, rec identityRecord, cond ifMatch, notFound, conflict func() error) error {
	switch {
	case !exists && cond.present():
		return notFound()
	case !exists:
		return nil
	case !cond.present():
		return conflict()
	}
	etagN, _ := rec.counters()
	if have := identityETag(etagN); !cond.any && cond.etag != have {
		return preconditionFailed(kind, have, cond.etag)
	}
	rec.nextETag()
	return nil
}
