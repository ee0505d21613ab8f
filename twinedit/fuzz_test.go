package twinedit

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

func FuzzDiff(f *testing.F) {
	seeds := [][2]string{
		{`{"a":1}`, `{"a":1.0}`},
		{`{"a":{"b":[1,2]},"c":"x"}`, `{"a":{"b":[2]},"d":null}`},
		{`{"a.b":{"":1}}`, `{"a.b":{"":2,"\u00e9":true}}`},
		{`{"$metadata":{},"$version":1,"x":1}`, `{"x":2}`},
		{`{}`, `{"x":{"$version":1}}`},
		{`{"a":"\u0041"}`, `{"a":"A"}`},
		{`{"a":1}`, "{\n  \"a\": 1,\n}"},
		{`{"a":[{"b":1}]}`, `{"a":[{"b":1}],"z":{"y":{"x":{}}}}`},
	}
	for _, s := range seeds {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, base, edited string) {
		checkParser(t, edited)
		b := Doc{Tags: json.RawMessage(base), Desired: json.RawMessage(base)}
		e := Doc{Tags: json.RawMessage(edited), Desired: json.RawMessage(edited)}
		c, err := Diff(b, e)
		if err != nil {
			var se *SyntaxError
			var pe *PathError
			if !errors.As(err, &se) && !errors.As(err, &pe) {
				t.Fatalf("Diff error %v is neither a SyntaxError nor a PathError", err)
			}
			return
		}
		if _, err := parseSection(secTags, json.RawMessage(base), false); err != nil {
			return
		}
		c.Desired = nil // desired was also read with its $ keys stripped; tags is the plain case
		tagsOnly := &Change{Tags: c.Tags}
		for _, p := range c.Paths {
			if p.Path[0] == "tags" {
				tagsOnly.Paths = append(tagsOnly.Paths, p)
			}
		}
		checkApplies(t, base, edited, tagsOnly)
		if again, err := Diff(e, e); err == nil && !again.Empty() {
			t.Fatalf("Diff of %s with itself is %s", edited, again.Body())
		}
	})
}

// checkParser holds the hand-written parser to encoding/json: what it
// accepts is valid JSON, and valid JSON it refuses is refused for a reason
// of this package's own.
func checkParser(t *testing.T, text string) {
	t.Helper()
	_, err := parse([]byte(text), false)
	valid := json.Valid([]byte(text))
	if err == nil {
		if !valid {
			t.Fatalf("parser accepts invalid JSON %q", text)
		}
		return
	}
	var se *SyntaxError
	if !errors.As(err, &se) {
		t.Fatalf("parse error %v is not a SyntaxError", err)
	}
	if se.Line < 1 || se.Column < 1 || se.Offset > len(text) {
		t.Fatalf("bad location in %v", se)
	}
	if !valid {
		return
	}
	for _, reason := range []string{"duplicate key", "out of range", "nesting deeper"} {
		if strings.Contains(se.Msg, reason) {
			return
		}
	}
	if strings.Contains(se.Msg, "UTF-8") && !utf8.ValidString(text) {
		return
	}
	t.Fatalf("parser refuses valid JSON %q: %v", text, err)
}

func FuzzRebase(f *testing.F) {
	seeds := [][3]string{
		{`{"a":1,"b":1}`, `{"a":2,"b":1}`, `{"a":1,"b":2}`},
		{`{"s":{"f":1}}`, `{}`, `{"s":{"f":2}}`},
		{`{"s":{"f":1}}`, `{"s":{"f":2}}`, `{"s":"flat"}`},
		{`{}`, `{"n":{"a":1}}`, `{"n":{"b":1}}`},
		{`{"a":1}`, `{"a":2}`, `{"a":2.0}`},
		{`{"a.b":{"c":1}}`, `{"a.b":{"c":1,"d":2}}`, `{"a.b":null}`},
	}
	for _, s := range seeds {
		f.Add(s[0], s[1], s[2])
	}
	f.Fuzz(func(t *testing.T, base, theirs, mine string) {
		if err := checkRebase(base, theirs, mine); err != nil {
			t.Fatal(err)
		}
	})
}
