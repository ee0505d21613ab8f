package twindoc_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hubdesk/hubdesk/hub"
	"github.com/hubdesk/hubdesk/hub/emulator/internal/twindoc"
)

var (
	t0 = time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.UTC) // shown as .1234567
	t1 = t0.Add(time.Minute)
	t2 = t0.Add(2 * time.Minute)
	t3 = t0.Add(3 * time.Minute)
)

// ts is t as the hub writes it.
func ts(t time.Time) string { return hub.Time{Time: t}.String() }

func decode(t testing.TB, s string) map[string]any {
	t.Helper()
	o, err := twindoc.DecodeObject([]byte(s))
	if err != nil {
		t.Fatalf("DecodeObject(%s): %v", s, err)
	}
	return o
}

func wire(t testing.TB, s *twindoc.Section) string {
	t.Helper()
	b, err := s.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// compact removes the insignificant white space of a JSON literal.
func compact(t testing.TB, s string) string {
	t.Helper()
	var b bytes.Buffer
	if err := json.Compact(&b, []byte(s)); err != nil {
		t.Fatalf("bad expected JSON %s: %v", s, err)
	}
	return b.String()
}

func TestPatchMergeRules(t *testing.T) {
	tests := []struct {
		name         string
		start, patch string
		want         string
	}{
		{"null removes", `{"a":1,"b":2}`, `{"a":null}`, `{"b":2}`},
		{"null under an absent object creates it empty", `{}`, `{"p":{"q":null}}`, `{"p":{}}`},
		{"null for an absent key creates nothing", `{"a":1}`, `{"zz":null}`, `{"a":1}`},
		{"arrays are replaced whole", `{"a":[1,2,3]}`, `{"a":[4]}`, `{"a":[4]}`},
		{"arrays are not merged by index", `{"a":[{"x":1}]}`, `{"a":[{"y":2}]}`, `{"a":[{"y":2}]}`},
		{"objects merge recursively", `{"a":{"x":1,"y":{"k":1,"l":2}}}`, `{"a":{"y":{"l":3,"m":4},"z":5}}`,
			`{"a":{"x":1,"y":{"k":1,"l":3,"m":4},"z":5}}`},
		{"a scalar replaces an object", `{"a":{"x":1}}`, `{"a":5}`, `{"a":5}`},
		{"an array replaces an object", `{"a":{"x":1}}`, `{"a":["x"]}`, `{"a":["x"]}`},
		{"an object replaces a scalar, without its nulls", `{"a":5}`, `{"a":{"x":1,"n":null,"o":{"p":null}}}`,
			`{"a":{"o":{},"x":1}}`},
		{"an object replaces an array", `{"a":[1]}`, `{"a":{"x":1}}`, `{"a":{"x":1}}`},
		{"deep null removal", `{"a":{"b":{"c":1,"d":2}}}`, `{"a":{"b":{"c":null}}}`, `{"a":{"b":{"d":2}}}`},
		{"removing the last member leaves an empty object", `{"a":{"b":1}}`, `{"a":{"b":null}}`, `{"a":{}}`},
		{"top-level $metadata and $version are ignored", `{"a":1}`,
			`{"b":2,"$metadata":{"$lastUpdated":"2020-01-01T00:00:00Z"},"$version":99}`, `{"a":1,"b":2}`},
		{"empty patch", `{"a":1}`, `{}`, `{"a":1}`},
		{"numbers survive exactly", `{}`, `{"a":4503599627370495,"b":-0.000000000000000000012345678901234567890,"c":1E+300}`,
			`{"a":4503599627370495,"b":-0.000000000000000000012345678901234567890,"c":1E+300}`},
		{"strings are escaped", `{}`, `{"s":"q\"b\\n\n\u0001<&>\u2028é"}`, `{"s":"q\"b\\n\n\u0001<&>\u2028é"}`},
		{"types change", `{"a":"1","b":true}`, `{"a":1,"b":"true"}`, `{"a":1,"b":"true"}`},
	}
	for _, tc := range tests {
		for _, kind := range []hub.Section{hub.SectionTags, hub.SectionDesired, hub.SectionReported} {
			t.Run(tc.name+"/"+string(kind), func(t *testing.T) {
				if kind == hub.SectionTags && strings.Contains(tc.patch, "$") {
					return // tags have no $metadata; validation rejects the names
				}
				s := twindoc.New(kind, t0)
				s.Replace(decode(t, tc.start), t0)
				s.Patch(decode(t, tc.patch), t1)
				if got := propsJSON(t, s); got != tc.want {
					t.Errorf("props = %s, want %s", got, tc.want)
				}
				if got := wire(t, s); kind == hub.SectionTags && got != tc.want {
					t.Errorf("wire form of tags = %s, want %s", got, tc.want)
				}
				if s.Version() != 3 {
					t.Errorf("version = %d, want 3", s.Version())
				}
				if size, err := hub.SectionSize([]byte(wire(t, s))); err != nil || s.Size() != size {
					t.Errorf("Size() = %d, SectionSize = %d, %v", s.Size(), size, err)
				}
			})
		}
	}
}

// propsJSON is the JSON of s's properties, sorted, without HTML escaping.
func propsJSON(t testing.TB, s *twindoc.Section) string {
	t.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s.Props()); err != nil {
		t.Fatal(err)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

func TestMetadata(t *testing.T) {
	type step struct {
		replace bool
		doc     string
		at      time.Time
	}
	tests := []struct {
		name  string
		kind  hub.Section
		steps []step
		want  string
	}{
		{"fresh desired", hub.SectionDesired, nil,
			`{"$metadata":{"$lastUpdated":"2024-05-06T07:08:09.1234567Z"},"$version":1}`},
		{"fresh reported", hub.SectionReported, nil,
			`{"$metadata":{"$lastUpdated":"2024-05-06T07:08:09.1234567Z"},"$version":1}`},
		{"fresh tags", hub.SectionTags, nil, `{}`},
		{"tags have no metadata", hub.SectionTags, []step{{false, `{"a":{"b":1}}`, t1}}, `{"a":{"b":1}}`},
		{"desired stamps every node with time and version", hub.SectionDesired,
			[]step{{false, `{"a":{"b":1,"c":[1,{"x":2}]},"d":"x","e":{}}`, t1}}, `{
			"a":{"b":1,"c":[1,{"x":2}]},"d":"x","e":{},
			"$metadata":{"$lastUpdated":"T1","$lastUpdatedVersion":2,
				"a":{"$lastUpdated":"T1","$lastUpdatedVersion":2,
					"b":{"$lastUpdated":"T1","$lastUpdatedVersion":2},
					"c":{"$lastUpdated":"T1","$lastUpdatedVersion":2}},
				"d":{"$lastUpdated":"T1","$lastUpdatedVersion":2},
				"e":{"$lastUpdated":"T1","$lastUpdatedVersion":2}},
			"$version":2}`},
		{"reported stamps time only", hub.SectionReported,
			[]step{{false, `{"a":{"b":1},"d":"x"}`, t1}}, `{
			"a":{"b":1},"d":"x",
			"$metadata":{"$lastUpdated":"T1",
				"a":{"$lastUpdated":"T1","b":{"$lastUpdated":"T1"}},
				"d":{"$lastUpdated":"T1"}},
			"$version":2}`},
		{"only touched nodes and their ancestors are restamped", hub.SectionDesired, []step{
			{false, `{"a":{"b":1,"c":2},"d":3,"e":{"f":{"g":1}}}`, t1},
			{false, `{"a":{"b":5}}`, t2},
		}, `{
			"a":{"b":5,"c":2},"d":3,"e":{"f":{"g":1}},
			"$metadata":{"$lastUpdated":"T2","$lastUpdatedVersion":3,
				"a":{"$lastUpdated":"T2","$lastUpdatedVersion":3,
					"b":{"$lastUpdated":"T2","$lastUpdatedVersion":3},
					"c":{"$lastUpdated":"T1","$lastUpdatedVersion":2}},
				"d":{"$lastUpdated":"T1","$lastUpdatedVersion":2},
				"e":{"$lastUpdated":"T1","$lastUpdatedVersion":2,
					"f":{"$lastUpdated":"T1","$lastUpdatedVersion":2,
						"g":{"$lastUpdated":"T1","$lastUpdatedVersion":2}}}},
			"$version":3}`},
		{"a named node is restamped even if unchanged", hub.SectionDesired, []step{
			{false, `{"a":{"b":1},"d":3}`, t1},
			{false, `{"a":{},"d":3}`, t2},
		}, `{
			"a":{"b":1},"d":3,
			"$metadata":{"$lastUpdated":"T2","$lastUpdatedVersion":3,
				"a":{"$lastUpdated":"T2","$lastUpdatedVersion":3,"b":{"$lastUpdated":"T1","$lastUpdatedVersion":2}},
				"d":{"$lastUpdated":"T2","$lastUpdatedVersion":3}},
			"$version":3}`},
		{"removed keys lose their metadata", hub.SectionDesired, []step{
			{false, `{"a":{"b":1,"c":2},"d":3}`, t1},
			{false, `{"a":{"c":null},"d":null}`, t2},
		}, `{
			"a":{"b":1},
			"$metadata":{"$lastUpdated":"T2","$lastUpdatedVersion":3,
				"a":{"$lastUpdated":"T2","$lastUpdatedVersion":3,"b":{"$lastUpdated":"T1","$lastUpdatedVersion":2}}},
			"$version":3}`},
		{"a no-op patch counts as a write", hub.SectionDesired, []step{
			{false, `{"d":3}`, t1},
			{false, `{"zz":null}`, t2},
		}, `{
			"d":3,
			"$metadata":{"$lastUpdated":"T2","$lastUpdatedVersion":3,"d":{"$lastUpdated":"T1","$lastUpdatedVersion":2}},
			"$version":3}`},
		{"a leaf replaced by an object drops the leaf's stamp", hub.SectionReported, []step{
			{false, `{"a":1,"b":{"c":{"d":1}}}`, t1},
			{false, `{"a":{"x":{"y":1}},"b":7}`, t2},
		}, `{
			"a":{"x":{"y":1}},"b":7,
			"$metadata":{"$lastUpdated":"T2",
				"a":{"$lastUpdated":"T2","x":{"$lastUpdated":"T2","y":{"$lastUpdated":"T2"}}},
				"b":{"$lastUpdated":"T2"}},
			"$version":3}`},
		{"replace restamps everything and drops nulls", hub.SectionDesired, []step{
			{false, `{"a":{"b":1},"c":2}`, t1},
			{true, `{"a":{"b":1,"n":null},"z":null,"$version":1}`, t2},
		}, `{
			"a":{"b":1},
			"$metadata":{"$lastUpdated":"T2","$lastUpdatedVersion":3,
				"a":{"$lastUpdated":"T2","$lastUpdatedVersion":3,"b":{"$lastUpdated":"T2","$lastUpdatedVersion":3}}},
			"$version":3}`},
		{"replace with nothing", hub.SectionDesired, []step{
			{false, `{"a":1}`, t1},
			{true, `{}`, t2},
		}, `{"$metadata":{"$lastUpdated":"T2","$lastUpdatedVersion":3},"$version":3}`},
		{"versions count every write", hub.SectionDesired, []step{
			{false, `{"a":1}`, t1}, {false, `{"b":1}`, t2}, {false, `{"a":2}`, t3},
		}, `{
			"a":2,"b":1,
			"$metadata":{"$lastUpdated":"T3","$lastUpdatedVersion":4,
				"a":{"$lastUpdated":"T3","$lastUpdatedVersion":4},
				"b":{"$lastUpdated":"T2","$lastUpdatedVersion":3}},
			"$version":4}`},
	}
	times := strings.NewReplacer(`"T1"`, `"`+ts(t1)+`"`, `"T2"`, `"`+ts(t2)+`"`, `"T3"`, `"`+ts(t3)+`"`)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := twindoc.New(tc.kind, t0)
			for _, st := range tc.steps {
				if st.replace {
					s.Replace(decode(t, st.doc), st.at)
				} else {
					s.Patch(decode(t, st.doc), st.at)
				}
			}
			want := compact(t, times.Replace(tc.want))
			if got := wire(t, s); got != want {
				t.Errorf("got\n%s\nwant\n%s", got, want)
			}
			checkRoundTrips(t, s)
		})
	}
}

