package emulator

import (
	"encoding/base64"
	"encoding/binary"
	"strconv"
	"time"

	"github.com/hubdesk/hubdesk/hub/emulator/internal/twindoc"
	"github.com/hubdesk/hubdesk/hub/emulator/query"
)

// twinView is a stored twin as a query's condition reads it (query.Doc):
// each field comes straight from the record's bytes, and a section is only
// looked at when the condition reads a path in it, so a scan of a million
// twins builds no document. It holds the document that twinDoc builds,
// field for field; the differential test holds it to that.
//
// A view reads the bytes a store lends to one Ascend callback, so it must
// not be used after the callback returns; load reuses it for the next one.
type twinView struct {
	from   query.Source
	f      recordFields
	err    error // corrupt bytes met while reading a section
	legacy []byte

	secs [3]viewSection // tags, desired, reported

	// Fields the record holds in another form are formatted on demand, each
	// into a buffer of its own, since a comparison holds two at once.
	etag, deviceEtag       [32]byte
	statusTime, activeTime [40]byte
}

// viewSection is a section's root, found when first read.
type viewSection struct {
	read    bool
	root    twindoc.Node
	version int64
}

// load points v at the stored record raw.
func (v *twinView) load(raw []byte) error {
	v.err = nil
	v.secs = [3]viewSection{}
	if isLegacyRecord(raw) {
		// Records from before the binary form are rare: convert them.
		var err error
		if v.legacy, err = legacyBinary(v.legacy[:0], v.from, raw); err != nil {
			return err
		}
		raw = v.legacy
	}
	if err := parseRecord(bytesString(raw), &v.f); err != nil {
		return err
	}
	if v.f.module != (v.from == query.Modules) {
		return errCorruptRecord
	}
	return nil
}

func legacyBinary(b []byte, from query.Source, raw []byte) ([]byte, error) {
	if from == query.Modules {
		rec, err := decodeLegacyModule(raw)
		if err != nil {
			return nil, err
		}
		return encodeModule(b, rec), nil
	}
	rec, err := decodeLegacyDevice(raw)
	if err != nil {
		return nil, err
	}
	return encodeDevice(b, rec), nil
}

// leaf is val at a path that ends at it; deeper paths are undefined.
func leaf(p query.Path, val query.Value) query.Value {
	if len(p) != 1 {
		return query.Value{}
	}
	return val
}

// Field implements query.Doc.
func (v *twinView) Field(p query.Path) query.Value {
	f := &v.f
	device := !f.module
	switch p[0].Key {
	case "deviceId":
		return leaf(p, query.StringValue(f.deviceID))
	case "moduleId":
		if device {
			return query.Value{}
		}
		return leaf(p, query.StringValue(f.moduleID))
	case "deviceEtag":
		var dec [20]byte
		b := strconv.AppendInt(dec[:0], f.etagN, 10)
		n := base64.StdEncoding.EncodedLen(len(b))
		base64.StdEncoding.Encode(v.deviceEtag[:n], b)
		return leaf(p, query.StringValue(bytesString(v.deviceEtag[:n])))
	case "etag":
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], f.twinETagN)
		base64.StdEncoding.Encode(v.etag[:12], n[:])
		return leaf(p, query.StringValue(bytesString(v.etag[:12])))
	case "status":
		if device {
			return leaf(p, query.StringValue(f.status))
		}
	case "statusReason":
		if device {
			return leaf(p, query.StringValue(f.statusReason))
		}
	case "statusUpdateTime":
		if device {
			return leaf(p, query.StringValue(formatTime(v.statusTime[:0], f.statusTime)))
		}
	case "connectionState":
		return leaf(p, query.StringValue(f.connectionState))
	case "lastActivityTime":
		return leaf(p, query.StringValue(formatTime(v.activeTime[:0], f.activityTime)))
	case "cloudToDeviceMessageCount":
		return leaf(p, query.NumberValue(float64(f.c2d)))
	case "capabilities":
		if !device {
			return query.Value{}
		}
		if len(p) == 1 {
			return query.ObjectValue()
		}
		if p[1].Index < 0 && p[1].Key == "iotEdge" {
			return leaf(p[1:], query.BoolValue(f.caps == 2))
		}
	case "deviceScope":
		if device && f.deviceScope != "" {
			return leaf(p, query.StringValue(f.deviceScope))
		}
	case "parentScopes":
		if !device || f.parentScopes == 0 {
			return query.Value{}
		}
		if len(p) == 1 {
			return query.ArrayValue()
		}
		if i := p[1].Index; i >= 0 && i < f.parentScopes {
			return leaf(p[1:], query.StringValue(f.parentScope(i)))
		}
	case "authenticationType":
		typ := "sas"
		if f.auth.flags&authSet != 0 {
			typ = f.auth.typ
		}
		return leaf(p, query.StringValue(typ))
	case "x509Thumbprint":
		if len(p) == 1 {
			return query.ObjectValue()
		}
		if p[1].Index >= 0 {
			return query.Value{}
		}
		var primary, secondary string
		if f.auth.flags&authThumbs != 0 {
			primary, secondary = f.auth.primaryThumb, f.auth.secondaryThumb
		}
		switch p[1].Key {
		case "primaryThumbprint":
			return leaf(p[1:], query.StringValue(primary))
		case "secondaryThumbprint":
			return leaf(p[1:], query.StringValue(secondary))
		}
	case "modelId":
		return leaf(p, query.StringValue(""))
	case "version":
		return leaf(p, query.NumberValue(float64(f.twinVersion)))
	case "tags":
		return v.section(0, p[1:], false)
	case "properties":
		if len(p) == 1 {
			return query.ObjectValue()
		}
		if p[1].Index >= 0 {
			return query.Value{}
		}
		switch p[1].Key {
		case "desired":
			return v.section(1, p[2:], true)
		case "reported":
			return v.section(2, p[2:], true)
		}
	}
	return query.Value{}
}

// section reads the rest of a path in section i. In desired and reported
// the document has $version beside the properties.
func (v *twinView) section(i int, rest query.Path, versioned bool) query.Value {
	s := &v.secs[i]
	if !s.read {
		data := [3]string{v.f.tags, v.f.desired, v.f.reported}[i]
		root, version, err := twindoc.Root(data)
		if err != nil {
			v.err = err
			return query.Value{}
		}
		*s = viewSection{read: true, root: root, version: version}
	}
	if versioned && len(rest) > 0 && rest[0].Index < 0 && rest[0].Key == "$version" {
		return leaf(rest, query.NumberValue(float64(s.version)))
	}
	n := s.root
	for _, st := range rest {
		var ok bool
		if st.Index >= 0 {
			n, ok = n.Index(st.Index)
		} else {
			n, ok = n.Member(st.Key)
		}
		if !ok {
			return query.Value{}
		}
	}
	switch n.Kind() {
	case twindoc.Object:
		return query.ObjectValue()
	case twindoc.Array:
		return query.ArrayValue()
	case twindoc.String:
		return query.StringValue(n.Text())
	case twindoc.Number:
		return query.NumberText(n.Text())
	case twindoc.Bool:
		return query.BoolValue(n.Bool())
	case twindoc.Null:
		return query.NullValue()
	}
	v.err = errCorruptRecord
	return query.Value{}
}

// formatTime is hub.Time.String appended to b, without allocating.
func formatTime(b []byte, t time.Time) string {
	if t.IsZero() {
		return "0001-01-01T00:00:00Z"
	}
	return bytesString(t.UTC().Truncate(100*time.Nanosecond).AppendFormat(b, time.RFC3339Nano))
}
