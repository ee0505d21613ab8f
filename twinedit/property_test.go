package twinedit

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	jsonpatch "github.com/evanphx/json-patch/v5"
)

// keys are chosen to collide often and to include awkward names.
var testKeys = []string{"a", "b", "c", "a.b", "", "é", `q"`, "x y", "$v"}

// genValue returns a random JSON value as written text.
func genValue(r *rand.Rand, depth int) string {
	switch n := r.IntN(10); {
	case n < 3 && depth > 0:
		return genObject(r, depth-1)
	case n == 3:
		var parts []string
		for i := r.IntN(3); i > 0; i-- {
			parts = append(parts, genValue(r, 0))
		}
		return "[" + strings.Join(parts, ",") + "]"
	case n == 4:
		return []string{"true", "false"}[r.IntN(2)]
	case n < 7:
		return []string{"0", "1", "1.0", "-2.5e1", "30"}[r.IntN(5)]
	default:
		return []string{`""`, `"s"`, `"\u00e9"`, `"é"`, `"a\"b"`}[r.IntN(5)]
	}
}

func genObject(r *rand.Rand, depth int) string {
	var parts []string
	for _, k := range r.Perm(len(testKeys))[:r.IntN(5)] {
		parts = append(parts, string(quoteKey(nil, testKeys[k]))+":"+genValue(r, depth))
	}
	return "{" + strings.Join(parts, ",") + "}"
}

// mutate returns object text changed at random places, touching only the
// top-level keys allowed.
func mutate(t *testing.T, r *rand.Rand, text string, allowed []string) string {
	t.Helper()
	n, err := parse([]byte(text), true)
	if err != nil {
		t.Fatalf("generated %s: %v", text, err)
	}
	for i := r.IntN(4); i >= 0; i-- {
		path := Path{allowed[r.IntN(len(allowed))]}
		for cur := n; r.IntN(2) == 0; {
			j := cur.lookup(path[len(path)-1], -1)
			if j < 0 || cur.vals[j].kind != kObject {
				break
			}
			cur = cur.vals[j]
			path = append(path, testKeys[r.IntN(len(testKeys))])
		}
		var v *node
		if r.IntN(4) > 0 {
			if v, err = parse([]byte(genValue(r, 2)), true); err != nil {
				t.Fatal(err)
			}
		}
		n = with(n, path, v)
	}
	return string(write(nil, n))
}

func TestDiffPatchRebuildsEdited(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 2000; i++ {
		base := genObject(r, 3)
		edited := mutate(t, r, base, testKeys[:4])
		c, err := Diff(tagsDoc(base), tagsDoc(edited))
		if err != nil {
			t.Fatalf("Diff(%s, %s): %v", base, edited, err)
		}
		checkApplies(t, base, edited, c)
	}
}

// checkApplies checks that the patch and the path list each turn base into
// edited, and that the patch says no more than the library's own.
func checkApplies(t *testing.T, base, edited string, c *Change) {
	t.Helper()
	b, e := compactSection(t, base), compactSection(t, edited)
	got := b
	if c.Tags != nil {
		var err error
		if got, err = jsonpatch.MergePatch(b, c.Tags); err != nil {
			t.Fatalf("MergePatch(%s, %s): %v", b, c.Tags, err)
		}
	}
	if !sameValue(t, got, e) {
		t.Fatalf("base %s edited %s: patch %s gives %s", base, edited, c.Tags, got)
	}
	bn, _ := parse(b, true)
	tr := tree{tags: bn}
	for _, p := range c.Paths {
		var v *node
		if p.After != nil {
			v, _ = parse(p.After, true)
		}
		tr = tr.with(p.Path, v)
	}
	if !sameValue(t, write(nil, tr.tags), e) {
		t.Fatalf("base %s edited %s: paths %v give %s", base, edited, c.Paths, write(nil, tr.tags))
	}
	full, err := jsonpatch.CreateMergePatch(b, e)
	if err != nil {
		t.Fatal(err)
	}
	var fullTop map[string]json.RawMessage
	if err := json.Unmarshal(full, &fullTop); err != nil {
		t.Fatal(err)
	}
	if c.Tags == nil {
		return
	}
	var ours map[string]json.RawMessage
	if err := json.Unmarshal(c.Tags, &ours); err != nil {
		t.Fatal(err)
	}
	for k := range ours {
		if _, ok := fullTop[k]; !ok {
			t.Fatalf("base %s edited %s: our patch %s sends %q, the library's %s does not", base, edited, c.Tags, k, full)
		}
	}
}

