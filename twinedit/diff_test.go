package twinedit

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	jsonpatch "github.com/evanphx/json-patch/v5"
)

// pc is a PathChange in test shorthand.
func pc(kind Kind, before, after string, path ...string) PathChange {
	c := PathChange{Path: Path(path), Kind: kind}
	if before != "" {
		c.Before = json.RawMessage(before)
	}
	if after != "" {
		c.After = json.RawMessage(after)
	}
	return c
}

// sameJSON reports whether a and b decode to the same value.
func sameJSON(t *testing.T, a, b []byte) bool {
	t.Helper()
	var va, vb any
	if err := json.Unmarshal(a, &va); err != nil {
		t.Fatalf("decoding %s: %v", a, err)
	}
	if err := json.Unmarshal(b, &vb); err != nil {
		t.Fatalf("decoding %s: %v", b, err)
	}
	return reflect.DeepEqual(va, vb)
}

func TestDiff(t *testing.T) {
	const hubDesired = `{"fw":"1.0","interval":30,"$metadata":{"$lastUpdated":"2024-01-01T00:00:00Z"},"$version":4}`
	tests := []struct {
		name          string
		base, edited  Doc
		tags, desired string // expected patches, "" for none
		paths         []PathChange
	}{
		{
			name:   "nothing changed",
			base:   Doc{Tags: json.RawMessage(`{"a":1}`), Desired: json.RawMessage(hubDesired)},
			edited: Doc{Tags: json.RawMessage("{\n  \"a\": 1\n}"), Desired: json.RawMessage(`{"fw":"1.0","interval":30}`)},
		},
		{
			name:   "numbers compare by value",
			base:   Doc{Tags: json.RawMessage(`{"a":1,"b":100,"c":0}`)},
			edited: Doc{Tags: json.RawMessage(`{"a":1.0,"b":1e2,"c":-0}`)},
		},
		{
			name:   "strings compare decoded",
			base:   Doc{Tags: json.RawMessage(`{"a":"é"}`)},
			edited: Doc{Tags: json.RawMessage(`{"a":"\u00e9"}`)},
		},
		{
			name:   "key order does not matter",
			base:   Doc{Tags: json.RawMessage(`{"a":{"x":1,"y":2},"b":2}`)},
			edited: Doc{Tags: json.RawMessage(`{"b":2,"a":{"y":2,"x":1}}`)},
		},
		{
			name:   "added",
			base:   Doc{Tags: json.RawMessage(`{"a":1}`)},
			edited: Doc{Tags: json.RawMessage(`{"a":1,"b":{"c":true}}`)},
			tags:   `{"b":{"c":true}}`,
			paths:  []PathChange{pc(Added, "", `{"c":true}`, "tags", "b")},
		},
		{
			name:    "removed becomes null",
			base:    Doc{Desired: json.RawMessage(hubDesired)},
			edited:  Doc{Desired: json.RawMessage(`{"fw":"1.0"}`)},
			desired: `{"interval":null}`,
			paths:   []PathChange{pc(Removed, "30", "", "properties", "desired", "interval")},
		},
		{
			name:    "null in the draft removes",
			base:    Doc{Desired: json.RawMessage(hubDesired)},
			edited:  Doc{Desired: json.RawMessage(`{"fw":"1.0","interval":null,"never":null}`)},
			desired: `{"interval":null}`,
			paths:   []PathChange{pc(Removed, "30", "", "properties", "desired", "interval")},
		},
		{
			name:    "changed keeps number text",
			base:    Doc{Desired: json.RawMessage(hubDesired)},
			edited:  Doc{Desired: json.RawMessage(`{"fw":"1.0","interval":30.50}`)},
			desired: `{"interval":30.50}`,
			paths:   []PathChange{pc(Changed, "30", "30.50", "properties", "desired", "interval")},
		},
		{
			name:   "nested",
			base:   Doc{Tags: json.RawMessage(`{"site":{"floor":1,"room":"a","old":true},"k":1}`)},
			edited: Doc{Tags: json.RawMessage(`{"site":{"floor":2,"room":"a","new":[1]},"k":1}`)},
			tags:   `{"site":{"floor":2,"new":[1],"old":null}}`,
			paths: []PathChange{
				pc(Changed, "1", "2", "tags", "site", "floor"),
				pc(Removed, "true", "", "tags", "site", "old"),
				pc(Added, "", "[1]", "tags", "site", "new"),
			},
		},
		{
			name:   "arrays change whole",
			base:   Doc{Tags: json.RawMessage(`{"l":[1,2,{"a":1}]}`)},
			edited: Doc{Tags: json.RawMessage(`{"l":[1,2,{"a":2}]}`)},
			tags:   `{"l":[1,2,{"a":2}]}`,
			paths:  []PathChange{pc(Changed, `[1,2,{"a":1}]`, `[1,2,{"a":2}]`, "tags", "l")},
		},
		{
			name:   "equal arrays send nothing",
			base:   Doc{Tags: json.RawMessage(`{"l":[1,"x",{"a":1}]}`)},
			edited: Doc{Tags: json.RawMessage(`{"l":[1.0,"x",{"a":1}]}`)},
		},
		{
			name:   "type changes",
			base:   Doc{Tags: json.RawMessage(`{"a":{"x":1},"b":1,"c":"1","d":[],"e":false}`)},
			edited: Doc{Tags: json.RawMessage(`{"a":1,"b":{"x":1},"c":1,"d":{},"e":true}`)},
			tags:   `{"a":1,"b":{"x":1},"c":1,"d":{},"e":true}`,
			paths: []PathChange{
				pc(Changed, `{"x":1}`, "1", "tags", "a"),
				pc(Changed, "1", `{"x":1}`, "tags", "b"),
				pc(Changed, `"1"`, "1", "tags", "c"),
				pc(Changed, "[]", "{}", "tags", "d"),
				pc(Changed, "false", "true", "tags", "e"),
			},
		},
		{
			name:   "empty object removed and added",
			base:   Doc{Tags: json.RawMessage(`{"gone":{}}`)},
			edited: Doc{Tags: json.RawMessage(`{"made":{}}`)},
			tags:   `{"gone":null,"made":{}}`,
			paths: []PathChange{
				pc(Removed, "{}", "", "tags", "gone"),
				pc(Added, "", "{}", "tags", "made"),
			},
		},
		{
			name:   "awkward keys",
			base:   Doc{Tags: json.RawMessage(`{"a.b":{"c":1},"q\"uote":1,"":1,"ключ":1}`)},
			edited: Doc{Tags: json.RawMessage(`{"a.b":{"c":2},"q\"uote":2,"":2,"ключ":2}`)},
			tags:   `{"":2,"a.b":{"c":2},"ключ":2,"q\"uote":2}`,
			paths: []PathChange{
				pc(Changed, "1", "2", "tags", "a.b", "c"),
				pc(Changed, "1", "2", "tags", `q"uote`),
				pc(Changed, "1", "2", "tags", ""),
				pc(Changed, "1", "2", "tags", "ключ"),
			},
		},
		{
			name:   "deep nesting",
			base:   Doc{Tags: json.RawMessage(`{"a":{"b":{"c":{"d":{"e":{"f":{"g":{"h":{"i":{"j":1}}}}}}}}}}`)},
			edited: Doc{Tags: json.RawMessage(`{"a":{"b":{"c":{"d":{"e":{"f":{"g":{"h":{"i":{"j":2}}}}}}}}}}`)},
			tags:   `{"a":{"b":{"c":{"d":{"e":{"f":{"g":{"h":{"i":{"j":2}}}}}}}}}}`,
			paths:  []PathChange{pc(Changed, "1", "2", "tags", "a", "b", "c", "d", "e", "f", "g", "h", "i", "j")},
		},
		{
			name:    "both sections, empty and null sections",
			base:    Doc{Tags: nil, Desired: json.RawMessage(`null`)},
			edited:  Doc{Tags: json.RawMessage(`{"t":1}`), Desired: json.RawMessage(`{"d":1}`)},
			tags:    `{"t":1}`,
			desired: `{"d":1}`,
			paths: []PathChange{
				pc(Added, "", "1", "tags", "t"),
				pc(Added, "", "1", "properties", "desired", "d"),
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Diff(tt.base, tt.edited)
			if err != nil {
				t.Fatal(err)
			}
			checkPatch(t, "tags", c.Tags, tt.tags)
			checkPatch(t, "desired", c.Desired, tt.desired)
			if c.Empty() != (tt.tags == "" && tt.desired == "") {
				t.Errorf("Empty() = %v", c.Empty())
			}
			if len(c.Paths) != len(tt.paths) || (len(c.Paths) > 0 && !reflect.DeepEqual(c.Paths, tt.paths)) {
				t.Errorf("Paths:\n got %v\nwant %v", c.Paths, tt.paths)
			}
		})
	}
}

