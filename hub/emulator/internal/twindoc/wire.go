package twindoc

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/hubdesk/hubdesk/hub"
)

// MarshalJSON writes s as the hub returns it inside tags,
// properties.desired or properties.reported: the properties with sorted
// names, then, except in tags, $metadata and $version.
func (s *Section) MarshalJSON() ([]byte, error) { return s.AppendJSON(nil) }

// AppendJSON appends the JSON form of s (see MarshalJSON) to b.
func (s *Section) AppendJSON(b []byte) ([]byte, error) {
	e := jsonEncoder{b: b}
	e.b = append(e.b, '{')
	e.members(s.props)
	if s.meta != nil {
		if len(s.props) > 0 {
			e.b = append(e.b, ',')
		}
		e.b = append(e.b, `"$metadata":`...)
		e.meta(s.meta, s.props)
		e.b = append(e.b, `,"$version":`...)
		e.b = strconv.AppendInt(e.b, s.version, 10)
	}
	e.b = append(e.b, '}')
	return e.b, e.err
}

// jsonEncoder appends JSON to b; the first error sticks.
type jsonEncoder struct {
	b        []byte
	err      error
	lastTime time.Time // lastText is the formatted lastTime, as most stamps repeat
	lastText []byte
	keys     keyStack
}

// members writes the members of o, sorted by name, without braces.
func (e *jsonEncoder) members(o map[string]any) {
	keys, mark := e.keys.push(o)
	for i, k := range keys {
		if i > 0 {
			e.b = append(e.b, ',')
		}
		e.b = appendString(e.b, k)
		e.b = append(e.b, ':')
		e.value(o[k])
	}
	e.keys.pop(mark)
}

func (e *jsonEncoder) value(v any) {
	switch v := v.(type) {
	case string:
		e.b = appendString(e.b, v)
	case json.Number:
		e.b = append(e.b, v...)
	case bool:
		e.b = strconv.AppendBool(e.b, v)
	case nil:
		e.b = append(e.b, "null"...)
	case map[string]any:
		e.b = append(e.b, '{')
		e.members(v)
		e.b = append(e.b, '}')
	case []any:
		e.b = append(e.b, '[')
		for i, x := range v {
			if i > 0 {
				e.b = append(e.b, ',')
			}
			e.value(x)
		}
		e.b = append(e.b, ']')
	default: // Go numbers from callers that built props by hand
		j, err := json.Marshal(v)
		if err != nil && e.err == nil {
			e.err = fmt.Errorf("twindoc: %w", err)
		}
		e.b = append(e.b, j...)
	}
}

// meta writes the $metadata object m of value v.
func (e *jsonEncoder) meta(m *meta, v any) {
	e.b = append(e.b, `{"$lastUpdated":"`...)
	if !m.updated.Equal(e.lastTime) || e.lastText == nil {
		e.lastTime = m.updated
		e.lastText = m.updated.AppendFormat(e.lastText[:0], time.RFC3339Nano)
	}
	e.b = append(e.b, e.lastText...)
	e.b = append(e.b, '"')
	if m.version > 0 {
		e.b = append(e.b, `,"$lastUpdatedVersion":`...)
		e.b = strconv.AppendInt(e.b, m.version, 10)
	}
	if o, ok := v.(map[string]any); ok {
		keys, mark := e.keys.push(o)
		defer e.keys.pop(mark)
		for _, k := range keys {
			km := m.kids[k]
			if km == nil { // a damaged tree: show the parent's stamp
				km = &meta{updated: m.updated, version: m.version}
			}
			e.b = append(e.b, ',')
			e.b = appendString(e.b, k)
			e.b = append(e.b, ':')
			e.meta(km, o[k])
		}
	}
	e.b = append(e.b, '}')
}

// keyStack holds the sorted member names of the objects being encoded, one
// slice of it per nesting level, so that sorting costs no allocation per
// object.
type keyStack []string

// push appends the sorted names of o and returns them with the mark to pop.
func (ks *keyStack) push(o map[string]any) (keys []string, mark int) {
	mark = len(*ks)
	for k := range o {
		*ks = append(*ks, k)
	}
	keys = (*ks)[mark:]
	slices.Sort(keys)
	return keys, mark
}

