// Package query parses and evaluates the subset of the IoT Hub query language
// that the emulator answers on POST /devices/query:
//
//	SELECT [TOP n] * FROM devices [WHERE cond]
//	SELECT [TOP n] * FROM devices.modules [WHERE cond]
//	SELECT COUNT() [AS name] FROM devices [WHERE cond]
//	SELECT deviceId, tags.site AS site FROM devices [WHERE cond]
//
// Keywords, function names and collection names are case-insensitive; paths
// are case-sensitive. A path is a root field (deviceId, status,
// capabilities.iotEdge, ...) followed by .name, ['quoted name'] or [index]
// segments: tags.site.floor, properties.reported.fw, tags['my-key'].
//
// A condition combines comparisons (= != <> < > <= >=), IN and NIN (or NOT
// IN) with an array of literals, the functions IS_DEFINED, IS_NULL,
// IS_STRING, IS_NUMBER, IS_BOOL, IS_OBJECT, IS_ARRAY, IS_PRIMITIVE,
// STARTSWITH, ENDSWITH and CONTAINS, with AND, OR, NOT and parentheses.
// Literals are strings in single or double quotes with JSON escapes, numbers,
// true, false and null.
//
// Evaluation follows the hub (which follows Cosmos DB): a comparison of
// values of different types, or involving a missing path, an object or an
// array, is undefined, and so is NOT of undefined; a document matches only
// when the condition is true. So `status != 'enabled'` does not match a
// document without a status. Strings compare ordinally (by bytes), numbers
// numerically, false < true, and null equals null. IN is undefined when its
// left side is missing and otherwise true when the value equals an element
// of the array; NIN is its negation when defined.
//
// Documents are twins decoded with json.Decoder.UseNumber, holding
// json.Number, string, bool, nil, map[string]any and []any; float64 and int
// numbers are understood too.
package query

import (
	"fmt"
	"unicode/utf8"
)

// MaxLength is the longest query Parse accepts, in bytes, as on the hub.
const MaxLength = 8192

// maxDepth bounds the nesting of parentheses and NOT so that hostile input
// cannot exhaust the stack.
const maxDepth = 64

// DefaultCountAlias is the name of the count in the result of a COUNT()
// without AS, as Cosmos DB names unnamed select items.
const DefaultCountAlias = "$1"

// Source is the collection a query reads.
type Source int

// The collections a query can read.
const (
	Devices Source = iota // FROM devices: device twins
	Modules               // FROM devices.modules: module twins
)

// String returns the collection's name as written in a query.
func (s Source) String() string {
	if s == Modules {
		return "devices.modules"
	}
	return "devices"
}

// SyntaxError is a query that Parse rejects. Pos is the 1-based position,
// in characters, of the offending token, or one past the end of the query
// when more was expected.
type SyntaxError struct {
	Pos int
	Msg string
}

// Error names the position and what went wrong, for example
// "syntax error at position 27: expected a value after '='".
func (e *SyntaxError) Error() string {
	return fmt.Sprintf("syntax error at position %d: %s", e.Pos, e.Msg)
}

// syntaxErr returns a *SyntaxError for byte offset off of q.
func syntaxErr(q string, off int, msg string) *SyntaxError {
	return &SyntaxError{Pos: utf8.RuneCountInString(q[:off]) + 1, Msg: msg}
}

// Query is a parsed query. It is immutable, so one Query may be evaluated
// from many goroutines at once.
type Query struct {
	from       Source
	top        int // 0: no TOP
	count      bool
	countAlias string
	fields     []field // projection; nil for * and COUNT()
	where      cond    // nil: every document matches
	prefix     string  // see DeviceIDPrefix
}

// field is one projected path and the name it gets in the result.
type field struct {
	path path
	name string
}

// From returns the collection the query reads.
func (q *Query) From() Source { return q.from }

// Top returns n for SELECT TOP n; ok is false without TOP.
func (q *Query) Top() (n int, ok bool) { return q.top, q.top > 0 }

// IsCount reports whether the query is SELECT COUNT(). Its result is one
// object {CountAlias(): number of matching documents}.
func (q *Query) IsCount() bool { return q.count }

// CountAlias returns the name of the count in a COUNT() result:
// the AS name, or DefaultCountAlias.
func (q *Query) CountAlias() string { return q.countAlias }

// IsProjection reports whether the query selects fields rather than whole
// twins, so that results are of item type Raw and built with Project.
func (q *Query) IsProjection() bool { return q.fields != nil }

// Match reports whether doc satisfies the WHERE condition; it is true for
// every document when there is none. Match does not look at the source
// collection: the caller feeds it the documents of From().
func (q *Query) Match(doc map[string]any) bool {
	return q.MatchDoc(mapDoc(doc))
}

// MatchDoc is Match for a document read through Doc: it asks doc for each
// path the condition reads, as often as the condition reads it, and
// allocates nothing of its own.
func (q *Query) MatchDoc(doc Doc) bool {
	return q.where == nil || q.where.eval(doc) == triTrue
}

// HasCondition reports whether the query has a WHERE condition; without
// one every document of From() matches.
func (q *Query) HasCondition() bool { return q.where != nil }

// Project returns the selected fields of doc, each under its AS name or the
// last name of its path (tags.site gives "site"). Missing paths are left
// out. Values are shared with doc, not copied. For a query that is not a
// projection, Project returns doc itself.
func (q *Query) Project(doc map[string]any) map[string]any {
	if q.fields == nil {
		return doc
	}
	out := make(map[string]any, len(q.fields))
	for _, f := range q.fields {
		if v, ok := f.path.lookup(doc); ok {
			out[f.name] = v
		}
	}
	return out
}

// DeviceIDPrefix returns a non-empty prefix that the deviceId of every
// matching document has, when the WHERE condition implies one at its top
// level (deviceId = 'x', STARTSWITH(deviceId, 'p') or deviceId IN [...],
// alone or ANDed with other conditions), so that the caller can seek to it
// instead of scanning. The caller must still call Match.
func (q *Query) DeviceIDPrefix() (prefix string, ok bool) {
	return q.prefix, q.prefix != ""
}
