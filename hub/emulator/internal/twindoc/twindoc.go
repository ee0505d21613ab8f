// Package twindoc models one section of a twin (tags, desired or reported
// properties) as the emulator stores it: the user's properties and, for
// desired and reported, the $metadata tree and $version the hub keeps beside
// them.
//
// Property values are what DecodeObject produces: string, json.Number, bool,
// []any and map[string]any; numbers stay json.Number so that they survive
// exactly. Callers validate with hub.ValidatePatch or hub.ValidateSection
// before writing, and check Size against the section's limit afterwards.
//
// A Section has two encodings: the wire form (MarshalJSON, ParseJSON), as the
// hub returns it, and a compact binary storage form (MarshalBinary,
// UnmarshalBinary) that round-trips exactly and decodes several times
// faster.
package twindoc

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/hubdesk/hubdesk/hub"
)

// Section is one twin section. The zero Section is not usable: use New,
// ParseJSON or UnmarshalBinary. A Section is not safe for concurrent use;
// the emulator decodes its own copy per request.
type Section struct {
	kind    hub.Section
	props   map[string]any
	meta    *meta // nil for tags
	version int64
}

// meta is the $metadata of one property, mirroring its value: kids is
// non-nil exactly when the value is an object.
type meta struct {
	updated time.Time
	version int64 // $lastUpdatedVersion; 0 when not shown (reported, fresh desired)
	kids    map[string]*meta
}

// New returns an empty section of the given kind, written at now: for
// desired and reported, {"$metadata":{"$lastUpdated":now},"$version":1}.
func New(kind hub.Section, now time.Time) *Section {
	s := &Section{kind: kind, props: map[string]any{}, version: 1}
	if hasMeta(kind) {
		s.meta = &meta{updated: stamp(now), kids: map[string]*meta{}}
	}
	return s
}

// hasMeta reports whether the hub keeps $metadata and $version in kind.
func hasMeta(kind hub.Section) bool {
	return kind == hub.SectionDesired || kind == hub.SectionReported
}

// stamp is t as the hub records it: UTC, to 100 nanoseconds.
func stamp(t time.Time) time.Time { return t.UTC().Truncate(100 * time.Nanosecond) }

// Kind says which section s is.
func (s *Section) Kind() hub.Section { return s.kind }

// Version is the section's $version: 1 when new, plus one per write. Tags
// count their writes too but never show the number.
func (s *Section) Version() int64 { return s.version }

// LastUpdated is when the section was last written ($metadata.$lastUpdated),
// or the zero time for tags.
func (s *Section) LastUpdated() time.Time {
	if s.meta == nil {
		return time.Time{}
	}
	return s.meta.updated
}

// Props are the section's properties, without $metadata and $version. The
// map belongs to s: read it, never modify it.
func (s *Section) Props() map[string]any { return s.props }

// Size is the section's size as hub.SectionSize counts it.
func (s *Section) Size() int { return objectSize(s.props) }

// Patch applies a merge patch (RFC 7386 with the hub's rules) written at now:
// a member set to null is removed, objects merge recursively, anything else
// (arrays included) replaces what was there, and null members of an object
// that did not exist are dropped, so {"p":{"q":null}} with p absent creates
// p: {}. In desired and reported the patch's top-level $metadata and
// $version are ignored.
//
// Every patch counts as a write, even one that changes nothing: $version
// goes up by one and the section's $lastUpdated is restamped, as the hub
// does. Every property the patch names is restamped, with its ancestors;
// the rest keep their stamps, and removed properties lose theirs.
//
// Patch does not modify p, but keeps references to its arrays and scalars;
// p must not be modified afterwards.
func (s *Section) Patch(p map[string]any, now time.Time) {
	s.write(now)
	merge(s.props, s.meta, p, s.stamper(now), hasMeta(s.kind))
}

// Replace replaces all the section's properties with p, written at now, as a
// twin PUT does: $version goes up by one and every property is stamped now.
// Null members are dropped at every level, and in desired and reported the
// top-level $metadata and $version of p are ignored. Like Patch, Replace
// keeps references to p's arrays and scalars.
func (s *Section) Replace(p map[string]any, now time.Time) {
	s.write(now)
	s.props = make(map[string]any, len(p))
	if s.meta != nil {
		s.meta.kids = make(map[string]*meta, len(p))
	}
	merge(s.props, s.meta, p, s.stamper(now), hasMeta(s.kind))
}

// write counts a write at now and restamps the section's root.
func (s *Section) write(now time.Time) {
	s.version++
	if s.meta != nil {
		s.meta.updated = stamp(now)
		if s.kind == hub.SectionDesired {
			s.meta.version = s.version
		}
	}
}

// stamper returns the metadata of a property written now by this write.
func (s *Section) stamper(now time.Time) stamper {
	if s.meta == nil {
		return stamper{}
	}
	st := stamper{on: true, updated: stamp(now)}
	if s.kind == hub.SectionDesired {
		st.version = s.version
	}
	return st
}

// stamper makes the metadata nodes of one write; off for tags.
type stamper struct {
	on      bool
	updated time.Time
	version int64
}

func (st stamper) leaf() *meta {
	if !st.on {
		return nil
	}
	return &meta{updated: st.updated, version: st.version}
}

func (st stamper) object(n int) *meta {
	if !st.on {
		return nil
	}
	return &meta{updated: st.updated, version: st.version, kids: make(map[string]*meta, n)}
}

// merge applies patch to dst, whose metadata is dm (nil for tags). top says
// dst is a desired or reported root, whose $metadata and $version patch
// members are ignored.
func merge(dst map[string]any, dm *meta, patch map[string]any, st stamper, top bool) {
	for k, pv := range patch {
		if top && (k == "$metadata" || k == "$version") {
			continue
		}
		if pv == nil {
			delete(dst, k)
			if dm != nil {
				delete(dm.kids, k)
			}
			continue
		}
		po, isObj := pv.(map[string]any)
		if !isObj {
			dst[k] = pv
			setKid(dm, k, st.leaf())
			continue
		}
		if do, ok := dst[k].(map[string]any); ok {
			var km *meta
			if dm != nil {
				km = dm.kids[k]
				if km == nil || km.kids == nil { // tolerate a damaged tree
					km = st.object(len(do))
					dm.kids[k] = km
				}
				km.updated, km.version = st.updated, st.version
			}
			merge(do, km, po, st, false)
			continue
		}
		do := make(map[string]any, len(po))
		km := st.object(len(po))
		merge(do, km, po, st, false)
		dst[k] = do
		setKid(dm, k, km)
	}
}

func setKid(dm *meta, k string, m *meta) {
	if dm != nil {
		dm.kids[k] = m
	}
}

// objectSize counts an object as hub.SectionSize does.
func objectSize(o map[string]any) int {
	n := 0
	for k, v := range o {
		n += len(k) + valueSize(v)
	}
	return n
}

func valueSize(v any) int {
	switch v := v.(type) {
	case string:
		return len(v)
	case bool:
		return 4
	case nil:
		return 0
	case map[string]any:
		return objectSize(v)
	case []any:
		n := 0
		for _, e := range v {
			n += valueSize(e)
		}
		return n
	default: // json.Number and Go numbers
		return 8
	}
}

// DecodeObject decodes a JSON object, such as a section of a request body,
// into a map whose numbers are json.Number. Anything but one JSON object is
// an error wrapping hub.ErrTwinFormat.
func DecodeObject(data []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("%w: %w", hub.ErrTwinFormat, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: data after the object", hub.ErrTwinFormat)
	}
	o, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%w: not a JSON object", hub.ErrTwinFormat)
	}
	return o, nil
}
