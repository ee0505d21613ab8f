package query

import (
	"encoding/json"
	"strconv"
	"strings"
)

// tri is a three-valued truth: conditions on missing paths or mismatched
// types are undefined rather than false, which matters under NOT.
type tri uint8

const (
	triFalse tri = iota
	triTrue
	triUndef
)

func triOf(b bool) tri {
	if b {
		return triTrue
	}
	return triFalse
}

// cond is a compiled WHERE condition.
type cond interface {
	eval(doc Doc) tri
}

// Doc is a document as a condition reads it: one path at a time, so that a
// caller scanning stored records can answer from the record's bytes without
// building a map per document. Field returns the value at p, or the zero
// Value (undefined) when some step of p is missing or of the wrong type: a
// member step needs an object, an index step an array.
type Doc interface {
	Field(p Path) Value
}

// mapDoc is a decoded document.
type mapDoc map[string]any

func (m mapDoc) Field(p Path) Value { return valueOf(p.lookup(m)) }

// kind is the JSON type of a value.
type kind uint8

const (
	kUndef kind = iota
	kNull
	kBool
	kNumber
	kString
	kObject
	kArray
)

// Value is a scalar view of a JSON value, built without allocating. Objects
// and arrays only carry their kind: nothing compares them. The zero Value is
// undefined, as a missing path is.
type Value struct {
	kind kind
	b    bool
	f    float64
	s    string
}

// value is the short name the evaluator uses.
type value = Value

// StringValue is the JSON string s.
func StringValue(s string) Value { return Value{kind: kString, s: s} }

// NumberValue is the JSON number f.
func NumberValue(f float64) Value { return Value{kind: kNumber, f: f} }

// NumberText is the JSON number written as text, as json.Number holds it;
// text that does not parse as a float64 is undefined, as in Match.
func NumberText(text string) Value {
	f, err := strconv.ParseFloat(text, 64)
	if err != nil {
		return Value{}
	}
	return NumberValue(f)
}

// BoolValue is the JSON boolean b.
func BoolValue(b bool) Value { return Value{kind: kBool, b: b} }

// NullValue is JSON null.
func NullValue() Value { return Value{kind: kNull} }

// ObjectValue stands for any JSON object.
func ObjectValue() Value { return Value{kind: kObject} }

// ArrayValue stands for any JSON array.
func ArrayValue() Value { return Value{kind: kArray} }

// ValueOf is the Value of a decoded JSON value (see the package comment for
// the Go types understood).
func ValueOf(v any) Value { return valueOf(v, true) }

// valueOf converts a decoded JSON value; ok false means undefined.
func valueOf(v any, ok bool) value {
	if !ok {
		return value{}
	}
	switch v := v.(type) {
	case nil:
		return value{kind: kNull}
	case string:
		return value{kind: kString, s: v}
	case json.Number:
		return NumberText(string(v))
	case bool:
		return value{kind: kBool, b: v}
	case float64:
		return value{kind: kNumber, f: v}
	case int:
		return value{kind: kNumber, f: float64(v)}
	case int64:
		return value{kind: kNumber, f: float64(v)}
	case map[string]any:
		return value{kind: kObject}
	case []any:
		return value{kind: kArray}
	}
	return value{}
}

// compare orders a and b; ok is false when they are not comparable.
func compare(a, b value) (c int, ok bool) {
	if a.kind != b.kind {
		return 0, false
	}
	switch a.kind {
	case kNull:
		return 0, true
	case kBool:
		switch {
		case a.b == b.b:
			return 0, true
		case b.b:
			return -1, true
		}
		return 1, true
	case kNumber:
		switch {
		case a.f < b.f:
			return -1, true
		case a.f > b.f:
			return 1, true
		}
		return 0, true
	case kString:
		return strings.Compare(a.s, b.s), true
	}
	return 0, false
}

// Step is one step of a Path: the member Key of an object, or, when Index
// is 0 or more, that element of an array.
type Step struct {
	Key   string
	Index int
}

// Path is a sequence of steps from the document root, such as tags.site or
// properties.reported.fw[0]. Its first step is always a member name.
type Path []Step

// path is the short name the parser uses.
type path = Path

// lookup follows p in doc; ok is false when some step is missing.
func (p path) lookup(doc map[string]any) (any, bool) {
	var cur any = doc
	for _, s := range p {
		if s.Index >= 0 {
			a, isArr := cur.([]any)
			if !isArr || s.Index >= len(a) {
				return nil, false
			}
			cur = a[s.Index]
			continue
		}
		m, isObj := cur.(map[string]any)
		if !isObj {
			return nil, false
		}
		v, found := m[s.Key]
		if !found {
			return nil, false
		}
		cur = v
	}
	return cur, true
}

