package hub

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// APIVersion is the IoT Hub service REST API version this package speaks.
const APIVersion = "2021-04-12"

// Status is whether a device may connect.
type Status string

// Device statuses.
const (
	StatusEnabled  Status = "enabled"
	StatusDisabled Status = "disabled"
)

// ConnectionState is whether a device or module is connected.
type ConnectionState string

// Connection states.
const (
	Connected    ConnectionState = "Connected"
	Disconnected ConnectionState = "Disconnected"
)

// AuthenticationType is how a device or module authenticates.
type AuthenticationType string

// Authentication types.
const (
	AuthSAS                  AuthenticationType = "sas"
	AuthSelfSigned           AuthenticationType = "selfSigned"
	AuthCertificateAuthority AuthenticationType = "certificateAuthority"
	AuthNone                 AuthenticationType = "none"
)

// Time is a hub timestamp. The hub writes UTC with up to seven fractional
// digits and a trailing Z, sometimes without the Z; a time never set is
// 0001-01-01T00:00:00Z, which is the zero Time.
type Time struct{ time.Time }

// timeLayouts are tried in order when parsing hub times.
var timeLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999"}

// ParseTime parses a hub timestamp, with or without a zone.
func ParseTime(s string) (Time, error) {
	for _, layout := range timeLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return Time{t.UTC()}, nil
		}
	}
	return Time{}, fmt.Errorf("hub: invalid time %q", s)
}

// String formats t as the hub does: RFC 3339 in UTC with at most seven
// fractional digits.
func (t Time) String() string {
	if t.IsZero() {
		return "0001-01-01T00:00:00Z"
	}
	return t.UTC().Truncate(100 * time.Nanosecond).Format(time.RFC3339Nano)
}

// MarshalJSON writes t in the hub's format.
func (t Time) MarshalJSON() ([]byte, error) {
	return []byte(`"` + t.String() + `"`), nil
}

// UnmarshalJSON accepts the hub's formats; null and "" are the zero Time.
func (t *Time) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*t = Time{}
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("hub: time must be a string: %w", err)
	}
	if strings.TrimSpace(s) == "" {
		*t = Time{}
		return nil
	}
	p, err := ParseTime(s)
	if err != nil {
		return err
	}
	if p.Year() == 1 {
		p = Time{}
	}
	*t = p
	return nil
}

// SymmetricKey holds a device's or module's two SAS keys (base64).
type SymmetricKey struct {
	PrimaryKey   string `json:"primaryKey"`
	SecondaryKey string `json:"secondaryKey"`
}

// X509Thumbprint holds the thumbprints of self-signed certificates (hex).
type X509Thumbprint struct {
	PrimaryThumbprint   string `json:"primaryThumbprint"`
	SecondaryThumbprint string `json:"secondaryThumbprint"`
}

// AuthenticationMechanism is how a device or module proves who it is.
type AuthenticationMechanism struct {
	SymmetricKey   *SymmetricKey      `json:"symmetricKey,omitempty"`
	X509Thumbprint *X509Thumbprint    `json:"x509Thumbprint,omitempty"`
	Type           AuthenticationType `json:"type"`
}

// DeviceCapabilities are the device's capabilities.
type DeviceCapabilities struct {
	IoTEdge bool `json:"iotEdge"`
}

// Device is a device identity in the hub's registry.
type Device struct {
	DeviceID                   string                   `json:"deviceId"`
	GenerationID               string                   `json:"generationId,omitempty"`
	ETag                       string                   `json:"etag,omitempty"`
	ConnectionState            ConnectionState          `json:"connectionState,omitempty"`
	Status                     Status                   `json:"status,omitempty"`
	StatusReason               string                   `json:"statusReason,omitempty"`
	ConnectionStateUpdatedTime Time                     `json:"connectionStateUpdatedTime"`
	StatusUpdatedTime          Time                     `json:"statusUpdatedTime"`
	LastActivityTime           Time                     `json:"lastActivityTime"`
	CloudToDeviceMessageCount  int64                    `json:"cloudToDeviceMessageCount"`
	Authentication             *AuthenticationMechanism `json:"authentication,omitempty"`
	Capabilities               *DeviceCapabilities      `json:"capabilities,omitempty"`
	DeviceScope                string                   `json:"deviceScope,omitempty"`
	ParentScopes               []string                 `json:"parentScopes,omitempty"`
}

// IsEdge reports whether the device is an IoT Edge device.
func (d *Device) IsEdge() bool { return d.Capabilities != nil && d.Capabilities.IoTEdge }