func checkPatch(t *testing.T, section string, got json.RawMessage, want string) {
	t.Helper()
	switch {
	case want == "" && got != nil:
		t.Errorf("%s patch = %s, want none", section, got)
	case want != "" && got == nil:
		t.Errorf("%s patch = none, want %s", section, want)
	case want != "" && !sameJSON(t, got, []byte(want)):
		t.Errorf("%s patch = %s, want %s", section, got, want)
	}
}

func TestChangeBody(t *testing.T) {
	tests := []struct {
		name string
		c    Change
		want string
	}{
		{"empty", Change{}, `{}`},
		{"tags", Change{Tags: json.RawMessage(`{"a":1}`)}, `{"tags":{"a":1}}`},
		{"desired", Change{Desired: json.RawMessage(`{"b":null}`)}, `{"properties":{"desired":{"b":null}}}`},
		{"both", Change{Tags: json.RawMessage(`{"a":1}`), Desired: json.RawMessage(`{"b":2}`)}, `{"tags":{"a":1},"properties":{"desired":{"b":2}}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(tt.c.Body()); got != tt.want {
				t.Errorf("Body() = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestDiffRefuses(t *testing.T) {
	base := Doc{Tags: json.RawMessage(`{}`), Desired: json.RawMessage(`{"a":{"b":1},"$version":3}`)}
	tests := []struct {
		name     string
		edited   Doc
		readOnly bool
		path     string // Path.String() of the refusal
	}{
		{"top-level $metadata", Doc{Desired: json.RawMessage(`{"$metadata":{}}`)}, true, "properties.desired.$metadata"},
		{"top-level $version", Doc{Desired: json.RawMessage(`{"a":{"b":1},"$version":3}`)}, true, "properties.desired.$version"},
		{"nested $metadata", Doc{Desired: json.RawMessage(`{"a":{"b":1,"$metadata":{}}}`)}, true, "properties.desired.a.$metadata"},
		{"desired not an object", Doc{Desired: json.RawMessage(`[1]`)}, false, "properties.desired"},
		{"tags not an object", Doc{Tags: json.RawMessage(`"x"`)}, false, "tags"},
		{"null in an array", Doc{Tags: json.RawMessage(`{"l":[1,null]}`)}, false, "tags.l"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Diff(base, tt.edited)
			var pe *PathError
			if !errors.As(err, &pe) {
				t.Fatalf("err = %v, want a *PathError", err)
			}
			if got := pe.Path.String(); got != tt.path {
				t.Errorf("path = %s, want %s", got, tt.path)
			}
			if errors.Is(err, ErrReadOnly) != tt.readOnly {
				t.Errorf("errors.Is(ErrReadOnly) = %v, want %v", !tt.readOnly, tt.readOnly)
			}
			if !strings.Contains(err.Error(), tt.path) {
				t.Errorf("message %q does not name %s", err, tt.path)
			}
		})
	}
}

func TestDiffSyntaxError(t *testing.T) {
	tests := []struct {
		name              string
		edited            Doc
		section           string
		line, column      int
		messageContaining string
	}{
		{"missing comma", Doc{Tags: json.RawMessage("{\n  \"a\": 1\n  \"b\": 2\n}")}, "tags", 3, 3, "after object key:value pair"},
		{"trailing comma", Doc{Desired: json.RawMessage("{\"a\": 1,}")}, "desired", 1, 9, "object key"},
		{"column counts characters", Doc{Tags: json.RawMessage("{\"é\": x}")}, "tags", 1, 7, "beginning of value"},
		{"unterminated", Doc{Tags: json.RawMessage("{\"a\": \"b")}, "tags", 1, 9, "end of JSON"},
		{"duplicate key", Doc{Tags: json.RawMessage("{\"a\": 1,\n\"a\": 2}")}, "tags", 2, 1, "duplicate key"},
		{"number out of range", Doc{Tags: json.RawMessage(`{"a": 1e999}`)}, "tags", 1, 7, "out of range"},
		{"bad escape", Doc{Tags: json.RawMessage(`{"a": "\x"}`)}, "tags", 1, 9, "escape"},
		{"leading zero", Doc{Tags: json.RawMessage(`{"a": 01}`)}, "tags", 1, 8, "after object key:value pair"},
		{"trailing text", Doc{Tags: json.RawMessage(`{} {}`)}, "tags", 1, 4, "after top-level value"},
		{"invalid UTF-8", Doc{Tags: json.RawMessage("{\"a\": \"\xff\"}")}, "tags", 1, 8, "UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Diff(Doc{}, tt.edited)
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("err = %v, want a *SyntaxError", err)
			}
			if se.Section != tt.section || se.Line != tt.line || se.Column != tt.column {
				t.Errorf("at %s %d:%d, want %s %d:%d (%v)", se.Section, se.Line, se.Column, tt.section, tt.line, tt.column, err)
			}
			if !strings.Contains(se.Msg, tt.messageContaining) {
				t.Errorf("message %q does not contain %q", se.Msg, tt.messageContaining)
			}
		})
	}
}

func TestEditable(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"empty", ``, `{}`},
		{"null", `null`, `{}`},
		{"strips top-level only", `{"z":1,"$metadata":{"$lastUpdated":"x"},"a":{"$version":2},"$version":7}`,
			"{\n  \"z\": 1,\n  \"a\": {\n    \"$version\": 2\n  }\n}"},
		{"keeps order and number text", `{"b":1.50,"a":1e3,"c":12345678901234567890}`,
			"{\n  \"b\": 1.50,\n  \"a\": 1e3,\n  \"c\": 12345678901234567890\n}"},
		{"keeps value escapes, decodes keys", `{"k\u00e9":"\u00e9\n"}`, "{\n  \"ké\": \"\\u00e9\\n\"\n}"},
		{"reindents", "{ \"a\" :\n[ 1,2 ] }", "{\n  \"a\": [\n    1,\n    2\n  ]\n}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Editable(json.RawMessage(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("Editable() =\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
	for _, bad := range []string{`[1]`, `{"a":}`} {
		if _, err := Editable(json.RawMessage(bad)); err == nil {
			t.Errorf("Editable(%s) succeeded, want an error", bad)
		}
	}
}

func TestPathString(t *testing.T) {
	tests := []struct {
		path         Path
		str, pointer string
	}{
		{Path{"tags", "site", "floor"}, "tags.site.floor", "/tags/site/floor"},
		{Path{"tags", "a.b", "c"}, `tags["a.b"].c`, "/tags/a.b/c"},
		{Path{"tags", "a", "b.c"}, `tags.a["b.c"]`, "/tags/a/b.c"},
		{Path{"tags", ""}, `tags[""]`, "/tags/"},
		{Path{"tags", `q"x`, "a/b~c"}, `tags["q\"x"].a/b~c`, "/tags/q\"x/a~1b~0c"},
		{Path{"properties", "desired", "sp ace", "ключ"}, `properties.desired["sp ace"].ключ`, "/properties/desired/sp ace/ключ"},
	}
	for _, tt := range tests {
		if got := tt.path.String(); got != tt.str {
			t.Errorf("String() = %s, want %s", got, tt.str)
		}
		if got := tt.path.Pointer(); got != tt.pointer {
			t.Errorf("Pointer() = %s, want %s", got, tt.pointer)
		}
	}
}

func TestInverse(t *testing.T) {
	tests := []struct {
		name, before, after, want string
	}{
		{"nothing", `{"a":1}`, `{"a":1.0}`, `{}`},
		{"revert change, add, remove", `{"a":1,"b":{"c":1},"gone":true}`, `{"a":2,"b":{"c":1,"d":2},"new":[1]}`,
			`{"a":1,"b":{"d":null},"gone":true,"new":null}`},
		{"ignores metadata", `{"a":1,"$version":1}`, `{"a":2,"$version":2,"$metadata":{}}`, `{"a":1}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Inverse(json.RawMessage(tt.before), json.RawMessage(tt.after))
			if err != nil {
				t.Fatal(err)
			}
			if !sameJSON(t, got, []byte(tt.want)) {
				t.Errorf("Inverse() = %s, want %s", got, tt.want)
			}
			before, _ := parseSection(secDesired, json.RawMessage(tt.before), false)
			after, _ := parseSection(secDesired, json.RawMessage(tt.after), false)
			reverted, err := jsonpatch.MergePatch(write(nil, after), got)
			if err != nil {
				t.Fatal(err)
			}
			if !sameValue(t, reverted, write(nil, before)) {
				t.Errorf("applying %s to after gives %s, want %s", got, reverted, tt.before)
			}
		})
	}
}