// checkRoundTrips checks that s survives its storage form exactly and its
// wire form as far as the wire shows.
func checkRoundTrips(t *testing.T, s *twindoc.Section) {
	t.Helper()
	w := wire(t, s)
	bin, err := s.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var fromBin twindoc.Section
	if err := fromBin.UnmarshalBinary(bin); err != nil {
		t.Fatalf("UnmarshalBinary: %v", err)
	}
	bin2, _ := fromBin.MarshalBinary()
	if got := wire(t, &fromBin); got != w || !bytes.Equal(bin, bin2) || fromBin.Kind() != s.Kind() ||
		fromBin.Version() != s.Version() || !fromBin.LastUpdated().Equal(s.LastUpdated()) {
		t.Errorf("storage round trip changed the section:\n%s\n%s", w, got)
	}
	fromWire, err := twindoc.ParseJSON(s.Kind(), []byte(w))
	if err != nil {
		t.Fatalf("ParseJSON(%s): %v", w, err)
	}
	if got := wire(t, fromWire); got != w {
		t.Errorf("wire round trip changed the section:\n%s\n%s", w, got)
	}
	if s.Kind() != hub.SectionTags {
		if bin3, _ := fromWire.MarshalBinary(); !bytes.Equal(bin, bin3) {
			t.Errorf("wire round trip changed the storage form")
		}
	}
}

