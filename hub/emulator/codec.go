package emulator

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"
	"unsafe"

	"github.com/hubdesk/hubdesk/hub"
)

// Records are stored in a binary form, because a query may read every one
// of a million and JSON would cost a full parse of each. Records written
// before it are JSON objects, which start with '{'; they are still read,
// and rewritten in binary on their next write. The binary form is:
//
//	format byte (recordFormat), kind byte ('d' or 'm'),
//	uvarint identity etag counter, uvarint twin etag counter, varint twin version,
//	device: deviceId, generationId, connectionState, status, statusReason,
//	        connectionStateUpdatedTime, statusUpdatedTime, lastActivityTime,
//	        cloudToDeviceMessageCount, authentication, capabilities,
//	        deviceScope, parentScopes
//	module: moduleId, deviceId, managedBy, generationId, connectionState,
//	        connectionStateUpdatedTime, lastActivityTime,
//	        cloudToDeviceMessageCount, authentication
//	tags, desired and reported sections in twindoc's storage form.
//
// Strings and sections are a uvarint length and bytes; times are varint
// Unix seconds and uvarint nanoseconds; counts are varints. Authentication
// is a flag byte (authSet, authKeys, authThumbs), then the type and the
// keys and thumbprints the flags announce. Capabilities are a byte: 0 none,
// 1 not edge, 2 edge. parentScopes is a uvarint count and the strings.
const recordFormat = 2

// Flags of the authentication byte.
const (
	authSet    = 1 << iota // the identity has an authentication object
	authKeys               // ... with symmetric keys
	authThumbs             // ... with X.509 thumbprints
)

var errCorruptRecord = errors.New("corrupt record")

// isLegacyRecord reports whether v is a record stored as JSON.
func isLegacyRecord(v []byte) bool { return len(v) > 0 && v[0] == '{' }

// authFields is an identity's authentication as stored.
type authFields struct {
	flags                        byte
	typ                          string
	primaryKey, secondaryKey     string
	primaryThumb, secondaryThumb string
}

// recordFields are the fields of a binary record. The strings are
// substrings of the string parsed, so parsing allocates nothing.
type recordFields struct {
	module          bool
	etagN           int64
	twinETagN       uint64
	twinVersion     int64
	deviceID        string
	moduleID        string
	managedBy       string
	generationID    string
	connectionState string
	status          string
	statusReason    string
	connStateTime   time.Time
	statusTime      time.Time
	activityTime    time.Time
	c2d             int64
	auth            authFields
	caps            byte
	deviceScope     string
	parentScopes    int    // count
	scopes          string // the encoded parentScopes strings
	tags            string
	desired         string
	reported        string
}

// recordReader reads the binary form.
type recordReader struct {
	s   string
	i   int
	err error
}

func (r *recordReader) fail() {
	if r.err == nil {
		r.err = errCorruptRecord
	}
}

func (r *recordReader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	var x uint64
	for i, shift := 0, uint(0); i < binary.MaxVarintLen64 && r.i < len(r.s); i, shift = i+1, shift+7 {
		b := r.s[r.i]
		r.i++
		if b < 0x80 {
			if i == binary.MaxVarintLen64-1 && b > 1 {
				break
			}
			return x | uint64(b)<<shift
		}
		x |= uint64(b&0x7f) << shift
	}
	r.fail()
	return 0
}

func (r *recordReader) varint() int64 {
	u := r.uvarint()
	x := int64(u >> 1)
	if u&1 != 0 {
		x = ^x
	}
	return x
}

func (r *recordReader) byte() byte {
	if r.err != nil || r.i >= len(r.s) {
		r.fail()
		return 0
	}
	b := r.s[r.i]
	r.i++
	return b
}

func (r *recordReader) str() string {
	n := r.uvarint()
	if n > uint64(len(r.s)-r.i) {
		r.fail()
		return ""
	}
	s := r.s[r.i : r.i+int(n)]
	r.i += int(n)
	return s
}

// zeroUnix is the Unix time of the zero time.Time, which stands for a time
// never set.
var zeroUnix = time.Time{}.Unix()

func (r *recordReader) time() time.Time {
	sec := r.varint()
	nsec := r.uvarint()
	if nsec >= 1e9 {
		r.fail()
	}
	if r.err != nil || sec == zeroUnix && nsec == 0 {
		return time.Time{}
	}
	return time.Unix(sec, int64(nsec)).UTC()
}