// isRoot reports whether p is the single root field name.
func (p path) isRoot(name string) bool {
	return len(p) == 1 && p[0].Index < 0 && p[0].Key == name
}

// operand is a path or, when path is nil, a literal.
type operand struct {
	path path
	lit  value
}

func (o *operand) get(doc Doc) value {
	if o.path == nil {
		return o.lit
	}
	return doc.Field(o.path)
}

// op is a comparison operator.
type op uint8

const (
	opEq op = iota
	opNe
	opLt
	opLe
	opGt
	opGe
)

// cmpCond is `l op r`.
type cmpCond struct {
	op   op
	l, r operand
}

func (c *cmpCond) eval(doc Doc) tri {
	n, ok := compare(c.l.get(doc), c.r.get(doc))
	if !ok {
		return triUndef
	}
	switch c.op {
	case opEq:
		return triOf(n == 0)
	case opNe:
		return triOf(n != 0)
	case opLt:
		return triOf(n < 0)
	case opLe:
		return triOf(n <= 0)
	case opGt:
		return triOf(n > 0)
	}
	return triOf(n >= 0)
}

// inCond is `x IN list`, or `x NIN list` when negate is set.
type inCond struct {
	x      operand
	list   []value
	negate bool
}

func (c *inCond) eval(doc Doc) tri {
	v := c.x.get(doc)
	if v.kind == kUndef {
		return triUndef
	}
	found := false
	for _, e := range c.list {
		if n, ok := compare(v, e); ok && n == 0 {
			found = true
			break
		}
	}
	return triOf(found != c.negate)
}

// andCond is true when every part is; false as soon as one is false.
type andCond []cond

func (c andCond) eval(doc Doc) tri {
	r := triTrue
	for _, k := range c {
		switch k.eval(doc) {
		case triFalse:
			return triFalse
		case triUndef:
			r = triUndef
		}
	}
	return r
}

// orCond is true as soon as one part is; false when every part is.
type orCond []cond

func (c orCond) eval(doc Doc) tri {
	r := triFalse
	for _, k := range c {
		switch k.eval(doc) {
		case triTrue:
			return triTrue
		case triUndef:
			r = triUndef
		}
	}
	return r
}

// notCond negates a defined condition.
type notCond struct{ c cond }

func (c notCond) eval(doc Doc) tri {
	switch c.c.eval(doc) {
	case triTrue:
		return triFalse
	case triFalse:
		return triTrue
	}
	return triUndef
}

// typeCond is IS_DEFINED, IS_NULL, IS_STRING, ...: true when the value's
// kind is in the set, never undefined.
type typeCond struct {
	x     operand
	kinds uint8 // bit set of kind
}

func (c *typeCond) eval(doc Doc) tri {
	return triOf(c.kinds&(1<<c.x.get(doc).kind) != 0)
}

// strFunc is a string predicate such as STARTSWITH.
type strFunc uint8

const (
	fnStartsWith strFunc = iota
	fnEndsWith
	fnContains
)

// strCond is STARTSWITH(a, b[, ignoreCase]), ENDSWITH or CONTAINS:
// undefined unless a and b are strings.
type strCond struct {
	fn         strFunc
	a, b       operand
	ignoreCase bool
}

func (c *strCond) eval(doc Doc) tri {
	a, b := c.a.get(doc), c.b.get(doc)
	if a.kind != kString || b.kind != kString {
		return triUndef
	}
	s, t := a.s, b.s
	if c.ignoreCase {
		return triOf(containsFold(c.fn, s, t))
	}
	switch c.fn {
	case fnStartsWith:
		return triOf(strings.HasPrefix(s, t))
	case fnEndsWith:
		return triOf(strings.HasSuffix(s, t))
	}
	return triOf(strings.Contains(s, t))
}

// containsFold is fn ignoring case without allocating. It compares
// equal-length byte ranges with strings.EqualFold, so it misses the rare
// letters whose case forms differ in UTF-8 length (such as the Kelvin sign).
func containsFold(fn strFunc, s, t string) bool {
	if len(t) > len(s) {
		return false
	}
	switch fn {
	case fnStartsWith:
		return strings.EqualFold(s[:len(t)], t)
	case fnEndsWith:
		return strings.EqualFold(s[len(s)-len(t):], t)
	}
	for i := 0; i+len(t) <= len(s); i++ {
		if strings.EqualFold(s[i:i+len(t)], t) {
			return true
		}
	}
	return false
}
