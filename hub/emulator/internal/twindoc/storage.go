package twindoc

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/hubdesk/hubdesk/hub"
)

// The storage form is binary, because the emulator decodes a record on every
// twin read and write and JSON would cost a parse of the $metadata tree as
// well as of the properties. It is:
//
//	format byte (1), kind byte ('t', 'd' or 'r'), uvarint $version,
//	then the root object as a node.
//
// A node is its metadata, if the section has any (varint Unix seconds,
// uvarint nanoseconds, uvarint $lastUpdatedVersion), then its value. A value
// is a tag byte and a body: 'o' uvarint count and that many (uvarint length,
// name, node); 'a' uvarint count and that many values (array elements carry
// no metadata, and neither do the members of objects inside arrays); 's' and
// 'n' (a JSON number's text) uvarint length and bytes; 't', 'f', 'z' (null)
// nothing. Object members are sorted by name, so equal sections encode
// equally.
const storageFormat = 1

var errCorrupt = errors.New("twindoc: corrupt storage record")

// MarshalBinary encodes s in its storage form.
func (s *Section) MarshalBinary() ([]byte, error) { return s.AppendBinary(nil) }

// AppendBinary appends the storage form of s to b.
func (s *Section) AppendBinary(b []byte) ([]byte, error) {
	var kind byte
	switch s.kind {
	case hub.SectionTags:
		kind = 't'
	case hub.SectionDesired:
		kind = 'd'
	case hub.SectionReported:
		kind = 'r'
	default:
		return nil, fmt.Errorf("twindoc: unknown section kind %q", s.kind)
	}
	e := binEncoder{b: append(b, storageFormat, kind)}
	e.b = binary.AppendUvarint(e.b, uint64(s.version))
	e.node(s.props, s.meta, s.meta != nil)
	return e.b, e.err
}

type binEncoder struct {
	b    []byte
	err  error
	keys keyStack
}

func (e *binEncoder) node(v any, m *meta, withMeta bool) {
	if withMeta {
		if m == nil {
			m = &meta{}
		}
		e.b = binary.AppendVarint(e.b, m.updated.Unix())
		e.b = binary.AppendUvarint(e.b, uint64(m.updated.Nanosecond()))
		e.b = binary.AppendUvarint(e.b, uint64(m.version))
	}
	e.value(v, m, withMeta)
}

func (e *binEncoder) value(v any, m *meta, withMeta bool) {
	switch v := v.(type) {
	case map[string]any:
		e.b = append(e.b, 'o')
		e.b = binary.AppendUvarint(e.b, uint64(len(v)))
		keys, mark := e.keys.push(v)
		for _, k := range keys {
			e.str(k)
			var km *meta
			if m != nil {
				km = m.kids[k]
			}
			e.node(v[k], km, withMeta)
		}
		e.keys.pop(mark)
	case []any:
		e.b = append(e.b, 'a')
		e.b = binary.AppendUvarint(e.b, uint64(len(v)))
		for _, x := range v {
			e.value(x, nil, false)
		}
	case string:
		e.b = append(e.b, 's')
		e.str(v)
	case json.Number:
		e.b = append(e.b, 'n')
		e.str(string(v))
	case bool:
		if v {
			e.b = append(e.b, 't')
		} else {
			e.b = append(e.b, 'f')
		}
	case nil:
		e.b = append(e.b, 'z')
	default: // Go numbers from callers that built props by hand
		j, err := json.Marshal(v)
		if err != nil && e.err == nil {
			e.err = fmt.Errorf("twindoc: %w", err)
		}
		e.b = append(e.b, 'n')
		e.str(string(j))
	}
}

func (e *binEncoder) str(s string) {
	e.b = binary.AppendUvarint(e.b, uint64(len(s)))
	e.b = append(e.b, s...)
}

