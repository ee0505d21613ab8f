package twinedit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	jsonpatch "github.com/evanphx/json-patch/v5"
)

// Doc is the part of a twin a person edits: tags and desired properties,
// each a JSON object. An empty or null section is the empty object.
type Doc struct {
	Tags    json.RawMessage
	Desired json.RawMessage
}

// Kind says how a path changed.
type Kind string

// Kinds of change.
const (
	Added   Kind = "added"
	Removed Kind = "removed"
	Changed Kind = "changed"
)

// PathChange is one changed value, the unit of a side-by-side diff. A path
// is as deep as the merge patch goes: a changed array, a value that changes
// type, or an object added or removed whole is one PathChange.
type PathChange struct {
	Path Path
	// Before and After are compact JSON, nil when absent.
	Before, After json.RawMessage
	Kind          Kind
}

// Change is what saving an edit sends, and why.
type Change struct {
	// Tags and Desired are the RFC 7386 merge patches per section, nil for
	// a section that did not change.
	Tags, Desired json.RawMessage
	// Paths lists every changed value, tags before desired, each object's
	// existing keys in their order, then its new keys in theirs.
	Paths []PathChange
	// Lost, set only by Overwrite, lists the values on the hub that the
	// write replaces or removes: Before is the hub's value.
	Lost []PathChange
}

// Empty reports whether nothing changed, so nothing needs to be sent.
func (c *Change) Empty() bool { return c.Tags == nil && c.Desired == nil }

// Body is the body of the twin PATCH request:
// {"tags":{...},"properties":{"desired":{...}}} with only changed sections,
// or {} when nothing changed.
func (c *Change) Body() json.RawMessage {
	b := []byte{'{'}
	if c.Tags != nil {
		b = append(b, `"tags":`...)
		b = append(b, c.Tags...)
	}
	if c.Desired != nil {
		if c.Tags != nil {
			b = append(b, ',')
		}
		b = append(b, `"properties":{"desired":`...)
		b = append(b, c.Desired...)
		b = append(b, '}')
	}
	return append(b, '}')
}

// ErrReadOnly is matched by errors.Is for an edit to a part of the twin the
// service API cannot write.
var ErrReadOnly = errors.New("twinedit: read-only")

// PathError refuses an edit at Path. It matches ErrReadOnly when the path
// is read-only.
type PathError struct {
	Path     Path
	ReadOnly bool
	Reason   string
}

func (e *PathError) Error() string {
	if e.ReadOnly {
		return fmt.Sprintf("twinedit: %s is read-only: %s", e.Path, e.Reason)
	}
	return fmt.Sprintf("twinedit: %s: %s", e.Path, e.Reason)
}

// Is makes read-only refusals match ErrReadOnly.
func (e *PathError) Is(target error) bool { return e.ReadOnly && target == ErrReadOnly }

// tree is a parsed Doc. Object members set to null have been dropped: in a
// merge patch null means remove, and a twin never stores null.
type tree struct{ tags, desired *node }

const (
	secTags    = "tags"
	secDesired = "desired"
)

// sectionPath is the path of a section, with room to grow so that walks
// appending keys do not allocate at every level.
func sectionPath(section string) Path {
	p := make(Path, 0, 16)
	if section == secTags {
		return append(p, "tags")
	}
	return append(p, "properties", "desired")
}

// parseDoc parses both sections. An edited doc is what a person typed:
// $metadata and $version anywhere in desired are refused, as are nulls in
// arrays (the hub rejects them). Any other doc came from the hub, and its
// top-level $metadata and $version are dropped.
func parseDoc(d Doc, edited bool) (tree, error) {
	tags, err := parseSection(secTags, d.Tags, edited)
	if err != nil {
		return tree{}, err
	}
	desired, err := parseSection(secDesired, d.Desired, edited)
	if err != nil {
		return tree{}, err
	}
	return tree{tags: tags, desired: desired}, nil
}

func parseSection(section string, text json.RawMessage, edited bool) (*node, error) {
	text = bytes.TrimSpace(text)
	if len(text) == 0 || string(text) == "null" {
		text = []byte("{}")
	}
	n, err := parse(text, true)
	if err != nil {
		var se *SyntaxError
		if errors.As(err, &se) {
			se.Section = section
		}
		return nil, err
	}
	if n.kind != kObject {
		return nil, &PathError{Path: sectionPath(section), Reason: "must be a JSON object"}
	}
	if section != secDesired {
		if edited {
			return n, check(sectionPath(section), n, false)
		}
		return n, nil
	}
	if edited {
		return n, check(sectionPath(section), n, true)
	}
	if n.lookup("$metadata", -1) >= 0 || n.lookup("$version", -1) >= 0 {
		n = n.without("$metadata").without("$version")
	}
	return n, nil
}

