package query

import (
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// tokKind is the kind of a lexical token.
type tokKind uint8

const (
	tokEOF tokKind = iota
	tokIdent
	tokString
	tokNumber
	tokPunct // * , . ( ) [ ] and the comparison operators
)

// token is one lexical token. off is its byte offset in the query; text is
// the source text for identifiers, numbers and punctuation and the decoded
// value for strings.
type token struct {
	kind tokKind
	off  int
	text string
	num  float64
}

// is reports whether t is the punctuation p.
func (t token) is(p string) bool { return t.kind == tokPunct && t.text == p }

// isKeyword reports whether t is the identifier kw, ignoring case.
func (t token) isKeyword(kw string) bool {
	return t.kind == tokIdent && strings.EqualFold(t.text, kw)
}

// describe names t for an error message.
func (t token) describe() string {
	switch t.kind {
	case tokEOF:
		return "end of query"
	case tokString:
		return "string " + strconv.Quote(t.text)
	default:
		return "'" + t.text + "'"
	}
}

// lex splits q into tokens, ending with a tokEOF.
func lex(q string) ([]token, error) {
	var toks []token
	for i := 0; i < len(q); {
		c := q[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case isIdentStart(c):
			j := i + 1
			for j < len(q) && isIdentPart(q[j]) {
				j++
			}
			toks = append(toks, token{kind: tokIdent, off: i, text: q[i:j]})
			i = j
		case isDigit(c) || (c == '-' && i+1 < len(q) && isDigit(q[i+1])):
			t, j, err := lexNumber(q, i)
			if err != nil {
				return nil, err
			}
			toks = append(toks, t)
			i = j
		case c == '\'' || c == '"':
			t, j, err := lexString(q, i)
			if err != nil {
				return nil, err
			}
			toks = append(toks, t)
			i = j
		case c == '!' || c == '<' || c == '>':
			n := 1
			if i+1 < len(q) && (q[i+1] == '=' || (c == '<' && q[i+1] == '>')) {
				n = 2
			}
			if q[i:i+n] == "!" {
				return nil, syntaxErr(q, i, "unexpected '!'; did you mean '!='?")
			}
			toks = append(toks, token{kind: tokPunct, off: i, text: q[i : i+n]})
			i += n
		case strings.IndexByte("*,.()[]=", c) >= 0:
			toks = append(toks, token{kind: tokPunct, off: i, text: q[i : i+1]})
			i++
		default:
			r, _ := utf8.DecodeRuneInString(q[i:])
			return nil, syntaxErr(q, i, "unexpected character "+strconv.QuoteRune(r))
		}
	}
	return append(toks, token{kind: tokEOF, off: len(q)}), nil
}

func isIdentStart(c byte) bool {
	return c == '_' || c == '$' || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z')
}

func isIdentPart(c byte) bool { return isIdentStart(c) || isDigit(c) }

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// lexNumber reads a JSON-like number at q[i:]: optional minus, digits,
// optional fraction and exponent.
func lexNumber(q string, i int) (token, int, error) {
	j := i
	if q[j] == '-' {
		j++
	}
	for j < len(q) && isDigit(q[j]) {
		j++
	}
	if j < len(q) && q[j] == '.' && j+1 < len(q) && isDigit(q[j+1]) {
		j++
		for j < len(q) && isDigit(q[j]) {
			j++
		}
	}
	if j < len(q) && (q[j] == 'e' || q[j] == 'E') {
		k := j + 1
		if k < len(q) && (q[k] == '+' || q[k] == '-') {
			k++
		}
		if k < len(q) && isDigit(q[k]) {
			for k < len(q) && isDigit(q[k]) {
				k++
			}
			j = k
		}
	}
	if j < len(q) && isIdentPart(q[j]) {
		return token{}, 0, syntaxErr(q, j, "unexpected character after number "+q[i:j])
	}
	f, err := strconv.ParseFloat(q[i:j], 64)
	if err != nil {
		return token{}, 0, syntaxErr(q, i, "number "+q[i:j]+" is out of range")
	}
	return token{kind: tokNumber, off: i, text: q[i:j], num: f}, j, nil
}

// lexString reads a string quoted with q[i] (' or "), decoding JSON-style
// escapes; the other quote character needs no escape.
func lexString(q string, i int) (token, int, error) {
	quote := q[i]
	var b strings.Builder
	j := i + 1
	for {
		if j >= len(q) {
			return token{}, 0, syntaxErr(q, i, "unterminated string")
		}
		c := q[j]
		switch {
		case c == quote:
			return token{kind: tokString, off: i, text: b.String()}, j + 1, nil
		case c == '\\':
			if j+1 >= len(q) {
				return token{}, 0, syntaxErr(q, i, "unterminated string")
			}
			e := q[j+1]
			switch e {
			case '\'', '"', '\\', '/':
				b.WriteByte(e)
			case 'b':
				b.WriteByte('\b')
			case 'f':
				b.WriteByte('\f')
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case 't':
				b.WriteByte('\t')
			case 'u':
				r, n, ok := unicodeEscape(q[j:])
				if !ok {
					return token{}, 0, syntaxErr(q, j, `invalid \u escape; expected four hex digits`)
				}
				b.WriteRune(r)
				j += n
				continue
			default:
				return token{}, 0, syntaxErr(q, j, "invalid escape \\"+string(rune(e)))
			}
			j += 2
		default:
			b.WriteByte(c)
			j++
		}
	}
}

// unicodeEscape decodes \uXXXX at the start of s, joining a following
// \uXXXX low surrogate when the first is a high surrogate. It returns the
// rune and the number of bytes consumed.
func unicodeEscape(s string) (rune, int, bool) {
	r, ok := hex4(s)
	if !ok {
		return 0, 0, false
	}
	if utf16.IsSurrogate(r) {
		if r2, ok := hex4(s[6:]); ok {
			if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
				return d, 12, true
			}
		}
		return utf8.RuneError, 6, true
	}
	return r, 6, true
}

// hex4 decodes `\uXXXX` at the start of s.
func hex4(s string) (rune, bool) {
	if len(s) < 6 || s[0] != '\\' || s[1] != 'u' {
		return 0, false
	}
	n, err := strconv.ParseUint(s[2:6], 16, 32)
	if err != nil {
		return 0, false
	}
	return rune(n), true
}
