package twinedit

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"unicode/utf8"
)

// maxDepth bounds nesting so that hostile input cannot exhaust the stack;
// the hub itself allows far less (ten object levels).
const maxDepth = 1000

// kind is the JSON type of a node. true and false are distinct kinds so
// that equality needs no second look.
type kind uint8

const (
	kNull kind = iota
	kFalse
	kTrue
	kNumber
	kString
	kArray
	kObject
)

// node is a parsed JSON value that remembers its source text, so that
// numbers and strings are written back exactly as the hub or the person
// wrote them and objects keep their key order.
type node struct {
	kind kind
	esc  bool   // a string that contains escapes
	raw  []byte // source text; nil for objects built by with
	keys []string
	vals []*node // object member values or array elements
	idx  map[string]int
}

// lookup returns the index of key k in object n, or -1. hint is where the
// key is expected when both sides share key order, the common case.
func (n *node) lookup(k string, hint int) int {
	if hint >= 0 && hint < len(n.keys) && n.keys[hint] == k {
		return hint
	}
	if len(n.keys) <= 8 {
		for i, key := range n.keys {
			if key == k {
				return i
			}
		}
		return -1
	}
	if n.idx == nil {
		n.idx = make(map[string]int, len(n.keys))
		for i, key := range n.keys {
			n.idx[key] = i
		}
	}
	if i, ok := n.idx[k]; ok {
		return i
	}
	return -1
}

// SyntaxError is invalid JSON in a section or document, located by line
// and column (counted in characters, from 1) for the editor.
type SyntaxError struct {
	// Section is "tags", "desired", or "" for a whole document.
	Section string
	// Offset is the byte offset of the problem.
	Offset int
	// Line and Column locate the problem, from 1.
	Line, Column int
	// Msg says what is wrong.
	Msg string
}

func (e *SyntaxError) Error() string {
	where := "JSON"
	if e.Section != "" {
		where = e.Section
	}
	return fmt.Sprintf("twinedit: invalid %s at line %d, column %d: %s", where, e.Line, e.Column, e.Msg)
}

// parser is a strict recursive-descent JSON parser. It is hand written
// because the save path parses every version of a twin and must stay
// within a small factor of one encoding/json round trip.
type parser struct {
	data       []byte
	pos        int
	pruneNulls bool // drop object members whose value is null

	// Nodes and member slices are carved from slabs and members collected
	// on stacks, so that a twin costs a few dozen allocations, not one or
	// three per value.
	slab     []node
	keySlab  []string
	valSlab  []*node
	keyStack []string
	valStack []*node
	interned map[string]string // twins repeat the same keys in every object
}

// carve returns a copy of src cut from slab, capped so that appends to it
// reallocate rather than overwrite the slab.
func carve[T any](slab *[]T, src []T) []T {
	if len(src) == 0 {
		return nil
	}
	if len(src) > len(*slab) {
		if len(src) > 64 {
			return append([]T(nil), src...)
		}
		*slab = make([]T, 512)
	}
	dst := (*slab)[:len(src):len(src)]
	copy(dst, src)
	*slab = (*slab)[len(src):]
	return dst
}

func (p *parser) intern(raw []byte, esc bool) string {
	if esc {
		return decodeString(raw, esc)
	}
	b := raw[1 : len(raw)-1]
	if k, ok := p.interned[string(b)]; ok {
		return k
	}
	if p.interned == nil {
		p.interned = make(map[string]string)
	}
	k := string(b)
	p.interned[k] = k
	return k
}

// parse parses data as one JSON value. With pruneNulls, object members set
// to null are dropped, as a merge patch would remove them.
func parse(data []byte, pruneNulls bool) (*node, error) {
	p := &parser{data: data, pruneNulls: pruneNulls}
	n, err := p.value(0)
	if err != nil {
		return nil, err
	}
	p.skipWS()
	if p.pos < len(p.data) {
		return nil, p.errf(p.pos, "invalid character %s after top-level value", quoteChar(p.data[p.pos:]))
	}
	return n, nil
}

func (p *parser) newNode(k kind) *node {
	if len(p.slab) == 0 {
		p.slab = make([]node, 256)
	}
	n := &p.slab[0]
	p.slab = p.slab[1:]
	n.kind = k
	return n
}