// sameValue reports whether a and b are equal as this package compares.
func sameValue(t *testing.T, a, b []byte) bool {
	t.Helper()
	na, err := parse(a, true)
	if err != nil {
		t.Fatalf("parsing %s: %v", a, err)
	}
	nb, err := parse(b, true)
	if err != nil {
		t.Fatalf("parsing %s: %v", b, err)
	}
	return equal(na, nb)
}

func TestOverwrite(t *testing.T) {
	theirs := Doc{Tags: json.RawMessage(`{"a":1,"b":2,"c":{"d":1}}`), Desired: json.RawMessage(`{"x":1,"$version":9}`)}
	mine := Doc{Tags: json.RawMessage(`{"a":1,"b":3,"e":1}`), Desired: json.RawMessage(`{"x":1}`)}
	c, err := Overwrite(theirs, mine)
	if err != nil {
		t.Fatal(err)
	}
	checkPatch(t, "tags", c.Tags, `{"b":3,"c":null,"e":1}`)
	checkPatch(t, "desired", c.Desired, "")
	want := []PathChange{
		pc(Changed, "2", "3", "tags", "b"),
		pc(Removed, `{"d":1}`, "", "tags", "c"),
	}
	if !reflect.DeepEqual(c.Lost, want) {
		t.Errorf("Lost:\n got %v\nwant %v", c.Lost, want)
	}
}
