package hub_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/hubdesk/hubdesk/hub"
)

// levels is a section with n levels of objects {"a": ...} below it, the
// last holding leaf.
func levels(n int, leaf string) string {
	return strings.Repeat(`{"a":`, n+1) + leaf + strings.Repeat(`}`, n+1)
}

// nestArrays wraps leaf in n arrays.
func nestArrays(n int, leaf string) string {
	return strings.Repeat(`[`, n) + leaf + strings.Repeat(`]`, n)
}

// members makes an object of n members k0..k{n-1} whose string values are
// each sized so that the object's size is total.
func members(n, total int) string {
	var b strings.Builder
	b.WriteString("{")
	left := total
	for i := range n {
		key := fmt.Sprintf("k%d", i)
		v := (left - len(key)) / (n - i)
		if i == n-1 {
			v = left - len(key)
		}
		left -= len(key) + v
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, "%q:%q", key, strings.Repeat("x", v))
	}
	b.WriteString("}")
	return b.String()
}

func obj(k, v string) string { return fmt.Sprintf(`{%q:%s}`, k, v) }

func str(s string) string { b, _ := json.Marshal(s); return string(b) }

func TestValidateRules(t *testing.T) {
	nameMsg := func(name string) string {
		return "Property or Tag name has invalid characters. Error in Property/Tag " + name +
			". Must not contain Control Characters, '.', '$', '#', or ' '."
	}
	tests := []struct {
		name    string
		section hub.Section
		doc     string
		path    string // "" means valid
		message string // checked when set
	}{
		{"empty", hub.SectionTags, `{}`, "", ""},
		{"plain values", hub.SectionDesired, `{"s":"x","n":1.5,"b":false,"o":{"p":[1,"a",true,{"q":2}]}}`, "", ""},
		{"non-ASCII name", hub.SectionTags, `{"Größe":1}`, "", ""},
		{"empty name", hub.SectionTags, `{"":1}`, "", ""},

		{"dot", hub.SectionTags, `{"a.b":1}`, "tags.a.b", nameMsg("a.b")},
		{"dollar", hub.SectionDesired, `{"$x":1}`, "desired.$x", nameMsg("$x")},
		{"hash", hub.SectionReported, `{"a#":1}`, "reported.a#", nameMsg("a#")},
		{"space", hub.SectionTags, `{"a b":1}`, "tags.a b", nameMsg("a b")},
		{"NUL", hub.SectionTags, `{"a\u0000":1}`, "tags.a\x00", ""},
		{"C0 unit separator", hub.SectionTags, `{"a\u001f":1}`, "tags.a\x1f", ""},
		{"tab", hub.SectionTags, `{"a\tb":1}`, "tags.a\tb", ""},
		{"DEL", hub.SectionTags, `{"a\u007f":1}`, "tags.a\x7f", ""},
		{"C1 NEL U+0085", hub.SectionTags, `{"a\u0085":1}`, "tags.a\u0085", ""},
		{"C1 U+009F", hub.SectionTags, `{"a\u009f":1}`, "tags.a\u009f", ""},
		{"U+00A0 is not a control", hub.SectionTags, `{"a\u00a0":1}`, "", ""},
		{"nested bad name", hub.SectionDesired, `{"a":{"b":{"c.d":1}}}`, "desired.a.b.c.d", ""},
		{"bad name in array object", hub.SectionDesired, `{"a":[0,{"$b":1}]}`, "desired.a[1].$b", ""},
		{"name 1024 bytes", hub.SectionTags, obj(strings.Repeat("n", 1024), "1"), "", ""},
		{"name 1025 bytes", hub.SectionTags, obj(strings.Repeat("n", 1025), "1"), "tags." + strings.Repeat("n", 1025), ""},
		{"name 1024 bytes of é", hub.SectionTags, obj(strings.Repeat("é", 512), "1"), "", ""},
		{"name 1025 bytes of é", hub.SectionTags, obj(strings.Repeat("é", 512)+"n", "1"), "tags." + strings.Repeat("é", 512) + "n", ""},

		{"top $metadata and $version skipped in desired", hub.SectionDesired,
			`{"a":1,"$metadata":{"$lastUpdated":"2024-01-01T00:00:00Z","a":{"$lastUpdated":"x"}},"$version":7}`, "", ""},
		{"top $metadata and $version skipped in reported", hub.SectionReported, `{"$metadata":{},"$version":1}`, "", ""},
		{"$version is a name in tags", hub.SectionTags, `{"$version":1}`, "tags.$version", ""},
		{"nested $metadata is a name", hub.SectionDesired, `{"a":{"$metadata":{}}}`, "desired.a.$metadata", ""},

		{"string 4096 bytes", hub.SectionTags, obj("s", str(strings.Repeat("x", 4096))), "", ""},
		{"string 4097 bytes", hub.SectionTags, obj("s", str(strings.Repeat("x", 4097))), "tags.s", "String value is too long: 4097 bytes, at most 4096."},
		{"string 4096 bytes of é", hub.SectionTags, obj("s", str(strings.Repeat("é", 2048))), "", ""},
		{"string 4097 bytes of é", hub.SectionTags, obj("s", str(strings.Repeat("é", 2048)+"x")), "tags.s", ""},
		{"string 4096 bytes of € and x", hub.SectionTags, obj("s", str(strings.Repeat("€", 1365)+"x")), "", ""},
		{"escaped é counts decoded bytes", hub.SectionTags, obj("s", `"`+strings.Repeat(`\u00e9`, 2048)+`"`), "", ""},
		{"escaped é over", hub.SectionTags, obj("s", `"`+strings.Repeat(`\u00e9`, 2049)+`"`), "tags.s", ""},
		{"long string in array", hub.SectionTags, obj("s", "["+str(strings.Repeat("x", 4097))+"]"), "tags.s[0]", ""},

		{"max integer", hub.SectionDesired, `{"i":4503599627370495}`, "", ""},
		{"max integer + 1", hub.SectionDesired, `{"i":4503599627370496}`, "desired.i",
			"Integer value 4503599627370496 is out of range: integers must be within +/-4503599627370495."},
		{"min integer", hub.SectionDesired, `{"i":-4503599627370495}`, "", ""},
		{"min integer - 1", hub.SectionDesired, `{"i":-4503599627370496}`, "desired.i", ""},
		{"beyond int64", hub.SectionDesired, `{"i":99999999999999999999}`, "desired.i", ""},
		{"big integer in array", hub.SectionDesired, `{"i":[1,-4503599627370496]}`, "desired.i[1]", ""},
		{"float 1e300", hub.SectionDesired, `{"f":1e300}`, "", ""},
		{"float -1E300", hub.SectionDesired, `{"f":-1E300}`, "", ""},
		{"float with fraction beyond range", hub.SectionDesired, `{"f":4503599627370496.5}`, "", ""},
		{"float written .0", hub.SectionDesired, `{"f":4503599627370496.0}`, "", ""},
		{"negative zero", hub.SectionDesired, `{"f":-0}`, "", ""},

		{"null member", hub.SectionDesired, `{"a":null,"b":{"c":null}}`, "", ""},
		{"null in array", hub.SectionDesired, `{"a":[1,null]}`, "desired.a[1]", "Arrays may not contain null."},
		{"null in nested array", hub.SectionDesired, `{"a":[[null]]}`, "desired.a[0][0]", ""},
		{"null member of object in array", hub.SectionDesired, `{"a":[{"b":null}]}`, "desired.a[0].b", ""},

		{"10 levels of objects", hub.SectionDesired, levels(10, "1"), "", ""},
		{"10 levels, the last empty", hub.SectionDesired, levels(9, "{}"), "", ""},
		{"11 levels of objects", hub.SectionDesired, levels(11, "1"), "desired" + strings.Repeat(".a", 11),
			"Nesting is too deep: at most 10 levels of objects and arrays under desired."},
		{"11th level empty object", hub.SectionTags, levels(10, "{}"), "tags" + strings.Repeat(".a", 11), ""},
		{"9 objects then an array", hub.SectionDesired, levels(9, "[1,2]"), "", ""},
		{"10 objects then an array", hub.SectionDesired, levels(10, "[1,2]"), "desired" + strings.Repeat(".a", 11), ""},
		{"8 objects, array, object", hub.SectionDesired, levels(8, `[{"b":1}]`), "", ""},
		{"9 objects, array, object", hub.SectionDesired, levels(9, "[{}]"), "desired" + strings.Repeat(".a", 10) + "[0]", ""},
		{"10 arrays", hub.SectionTags, obj("a", nestArrays(10, "1")), "", ""},
		{"11 arrays", hub.SectionTags, obj("a", nestArrays(11, "1")), "tags.a" + strings.Repeat("[0]", 10), ""},

		{"not an object: array", hub.SectionTags, `[1]`, "tags", "The tags section must be a JSON object."},
		{"not an object: number", hub.SectionDesired, `5`, "desired", ""},
		{"not an object: null", hub.SectionDesired, `null`, "desired", ""},
	}
	for _, tc := range tests {
		for _, fn := range []struct {
			name string
			f    func(hub.Section, []byte) error
		}{{"patch", hub.ValidatePatch}, {"section", hub.ValidateSection}} {
			t.Run(tc.name+"/"+fn.name, func(t *testing.T) {
				err := fn.f(tc.section, []byte(tc.doc))
				if tc.path == "" {
					if err != nil {
						t.Fatalf("got %v, want valid", err)
					}
					return
				}
				var ve *hub.ValidationError
				if !errors.As(err, &ve) {
					t.Fatalf("got %v, want a *ValidationError at %q", err, tc.path)
				}
				if ve.Path != tc.path || ve.Section != tc.section {
					t.Errorf("got section %q path %q, want %q %q", ve.Section, ve.Path, tc.section, tc.path)
				}
				if tc.message != "" && ve.Message != tc.message {
					t.Errorf("got message\n%s\nwant\n%s", ve.Message, tc.message)
				}
				if !strings.Contains(err.Error(), tc.path) {
					t.Errorf("Error() %q does not name the path %q", err.Error(), tc.path)
				}
			})
		}
	}
}