// parseRecord reads the binary record s into f.
func parseRecord(s string, f *recordFields) error {
	r := recordReader{s: s}
	if r.byte() != recordFormat {
		return errCorruptRecord
	}
	switch r.byte() {
	case 'd':
		f.module = false
	case 'm':
		f.module = true
	default:
		return errCorruptRecord
	}
	f.etagN = int64(r.uvarint())
	f.twinETagN = r.uvarint()
	f.twinVersion = r.varint()
	if f.module {
		f.moduleID, f.deviceID, f.managedBy, f.generationID = r.str(), r.str(), r.str(), r.str()
		f.connectionState = r.str()
		f.status, f.statusReason = "", ""
		f.connStateTime, f.statusTime, f.activityTime = r.time(), time.Time{}, r.time()
	} else {
		f.moduleID, f.managedBy = "", ""
		f.deviceID, f.generationID, f.connectionState = r.str(), r.str(), r.str()
		f.status, f.statusReason = r.str(), r.str()
		f.connStateTime, f.statusTime, f.activityTime = r.time(), r.time(), r.time()
	}
	f.c2d = r.varint()
	a := &f.auth
	*a = authFields{flags: r.byte()}
	if a.flags&authSet != 0 {
		a.typ = r.str()
		if a.flags&authKeys != 0 {
			a.primaryKey, a.secondaryKey = r.str(), r.str()
		}
		if a.flags&authThumbs != 0 {
			a.primaryThumb, a.secondaryThumb = r.str(), r.str()
		}
	}
	f.caps, f.deviceScope, f.parentScopes, f.scopes = 0, "", 0, ""
	if !f.module {
		f.caps = r.byte()
		f.deviceScope = r.str()
		n := r.uvarint()
		start := r.i
		for range n {
			r.str()
		}
		f.parentScopes, f.scopes = int(n), s[start:r.i]
	}
	f.tags, f.desired, f.reported = r.str(), r.str(), r.str()
	if r.err != nil || r.i != len(s) || f.caps > 2 || f.etagN < 0 {
		return errCorruptRecord
	}
	return nil
}

// parentScope returns parent scope i of f.
func (f *recordFields) parentScope(i int) string {
	r := recordReader{s: f.scopes}
	for range i {
		r.str()
	}
	return r.str()
}

// recordWriter appends the binary form.
type recordWriter struct{ b []byte }

func (w *recordWriter) uvarint(x uint64) { w.b = binary.AppendUvarint(w.b, x) }
func (w *recordWriter) varint(x int64)   { w.b = binary.AppendVarint(w.b, x) }

func (w *recordWriter) str(s string) {
	w.uvarint(uint64(len(s)))
	w.b = append(w.b, s...)
}

func (w *recordWriter) time(t time.Time) {
	if t.IsZero() {
		w.varint(zeroUnix)
		w.uvarint(0)
		return
	}
	// The hub shows times to 100 ns, and JSON records kept no more.
	t = t.UTC().Truncate(100 * time.Nanosecond)
	w.varint(t.Unix())
	w.uvarint(uint64(t.Nanosecond()))
}

func (w *recordWriter) auth(a *hub.AuthenticationMechanism) {
	if a == nil {
		w.b = append(w.b, 0)
		return
	}
	flags := byte(authSet)
	if a.SymmetricKey != nil {
		flags |= authKeys
	}
	if a.X509Thumbprint != nil {
		flags |= authThumbs
	}
	w.b = append(w.b, flags)
	w.str(string(a.Type))
	if a.SymmetricKey != nil {
		w.str(a.SymmetricKey.PrimaryKey)
		w.str(a.SymmetricKey.SecondaryKey)
	}
	if a.X509Thumbprint != nil {
		w.str(a.X509Thumbprint.PrimaryThumbprint)
		w.str(a.X509Thumbprint.SecondaryThumbprint)
	}
}

func (w *recordWriter) head(kind byte, etagN int64, t *twinRecord) {
	w.b = append(w.b, recordFormat, kind)
	w.uvarint(uint64(etagN))
	w.uvarint(t.ETagN)
	w.varint(t.Version)
}

func (w *recordWriter) sections(t *twinRecord) {
	w.str(string(t.Tags))
	w.str(string(t.Desired))
	w.str(string(t.Reported))
}

func encodeDevice(b []byte, rec *deviceRecord) []byte {
	w := recordWriter{b: b}
	d := &rec.Device
	w.head('d', rec.ETagN, &rec.Twin)
	w.str(d.DeviceID)
	w.str(d.GenerationID)
	w.str(string(d.ConnectionState))
	w.str(string(d.Status))
	w.str(d.StatusReason)
	w.time(d.ConnectionStateUpdatedTime.Time)
	w.time(d.StatusUpdatedTime.Time)
	w.time(d.LastActivityTime.Time)
	w.varint(d.CloudToDeviceMessageCount)
	w.auth(d.Authentication)
	switch {
	case d.Capabilities == nil:
		w.b = append(w.b, 0)
	case d.Capabilities.IoTEdge:
		w.b = append(w.b, 2)
	default:
		w.b = append(w.b, 1)
	}
	w.str(d.DeviceScope)
	w.uvarint(uint64(len(d.ParentScopes)))
	for _, p := range d.ParentScopes {
		w.str(p)
	}
	w.sections(&rec.Twin)
	return w.b
}

func encodeModule(b []byte, rec *moduleRecord) []byte {
	w := recordWriter{b: b}
	m := &rec.Module
	w.head('m', rec.ETagN, &rec.Twin)
	w.str(m.ModuleID)
	w.str(m.DeviceID)
	w.str(m.ManagedBy)
	w.str(m.GenerationID)
	w.str(string(m.ConnectionState))
	w.time(m.ConnectionStateUpdatedTime.Time)
	w.time(m.LastActivityTime.Time)
	w.varint(m.CloudToDeviceMessageCount)
	w.auth(m.Authentication)
	w.sections(&rec.Twin)
	return w.b
}