// UnmarshalBinary decodes the storage form written by MarshalBinary.
func (s *Section) UnmarshalBinary(data []byte) error {
	if len(data) < 2 || data[0] != storageFormat {
		return errCorrupt
	}
	var kind hub.Section
	switch data[1] {
	case 't':
		kind = hub.SectionTags
	case 'd':
		kind = hub.SectionDesired
	case 'r':
		kind = hub.SectionReported
	default:
		return errCorrupt
	}
	// One string for the whole record: names and string values are then
	// substrings of it and cost no allocation each.
	d := binDecoder{s: string(data), i: 2}
	version := d.uvarint()
	withMeta := hasMeta(kind)
	v, m := d.node(withMeta, 0)
	props, ok := v.(map[string]any)
	if d.err != nil || !ok || d.i != len(d.s) || version < 1 || version > 1<<62 {
		return errCorrupt
	}
	*s = Section{kind: kind, props: props, meta: m, version: int64(version)}
	return nil
}

type binDecoder struct {
	s     string
	i     int
	err   error
	metas []meta // allocated in blocks, as a section has a node per property
}

func (d *binDecoder) newMeta() *meta {
	if len(d.metas) == 0 {
		d.metas = make([]meta, 32)
	}
	m := &d.metas[0]
	d.metas = d.metas[1:]
	return m
}

// maxNesting bounds recursion on corrupt input; valid sections nest at most
// hub.MaxDepth levels.
const maxNesting = 64

func (d *binDecoder) node(withMeta bool, depth int) (any, *meta) {
	var m *meta
	if withMeta {
		sec := d.varint()
		nsec := d.uvarint()
		ver := d.uvarint()
		if nsec >= 1e9 || ver > 1<<62 {
			d.fail()
			return nil, nil
		}
		m = d.newMeta()
		m.updated, m.version = time.Unix(sec, int64(nsec)).UTC(), int64(ver)
		if sec == zeroUnix && nsec == 0 {
			m.updated = time.Time{}
		}
	}
	return d.value(m, withMeta, depth), m
}

// zeroUnix is the Unix time of the zero time.Time.
var zeroUnix = time.Time{}.Unix()

func (d *binDecoder) value(m *meta, withMeta bool, depth int) any {
	if d.err != nil || d.i >= len(d.s) || depth > maxNesting {
		d.fail()
		return nil
	}
	tag := d.s[d.i]
	d.i++
	switch tag {
	case 'o':
		n := d.count()
		o := make(map[string]any, n)
		if m != nil {
			m.kids = make(map[string]*meta, n)
		}
		for range n {
			k := d.str()
			v, km := d.node(withMeta, depth+1)
			if d.err != nil {
				return nil
			}
			o[k] = v
			if m != nil {
				m.kids[k] = km
			}
		}
		return o
	case 'a':
		n := d.count()
		a := make([]any, 0, n)
		for range n {
			a = append(a, d.value(nil, false, depth+1))
			if d.err != nil {
				return nil
			}
		}
		return a
	case 's':
		return d.str()
	case 'n':
		return json.Number(d.str())
	case 't':
		return true
	case 'f':
		return false
	case 'z':
		return nil
	}
	d.fail()
	return nil
}

// count reads a length that cannot exceed the bytes left, as every element
// takes at least one byte.
func (d *binDecoder) count() int {
	n := d.uvarint()
	if n > uint64(len(d.s)-d.i) {
		d.fail()
		return 0
	}
	return int(n)
}

func (d *binDecoder) str() string {
	n := d.count()
	s := d.s[d.i : d.i+n]
	d.i += n
	return s
}

func (d *binDecoder) uvarint() uint64 {
	var x uint64
	for i, shift := 0, uint(0); i < binary.MaxVarintLen64 && d.err == nil && d.i < len(d.s); i, shift = i+1, shift+7 {
		b := d.s[d.i]
		d.i++
		if b < 0x80 {
			if i == binary.MaxVarintLen64-1 && b > 1 {
				break // overflows 64 bits
			}
			return x | uint64(b)<<shift
		}
		x |= uint64(b&0x7f) << shift
	}
	d.fail()
	return 0
}

func (d *binDecoder) varint() int64 {
	u := d.uvarint()
	x := int64(u >> 1)
	if u&1 != 0 {
		x = ^x
	}
	return x
}

func (d *binDecoder) fail() {
	if d.err == nil {
		d.err = errCorrupt
	}
}
