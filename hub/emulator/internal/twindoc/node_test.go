package twindoc_test

import (
	"encoding/json"
	"testing"

	"github.com/hubdesk/hubdesk/hub"
	"github.com/hubdesk/hubdesk/hub/emulator/internal/twindoc"
)

// checkNodes walks v and n together: every member and element of the
// decoded properties must be found in place with the same type and text,
// and names that are absent must not be.
func checkNodes(t *testing.T, where string, v any, n twindoc.Node) {
	t.Helper()
	switch v := v.(type) {
	case map[string]any:
		if n.Kind() != twindoc.Object {
			t.Fatalf("%s: kind %v, want object", where, n.Kind())
		}
		for k, kv := range v {
			m, ok := n.Member(k)
			if !ok {
				t.Fatalf("%s.%s: not found", where, k)
			}
			checkNodes(t, where+"."+k, kv, m)
		}
		for _, absent := range []string{"", "~", "zz", "$version", "A"} {
			if _, in := v[absent]; in {
				continue
			}
			if _, ok := n.Member(absent); ok {
				t.Errorf("%s.%q: found, want absent", where, absent)
			}
		}
		if _, ok := n.Index(0); ok {
			t.Errorf("%s: an object answers Index", where)
		}
	case []any:
		if n.Kind() != twindoc.Array {
			t.Fatalf("%s: kind %v, want array", where, n.Kind())
		}
		for i, e := range v {
			en, ok := n.Index(i)
			if !ok {
				t.Fatalf("%s[%d]: not found", where, i)
			}
			checkNodes(t, where+"[]", e, en)
		}
		if _, ok := n.Index(len(v)); ok {
			t.Errorf("%s[%d]: found past the end", where, len(v))
		}
	case string:
		if n.Kind() != twindoc.String || n.Text() != v {
			t.Errorf("%s: %v %q, want string %q", where, n.Kind(), n.Text(), v)
		}
	case json.Number:
		if n.Kind() != twindoc.Number || n.Text() != string(v) {
			t.Errorf("%s: %v %q, want number %s", where, n.Kind(), n.Text(), v)
		}
	case bool:
		if n.Kind() != twindoc.Bool || n.Bool() != v {
			t.Errorf("%s: %v %v, want %v", where, n.Kind(), n.Bool(), v)
		}
	case nil:
		if n.Kind() != twindoc.Null {
			t.Errorf("%s: %v, want null", where, n.Kind())
		}
	}
}

func TestNode(t *testing.T) {
	props := `{"a":{"b":[1,"x",{"c":true,"d":null},[2.5e3]],"d":"é"},"e":false,"$x":"y","z":{},"m":{"n":{"o":{"p":-1}}}}`
	for _, kind := range []hub.Section{hub.SectionTags, hub.SectionDesired, hub.SectionReported} {
		t.Run(string(kind), func(t *testing.T) {
			s := twindoc.New(kind, t0)
			s.Patch(decode(t, props), t1)
			s.Patch(decode(t, `{"m":{"n":{"q":"r"}}}`), t2)
			bin, err := s.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			root, version, err := twindoc.Root(string(bin))
			if err != nil {
				t.Fatal(err)
			}
			if version != s.Version() {
				t.Errorf("version %d, want %d", version, s.Version())
			}
			checkNodes(t, "root", s.Props(), root)
		})
	}
}

func TestNodeCorrupt(t *testing.T) {
	s := twindoc.New(hub.SectionReported, t0)
	s.Patch(decode(t, `{"a":{"b":[1,"x",{"c":true}],"d":"é"},"e":false}`), t1)
	bin, _ := s.MarshalBinary()
	// Cut records must never panic, and a lookup that reaches the cut must
	// say so with an Invalid node rather than pretend the member is absent.
	for i := range bin {
		root, _, err := twindoc.Root(string(bin[:i]))
		if err != nil {
			continue
		}
		e, ok := root.Member("e")
		if !ok || e.Kind() != twindoc.Invalid {
			t.Errorf("cut to %d of %d bytes: e is %v %v, want Invalid", i, len(bin), ok, e.Kind())
		}
		if a, ok := root.Member("a"); ok && a.Kind() == twindoc.Object {
			if b, ok := a.Member("b"); ok && b.Kind() == twindoc.Array {
				b.Index(2)
			}
		}
	}
}