// authMechanism rebuilds the stored authentication.
func (a *authFields) mechanism() *hub.AuthenticationMechanism {
	if a.flags&authSet == 0 {
		return nil
	}
	m := &hub.AuthenticationMechanism{Type: hub.AuthenticationType(a.typ)}
	if a.flags&authKeys != 0 {
		m.SymmetricKey = &hub.SymmetricKey{PrimaryKey: a.primaryKey, SecondaryKey: a.secondaryKey}
	}
	if a.flags&authThumbs != 0 {
		m.X509Thumbprint = &hub.X509Thumbprint{PrimaryThumbprint: a.primaryThumb, SecondaryThumbprint: a.secondaryThumb}
	}
	return m
}

// bytesString is b as a string without a copy. The caller must not change
// b while the string or any substring of it is in use: records are parsed
// from private copies that are never written, or from a store's value
// inside the callback that lends it.
func bytesString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// twin returns the stored twin of the record b that f was parsed from.
// Its sections alias b.
func (f *recordFields) twin(b []byte) twinRecord {
	// The sections end the record: find them by length from the end.
	n := len(b)
	rep := b[n-len(f.reported) : n : n]
	n -= len(f.reported)
	n -= uvarintLen(uint64(len(f.reported)))
	des := b[n-len(f.desired) : n : n]
	n -= len(f.desired)
	n -= uvarintLen(uint64(len(f.desired)))
	tags := b[n-len(f.tags) : n : n]
	return twinRecord{ETagN: f.twinETagN, Version: f.twinVersion, Tags: tags, Desired: des, Reported: rep}
}

func uvarintLen(x uint64) int {
	n := 1
	for ; x >= 0x80; x >>= 7 {
		n++
	}
	return n
}

// decodeBinaryDevice decodes a binary device record; the result shares no
// memory with v.
func decodeBinaryDevice(v []byte) (*deviceRecord, error) {
	b := append([]byte(nil), v...)
	var f recordFields
	if err := parseRecord(bytesString(b), &f); err != nil || f.module {
		return nil, fmt.Errorf("decode device record: %w", errCorruptRecord)
	}
	rec := &deviceRecord{
		Device: hub.Device{
			DeviceID:                   f.deviceID,
			GenerationID:               f.generationID,
			ETag:                       identityETag(f.etagN),
			ConnectionState:            hub.ConnectionState(f.connectionState),
			Status:                     hub.Status(f.status),
			StatusReason:               f.statusReason,
			ConnectionStateUpdatedTime: hub.Time{Time: f.connStateTime},
			StatusUpdatedTime:          hub.Time{Time: f.statusTime},
			LastActivityTime:           hub.Time{Time: f.activityTime},
			CloudToDeviceMessageCount:  f.c2d,
			Authentication:             f.auth.mechanism(),
			DeviceScope:                f.deviceScope,
		},
		ETagN: f.etagN,
		Twin:  f.twin(b),
	}
	if f.caps > 0 {
		rec.Device.Capabilities = &hub.DeviceCapabilities{IoTEdge: f.caps == 2}
	}
	if f.parentScopes > 0 {
		rec.Device.ParentScopes = make([]string, f.parentScopes)
		r := recordReader{s: f.scopes}
		for i := range rec.Device.ParentScopes {
			rec.Device.ParentScopes[i] = r.str()
		}
	}
	return rec, nil
}

// decodeBinaryModule decodes a binary module record; the result shares no
// memory with v.
func decodeBinaryModule(v []byte) (*moduleRecord, error) {
	b := append([]byte(nil), v...)
	var f recordFields
	if err := parseRecord(bytesString(b), &f); err != nil || !f.module {
		return nil, fmt.Errorf("decode module record: %w", errCorruptRecord)
	}
	return &moduleRecord{
		Module: hub.Module{
			ModuleID:                   f.moduleID,
			DeviceID:                   f.deviceID,
			ManagedBy:                  f.managedBy,
			GenerationID:               f.generationID,
			ETag:                       identityETag(f.etagN),
			ConnectionState:            hub.ConnectionState(f.connectionState),
			ConnectionStateUpdatedTime: hub.Time{Time: f.connStateTime},
			LastActivityTime:           hub.Time{Time: f.activityTime},
			CloudToDeviceMessageCount:  f.c2d,
			Authentication:             f.auth.mechanism(),
		},
		ETagN: f.etagN,
		Twin:  f.twin(b),
	}, nil
}

// decodeLegacyDevice and decodeLegacyModule read records stored as JSON.
func decodeLegacyDevice(v []byte) (*deviceRecord, error) {
	var rec deviceRecord
	if err := json.Unmarshal(v, &rec); err != nil {
		return nil, fmt.Errorf("decode device record: %w", err)
	}
	return &rec, nil
}

func decodeLegacyModule(v []byte) (*moduleRecord, error) {
	var rec moduleRecord
	if err := json.Unmarshal(v, &rec); err != nil {
		return nil, fmt.Errorf("decode module record: %w", err)
	}
	return &rec, nil
}