// check refuses what a person may not write: $metadata and $version keys
// in desired, and null inside arrays.
func check(path Path, n *node, desired bool) error {
	switch n.kind {
	case kObject:
		for i, k := range n.keys {
			path := append(path, k)
			if desired && (k == "$metadata" || k == "$version") {
				return &PathError{Path: path.clone(), ReadOnly: true, Reason: "the hub maintains $metadata and $version"}
			}
			if err := check(path, n.vals[i], desired); err != nil {
				return err
			}
		}
	case kArray:
		for _, v := range n.vals {
			if v.kind == kNull {
				return &PathError{Path: path.clone(), Reason: "arrays may not contain null"}
			}
			if err := check(path, v, desired); err != nil {
				return err
			}
		}
	}
	return nil
}

// without returns object n without key k, sharing n's values.
func (n *node) without(k string) *node {
	i := n.lookup(k, -1)
	if i < 0 {
		return n
	}
	c := &node{kind: kObject}
	c.keys = append(append(c.keys, n.keys[:i]...), n.keys[i+1:]...)
	c.vals = append(append(c.vals, n.vals[:i]...), n.vals[i+1:]...)
	return c
}

// change is a PathChange before rendering; nil is an absent value.
type change struct {
	path          Path
	before, after *node
}

func (c change) render() PathChange {
	k := Changed
	switch {
	case c.before == nil:
		k = Added
	case c.after == nil:
		k = Removed
	}
	return PathChange{Path: c.path, Before: raw(c.before), After: raw(c.after), Kind: k}
}

// diffTrees lists the changes from a to b, tags first.
func diffTrees(a, b tree) (tags, desired []change) {
	tags = diffObjects(sectionPath(secTags), a.tags, b.tags, nil)
	desired = diffObjects(sectionPath(secDesired), a.desired, b.desired, nil)
	return tags, desired
}

// diffObjects appends the changes from object a to object b. It recurses
// where both sides hold an object, exactly where a merge patch would.
func diffObjects(path Path, a, b *node, out []change) []change {
	for i, k := range a.keys {
		av := a.vals[i]
		j := b.lookup(k, i)
		if j < 0 {
			out = append(out, change{path: append(path, k).clone(), before: av})
			continue
		}
		bv := b.vals[j]
		if av.kind == kObject && bv.kind == kObject {
			out = diffObjects(append(path, k), av, bv, out)
			continue
		}
		if !equal(av, bv) {
			out = append(out, change{path: append(path, k).clone(), before: av, after: bv})
		}
	}
	for j, k := range b.keys {
		if a.lookup(k, j) < 0 {
			out = append(out, change{path: append(path, k).clone(), after: b.vals[j]})
		}
	}
	return out
}

// Diff compares the draft a person edited with the base they loaded and
// returns the merge patch to send with If-Match of the base's etag.
//
// Numbers compare by value, so 1.0 in place of 1 sends nothing; a changed
// array is sent whole; a member set to null is a removal. The patch is
// computed by jsonpatch.CreateMergePatch.
func Diff(base, edited Doc) (*Change, error) {
	b, err := parseDoc(base, false)
	if err != nil {
		return nil, fmt.Errorf("base: %w", err)
	}
	e, err := parseDoc(edited, true)
	if err != nil {
		return nil, err
	}
	tags, desired := diffTrees(b, e)
	return makeChange(tags, desired)
}

// makeChange renders changes and asks the library for the merge patches.
func makeChange(tags, desired []change) (*Change, error) {
	c := &Change{}
	var err error
	if c.Tags, err = sectionPatch(tags, 1); err != nil {
		return nil, fmt.Errorf("tags: %w", err)
	}
	if c.Desired, err = sectionPatch(desired, 2); err != nil {
		return nil, fmt.Errorf("desired: %w", err)
	}
	c.Paths = make([]PathChange, 0, len(tags)+len(desired))
	for _, ch := range tags {
		c.Paths = append(c.Paths, ch.render())
	}
	for _, ch := range desired {
		c.Paths = append(c.Paths, ch.render())
	}
	return c, nil
}

// sectionPatch runs jsonpatch.CreateMergePatch on the two sides of the
// changes alone: every member the sides agree on is left out, which the
// library would have found equal and left out of the patch anyway. This
// keeps the library's work proportional to the edit, not to the twin.
func sectionPatch(changes []change, rootLen int) (json.RawMessage, error) {
	if len(changes) == 0 {
		return nil, nil
	}
	before := reduced(changes, rootLen, func(c change) *node { return c.before })
	after := reduced(changes, rootLen, func(c change) *node { return c.after })
	patch, err := jsonpatch.CreateMergePatch(before, after)
	if err != nil {
		return nil, fmt.Errorf("computing merge patch: %w", err)
	}
	return patch, nil
}

