package twinedit

import (
	"encoding/json"
	"fmt"
	"sort"
)

// Conflict is a path both sides changed to different results. Values are
// compact JSON, nil when absent.
type Conflict struct {
	Path               Path
	Base, Theirs, Mine json.RawMessage
}

// Choice settles one conflict.
type Choice int

// Choices for Resolve. The zero Choice is invalid.
const (
	KeepMine Choice = iota + 1
	TakeTheirs
)

// Rebased compares, after a 412, what changed on the hub since the base
// (theirs) with the person's draft (mine).
//
// Two changes overlap when one's path is the other's or an ancestor of it.
// Overlapping changes conflict, at the shorter path, unless theirs and mine
// hold the same value there: making the same change twice is agreement.
type Rebased struct {
	// Base, Theirs and Mine are the inputs, kept for Resolve.
	Base, Theirs, Mine Doc
	// TheirChanges is what changed underneath, base to theirs.
	TheirChanges []PathChange
	// Lost lists their changes that a forced write of mine would discard:
	// Before is theirs, After mine.
	Lost []PathChange
	// Conflicts are in the order of the draft's changes.
	Conflicts []Conflict
	// Merged is mine applied on top of theirs, indented for the editor, and
	// Patch is Merged relative to theirs; both nil when there are conflicts.
	Merged *Doc
	Patch  *Change
}

// threeWay is the comparison shared by Rebase and Resolve.
type threeWay struct {
	base, theirs, mine tree
	their, lost        []change
	clean              []change // mine's changes outside any conflict
	conflicts          []change // path, before = theirs, after = mine
}

func compare(base, theirs, mine Doc) (*threeWay, error) {
	w := &threeWay{}
	var err error
	if w.base, err = parseDoc(base, false); err != nil {
		return nil, fmt.Errorf("base: %w", err)
	}
	if w.theirs, err = parseDoc(theirs, false); err != nil {
		return nil, fmt.Errorf("theirs: %w", err)
	}
	if w.mine, err = parseDoc(mine, true); err != nil {
		return nil, err
	}
	tt, td := diffTrees(w.base, w.theirs)
	mt, md := diffTrees(w.base, w.mine)
	w.their = append(tt, td...)
	mineChanges := append(mt, md...)

	exact := make(map[string]bool, len(w.their))
	under := make(map[string]bool) // proper ancestors of their paths
	for _, c := range w.their {
		exact[c.path.Pointer()] = true
		for l := 1; l < len(c.path); l++ {
			under[c.path[:l].Pointer()] = true
		}
		if m := w.mine.at(c.path); !equal(c.after, m) {
			w.lost = append(w.lost, change{path: c.path, before: c.after, after: m})
		}
	}

	overlapAt := make(map[string]int) // conflict candidate -> index in cands
	var cands []Path
	var pending [][]change
	for _, c := range mineChanges {
		at := overlap(c.path, exact, under)
		if at == nil {
			w.clean = append(w.clean, c)
			continue
		}
		key := at.Pointer()
		i, ok := overlapAt[key]
		if !ok {
			i = len(cands)
			overlapAt[key] = i
			cands = append(cands, at)
			pending = append(pending, nil)
		}
		pending[i] = append(pending[i], c)
	}
	for i, p := range cands {
		t, m := w.theirs.at(p), w.mine.at(p)
		if equal(t, m) {
			w.clean = append(w.clean, pending[i]...)
			continue
		}
		w.conflicts = append(w.conflicts, change{path: p, before: t, after: m})
	}
	return w, nil
}

// overlap returns the shorter path of mine's change at p and an
// overlapping change of theirs, or nil when none overlaps.
func overlap(p Path, exact, under map[string]bool) Path {
	for l := 2; l <= len(p); l++ {
		if exact[p[:l].Pointer()] {
			return p[:l]
		}
	}
	if under[p.Pointer()] {
		return p
	}
	return nil
}

// Rebase compares base to theirs (the twin now) with base to mine (the
// draft) path by path, for the conflict prompt after a 412. Without
// conflicts it also gives the merged draft and its patch against theirs,
// which the caller reviews and sends with theirs' etag.
func Rebase(base, theirs, mine Doc) (*Rebased, error) {
	w, err := compare(base, theirs, mine)
	if err != nil {
		return nil, err
	}
	r := &Rebased{Base: base, Theirs: theirs, Mine: mine}
	for _, c := range w.their {
		r.TheirChanges = append(r.TheirChanges, c.render())
	}
	for _, c := range w.lost {
		r.Lost = append(r.Lost, c.render())
	}
	for _, c := range w.conflicts {
		r.Conflicts = append(r.Conflicts, Conflict{
			Path: c.path, Base: raw(w.base.at(c.path)), Theirs: raw(c.before), Mine: raw(c.after),
		})
	}
	if len(r.Conflicts) > 0 {
		return r, nil
	}
	merged := w.theirs
	for _, c := range w.clean {
		merged = merged.with(c.path, c.after)
	}
	tags, desired := diffTrees(w.theirs, merged)
	if r.Patch, err = makeChange(tags, desired); err != nil {
		return nil, err
	}
	d, err := merged.doc()
	if err != nil {
		return nil, err
	}
	r.Merged = &d
	return r, nil
}