func TestValidateSectionSize(t *testing.T) {
	meta := `"$metadata":{"$lastUpdated":"2024-01-01T00:00:00Z","$lastUpdatedVersion":3},"$version":3`
	tests := []struct {
		name      string
		section   hub.Section
		doc       string
		size      int
		tooLarge  bool
		patchOnly bool // ValidatePatch still accepts it
	}{
		{"tags 8192", hub.SectionTags, members(2, 8192), 8192, false, false},
		{"tags 8193", hub.SectionTags, members(3, 8193), 8193, true, true},
		{"desired 32768", hub.SectionDesired, members(8, 32768), 32768, false, false},
		{"desired 32769", hub.SectionDesired, members(9, 32769), 32769, true, true},
		{"reported 32768 with metadata not counted", hub.SectionReported,
			strings.TrimSuffix(members(8, 32768), "}") + "," + meta + "}", 32768, false, false},
		{"reported 32769", hub.SectionReported, members(9, 32769), 32769, true, true},
		{"number counts 8", hub.SectionTags, `{"a":1}`, 9, false, false},
		{"big float counts 8", hub.SectionTags, `{"a":1.7976931348623157e308}`, 9, false, false},
		{"boolean counts 4", hub.SectionTags, `{"ab":true}`, 6, false, false},
		{"null counts nothing", hub.SectionTags, `{"ab":null}`, 2, false, false},
		{"objects count their members", hub.SectionTags, `{"a":{"b":{"c":"de"}}}`, 5, false, false},
		{"arrays count their elements", hub.SectionTags, `{"a":[1,"xy",false,{"b":"c"},[]]}`, 1 + 8 + 2 + 4 + 2, false, false},
		{"strings count decoded UTF-8", hub.SectionTags, `{"é":"\u20ac"}`, 2 + 3, false, false},
		{"empty", hub.SectionDesired, `{}`, 0, false, false},
		{"escaped quote in a name", hub.SectionTags, `{"a\"":"\\\\"}`, 2 + 2, false, false},
		{"quote after an escaped backslash ends a string", hub.SectionTags, `{"k":"\\","l":"x"}`, 2 + 2, false, false},
		{"escaped quotes and backslashes", hub.SectionTags, `{"k":"\"\\\""}`, 1 + 3, false, false},
		{"escapes in skipped metadata", hub.SectionDesired, `{"$metadata":{"x\"}":"]\\"},"k":1}`, 9, false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			size, err := hub.SectionSize([]byte(tc.doc))
			if err != nil || size != tc.size {
				t.Fatalf("SectionSize = %d, %v; want %d", size, err, tc.size)
			}
			err = hub.ValidateSection(tc.section, []byte(tc.doc))
			var ve *hub.ValidationError
			switch {
			case !tc.tooLarge && err != nil:
				t.Errorf("ValidateSection: %v", err)
			case tc.tooLarge && (!errors.As(err, &ve) || ve.Path != string(tc.section)):
				t.Errorf("ValidateSection = %v, want too large at %q", err, tc.section)
			}
			if err := hub.ValidatePatch(tc.section, []byte(tc.doc)); err != nil {
				t.Errorf("ValidatePatch: %v", err)
			}
		})
	}
}

