package hub

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Section names a part of a twin that the hub's twin rules apply to.
type Section string

// The twin sections.
const (
	SectionTags     Section = "tags"
	SectionDesired  Section = "desired"
	SectionReported Section = "reported"
)

// Limits of the hub's twin rules.
const (
	// MaxTagsSize is the largest size of tags, as SectionSize counts it.
	MaxTagsSize = 8192
	// MaxDesiredSize is the largest size of desired properties.
	MaxDesiredSize = 32768
	// MaxReportedSize is the largest size of reported properties.
	MaxReportedSize = 32768
	// MaxDepth is how many levels of objects and arrays may nest under a
	// section; see ValidateSection.
	MaxDepth = 10
	// MaxStringSize is the longest string value, in UTF-8 bytes.
	MaxStringSize = 4096
	// MaxNameSize is the longest property or tag name, in UTF-8 bytes.
	MaxNameSize = 1024
	// MaxSafeInteger is the largest magnitude of an integer value (2^52-1).
	MaxSafeInteger = 4503599627370495
)

// MaxSize is the largest size of section s as SectionSize counts it, or 0
// for an unknown section.
func (s Section) MaxSize() int {
	switch s {
	case SectionTags:
		return MaxTagsSize
	case SectionDesired:
		return MaxDesiredSize
	case SectionReported:
		return MaxReportedSize
	}
	return 0
}

// hasMeta reports whether the hub keeps $metadata and $version in s.
func (s Section) hasMeta() bool { return s == SectionDesired || s == SectionReported }

// ErrTwinFormat matches errors for a section that is not JSON at all; the hub
// answers those with IotHubFormatError, and breaches of its rules with
// ArgumentInvalid (*ValidationError).
var ErrTwinFormat = errors.New("hub: twin section is not valid JSON")

// ValidationError says which of the hub's twin rules a section breaks, and
// where. The hub answers such a request with 400 ArgumentInvalid and applies
// nothing.
type ValidationError struct {
	// Section is the section that breaks the rule.
	Section Section
	// Path locates the offending name or value, such as "desired.a.b" or
	// "tags.x[2]"; it is the bare section name for whole-section rules.
	Path string
	// Message is the explanation, in the hub's words where they are known.
	Message string
}

func (e *ValidationError) Error() string {
	return "hub: invalid twin " + e.Path + ": " + e.Message
}

// ValidatePatch checks a merge patch for section s (the JSON object a twin
// PATCH carries as tags or properties.desired) against the hub's rules for
// names, values and depth. A null member value is allowed, as it deletes the
// member; null anywhere inside an array (also as a member of an object in
// an array) is not, as arrays are stored whole and cannot hold it. Size is
// not checked: it depends on the document the patch is applied to. In
// desired and reported the hub's own top-level $metadata and $version
// members are skipped, so that a document fetched with GET can be sent back.
func ValidatePatch(s Section, patch []byte) error {
	if s.MaxSize() == 0 {
		return fmt.Errorf("hub: unknown twin section %q", s)
	}
	_, err := walk(s, patch)
	return err
}

// ValidateSection checks a whole section (as a twin PUT carries it) against
// all the hub's rules: those of ValidatePatch plus the size limit of s. A
// null member value is accepted and counts nothing, because the hub drops it
// when it stores the section; null inside an array is rejected.
//
// Both count depth in levels: an object or array that is a member of the
// section is at level 1, a member or element of that at level 2, and so on.
// Arrays count as levels just as objects do (a choice: the hub documents
// only objects, and counting arrays too errs on the strict side). Level
// MaxDepth is allowed, with scalars inside it; a container at level
// MaxDepth+1, even an empty one, is rejected.
func ValidateSection(s Section, doc []byte) error {
	if s.MaxSize() == 0 {
		return fmt.Errorf("hub: unknown twin section %q", s)
	}
	size, err := walk(s, doc)
	if err != nil {
		return err
	}
	if max := s.MaxSize(); size > max {
		return &ValidationError{Section: s, Path: string(s), Message: fmt.Sprintf(
			"The %s section is too large: %d bytes, at most %d.", s, size, max)}
	}
	return nil
}

// SectionSize is the size of a section as the hub limits it: the UTF-8 bytes
// of every member name plus the size of every value. A string counts its
// UTF-8 bytes, a number 8 and a boolean 4; null counts nothing (the hub does
// not store it); an object or array counts the sum of its members and
// elements and nothing for itself. Top-level $metadata and $version members
// are not counted. No other rule is checked.
func SectionSize(doc []byte) (int, error) {
	return walk("", doc)
}

