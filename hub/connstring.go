package hub

import (
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"strings"
)

// ConnectionString is a parsed IoT Hub service connection string:
// HostName plus either a shared access policy (SharedAccessKeyName and
// SharedAccessKey) or a ready-made SharedAccessSignature.
//
// String, GoString and LogValue redact the key and the signature, so a
// ConnectionString can be printed or logged without leaking them.
type ConnectionString struct {
	// HostName is the hub's host, such as "myhub.azure-devices.net" (a port
	// is allowed, for emulators).
	HostName string
	// SharedAccessKeyName is the shared access policy, such as "iothubowner".
	SharedAccessKeyName string
	// SharedAccessKey is the policy's key, base64.
	SharedAccessKey string
	// SharedAccessSignature is a complete token ("SharedAccessSignature sr=...")
	// used as is instead of signing with a key.
	SharedAccessSignature string
}

// connection string part names, as the Azure portal writes them.
const (
	partHostName  = "HostName"
	partKeyName   = "SharedAccessKeyName"
	partKey       = "SharedAccessKey"
	partSignature = "SharedAccessSignature"
)

const redacted = "REDACTED"

// ParseConnectionString parses "HostName=...;SharedAccessKeyName=...;
// SharedAccessKey=..." (parts in any order, names case-insensitive,
// whitespace around parts and a trailing ";" tolerated), or the same with
// "SharedAccessSignature=..." instead of a key. Errors name the missing or
// malformed part and never contain the key or signature.
func ParseConnectionString(s string) (ConnectionString, error) {
	var cs ConnectionString
	seen := map[string]bool{}
	parts := strings.Split(s, ";")
	for i, part := range parts {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, value, ok := strings.Cut(part, "=")
		if !ok {
			// The text itself is not quoted: it may be a pasted key.
			return ConnectionString{}, fmt.Errorf("connection string: part %d has no '=' (want Name=value)", i+1)
		}
		name, value = strings.TrimSpace(name), strings.TrimSpace(value)
		var canonical string
		for _, n := range []string{partHostName, partKeyName, partKey, partSignature} {
			if strings.EqualFold(name, n) {
				canonical = n
			}
		}
		switch {
		case strings.EqualFold(name, "DeviceId") || strings.EqualFold(name, "ModuleId"):
			return ConnectionString{}, errors.New("connection string: this is a device connection string (it has DeviceId); use a hub shared access policy connection string, such as iothubowner's")
		case canonical == "":
			return ConnectionString{}, fmt.Errorf("connection string: part %d has an unknown name (want HostName, SharedAccessKeyName, SharedAccessKey or SharedAccessSignature)", i+1)
		case seen[canonical]:
			return ConnectionString{}, fmt.Errorf("connection string: %s given twice", canonical)
		}
		seen[canonical] = true
		switch canonical {
		case partHostName:
			cs.HostName = value
		case partKeyName:
			cs.SharedAccessKeyName = value
		case partKey:
			cs.SharedAccessKey = value
		case partSignature:
			cs.SharedAccessSignature = value
		}
	}
	if err := cs.validate(seen); err != nil {
		return ConnectionString{}, err
	}
	return cs, nil
}

// validate checks the parts present; seen says which were given at all.
func (cs ConnectionString) validate(seen map[string]bool) error {
	switch {
	case !seen[partHostName]:
		return errors.New("connection string: HostName is missing")
	case cs.HostName == "":
		return errors.New("connection string: HostName is empty")
	case strings.Contains(cs.HostName, "://"):
		return errors.New("connection string: HostName must be a host name such as myhub.azure-devices.net, not a URL")
	case strings.ContainsAny(cs.HostName, "/?#@ \t\r\n"):
		return errors.New("connection string: HostName is not a valid host name")
	case seen[partKey] && seen[partSignature]:
		return errors.New("connection string: give either SharedAccessKey or SharedAccessSignature, not both")
	case seen[partSignature]:
		if !strings.HasPrefix(cs.SharedAccessSignature, "SharedAccessSignature ") {
			return errors.New(`connection string: SharedAccessSignature must start with "SharedAccessSignature "`)
		}
		return nil
	case !seen[partKey]:
		return errors.New("connection string: SharedAccessKey is missing")
	case cs.SharedAccessKey == "":
		return errors.New("connection string: SharedAccessKey is empty")
	case !seen[partKeyName]:
		return errors.New("connection string: SharedAccessKeyName is missing")
	case cs.SharedAccessKeyName == "":
		return errors.New("connection string: SharedAccessKeyName is empty")
	}
	if _, err := base64.StdEncoding.DecodeString(cs.SharedAccessKey); err != nil {
		// err itself quotes the offending input: leave it out.
		return errors.New("connection string: SharedAccessKey is not valid base64")
	}
	return nil
}

// format writes the connection string with the secret part replaced by
// secret.
func (cs ConnectionString) format(secret func(string) string) string {
	var b strings.Builder
	b.WriteString(partHostName + "=" + cs.HostName)
	if cs.SharedAccessKeyName != "" {
		b.WriteString(";" + partKeyName + "=" + cs.SharedAccessKeyName)
	}
	if cs.SharedAccessKey != "" {
		b.WriteString(";" + partKey + "=" + secret(cs.SharedAccessKey))
	}
	if cs.SharedAccessSignature != "" {
		b.WriteString(";" + partSignature + "=" + secret(cs.SharedAccessSignature))
	}
	return b.String()
}

// String returns the connection string with the key or signature replaced
// by REDACTED.
func (cs ConnectionString) String() string {
	return cs.format(func(string) string { return redacted })
}

// GoString is String, so that %#v does not print the key either.
func (cs ConnectionString) GoString() string { return "hub.ConnectionString(" + cs.String() + ")" }

// LogValue is String, so that log/slog does not print the key either.
func (cs ConnectionString) LogValue() slog.Value { return slog.StringValue(cs.String()) }

// Secret returns the complete connection string, key included, for the
// rare caller that must hand it on (a config file, another tool).
func (cs ConnectionString) Secret() string {
	return cs.format(func(s string) string { return s })
}