func (ks *keyStack) pop(mark int) { *ks = (*ks)[:mark] }

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string, escaping as encoding/json does
// except that <, > and & are left alone.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// ParseJSON reads a section of the given kind in the form MarshalJSON
// writes, as the hub returns it. It is lenient, for seeding from captured
// twins: a missing $version counts as 1 and a property without $metadata
// takes its parent's stamps.
func ParseJSON(kind hub.Section, data []byte) (*Section, error) {
	o, err := DecodeObject(data)
	if err != nil {
		return nil, err
	}
	return fromObject(kind, o)
}

// UnmarshalJSON reads the form MarshalJSON writes. A Section made by New or
// ParseJSON keeps its kind; a zero Section takes it from data: tags when
// there is no $metadata or $version, desired when the metadata holds a
// $lastUpdatedVersion, else reported. A fresh desired section has none, so
// prefer ParseJSON when the kind is known.
func (s *Section) UnmarshalJSON(data []byte) error {
	o, err := DecodeObject(data)
	if err != nil {
		return err
	}
	kind := s.kind
	if kind == "" {
		kind = guessKind(o)
	}
	p, err := fromObject(kind, o)
	if err != nil {
		return err
	}
	*s = *p
	return nil
}

func guessKind(o map[string]any) hub.Section {
	m, hasM := o["$metadata"]
	_, hasV := o["$version"]
	switch {
	case !hasM && !hasV:
		return hub.SectionTags
	case hasVersionStamp(m):
		return hub.SectionDesired
	default:
		return hub.SectionReported
	}
}

func hasVersionStamp(m any) bool {
	mm, ok := m.(map[string]any)
	if !ok {
		return false
	}
	if _, ok := mm["$lastUpdatedVersion"]; ok {
		return true
	}
	for k, v := range mm {
		if k != "$lastUpdated" && hasVersionStamp(v) {
			return true
		}
	}
	return false
}

// fromObject builds a section of kind from its decoded JSON form o, which
// it takes over.
func fromObject(kind hub.Section, o map[string]any) (*Section, error) {
	switch kind {
	case hub.SectionTags:
		return &Section{kind: kind, props: o, version: 1}, nil
	case hub.SectionDesired, hub.SectionReported:
	default:
		return nil, fmt.Errorf("twindoc: unknown section kind %q", kind)
	}
	s := &Section{kind: kind, version: 1}
	if v, ok := o["$version"]; ok {
		n, ok := v.(json.Number)
		i, err := n.Int64()
		if !ok || err != nil || i < 1 {
			return nil, fmt.Errorf("twindoc: %s: $version must be a positive integer, not %v", kind, v)
		}
		s.version = i
	}
	mv := o["$metadata"]
	delete(o, "$metadata")
	delete(o, "$version")
	s.props = o
	m, err := parseMeta(string(kind), mv, o, &meta{})
	if err != nil {
		return nil, err
	}
	s.meta = m
	return s, nil
}

// parseMeta builds the metadata of value v from its JSON form mv, falling
// back to parent's stamps for what mv lacks.
func parseMeta(path string, mv any, v any, parent *meta) (*meta, error) {
	mm, _ := mv.(map[string]any)
	m := &meta{updated: parent.updated, version: parent.version}
	if t, ok := mm["$lastUpdated"].(string); ok {
		ht, err := hub.ParseTime(t)
		if err != nil {
			return nil, fmt.Errorf("twindoc: %s.$lastUpdated: %w", path, err)
		}
		m.updated = stamp(ht.Time)
	}
	if n, ok := mm["$lastUpdatedVersion"].(json.Number); ok {
		i, err := n.Int64()
		if err != nil {
			return nil, fmt.Errorf("twindoc: %s.$lastUpdatedVersion: %w", path, err)
		}
		m.version = i
	}
	if o, ok := v.(map[string]any); ok {
		m.kids = make(map[string]*meta, len(o))
		for k, kv := range o {
			km, err := parseMeta(path+"."+k, mm[k], kv, m)
			if err != nil {
				return nil, err
			}
			m.kids[k] = km
		}
	}
	return m, nil
}