func TestDisjointRebaseProperty(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < 1000; i++ {
		base := genObject(r, 3)
		keys := r.Perm(len(testKeys))
		var theirKeys, myKeys []string
		for j, k := range keys {
			if j%2 == 0 {
				theirKeys = append(theirKeys, testKeys[k])
			} else {
				myKeys = append(myKeys, testKeys[k])
			}
		}
		theirs := mutate(t, r, base, theirKeys)
		mine := mutate(t, r, base, myKeys)
		rb, err := Rebase(tagsDoc(base), tagsDoc(theirs), tagsDoc(mine))
		if err != nil {
			t.Fatal(err)
		}
		if len(rb.Conflicts) > 0 {
			t.Fatalf("base %s theirs %s mine %s: conflicts %v in disjoint edits", base, theirs, mine, rb.Conflicts)
		}
		checkBothPatches(t, base, theirs, mine, rb.Merged.Tags)
		checkApplies(t, theirs, string(rb.Merged.Tags), rb.Patch)
	}
}

func TestOverlappingRebaseProperty(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	conflicts := 0
	for i := 0; i < 1000; i++ {
		base := genObject(r, 3)
		theirs := mutate(t, r, base, testKeys[:3])
		mine := mutate(t, r, base, testKeys[:3])
		if err := checkRebase(base, theirs, mine); err != nil {
			t.Fatal(err)
		}
		rb, _ := Rebase(tagsDoc(base), tagsDoc(theirs), tagsDoc(mine))
		conflicts += len(rb.Conflicts)
	}
	if conflicts == 0 {
		t.Fatal("no conflicts generated: the test is not testing them")
	}
}

// checkRebase checks Rebase and Resolve against their definitions. It is
// shared by the property test and FuzzRebase.
func checkRebase(base, theirs, mine string) error {
	rb, err := Rebase(tagsDoc(base), tagsDoc(theirs), tagsDoc(mine))
	if err != nil {
		return nil // invalid input is Diff's concern
	}
	w, err := compare(rb.Base, rb.Theirs, rb.Mine)
	if err != nil {
		return fmt.Errorf("compare after Rebase succeeded: %w", err)
	}
	tChanges, _ := diffTrees(w.base, w.theirs)
	mChanges, _ := diffTrees(w.base, w.mine)
	underConflict := func(p Path) bool {
		for _, c := range rb.Conflicts {
			if c.Path.isPrefix(p) || p.isPrefix(c.Path) {
				return true
			}
		}
		return false
	}
	for _, tc := range tChanges {
		for _, mc := range mChanges {
			overlaps := tc.path.isPrefix(mc.path) || mc.path.isPrefix(tc.path)
			if overlaps && !underConflict(mc.path) {
				short := tc.path
				if len(mc.path) < len(short) {
					short = mc.path
				}
				if !equal(w.theirs.at(short), w.mine.at(short)) {
					return fmt.Errorf("base %s theirs %s mine %s: %s and %s overlap with different results but no conflict", base, theirs, mine, tc.path, mc.path)
				}
			}
		}
	}
	for _, c := range rb.Conflicts {
		if equal(w.theirs.at(c.Path), w.mine.at(c.Path)) {
			return fmt.Errorf("base %s theirs %s mine %s: conflict at %s where both agree", base, theirs, mine, c.Path)
		}
	}
	choose := func(ch Choice) (tree, error) {
		m := make(map[string]Choice)
		for _, c := range rb.Conflicts {
			m[c.Path.String()] = ch
		}
		d, err := Resolve(rb, m)
		if err != nil {
			return tree{}, err
		}
		if _, err := Diff(rb.Theirs, d); err != nil {
			return tree{}, fmt.Errorf("resolved draft is not a valid edit: %w", err)
		}
		return parseDoc(d, true)
	}
	keep, err := choose(KeepMine)
	if err != nil {
		return err
	}
	take, err := choose(TakeTheirs)
	if err != nil {
		return err
	}
	for _, mc := range mChanges {
		if !equal(keep.at(mc.path), mc.after) {
			return fmt.Errorf("base %s theirs %s mine %s: keeping mine loses %s", base, theirs, mine, mc.path)
		}
		if !underConflict(mc.path) && !equal(take.at(mc.path), mc.after) {
			return fmt.Errorf("base %s theirs %s mine %s: taking theirs loses my clean change at %s", base, theirs, mine, mc.path)
		}
	}
	for _, tc := range tChanges {
		if !equal(take.at(tc.path), tc.after) {
			return fmt.Errorf("base %s theirs %s mine %s: taking theirs loses %s", base, theirs, mine, tc.path)
		}
	}
	if len(rb.Conflicts) == 0 {
		if rb.Merged == nil || rb.Patch == nil {
			return fmt.Errorf("no conflicts but no merge")
		}
		m, err := parseDoc(*rb.Merged, true)
		if err != nil {
			return err
		}
		if !equal(m.tags, keep.tags) {
			return fmt.Errorf("base %s theirs %s mine %s: merged %s differs from resolved %s", base, theirs, mine, rb.Merged.Tags, write(nil, keep.tags))
		}
	}
	return nil
}