func (p *parser) errf(off int, format string, args ...any) error {
	line, col := 1, 1
	lineStart := 0
	for i := 0; i < off && i < len(p.data); i++ {
		if p.data[i] == '\n' {
			line++
			lineStart = i + 1
		}
	}
	if off > len(p.data) {
		off = len(p.data)
	}
	col += utf8.RuneCount(p.data[lineStart:off])
	return &SyntaxError{Offset: off, Line: line, Column: col, Msg: fmt.Sprintf(format, args...)}
}

func quoteChar(b []byte) string {
	r, _ := utf8.DecodeRune(b)
	return strconv.QuoteRune(r)
}

func (p *parser) skipWS() {
	for p.pos < len(p.data) {
		switch p.data[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

func (p *parser) value(depth int) (*node, error) {
	p.skipWS()
	if p.pos >= len(p.data) {
		return nil, p.errf(p.pos, "unexpected end of JSON input")
	}
	start := p.pos
	switch c := p.data[p.pos]; {
	case c == '{':
		return p.object(depth + 1)
	case c == '[':
		return p.array(depth + 1)
	case c == '"':
		esc, err := p.str()
		if err != nil {
			return nil, err
		}
		n := p.newNode(kString)
		n.raw, n.esc = p.data[start:p.pos], esc
		return n, nil
	case c == 't':
		return p.literal("true", kTrue)
	case c == 'f':
		return p.literal("false", kFalse)
	case c == 'n':
		return p.literal("null", kNull)
	case c == '-' || ('0' <= c && c <= '9'):
		return p.number()
	default:
		return nil, p.errf(p.pos, "invalid character %s looking for beginning of value", quoteChar(p.data[p.pos:]))
	}
}

func (p *parser) literal(word string, k kind) (*node, error) {
	start := p.pos
	for i := 0; i < len(word); i++ {
		if p.pos >= len(p.data) {
			return nil, p.errf(p.pos, "unexpected end of JSON input")
		}
		if p.data[p.pos] != word[i] {
			return nil, p.errf(p.pos, "invalid character %s in literal %s", quoteChar(p.data[p.pos:]), word)
		}
		p.pos++
	}
	n := p.newNode(k)
	n.raw = p.data[start:p.pos]
	return n, nil
}

func (p *parser) digits() int {
	start := p.pos
	for p.pos < len(p.data) && '0' <= p.data[p.pos] && p.data[p.pos] <= '9' {
		p.pos++
	}
	return p.pos - start
}

func (p *parser) number() (*node, error) {
	start := p.pos
	if p.data[p.pos] == '-' {
		p.pos++
	}
	switch {
	case p.pos < len(p.data) && p.data[p.pos] == '0':
		p.pos++
	case p.digits() == 0:
		return nil, p.numErr()
	}
	if p.pos < len(p.data) && p.data[p.pos] == '.' {
		p.pos++
		if p.digits() == 0 {
			return nil, p.numErr()
		}
	}
	hasExp := false
	if p.pos < len(p.data) && (p.data[p.pos] == 'e' || p.data[p.pos] == 'E') {
		hasExp = true
		p.pos++
		if p.pos < len(p.data) && (p.data[p.pos] == '+' || p.data[p.pos] == '-') {
			p.pos++
		}
		if p.digits() == 0 {
			return nil, p.numErr()
		}
	}
	raw := p.data[start:p.pos]
	// Without an exponent a number this short is well within float64's
	// range; its value is only needed, and parsed, by equal.
	if hasExp || len(raw) > 300 {
		if _, err := strconv.ParseFloat(string(raw), 64); err != nil {
			return nil, p.errf(start, "number %s is out of range", raw)
		}
	}
	n := p.newNode(kNumber)
	n.raw = raw
	return n, nil
}

func (p *parser) numErr() error {
	if p.pos >= len(p.data) {
		return p.errf(p.pos, "unexpected end of JSON input")
	}
	return p.errf(p.pos, "invalid character %s in number", quoteChar(p.data[p.pos:]))
}

// str scans a string starting at the opening quote and reports whether it
// contains escapes. Invalid UTF-8 is refused: the hub stores text.
func (p *parser) str() (esc bool, err error) {
	p.pos++
	for p.pos < len(p.data) {
		c := p.data[p.pos]
		switch {
		case c == '"':
			p.pos++
			return esc, nil
		case c == '\\':
			esc = true
			if p.pos+1 >= len(p.data) {
				return false, p.errf(len(p.data), "unexpected end of JSON input")
			}
			switch p.data[p.pos+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				p.pos += 2
			case 'u':
				for i := 2; i < 6; i++ {
					if p.pos+i >= len(p.data) {
						return false, p.errf(len(p.data), "unexpected end of JSON input")
					}
					if !isHex(p.data[p.pos+i]) {
						return false, p.errf(p.pos+i, "invalid character %s in \\u escape", quoteChar(p.data[p.pos+i:]))
					}
				}
				p.pos += 6
			default:
				return false, p.errf(p.pos+1, "invalid escape character %s in string", quoteChar(p.data[p.pos+1:]))
			}
		case c < 0x20:
			return false, p.errf(p.pos, "invalid control character %q in string", c)
		case c < utf8.RuneSelf:
			p.pos++
		default:
			r, size := utf8.DecodeRune(p.data[p.pos:])
			if r == utf8.RuneError && size == 1 {
				return false, p.errf(p.pos, "invalid UTF-8 in string")
			}
			p.pos += size
		}
	}
	return false, p.errf(len(p.data), "unexpected end of JSON input")
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func (p *parser) object(depth int) (*node, error) {
	if depth > maxDepth {
		return nil, p.errf(p.pos, "nesting deeper than %d levels", maxDepth)
	}
	start := p.pos
	p.pos++
	n := p.newNode(kObject)
	p.skipWS()
	if p.pos < len(p.data) && p.data[p.pos] == '}' {
		p.pos++
		n.raw = p.data[start:p.pos]
		return n, nil
	}
	base, valBase := len(p.keyStack), len(p.valStack) // enclosing arrays share valStack
	defer func() {
		p.keyStack, p.valStack = p.keyStack[:base], p.valStack[:valBase]
	}()
	var seen map[string]int
	hasNull := false
	for {
		p.skipWS()
		if p.pos >= len(p.data) {
			return nil, p.errf(p.pos, "unexpected end of JSON input")
		}
		if p.data[p.pos] != '"' {
			return nil, p.errf(p.pos, "invalid character %s looking for beginning of object key string", quoteChar(p.data[p.pos:]))
		}
		keyStart := p.pos
		esc, err := p.str()
		if err != nil {
			return nil, err
		}
		keyRaw := p.data[keyStart:p.pos]
		key := p.intern(keyRaw, esc)
		if p.duplicate(key, base, &seen) {
			return nil, p.errf(keyStart, "duplicate key %s", keyRaw)
		}
		p.skipWS()
		if p.pos >= len(p.data) {
			return nil, p.errf(p.pos, "unexpected end of JSON input")
		}
		if p.data[p.pos] != ':' {
			return nil, p.errf(p.pos, "invalid character %s after object key", quoteChar(p.data[p.pos:]))
		}
		p.pos++
		v, err := p.value(depth)
		if err != nil {
			return nil, err
		}
		if v.kind == kNull {
			hasNull = true
			if p.pruneNulls {
				// Keep the key on the stack for duplicate detection only.
				v = nil
			}
		}
		p.keyStack = append(p.keyStack, key)
		p.valStack = append(p.valStack, v)
		p.skipWS()
		if p.pos >= len(p.data) {
			return nil, p.errf(p.pos, "unexpected end of JSON input")
		}
		switch p.data[p.pos] {
		case ',':
			p.pos++
		case '}':
			p.pos++
			keys, vals := p.keyStack[base:], p.valStack[valBase:]
			if hasNull && p.pruneNulls {
				keys, vals = dropNulls(keys, vals)
				seen = nil
			} else {
				n.raw = p.data[start:p.pos]
			}
			n.keys = carve(&p.keySlab, keys)
			n.vals = carve(&p.valSlab, vals)
			n.idx = seen
			return n, nil
		default:
			return nil, p.errf(p.pos, "invalid character %s after object key:value pair", quoteChar(p.data[p.pos:]))
		}
	}
}

// duplicate reports whether key is already among the object's keys on the
// stack from base; past a few keys it keeps an index in *seen, which
// becomes the object's lookup index.
func (p *parser) duplicate(key string, base int, seen *map[string]int) bool {
	keys := p.keyStack[base:]
	if *seen == nil && len(keys) < 16 {
		for _, k := range keys {
			if k == key {
				return true
			}
		}
		return false
	}
	if *seen == nil {
		*seen = make(map[string]int, 2*len(keys))
		for i, k := range keys {
			(*seen)[k] = i
		}
	}
	if _, ok := (*seen)[key]; ok {
		return true
	}
	(*seen)[key] = len(keys)
	return false
}

// dropNulls filters out the members whose value was null, in place. The
// source text no longer describes the object, so the caller clears raw.
func dropNulls(keys []string, vals []*node) ([]string, []*node) {
	k, v := keys[:0], vals[:0]
	for i, val := range vals {
		if val != nil {
			k, v = append(k, keys[i]), append(v, val)
		}
	}
	return k, v
}

func (p *parser) array(depth int) (*node, error) {
	if depth > maxDepth {
		return nil, p.errf(p.pos, "nesting deeper than %d levels", maxDepth)
	}
	start := p.pos
	p.pos++
	n := p.newNode(kArray)
	p.skipWS()
	if p.pos < len(p.data) && p.data[p.pos] == ']' {
		p.pos++
		n.raw = p.data[start:p.pos]
		return n, nil
	}
	base := len(p.valStack)
	defer func() { p.valStack = p.valStack[:base] }()
	for {
		v, err := p.value(depth)
		if err != nil {
			return nil, err
		}
		p.valStack = append(p.valStack, v)
		p.skipWS()
		if p.pos >= len(p.data) {
			return nil, p.errf(p.pos, "unexpected end of JSON input")
		}
		switch p.data[p.pos] {
		case ',':
			p.pos++
		case ']':
			p.pos++
			n.raw = p.data[start:p.pos]
			n.vals = carve(&p.valSlab, p.valStack[base:])
			return n, nil
		default:
			return nil, p.errf(p.pos, "invalid character %s after array element", quoteChar(p.data[p.pos:]))
		}
	}
}

// decodeString returns the value of a quoted JSON string already checked
// by the parser.
func decodeString(raw []byte, esc bool) string {
	if !esc {
		return string(raw[1 : len(raw)-1])
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		// The parser has validated raw; fall back to the text as written.
		return string(raw[1 : len(raw)-1])
	}
	return s
}

// equal reports whether a and b are the same JSON value: numbers compare by
// value (1.0 equals 1), strings by their decoded text, objects regardless of
// key order, arrays element by element. nil stands for an absent value.
func equal(a, b *node) bool {
	if a == nil || b == nil {
		return a == b
	}
	if a.kind != b.kind {
		return false
	}
	switch a.kind {
	case kNumber:
		if bytes.Equal(a.raw, b.raw) {
			return true
		}
		// The parser has checked both are numbers within range.
		fa, _ := strconv.ParseFloat(string(a.raw), 64)
		fb, _ := strconv.ParseFloat(string(b.raw), 64)
		return fa == fb
	case kString:
		if bytes.Equal(a.raw, b.raw) {
			return true
		}
		if !a.esc && !b.esc {
			return false
		}
		return decodeString(a.raw, a.esc) == decodeString(b.raw, b.esc)
	case kArray:
		if len(a.vals) != len(b.vals) {
			return false
		}
		for i := range a.vals {
			if !equal(a.vals[i], b.vals[i]) {
				return false
			}
		}
		return true
	case kObject:
		if len(a.keys) != len(b.keys) {
			return false
		}
		for i, k := range a.keys {
			j := b.lookup(k, i)
			if j < 0 || !equal(a.vals[i], b.vals[j]) {
				return false
			}
		}
		return true
	default:
		return true
	}
}

// write appends n as compact JSON, with numbers and strings exactly as
// written in the source.
func write(buf []byte, n *node) []byte {
	switch n.kind {
	case kObject:
		buf = append(buf, '{')
		for i, v := range n.vals {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = quoteKey(buf, n.keys[i])
			buf = append(buf, ':')
			buf = write(buf, v)
		}
		return append(buf, '}')
	case kArray:
		buf = append(buf, '[')
		for i, v := range n.vals {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = write(buf, v)
		}
		return append(buf, ']')
	default:
		return append(buf, n.raw...)
	}
}

// raw returns n as compact JSON, or nil for an absent value.
func raw(n *node) json.RawMessage {
	if n == nil {
		return nil
	}
	return write(nil, n)
}

// quoteKey returns k as a JSON string. Only what JSON requires is escaped,
// so keys read as typed.
func quoteKey(buf []byte, k string) []byte {
	const hex = "0123456789abcdef"
	buf = append(buf, '"')
	for i := 0; i < len(k); i++ {
		c := k[i]
		switch {
		case c == '"' || c == '\\':
			buf = append(buf, '\\', c)
		case c == '\n':
			buf = append(buf, '\\', 'n')
		case c == '\t':
			buf = append(buf, '\\', 't')
		case c == '\r':
			buf = append(buf, '\\', 'r')
		case c < 0x20:
			buf = append(buf, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			buf = append(buf, c)
		}
	}
	return append(buf, '"')
}