func TestValidateFormatErrors(t *testing.T) {
	for _, doc := range []string{``, ` `, `{`, `{"a":}`, `{"a":1,}`, `{"a" 1}`, `{"a":1}x`, `{"a":1}{}`,
		`{"a":1} 2`, `[1}`, `"x" y`, `{'a':1}`, `{"a":tru}`, "{\"a\":\"\x01\"}"} {
		for _, fn := range []func(hub.Section, []byte) error{hub.ValidatePatch, hub.ValidateSection} {
			err := fn(hub.SectionDesired, []byte(doc))
			var ve *hub.ValidationError
			if !errors.Is(err, hub.ErrTwinFormat) || errors.As(err, &ve) {
				t.Errorf("%q: got %v, want ErrTwinFormat", doc, err)
			}
		}
		if _, err := hub.SectionSize([]byte(doc)); !errors.Is(err, hub.ErrTwinFormat) {
			t.Errorf("SectionSize(%q): got %v, want ErrTwinFormat", doc, err)
		}
	}
}

func TestValidateUnknownSection(t *testing.T) {
	for _, fn := range []func(hub.Section, []byte) error{hub.ValidatePatch, hub.ValidateSection} {
		if err := fn("properties", []byte(`{"a.b":null}`)); err == nil {
			t.Error("an unknown section validated")
		}
	}
}

