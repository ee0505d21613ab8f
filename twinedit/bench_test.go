package twinedit

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	jsonpatch "github.com/evanphx/json-patch/v5"
)

// bigSection returns a JSON object of about size bytes shaped like real
// twins: nested settings objects, numbers, strings and small arrays.
func bigSection(prefix string, size int) string {
	var b strings.Builder
	b.WriteString("{")
	for i := 0; b.Len() < size-200; i++ {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `"%s%d":{"enabled":true,"interval":%d,"threshold":%d.25,"name":"sensor-%d",`+
			`"tags":["a","b"],"limits":{"min":-%d,"max":%d,"unit":"celsius"}}`, prefix, i, i*10, i, i, i, i*3)
	}
	b.WriteString("}")
	return b.String()
}

// saveCase is a maximum-size twin (8 KB tags, 32 KB desired), a draft
// changing a few values in each section, and a concurrent change elsewhere.
type saveCase struct {
	base, theirs, mine Doc
	plain              []byte // the twin as encoding/json would see it
}

func newSaveCase(tb testing.TB) saveCase {
	tags := bigSection("t", 8*1024)
	desired := bigSection("d", 32*1024)
	meta := `,"$metadata":{"$lastUpdated":"2024-05-01T10:00:00.1234567Z","$lastUpdatedVersion":7},"$version":7}`
	var s saveCase
	s.base = Doc{Tags: json.RawMessage(tags), Desired: json.RawMessage(desired[:len(desired)-1] + meta)}
	s.mine = Doc{
		Tags:    json.RawMessage(strings.Replace(tags, `"interval":30,`, `"interval":45,`, 1)),
		Desired: json.RawMessage(strings.Replace(strings.Replace(desired, `"max":150,`, `"max":160,`, 1), `"name":"sensor-7"`, `"name":"boiler"`, 1)),
	}
	theirsDesired := strings.Replace(desired, `"threshold":90.25`, `"threshold":91.5`, 1)
	s.theirs = Doc{Tags: json.RawMessage(tags), Desired: json.RawMessage(theirsDesired[:len(theirsDesired)-1] + strings.Replace(meta, "7", "8", -1))}
	s.plain = []byte(`{"tags":` + tags + `,"properties":{"desired":` + string(s.base.Desired) + `}}`)
	if len(tags) < 7*1024 || len(desired) < 31*1024 {
		tb.Fatalf("sections are %d and %d bytes", len(tags), len(desired))
	}
	return s
}

func (s saveCase) run(tb testing.TB) {
	c, err := Diff(s.base, s.mine)
	if err != nil {
		tb.Fatal(err)
	}
	if len(c.Paths) != 3 {
		tb.Fatalf("draft changes %d paths, want 3: %v", len(c.Paths), c.Paths)
	}
	r, err := Rebase(s.base, s.theirs, s.mine)
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
	b.SetBytes(int64(len(s.plain)))
	b.ReportAllocs()
	for b.Loop() {
		s.run(b)
	}
}

// BenchmarkEncodingJSONBaseline is one encoding/json decode and encode of
// the same twin.
func BenchmarkEncodingJSONBaseline(b *testing.B) {
	s := newSaveCase(b)
	b.SetBytes(int64(len(s.plain)))
	b.ReportAllocs()
	for b.Loop() {
		var v any
		if err := json.Unmarshal(s.plain, &v); err != nil {
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
	b.SetBytes(int64(len(s.plain)))
	b.ReportAllocs()
	for b.Loop() {
		for _, pair := range [][2]json.RawMessage{{s.base.Tags, s.mine.Tags}, {s.base.Desired, s.mine.Desired}} {
			if _, err := jsonpatch.CreateMergePatch(pair[0], pair[1]); err != nil {
				b.Fatal(err)
			}
		}
	}
}