// Module is a module identity on a device.
type Module struct {
	ModuleID                   string                   `json:"moduleId"`
	DeviceID                   string                   `json:"deviceId"`
	ManagedBy                  string                   `json:"managedBy,omitempty"`
	GenerationID               string                   `json:"generationId,omitempty"`
	ETag                       string                   `json:"etag,omitempty"`
	ConnectionState            ConnectionState          `json:"connectionState,omitempty"`
	ConnectionStateUpdatedTime Time                     `json:"connectionStateUpdatedTime"`
	LastActivityTime           Time                     `json:"lastActivityTime"`
	CloudToDeviceMessageCount  int64                    `json:"cloudToDeviceMessageCount"`
	Authentication             *AuthenticationMechanism `json:"authentication,omitempty"`
}

// IsSystem reports whether the module is a system module ($edgeAgent,
// $edgeHub), whose twin the service API cannot change.
func (m *Module) IsSystem() bool { return IsSystemModuleID(m.ModuleID) }

// IsSystemModuleID reports whether id names a system module.
func IsSystemModuleID(id string) bool { return strings.HasPrefix(id, "$") }

// TwinProperties are a twin's desired and reported properties. Each is kept
// as the raw JSON object the hub sent, including $metadata and $version, so
// that key order and number precision survive a round trip.
type TwinProperties struct {
	Desired  json.RawMessage `json:"desired,omitempty"`
	Reported json.RawMessage `json:"reported,omitempty"`
}

// Twin is a device twin or, when ModuleID is set, a module twin.
type Twin struct {
	DeviceID                  string              `json:"deviceId"`
	ModuleID                  string              `json:"moduleId,omitempty"`
	ETag                      string              `json:"etag,omitempty"`
	DeviceETag                string              `json:"deviceEtag,omitempty"`
	Version                   int64               `json:"version,omitempty"`
	Status                    Status              `json:"status,omitempty"`
	StatusReason              string              `json:"statusReason,omitempty"`
	StatusUpdateTime          Time                `json:"statusUpdateTime,omitzero"`
	ConnectionState           ConnectionState     `json:"connectionState,omitempty"`
	LastActivityTime          Time                `json:"lastActivityTime,omitzero"`
	CloudToDeviceMessageCount int64               `json:"cloudToDeviceMessageCount,omitempty"`
	AuthenticationType        AuthenticationType  `json:"authenticationType,omitempty"`
	X509Thumbprint            *X509Thumbprint     `json:"x509Thumbprint,omitempty"`
	Capabilities              *DeviceCapabilities `json:"capabilities,omitempty"`
	DeviceScope               string              `json:"deviceScope,omitempty"`
	ParentScopes              []string            `json:"parentScopes,omitempty"`
	ModelID                   string              `json:"modelId"`
	Tags                      json.RawMessage     `json:"tags,omitempty"`
	Properties                TwinProperties      `json:"properties"`
}

// IsEdge reports whether the twin's device is an IoT Edge device.
func (t *Twin) IsEdge() bool { return t.Capabilities != nil && t.Capabilities.IoTEdge }

// TwinPatch is the body of a twin update (RFC 7386 merge patch) or replace:
// only tags and desired properties are written by the service API.
type TwinPatch struct {
	Tags       json.RawMessage      `json:"tags,omitempty"`
	Properties *TwinPatchProperties `json:"properties,omitempty"`
}

// TwinPatchProperties carries the desired properties of a TwinPatch.
type TwinPatchProperties struct {
	Desired json.RawMessage `json:"desired,omitempty"`
}

// Statistics are the registry's device counts.
type Statistics struct {
	TotalDeviceCount    int64 `json:"totalDeviceCount"`
	EnabledDeviceCount  int64 `json:"enabledDeviceCount"`
	DisabledDeviceCount int64 `json:"disabledDeviceCount"`
}

// Condition says which version of a resource a write is meant for.
// The zero Condition is invalid: callers choose IfMatch or Unconditional.
type Condition struct {
	etag  string
	force bool
}

// IfMatch makes a write apply only if the resource still has etag, the
// version the caller saw. Surrounding quotes and a W/ prefix are accepted.
func IfMatch(etag string) Condition { return Condition{etag: unquoteETag(etag)} }

// Unconditional makes a write apply whatever the resource's current version.
// It overwrites changes the caller has not seen: use it only on purpose.
func Unconditional() Condition { return Condition{force: true} }

// ETag is the etag the condition matches, "" for Unconditional.
func (c Condition) ETag() string { return c.etag }

// IsUnconditional reports whether c is Unconditional().
func (c Condition) IsUnconditional() bool { return c.force }

// header is the If-Match header value for c, or an error for a zero
// Condition or an empty etag.
func (c Condition) header() (string, error) {
	switch {
	case c.force:
		return `"*"`, nil
	case c.etag == "":
		return "", ErrNoCondition
	default:
		return `"` + c.etag + `"`, nil
	}
}

// unquoteETag strips a W/ prefix and surrounding double quotes.
func unquoteETag(s string) string {
	s = strings.TrimSpace(s)
	s = strings.TrimPrefix(s, "W/")
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		s = s[1 : len(s)-1]
	}
	return s
}