func TestUnmarshalJSONKind(t *testing.T) {
	desired := twindoc.New(hub.SectionDesired, t0)
	desired.Patch(map[string]any{"a": json.Number("1")}, t1)
	reported := twindoc.New(hub.SectionReported, t0)
	reported.Patch(map[string]any{"a": json.Number("1")}, t1)
	tags := twindoc.New(hub.SectionTags, t0)
	tags.Patch(map[string]any{"a": "x"}, t1)
	for _, s := range []*twindoc.Section{desired, reported, tags} {
		var got twindoc.Section
		if err := json.Unmarshal([]byte(wire(t, s)), &got); err != nil {
			t.Fatal(err)
		}
		if got.Kind() != s.Kind() || wire(t, &got) != wire(t, s) {
			t.Errorf("%s: got kind %s, %s", s.Kind(), got.Kind(), wire(t, &got))
		}
	}
}

func TestParseJSONLenient(t *testing.T) {
	s, err := twindoc.ParseJSON(hub.SectionDesired, []byte(`{"a":{"b":1},"$metadata":{"$lastUpdated":"2024-01-01T00:00:00.5"}}`))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"a":{"b":1},"$metadata":{"$lastUpdated":"2024-01-01T00:00:00.5Z","a":{"$lastUpdated":"2024-01-01T00:00:00.5Z","b":{"$lastUpdated":"2024-01-01T00:00:00.5Z"}}},"$version":1}`
	if got := wire(t, s); got != want {
		t.Errorf("got %s\nwant %s", got, want)
	}
	for _, bad := range []string{`[]`, `{"$version":"x"}`, `{"$version":0}`, `{"$metadata":{"$lastUpdated":"yesterday"}}`, `{`} {
		if _, err := twindoc.ParseJSON(hub.SectionReported, []byte(bad)); err == nil {
			t.Errorf("ParseJSON(%s) succeeded", bad)
		}
	}
	if _, err := twindoc.ParseJSON("nonsense", []byte(`{}`)); err == nil {
		t.Error("ParseJSON of an unknown kind succeeded")
	}
}

func TestDecodeObject(t *testing.T) {
	o, err := twindoc.DecodeObject([]byte(` {"n":12345678901234567890,"f":1.50} `))
	if err != nil {
		t.Fatal(err)
	}
	if o["n"] != json.Number("12345678901234567890") || o["f"] != json.Number("1.50") {
		t.Errorf("numbers not kept exactly: %#v", o)
	}
	for _, bad := range []string{``, `[]`, `1`, `null`, `{}{}`, `{} x`, `{"a":}`} {
		if _, err := twindoc.DecodeObject([]byte(bad)); !errors.Is(err, hub.ErrTwinFormat) {
			t.Errorf("DecodeObject(%q) = %v, want ErrTwinFormat", bad, err)
		}
	}
}

func TestUnmarshalBinaryCorrupt(t *testing.T) {
	s := twindoc.New(hub.SectionDesired, t0)
	s.Patch(decode(t, `{"a":{"b":[1,"x",{"c":true}],"d":"é"},"e":false}`), t1)
	bin, _ := s.MarshalBinary()
	for i := range bin {
		var got twindoc.Section
		if err := got.UnmarshalBinary(bin[:i]); err == nil {
			t.Errorf("a record cut to %d of %d bytes decoded", i, len(bin))
		}
	}
	var got twindoc.Section
	if err := got.UnmarshalBinary(append(bin, 0)); err == nil {
		t.Error("a record with a trailing byte decoded")
	}
}

func FuzzPatch(f *testing.F) {
	seeds := [][2]string{
		{`{}`, `{"a":1}`},
		{`{"a":{"b":1}}`, `{"a":{"b":null,"c":[1,{"d":2}]}}`},
		{`{"a":[1]}`, `{"a":{"x":{"y":null}}}`},
		{`{"p":1}`, `{"p":{"q":null},"zz":null}`},
		{`{"a":"x"}`, `{"$metadata":{},"$version":3,"a":null}`},
		{`{"a":{"b":{"c":{}}}}`, `{"a":{"b":{"c":{"d":"\u00e9"}}}}`},
	}
	for _, s := range seeds {
		f.Add(s[0], s[1], uint8(1))
	}
	kinds := []hub.Section{hub.SectionTags, hub.SectionDesired, hub.SectionReported}
	f.Fuzz(func(t *testing.T, start, patch string, which uint8) {
		kind := kinds[int(which)%len(kinds)]
		if hub.ValidatePatch(kind, []byte(start)) != nil || hub.ValidatePatch(kind, []byte(patch)) != nil {
			return
		}
		s := twindoc.New(kind, t0)
		s.Replace(decode(t, start), t0)
		p := decode(t, patch)
		s.Patch(p, t1)
		once := propsJSON(t, s)
		s.Patch(p, t2)
		twice := propsJSON(t, s)
		if once != twice {
			t.Fatalf("patching twice differs:\n%s\n%s", once, twice)
		}
		if path := nullMember(s.Props(), string(kind)); path != "" {
			t.Fatalf("null member at %s in %s", path, once)
		}
		w := wire(t, s)
		if size, err := hub.SectionSize([]byte(w)); err != nil || size != s.Size() {
			t.Fatalf("Size() = %d, SectionSize = %d, %v", s.Size(), size, err)
		}
		checkRoundTrips(t, s)
	})
}

// nullMember finds a null member value anywhere in v.
func nullMember(v any, path string) string {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if x == nil {
				return path + "." + k
			}
			if p := nullMember(x, path+"."+k); p != "" {
				return p
			}
		}
	case []any:
		for i, x := range v {
			if p := nullMember(x, fmt.Sprintf("%s[%d]", path, i)); p != "" {
				return p
			}
		}
	}
	return ""
}

func FuzzUnmarshalBinary(f *testing.F) {
	s := twindoc.New(hub.SectionDesired, t0)
	s.Patch(map[string]any{"a": map[string]any{"b": []any{json.Number("1"), "x"}}}, t1)
	bin, _ := s.MarshalBinary()
	f.Add(bin)
	f.Add([]byte{1, 't', 1, 'o', 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		var s twindoc.Section
		if s.UnmarshalBinary(data) != nil {
			return
		}
		if _, err := s.MarshalJSON(); err != nil {
			t.Fatal(err)
		}
	})
}