// Resolve builds the new draft relative to theirs: mine's changes that do
// not conflict, and for each conflict the side chosen in choices, keyed by
// the conflict's Path.String(). Every conflict needs a choice. The caller
// then reviews the draft with Diff against theirs and its etag.
func Resolve(r *Rebased, choices map[string]Choice) (Doc, error) {
	w, err := compare(r.Base, r.Theirs, r.Mine)
	if err != nil {
		return Doc{}, err
	}
	known := make(map[string]bool, len(w.conflicts))
	merged := w.theirs
	for _, c := range w.clean {
		merged = merged.with(c.path, c.after)
	}
	for _, c := range w.conflicts {
		key := c.path.String()
		known[key] = true
		switch choices[key] {
		case KeepMine:
			merged = merged.with(c.path, c.after)
		case TakeTheirs:
		default:
			return Doc{}, fmt.Errorf("twinedit: no choice for conflict at %s", key)
		}
	}
	var unknown []string
	for key := range choices {
		if !known[key] {
			unknown = append(unknown, key)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return Doc{}, fmt.Errorf("twinedit: choices for paths that are not conflicts: %v", unknown)
	}
	return merged.doc()
}

// at returns the value at p, nil when absent.
func (t tree) at(p Path) *node {
	n, rel := t.root(p)
	for _, k := range rel {
		if n == nil || n.kind != kObject {
			return nil
		}
		i := n.lookup(k, -1)
		if i < 0 {
			return nil
		}
		n = n.vals[i]
	}
	return n
}

// root returns the section p is in and p relative to it.
func (t tree) root(p Path) (*node, Path) {
	if len(p) >= 1 && p[0] == "tags" {
		return t.tags, p[1:]
	}
	if len(p) >= 2 && p[0] == "properties" && p[1] == "desired" {
		return t.desired, p[2:]
	}
	return nil, nil
}

// with returns t with the value at p set to v, or removed when v is nil.
// Only the objects along p are copied, so t is unchanged.
func (t tree) with(p Path, v *node) tree {
	n, rel := t.root(p)
	if n == nil || len(rel) == 0 {
		return t
	}
	n = with(n, rel, v)
	if p[0] == "tags" {
		t.tags = n
	} else {
		t.desired = n
	}
	return t
}

// with follows merge patch semantics: a missing or non-object ancestor
// becomes an object.
func with(n *node, rel Path, v *node) *node {
	c := &node{kind: kObject}
	if n != nil && n.kind == kObject {
		c.keys = append([]string(nil), n.keys...)
		c.vals = append([]*node(nil), n.vals...)
	}
	k := rel[0]
	i := c.lookup(k, -1)
	if len(rel) > 1 {
		var child *node
		if i >= 0 {
			child = c.vals[i]
		}
		v = with(child, rel[1:], v)
	}
	switch {
	case v == nil && i >= 0:
		c.keys = append(c.keys[:i], c.keys[i+1:]...)
		c.vals = append(c.vals[:i], c.vals[i+1:]...)
		c.idx = nil
	case v == nil:
	case i >= 0:
		c.vals[i] = v
	default:
		c.keys = append(c.keys, k)
		c.vals = append(c.vals, v)
		c.idx = nil
	}
	return c
}

// doc writes t as a Doc indented for the editor.
func (t tree) doc() (Doc, error) {
	tags, err := indent(t.tags)
	if err != nil {
		return Doc{}, err
	}
	desired, err := indent(t.desired)
	if err != nil {
		return Doc{}, err
	}
	return Doc{Tags: tags, Desired: desired}, nil
}

func indent(n *node) (json.RawMessage, error) {
	return writeIndent(nil, n, 0), nil
}

// writeIndent appends n as json.Indent with two spaces would write it,
// without a second scan of the text.
func writeIndent(buf []byte, n *node, depth int) []byte {
	newline := func(depth int) {
		buf = append(buf, '\n')
		for range depth {
			buf = append(buf, ' ', ' ')
		}
	}
	switch {
	case n.kind == kObject && len(n.keys) > 0:
		buf = append(buf, '{')
		for i, v := range n.vals {
			if i > 0 {
				buf = append(buf, ',')
			}
			newline(depth + 1)
			buf = quoteKey(buf, n.keys[i])
			buf = append(buf, ':', ' ')
			buf = writeIndent(buf, v, depth+1)
		}
		newline(depth)
		return append(buf, '}')
	case n.kind == kArray && len(n.vals) > 0:
		buf = append(buf, '[')
		for i, v := range n.vals {
			if i > 0 {
				buf = append(buf, ',')
			}
			newline(depth + 1)
			buf = writeIndent(buf, v, depth+1)
		}
		newline(depth)
		return append(buf, ']')
	default:
		return write(buf, n)
	}
}
