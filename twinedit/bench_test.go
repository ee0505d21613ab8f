package twinedit_test

import (
	"encoding/json"
	"testing"

	jsonpatch "github.com/evanphx/json-patch/v5"

	"github.com/hubdesk/hubdesk/twinedit"
	"github.com/hubdesk/hubdesk/twinedit/twinedittest"
)

// saveCase adds a check of the outcome to the shared case.
type saveCase struct{ twinedittest.SaveCase }

func newSaveCase(tb testing.TB) saveCase {
	s := saveCase{twinedittest.NewSaveCase()}
	if len(s.Base.Tags) < 7*1024 || len(s.Mine.Desired) < 31*1024 {
		tb.Fatalf("sections are %d and %d bytes", len(s.Base.Tags), len(s.Mine.Desired))
	}
	return s
}

func (s saveCase) run(tb testing.TB) {
	c, err := twinedit.Diff(s.Base, s.Mine)
	if err != nil {
		tb.Fatal(err)
	}
	if len(c.Paths) != 3 {
		tb.Fatalf("draft changes %d paths, want 3: %v", len(c.Paths), c.Paths)
	}
	r, err := twinedit.Rebase(s.Base, s.Theirs, s.Mine)
	if err != nil {
		tb.Fatal(err)
	}
	if len(r.Conflicts) != 0 || len(r.TheirChanges) != 1 || len(r.Patch.Paths) != 3 {
		tb.Fatalf("rebase: %d conflicts, %d their changes, %d paths", len(r.Conflicts), len(r.TheirChanges), len(r.Patch.Paths))
	}
}

// BenchmarkSavePath is saving a draft of a maximum-size twin: validate and
// diff it, then the three-way rebase a 412 leads to. Compare with
// BenchmarkEncodingJSONBaseline.
func BenchmarkSavePath(b *testing.B) {
	s := newSaveCase(b)
	b.SetBytes(int64(len(s.Plain)))
	b.ReportAllocs()
	for b.Loop() {
		s.run(b)
	}
}

// BenchmarkEncodingJSONBaseline is one encoding/json decode and encode of
// the same twin.
func BenchmarkEncodingJSONBaseline(b *testing.B) {
	s := newSaveCase(b)
	b.SetBytes(int64(len(s.Plain)))
	b.ReportAllocs()
	for b.Loop() {
		var v any
		if err := json.Unmarshal(s.Plain, &v); err != nil {
			b.Fatal(err)
		}
		if _, err := json.Marshal(v); err != nil {
			b.Fatal(err)
		}
	}
}

func TestSaveCase(t *testing.T) {
	newSaveCase(t).run(t)
}

// BenchmarkLibraryOnWholeSections is what the save path would cost the
// library alone if it were handed whole sections rather than the changed
// paths: the reason sectionPatch reduces them first.
func BenchmarkLibraryOnWholeSections(b *testing.B) {
	s := newSaveCase(b)
	b.SetBytes(int64(len(s.Plain)))
	b.ReportAllocs()
	for b.Loop() {
		for _, pair := range [][2]json.RawMessage{{s.Base.Tags, s.Mine.Tags}, {s.Base.Desired, s.Mine.Desired}} {
			if _, err := jsonpatch.CreateMergePatch(pair[0], pair[1]); err != nil {
				b.Fatal(err)
			}
		}
	}
}