func TestValidateName(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
	}{
		{"temperature", true}, {"ä", true}, {"a.b", false}, {"$a", false}, {"#", false}, {" ", false},
		{"\u0085", false}, {"\x00", false}, {strings.Repeat("x", 1024), true}, {strings.Repeat("x", 1025), false},
	}
	for _, tc := range tests {
		err := hub.ValidateName(hub.SectionTags, tc.name)
		if (err == nil) != tc.ok {
			t.Errorf("ValidateName(%q) = %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
}

var validateSeeds = []string{
	`{}`, `{"a":1}`, `{"a":{"b":null}}`, `{"a":[1,"x",true,{"b":2}]}`, `{"$metadata":{},"$version":1}`,
	`{"a":4503599627370495}`, `{"a":1e300}`, `{"a":"\u00e9\u0085"}`, levels(10, "1"), levels(11, "1"),
	`{"a":[null]}`, `{"a.b":1}`, `[1]`, `{"a":1}x`, `{"a":"\ud800"}`, `{"a":1,"a":2}`,
	`{"a\"":"\\\""}`, `{"$metadata":{"\"":"\\"},"k":"\u0041\n"}`,
}

// fuzzValidate checks that validate never panics and that a document it
// accepts is still accepted after a decode and re-encode.
func fuzzValidate(f *testing.F, validate func(hub.Section, []byte) error) {
	for _, s := range validateSeeds {
		f.Add(s, uint8(0))
		f.Add(s, uint8(1))
	}
	sections := []hub.Section{hub.SectionTags, hub.SectionDesired, hub.SectionReported}
	f.Fuzz(func(t *testing.T, doc string, which uint8) {
		s := sections[int(which)%len(sections)]
		if err := validate(s, []byte(doc)); err != nil {
			return
		}
		dec := json.NewDecoder(strings.NewReader(doc))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("accepted %q, which encoding/json rejects: %v", doc, err)
		}
		re, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("re-encode %q: %v", doc, err)
		}
		if err := validate(s, re); err != nil {
			t.Fatalf("accepted %q but not its re-encoding %q: %v", doc, re, err)
		}
		n1, err1 := hub.SectionSize([]byte(doc))
		n2, err2 := hub.SectionSize(re)
		if err1 != nil || err2 != nil || n2 > n1 {
			t.Fatalf("size %d, %v before and %d, %v after re-encoding %q", n1, err1, n2, err2, doc)
		}
	})
}

func FuzzValidatePatch(f *testing.F)   { fuzzValidate(f, hub.ValidatePatch) }
func FuzzValidateSection(f *testing.F) { fuzzValidate(f, hub.ValidateSection) }

// maxDesired is a desired section of exactly MaxDesiredSize bytes with a
// realistic mix of values, nesting and metadata.
func maxDesired() []byte {
	var b bytes.Buffer
	b.WriteString(`{`)
	size := 0
	for i := 0; ; i++ {
		m := fmt.Sprintf(`"dev%03d":{"name":"sensor %03d","rate":%d,"on":true,"limits":[1.5,2.5,-3],"site":{"floor":%d,"room":"r%03d"}},`, i, i, i*10, i%7, i)
		n, _ := hub.SectionSize([]byte("{" + strings.TrimSuffix(m, ",") + "}"))
		if size+n > hub.MaxDesiredSize-64 {
			pad := hub.MaxDesiredSize - size - len("pad")
			fmt.Fprintf(&b, `"pad":%q,`, strings.Repeat("p", pad))
			break
		}
		b.WriteString(m)
		size += n
	}
	b.WriteString(`"$metadata":{"$lastUpdated":"2024-01-01T00:00:00Z"},"$version":4}`)
	return b.Bytes()
}

func BenchmarkValidateSection(b *testing.B) {
	doc := maxDesired()
	if n, err := hub.SectionSize(doc); err != nil || n != hub.MaxDesiredSize {
		b.Fatalf("SectionSize = %d, %v", n, err)
	}
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	for b.Loop() {
		if err := hub.ValidateSection(hub.SectionDesired, doc); err != nil {
			b.Fatal(err)
		}
	}
}