// reduced writes one side of changes as a JSON object holding only the
// changed paths. changes come from diffObjects, so the changes under any
// object are contiguous and each object is opened once.
func reduced(changes []change, rootLen int, side func(change) *node) []byte {
	buf := []byte{'{'}
	var open []string
	wrote := []bool{false}
	member := func(k string) {
		if wrote[len(wrote)-1] {
			buf = append(buf, ',')
		}
		wrote[len(wrote)-1] = true
		buf = quoteKey(buf, k)
		buf = append(buf, ':')
	}
	for _, c := range changes {
		rel := c.path[rootLen:]
		parent := rel[:len(rel)-1]
		common := 0
		for common < len(open) && common < len(parent) && open[common] == parent[common] {
			common++
		}
		for len(open) > common {
			buf = append(buf, '}')
			open, wrote = open[:len(open)-1], wrote[:len(wrote)-1]
		}
		for _, k := range parent[common:] {
			member(k)
			buf = append(buf, '{')
			open, wrote = append(open, k), append(wrote, false)
		}
		if v := side(c); v != nil {
			member(rel[len(rel)-1])
			buf = write(buf, v)
		}
	}
	for range open {
		buf = append(buf, '}')
	}
	return append(buf, '}')
}

// Overwrite previews a forced write (If-Match "*") that makes the twin's
// tags and desired exactly mine: the patch relative to theirs, the twin as
// it is now, and in Lost every value of theirs that the write replaces or
// removes.
func Overwrite(theirs, mine Doc) (*Change, error) {
	t, err := parseDoc(theirs, false)
	if err != nil {
		return nil, fmt.Errorf("theirs: %w", err)
	}
	m, err := parseDoc(mine, true)
	if err != nil {
		return nil, err
	}
	tags, desired := diffTrees(t, m)
	c, err := makeChange(tags, desired)
	if err != nil {
		return nil, err
	}
	for _, p := range c.Paths {
		if p.Before != nil {
			c.Lost = append(c.Lost, p)
		}
	}
	return c, nil
}

// Inverse returns the merge patch that turns section after back into
// before, touching only the paths where they differ: applied to after, it
// reverts a write. Top-level $metadata and $version are ignored. Both must
// be JSON objects; nothing to revert gives {}.
func Inverse(before, after json.RawMessage) (json.RawMessage, error) {
	b, err := parseSection(secDesired, before, false)
	if err != nil {
		return nil, fmt.Errorf("before: %w", err)
	}
	a, err := parseSection(secDesired, after, false)
	if err != nil {
		return nil, fmt.Errorf("after: %w", err)
	}
	patch, err := sectionPatch(diffObjects(nil, a, b, nil), 0)
	if err != nil || patch != nil {
		return patch, err
	}
	return json.RawMessage("{}"), nil
}

// Editable returns a section as the editor shows it: without the top-level
// $metadata and $version the hub adds to desired, indented by two spaces,
// keys in the hub's order and numbers exactly as the hub wrote them.
func Editable(section json.RawMessage) (json.RawMessage, error) {
	text := bytes.TrimSpace(section)
	if len(text) == 0 || string(text) == "null" {
		return json.RawMessage("{}"), nil
	}
	n, err := parse(text, false)
	if err != nil {
		return nil, err
	}
	if n.kind != kObject {
		return nil, errors.New("twinedit: a section must be a JSON object")
	}
	compact := []byte{'{'}
	first := true
	for i, k := range n.keys {
		if k == "$metadata" || k == "$version" {
			continue
		}
		if !first {
			compact = append(compact, ',')
		}
		first = false
		compact = quoteKey(compact, k)
		compact = append(compact, ':')
		compact = append(compact, n.vals[i].raw...)
	}
	compact = append(compact, '}')
	var out bytes.Buffer
	if err := json.Indent(&out, compact, "", "  "); err != nil {
		return nil, fmt.Errorf("twinedit: indenting: %w", err)
	}
	return out.Bytes(), nil
}

// ParseDoc reads the text of a one-box editor holding a whole draft:
// {"tags":{...},"desired":{...}}, or desired under "properties" as the hub
// writes it. Anything else is refused, naming the path, rather than
// silently dropped: reported properties belong to the device and the other
// twin fields to the hub.
func ParseDoc(text []byte) (Doc, error) {
	n, err := parse(bytes.TrimSpace(text), false)
	if err != nil {
		return Doc{}, err
	}
	if n.kind != kObject {
		return Doc{}, &PathError{Reason: "the draft must be a JSON object"}
	}
	var d Doc
	for i, k := range n.keys {
		v := n.vals[i]
		switch k {
		case "tags":
			d.Tags = v.raw
		case "desired":
			d.Desired = v.raw
		case "properties":
			if v.kind != kObject {
				return Doc{}, &PathError{Path: Path{k}, Reason: "must be a JSON object"}
			}
			for j, pk := range v.keys {
				switch pk {
				case "desired":
					d.Desired = v.vals[j].raw
				case "reported":
					return Doc{}, &PathError{Path: Path{k, pk}, ReadOnly: true, Reason: "reported properties are written by the device"}
				default:
					return Doc{}, &PathError{Path: Path{k, pk}, ReadOnly: true, Reason: "only tags and desired properties can be edited"}
				}
			}
		case "reported":
			return Doc{}, &PathError{Path: Path{k}, ReadOnly: true, Reason: "reported properties are written by the device"}
		default:
			return Doc{}, &PathError{Path: Path{k}, ReadOnly: true, Reason: "only tags and desired properties can be edited"}
		}
	}
	return d, nil
}
