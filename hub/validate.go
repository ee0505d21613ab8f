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
	// MaxDepth is how many objects and arrays may nest under a section.
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
// member; null inside an array is not. Size is not checked: it depends on the
// document the patch is applied to. In desired and reported the hub's own
// top-level $metadata and $version members are skipped, so that a document
// fetched with GET can be sent back.
func ValidatePatch(s Section, patch []byte) error {
	_, err := walk(s, patch, true)
	return err
}

// ValidateSection checks a whole section (as a twin PUT carries it) against
// all the hub's rules: those of ValidatePatch plus the size limit of s. A
// null member value is accepted and counts nothing, because the hub drops it
// when it stores the section; null inside an array is rejected.
func ValidateSection(s Section, doc []byte) error {
	size, err := walk(s, doc, false)
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
	return walk("", doc, false)
}

// walk parses doc as section s and returns its size. An empty s only
// measures: it checks syntax and that doc is an object, and skips top-level
// $metadata and $version.
func walk(s Section, doc []byte, patch bool) (int, error) {
	w := walker{section: s, check: s != "", patch: patch}
	w.dec = json.NewDecoder(bytes.NewReader(doc))
	w.dec.UseNumber()
	tok, err := w.dec.Token()
	if err != nil {
		return 0, w.formatErr(err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		if !json.Valid(doc) { // a syntax error after a valid first token
			return 0, w.formatErr(errors.New("invalid JSON"))
		}
		return 0, &ValidationError{Section: s, Path: string(s),
			Message: fmt.Sprintf("The %s section must be a JSON object.", cmp.Or(string(s), "twin"))}
	}
	if err := w.object(0, s == "" || s.hasMeta()); err != nil {
		return 0, err
	}
	if _, err := w.dec.Token(); err != io.EOF {
		if err == nil {
			err = errors.New("data after the top-level object")
		}
		return 0, w.formatErr(err)
	}
	return w.size, nil
}

// walker holds the state of one pass over a section.
type walker struct {
	dec     *json.Decoder
	section Section
	check   bool // apply the rules; false only measures
	patch   bool
	size    int
	path    []pathElem
}

// pathElem is a member name, or an array index when name is unset.
type pathElem struct {
	name  string
	index int
	isKey bool
}

// object walks the members of an object whose '{' has been read, at depth
// levels below the section. skipMeta skips $metadata and $version members.
func (w *walker) object(depth int, skipMeta bool) error {
	for {
		tok, err := w.dec.Token()
		if err != nil {
			return w.formatErr(err)
		}
		name, ok := tok.(string)
		if !ok {
			return nil // '}': the decoder has checked the syntax
		}
		if skipMeta && (name == "$metadata" || name == "$version") {
			if err := w.skip(); err != nil {
				return err
			}
			continue
		}
		w.path = append(w.path, pathElem{name: name, isKey: true})
		if w.check {
			if err := w.checkName(name); err != nil {
				return err
			}
		}
		w.size += len(name)
		if err := w.value(depth, false); err != nil {
			return err
		}
		w.path = w.path[:len(w.path)-1]
	}
}

// array walks the elements of an array whose '[' has been read.
func (w *walker) array(depth int) error {
	for i := 0; ; i++ {
		w.path = append(w.path, pathElem{index: i})
		if !w.dec.More() {
			w.path = w.path[:len(w.path)-1]
			if _, err := w.dec.Token(); err != nil { // ']'
				return w.formatErr(err)
			}
			return nil
		}
		if err := w.value(depth, true); err != nil {
			return err
		}
		w.path = w.path[:len(w.path)-1]
	}
}

// value walks one value found at depth levels below the section.
func (w *walker) value(depth int, inArray bool) error {
	tok, err := w.dec.Token()
	if err != nil {
		return w.formatErr(err)
	}
	switch t := tok.(type) {
	case json.Delim:
		if w.check && depth+1 > MaxDepth {
			return w.invalid(fmt.Sprintf(
				"Nesting is too deep: at most %d levels of objects and arrays under %s.", MaxDepth, w.section))
		}
		if t == '[' {
			return w.array(depth + 1)
		}
		return w.object(depth+1, false)
	case string:
		if w.check && len(t) > MaxStringSize {
			return w.invalid(fmt.Sprintf(
				"String value is too long: %d bytes, at most %d.", len(t), MaxStringSize))
		}
		w.size += len(t)
	case json.Number:
		if w.check && !safeNumber(string(t)) {
			return w.invalid(fmt.Sprintf(
				"Integer value %s is out of range: integers must be within +/-%d.", t, MaxSafeInteger))
		}
		w.size += 8
	case bool:
		w.size += 4
	case nil:
		if w.check && inArray {
			return w.invalid("Arrays may not contain null.")
		}
	}
	return nil
}

// skip consumes one value without checking or counting it.
func (w *walker) skip() error {
	open := 0
	for {
		tok, err := w.dec.Token()
		if err != nil {
			return w.formatErr(err)
		}
		if d, ok := tok.(json.Delim); ok {
			if d == '{' || d == '[' {
				open++
			} else {
				open--
			}
		}
		if open == 0 {
			return nil
		}
	}
}

// checkName applies the hub's rules for property and tag names.
func (w *walker) checkName(name string) error {
	if msg := nameProblem(name); msg != "" {
		return w.invalid(msg)
	}
	return nil
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
func nameProblem(name string) string {
	if len(name) > MaxNameSize {
		return fmt.Sprintf("Property or Tag name is too long: %d bytes, at most %d.", len(name), MaxNameSize)
	}
	if strings.ContainsFunc(name, forbiddenInName) {
		return "Property or Tag name has invalid characters. Error in Property/Tag " +
			name + ". Must not contain Control Characters, '.', '$', '#', or ' '."
	}
	return ""
}

// forbiddenInName reports whether r may not appear in a name: control
// characters (C0, DEL, C1), '.', '$', '#' and space.
func forbiddenInName(r rune) bool {
	return unicode.IsControl(r) || r == '.' || r == '$' || r == '#' || r == ' '
}

// safeNumber reports whether n is a float or an integer within
// +/-MaxSafeInteger. n is valid JSON number text.
func safeNumber(n string) bool {
	if strings.ContainsAny(n, ".eE") {
		return true
	}
	i, err := strconv.ParseInt(n, 10, 64)
	return err == nil && i >= -MaxSafeInteger && i <= MaxSafeInteger
}

// invalid is a ValidationError at the current path.
func (w *walker) invalid(msg string) error {
	return &ValidationError{Section: w.section, Path: w.pathString(), Message: msg}
}

// formatErr wraps a JSON syntax or read error.
func (w *walker) formatErr(err error) error {
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
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
			b.WriteString(e.name)
		} else {
			b.WriteByte('[')
			b.WriteString(strconv.Itoa(e.index))
			b.WriteByte(']')
		}
	}
	return b.String()
}