// walk parses doc as section s and returns its size. An empty s only
// measures: it checks syntax and that doc is an object, and skips top-level
// $metadata and $version.
//
// It does not use json.Decoder's token stream: that costs about 2 µs and 15
// allocations per token, 5 ms for a 32 KB section. json.Valid checks the
// syntax without allocating, and a walk over bytes known to be valid JSON
// needs no error handling; the Decoder runs only to explain a syntax error.
func walk(s Section, doc []byte) (int, error) {
	w := walker{doc: doc, section: s, check: s != ""}
	if !json.Valid(doc) {
		return 0, w.formatErr(syntaxError(doc))
	}
	w.space()
	if w.doc[w.i] != '{' {
		return 0, &ValidationError{Section: s, Path: string(s),
			Message: fmt.Sprintf("The %s section must be a JSON object.", cmp.Or(string(s), "twin"))}
	}
	w.i++
	if err := w.object(0, s == "" || s.hasMeta(), false); err != nil {
		return 0, err
	}
	return w.size, nil
}

// syntaxError explains why doc, which json.Valid rejects, is not JSON.
func syntaxError(doc []byte) error {
	dec := json.NewDecoder(bytes.NewReader(doc))
	var v any
	if err := dec.Decode(&v); err != nil {
		if err == io.EOF {
			return io.ErrUnexpectedEOF
		}
		return err
	}
	return errors.New("data after the top-level value")
}

// walker holds the state of one pass over a section that json.Valid has
// accepted.
type walker struct {
	doc     []byte
	i       int
	section Section
	check   bool // apply the rules; false only measures
	size    int
	path    []pathElem
}

// pathElem is a member name, or an array index when isKey is false.
type pathElem struct {
	name  []byte
	index int
	isKey bool
}

// space skips white space.
func (w *walker) space() {
	for w.i < len(w.doc) {
		switch w.doc[w.i] {
		case ' ', '\t', '\n', '\r':
			w.i++
		default:
			return
		}
	}
}

// object walks the members of an object whose '{' has been read, at depth
// levels below the section. skipMeta skips $metadata and $version members;
// inArray says the object is inside an array, where null may not appear.
func (w *walker) object(depth int, skipMeta, inArray bool) error {
	for {
		w.space()
		if w.doc[w.i] == '}' {
			w.i++
			return nil
		}
		if w.doc[w.i] == ',' {
			w.i++
			w.space()
		}
		name := w.str()
		w.space()
		w.i++ // ':'
		if skipMeta && (string(name) == "$metadata" || string(name) == "$version") {
			w.skip()
			continue
		}
		w.path = append(w.path, pathElem{name: name, isKey: true})
		if w.check {
			if msg := nameProblem(name); msg != "" {
				return w.invalid(msg)
			}
		}
		w.size += len(name)
		if err := w.value(depth, inArray); err != nil {
			return err
		}
		w.path = w.path[:len(w.path)-1]
	}
}

// array walks the elements of an array whose '[' has been read.
func (w *walker) array(depth int) error {
	for i := 0; ; i++ {
		w.space()
		if w.doc[w.i] == ']' {
			w.i++
			return nil
		}
		if w.doc[w.i] == ',' {
			w.i++
		}
		w.path = append(w.path, pathElem{index: i})
		if err := w.value(depth, true); err != nil {
			return err
		}
		w.path = w.path[:len(w.path)-1]
	}
}

// value walks one value found at depth levels below the section; inArray
// says it is inside an array, at any depth.
func (w *walker) value(depth int, inArray bool) error {
	w.space()
	switch c := w.doc[w.i]; c {
	case '{', '[':
		if w.check && depth+1 > MaxDepth {
			return w.invalid(fmt.Sprintf(
				"Nesting is too deep: at most %d levels of objects and arrays under %s.", MaxDepth, w.section))
		}
		w.i++
		if c == '[' {
			return w.array(depth + 1)
		}
		return w.object(depth+1, false, inArray)
	case '"':
		n := len(w.str())
		if w.check && n > MaxStringSize {
			return w.invalid(fmt.Sprintf(
				"String value is too long: %d bytes, at most %d.", n, MaxStringSize))
		}
		w.size += n
	case 't':
		w.i += len("true")
		w.size += 4
	case 'f':
		w.i += len("false")
		w.size += 4
	case 'n':
		w.i += len("null")
		if w.check && inArray {
			return w.invalid("Arrays may not contain null.")
		}
	default:
		start := w.i
		for w.i < len(w.doc) && strings.IndexByte("+-.0123456789eE", w.doc[w.i]) >= 0 {
			w.i++
		}
		if n := w.doc[start:w.i]; w.check && !safeNumber(n) {
			return w.invalid(fmt.Sprintf(
				"Integer value %s is out of range: integers must be within +/-%d.", n, MaxSafeInteger))
		}
		w.size += 8
	}
	return nil
}

