package twinedit

import (
	"strings"
)

// Path locates a value in a twin, from the twin's root: {"tags", "site",
// "floor"} or {"properties", "desired", "fw"}. Segments are decoded keys,
// so they may contain dots, quotes or nothing at all.
type Path []string

// String is the path for display and the key for Resolve's choices, in the
// hub's query notation: tags.site.floor. A key that is empty or contains
// characters that would make the dotted form ambiguous (. [ ] " \ space,
// control characters) is written as ["a.b"], a JSON string in brackets, so
// that distinct paths never print alike.
func (p Path) String() string {
	var b []byte
	for i, seg := range p {
		if bare(seg) {
			if i > 0 {
				b = append(b, '.')
			}
			b = append(b, seg...)
			continue
		}
		b = append(b, '[')
		b = quoteKey(b, seg)
		b = append(b, ']')
	}
	return string(b)
}

func bare(seg string) bool {
	if seg == "" {
		return false
	}
	for i := 0; i < len(seg); i++ {
		switch c := seg[i]; {
		case c <= ' ', c == '.', c == '[', c == ']', c == '"', c == '\\', c == 0x7f:
			return false
		}
	}
	return true
}

// Pointer is the path as an RFC 6901 JSON pointer: /tags/site/floor.
func (p Path) Pointer() string {
	var b strings.Builder
	for _, seg := range p {
		b.WriteByte('/')
		for i := 0; i < len(seg); i++ {
			switch seg[i] {
			case '~':
				b.WriteString("~0")
			case '/':
				b.WriteString("~1")
			default:
				b.WriteByte(seg[i])
			}
		}
	}
	return b.String()
}

// clone returns a copy of p that later appends to p cannot change.
func (p Path) clone() Path {
	return append(Path(nil), p...)
}

// isPrefix reports whether p is q or an ancestor of q.
func (p Path) isPrefix(q Path) bool {
	if len(p) > len(q) {
		return false
	}
	for i := range p {
		if p[i] != q[i] {
			return false
		}
	}
	return true
}
