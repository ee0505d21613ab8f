package twinedit

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"testing"

	jsonpatch "github.com/evanphx/json-patch/v5"
)

func tagsDoc(s string) Doc { return Doc{Tags: json.RawMessage(s)} }

func TestRebase(t *testing.T) {
	tests := []struct {
		name               string
		base, theirs, mine string // tags sections
		conflicts          []string
		merged             string // "" when conflicts
		patch              string // tags patch relative to theirs, "" for none
	}{
		{
			name: "disjoint edits merge",
			base: `{"a":1,"b":1,"c":{"x":1,"y":1}}`, theirs: `{"a":2,"b":1,"c":{"x":2,"y":1}}`,
			mine:   `{"a":1,"b":3,"c":{"x":1,"y":3},"n":1}`,
			merged: `{"a":2,"b":3,"c":{"x":2,"y":3},"n":1}`, patch: `{"b":3,"c":{"y":3},"n":1}`,
		},
		{
			name: "same path, same value agrees",
			base: `{"a":1}`, theirs: `{"a":2}`, mine: `{"a":2.0}`,
			merged: `{"a":2}`,
		},
		{
			name: "both removed agrees",
			base: `{"a":1,"b":1}`, theirs: `{"b":1}`, mine: `{"b":1}`,
			merged: `{"b":1}`,
		},
		{
			name: "same path, different values",
			base: `{"a":1}`, theirs: `{"a":2}`, mine: `{"a":3}`,
			conflicts: []string{"tags.a"},
		},
		{
			name: "they removed what I changed",
			base: `{"a":1}`, theirs: `{}`, mine: `{"a":3}`,
			conflicts: []string{"tags.a"},
		},
		{
			name: "they removed an ancestor of my change",
			base: `{"s":{"f":1,"g":1}}`, theirs: `{}`, mine: `{"s":{"f":2,"g":2}}`,
			conflicts: []string{"tags.s"},
		},
		{
			name: "I replaced an ancestor of their change",
			base: `{"s":{"f":1}}`, theirs: `{"s":{"f":2}}`, mine: `{"s":"flat"}`,
			conflicts: []string{"tags.s"},
		},
		{
			name: "siblings under one object do not overlap",
			base: `{"s":{"f":1}}`, theirs: `{"s":{"f":1,"g":1}}`, mine: `{"s":{"f":2}}`,
			merged: `{"s":{"f":2,"g":1}}`, patch: `{"s":{"f":2}}`,
		},
		{
			name: "both added the same key differently",
			base: `{}`, theirs: `{"n":{"a":1}}`, mine: `{"n":{"b":1}}`,
			conflicts: []string{"tags.n"},
		},
		{
			name: "key with a dot",
			base: `{"a.b":1}`, theirs: `{"a.b":2}`, mine: `{"a.b":3}`,
			conflicts: []string{`tags["a.b"]`},
		},
		{
			name: "nothing changed underneath",
			base: `{"a":1}`, theirs: `{"a":1}`, mine: `{"a":5}`,
			merged: `{"a":5}`, patch: `{"a":5}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Rebase(tagsDoc(tt.base), tagsDoc(tt.theirs), tagsDoc(tt.mine))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, c := range r.Conflicts {
				got = append(got, c.Path.String())
			}
			if !reflect.DeepEqual(got, tt.conflicts) {
				t.Errorf("conflicts = %v, want %v", got, tt.conflicts)
			}
			if tt.merged == "" {
				if r.Merged != nil || r.Patch != nil {
					t.Errorf("Merged = %v, Patch = %v with conflicts", r.Merged, r.Patch)
				}
				return
			}
			if r.Merged == nil {
				t.Fatal("Merged = nil")
			}
			var indented bytes.Buffer
			if err := json.Indent(&indented, compactSection(t, string(r.Merged.Tags)), "", "  "); err != nil {
				t.Fatal(err)
			}
			if indented.String() != string(r.Merged.Tags) {
				t.Errorf("merged is not indented as json.Indent would:\n%s\nwant\n%s", r.Merged.Tags, indented.String())
			}
			if !sameJSON(t, r.Merged.Tags, []byte(tt.merged)) {
				t.Errorf("merged = %s, want %s", r.Merged.Tags, tt.merged)
			}
			checkPatch(t, "tags", r.Patch.Tags, tt.patch)
		})
	}
}

func TestRebaseReportsValues(t *testing.T) {
	base := Doc{Tags: json.RawMessage(`{"a":1,"k":1}`), Desired: json.RawMessage(`{"x":1,"$version":1}`)}
	theirs := Doc{Tags: json.RawMessage(`{"a":2,"k":1}`), Desired: json.RawMessage(`{"x":1,"y":1,"$version":2}`)}
	mine := Doc{Tags: json.RawMessage(`{"k":1}`), Desired: json.RawMessage(`{"x":1}`)}
	r, err := Rebase(base, theirs, mine)
	if err != nil {
		t.Fatal(err)
	}
	wantTheirs := []PathChange{
		pc(Changed, "1", "2", "tags", "a"),
		pc(Added, "", "1", "properties", "desired", "y"),
	}
	if !reflect.DeepEqual(r.TheirChanges, wantTheirs) {
		t.Errorf("TheirChanges:\n got %v\nwant %v", r.TheirChanges, wantTheirs)
	}
	wantConflicts := []Conflict{{Path: Path{"tags", "a"}, Base: json.RawMessage("1"), Theirs: json.RawMessage("2")}}
	if !reflect.DeepEqual(r.Conflicts, wantConflicts) {
		t.Errorf("Conflicts:\n got %v\nwant %v", r.Conflicts, wantConflicts)
	}
	wantLost := []PathChange{
		pc(Removed, "2", "", "tags", "a"),
		pc(Removed, "1", "", "properties", "desired", "y"),
	}
	if !reflect.DeepEqual(r.Lost, wantLost) {
		t.Errorf("Lost:\n got %v\nwant %v", r.Lost, wantLost)
	}
}

func TestResolve(t *testing.T) {
	base := tagsDoc(`{"a":1,"b":1,"s":{"f":1},"k":1}`)
	theirs := tagsDoc(`{"a":2,"b":2,"s":{"f":2},"k":1}`)
	mine := tagsDoc(`{"a":3,"b":3,"k":2}`)
	r, err := Rebase(base, theirs, mine)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		choices map[string]Choice
		want    string
		wantErr bool
	}{
		{"keep all mine", map[string]Choice{"tags.a": KeepMine, "tags.b": KeepMine, "tags.s": KeepMine}, `{"a":3,"b":3,"k":2}`, false},
		{"take all theirs", map[string]Choice{"tags.a": TakeTheirs, "tags.b": TakeTheirs, "tags.s": TakeTheirs}, `{"a":2,"b":2,"s":{"f":2},"k":2}`, false},
		{"mixed", map[string]Choice{"tags.a": KeepMine, "tags.b": TakeTheirs, "tags.s": TakeTheirs}, `{"a":3,"b":2,"s":{"f":2},"k":2}`, false},
		{"missing choice", map[string]Choice{"tags.a": KeepMine, "tags.b": KeepMine}, "", true},
		{"zero choice", map[string]Choice{"tags.a": KeepMine, "tags.b": KeepMine, "tags.s": 0}, "", true},
		{"unknown path", map[string]Choice{"tags.a": KeepMine, "tags.b": KeepMine, "tags.s": KeepMine, "tags.k": KeepMine}, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := Resolve(r, tt.choices)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("Resolve() = %s, want an error", d.Tags)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !sameJSON(t, d.Tags, []byte(tt.want)) {
				t.Errorf("draft = %s, want %s", d.Tags, tt.want)
			}
			// The draft is reviewed again against theirs: it must be a valid edit.
			if _, err := Diff(theirs, d); err != nil {
				t.Errorf("Diff(theirs, draft): %v", err)
			}
		})
	}
}

func TestRebaseRefusesReadOnlyDraft(t *testing.T) {
	_, err := Rebase(Doc{}, Doc{}, Doc{Desired: json.RawMessage(`{"$version":2}`)})
	if !errors.Is(err, ErrReadOnly) {
		t.Fatalf("err = %v, want ErrReadOnly", err)
	}
}

func TestParseDoc(t *testing.T) {
	tests := []struct {
		name          string
		text          string
		tags, desired string
		refused       string // path of the refusal
	}{
		{name: "tags and desired", text: `{"tags":{"a":1},"desired":{"b":2}}`, tags: `{"a":1}`, desired: `{"b":2}`},
		{name: "properties.desired", text: `{"properties":{"desired":{"b":2}}}`, desired: `{"b":2}`},
		{name: "empty", text: `{}`},
		{name: "reported", text: `{"tags":{},"properties":{"desired":{},"reported":{"x":1}}}`, refused: "properties.reported"},
		{name: "top-level reported", text: `{"reported":{}}`, refused: "reported"},
		{name: "other top-level key", text: `{"tags":{},"deviceId":"d1"}`, refused: "deviceId"},
		{name: "etag", text: `{"etag":"AAAA"}`, refused: "etag"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := ParseDoc([]byte(tt.text))
			if tt.refused != "" {
				var pe *PathError
				if !errors.As(err, &pe) || pe.Path.String() != tt.refused || !errors.Is(err, ErrReadOnly) {
					t.Fatalf("err = %v, want read-only %s", err, tt.refused)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(d.Tags) != tt.tags || string(d.Desired) != tt.desired {
				t.Errorf("ParseDoc() = %s, %s; want %s, %s", d.Tags, d.Desired, tt.tags, tt.desired)
			}
		})
	}
}

// TestDisjointRebaseMatchesBothPatches checks the property the merge relies
// on: for edits that do not overlap, the merged draft is base with both
// patches applied, in either order.
func TestDisjointRebaseMatchesBothPatches(t *testing.T) {
	cases := []struct{ base, theirs, mine string }{
		{`{"a":1,"b":{"c":1,"d":[1]}}`, `{"a":2,"b":{"c":1,"d":[1]}}`, `{"a":1,"b":{"c":1,"d":[2]},"e":{}}`},
		{`{"s":{"t":{"u":1}},"v":"x"}`, `{"s":{"t":{"u":1,"w":2}},"v":"x"}`, `{"s":{"t":{"u":1}}}`},
		{`{"k":1}`, `{"k":1,"n":{"o":true}}`, `{"m":null,"k":1}`},
	}
	for _, c := range cases {
		r, err := Rebase(tagsDoc(c.base), tagsDoc(c.theirs), tagsDoc(c.mine))
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Conflicts) > 0 {
			t.Fatalf("%v: unexpected conflicts %v", c, r.Conflicts)
		}
		checkBothPatches(t, c.base, c.theirs, c.mine, r.Merged.Tags)
	}
}

// checkBothPatches checks merged against base with the patches base to
// theirs and base to mine applied in both orders.
func checkBothPatches(t *testing.T, base, theirs, mine string, merged []byte) {
	t.Helper()
	tp, err := Diff(tagsDoc(base), tagsDoc(theirs))
	if err != nil {
		t.Fatal(err)
	}
	mp, err := Diff(tagsDoc(base), tagsDoc(mine))
	if err != nil {
		t.Fatal(err)
	}
	baseJSON := compactSection(t, base)
	for _, order := range [][]json.RawMessage{{tp.Tags, mp.Tags}, {mp.Tags, tp.Tags}} {
		doc := baseJSON
		for _, p := range order {
			if p == nil {
				continue
			}
			if doc, err = jsonpatch.MergePatch(doc, p); err != nil {
				t.Fatal(err)
			}
		}
		if !sameValue(t, doc, merged) {
			t.Errorf("base %s theirs %s mine %s: patches give %s, merged is %s", base, theirs, mine, doc, merged)
		}
	}
}

func compactSection(t *testing.T, s string) []byte {
	t.Helper()
	n, err := parseSection(secTags, json.RawMessage(s), false)
	if err != nil {
		t.Fatal(err)
	}
	return write(nil, n)
}