// str reads a string and returns its decoded UTF-8 bytes: a slice of doc
// when it has no escapes and is valid UTF-8, else a copy decoded as
// encoding/json decodes it (invalid bytes and lone surrogates become
// U+FFFD).
func (w *walker) str() []byte {
	start := w.i // the opening quote
	escaped := false
	for i := start + 1; ; {
		q := i + bytes.IndexByte(w.doc[i:], '"')
		k := q // a quote after an odd number of backslashes is escaped
		for w.doc[k-1] == '\\' {
			k--
		}
		escaped = escaped || k < q || bytes.IndexByte(w.doc[i:q], '\\') >= 0
		if (q-k)%2 == 0 {
			w.i = q + 1
			break
		}
		i = q + 1
	}
	raw := w.doc[start:w.i]
	if !escaped && utf8.Valid(raw) {
		return raw[1 : len(raw)-1]
	}
	var s string
	_ = json.Unmarshal(raw, &s) // cannot fail: json.Valid accepted it
	return []byte(s)
}

// skip passes over one value without checking or counting it.
func (w *walker) skip() {
	w.space()
	switch w.doc[w.i] {
	case '"':
		w.str()
		return
	case '{', '[':
	default:
		for w.i < len(w.doc) && strings.IndexByte(",}] \t\n\r", w.doc[w.i]) < 0 {
			w.i++
		}
		return
	}
	open := 0
	for {
		switch w.doc[w.i] {
		case '"':
			w.str()
			continue
		case '{', '[':
			open++
		case '}', ']':
			open--
		}
		w.i++
		if open == 0 {
			return
		}
	}
}

// ValidateName checks a single property or tag name, such as one typed into
// a form, against the hub's rules.
func ValidateName(s Section, name string) error {
	if msg := nameProblem(name); msg != "" {
		return &ValidationError{Section: s, Path: string(s) + "." + name, Message: msg}
	}
	return nil
}

// nameProblem explains why the hub rejects name, or is "" if it does not.
func nameProblem[T string | []byte](name T) string {
	if len(name) > MaxNameSize {
		return fmt.Sprintf("Property or Tag name is too long: %d bytes, at most %d.", len(name), MaxNameSize)
	}
	if bytes.ContainsFunc([]byte(name), forbiddenInName) {
		return "Property or Tag name has invalid characters. Error in Property/Tag " +
			string(name) + ". Must not contain Control Characters, '.', '$', '#', or ' '."
	}
	return ""
}

// forbiddenInName reports whether r may not appear in a name: control
// characters (C0, DEL, C1), '.', '$', '#' and space.
func forbiddenInName(r rune) bool {
	return unicode.IsControl(r) || r == '.' || r == '$' || r == '#' || r == ' '
}

// safeNumber reports whether n is a float or an integer within
// +/-MaxSafeInteger. n is valid JSON number text, so an integer has no
// leading zeros and its magnitude follows from its digits.
func safeNumber(n []byte) bool {
	if bytes.ContainsAny(n, ".eE") {
		return true
	}
	digits := bytes.TrimPrefix(n, []byte("-"))
	const max = "4503599627370495"
	return len(digits) < len(max) || len(digits) == len(max) && string(digits) <= max
}

// invalid is a ValidationError at the current path.
func (w *walker) invalid(msg string) error {
	return &ValidationError{Section: w.section, Path: w.pathString(), Message: msg}
}

// formatErr wraps a JSON syntax error.
func (w *walker) formatErr(err error) error {
	if w.section == "" {
		return fmt.Errorf("%w: %w", ErrTwinFormat, err)
	}
	return fmt.Errorf("%w: %s: %w", ErrTwinFormat, w.section, err)
}

// pathString renders the current path, such as "tags.x[2]".
func (w *walker) pathString() string {
	var b strings.Builder
	b.WriteString(string(w.section))
	for _, e := range w.path {
		if e.isKey {
			b.WriteByte('.')
			b.Write(e.name)
		} else {
			b.WriteByte('[')
			b.WriteString(strconv.Itoa(e.index))
			b.WriteByte(']')
		}
	}
	return b.String()
}
