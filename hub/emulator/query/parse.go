package query

import (
	"math"
	"strconv"
	"strings"
)

// Parse parses q. Every error it returns is a *SyntaxError.
func Parse(q string) (*Query, error) {
	if len(q) > MaxLength {
		return nil, &SyntaxError{Pos: MaxLength + 1, Msg: "query is longer than " + strconv.Itoa(MaxLength) + " bytes"}
	}
	toks, err := lex(q)
	if err != nil {
		return nil, err
	}
	p := &parser{src: q, toks: toks}
	return p.query()
}

// parser is a recursive-descent parser over the tokens of src.
type parser struct {
	src   string
	toks  []token
	i     int
	depth int
}

func (p *parser) cur() token { return p.toks[p.i] }

func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tokEOF {
		p.i++
	}
	return t
}

// fail reports that `what` was expected at the current token.
func (p *parser) fail(what string) error {
	t := p.cur()
	msg := "expected " + what
	if p.i > 0 {
		msg += " after " + p.toks[p.i-1].describe()
	}
	if t.kind != tokEOF {
		msg += ", found " + t.describe()
	}
	return syntaxErr(p.src, t.off, msg)
}

// failAt reports msg at token t.
func (p *parser) failAt(t token, msg string) error { return syntaxErr(p.src, t.off, msg) }

// keyword consumes the keyword kw if it is next.
func (p *parser) keyword(kw string) bool {
	if p.cur().isKeyword(kw) {
		p.i++
		return true
	}
	return false
}

// punct consumes the punctuation s if it is next.
func (p *parser) punct(s string) bool {
	if p.cur().is(s) {
		p.i++
		return true
	}
	return false
}

// isReserved reports whether t is a keyword that cannot start a path.
func isReserved(t token) bool {
	if t.kind != tokIdent {
		return false
	}
	switch strings.ToUpper(t.text) {
	case "SELECT", "FROM", "WHERE", "AND", "OR", "NOT", "IN", "NIN", "AS", "TOP", "TRUE", "FALSE", "NULL", "GROUP", "BY":
		return true
	}
	return false
}

func (p *parser) query() (*Query, error) {
	q := &Query{}
	if !p.keyword("SELECT") {
		return nil, p.fail("SELECT")
	}
	if p.keyword("TOP") {
		t := p.cur()
		if t.kind != tokNumber || t.num < 1 || t.num > math.MaxInt32 || t.num != math.Trunc(t.num) {
			return nil, p.fail("a positive whole number")
		}
		p.next()
		q.top = int(t.num)
	}
	if err := p.selectList(q); err != nil {
		return nil, err
	}
	if !p.keyword("FROM") {
		return nil, p.fail("FROM")
	}
	if err := p.source(q); err != nil {
		return nil, err
	}
	if p.keyword("WHERE") {
		c, err := p.or("a condition")
		if err != nil {
			return nil, err
		}
		q.where = c
		q.prefix = deviceIDPrefix(c)
	}
	if p.cur().kind != tokEOF {
		if q.where == nil {
			return nil, p.fail("WHERE or end of query")
		}
		return nil, p.fail("AND, OR or end of query")
	}
	return q, nil
}

func (p *parser) selectList(q *Query) error {
	if p.punct("*") {
		return nil
	}
	if p.cur().isKeyword("COUNT") && p.toks[p.i+1].is("(") {
		p.i += 2
		p.punct("*")
		if !p.punct(")") {
			return p.fail("')'")
		}
		q.count = true
		q.countAlias = DefaultCountAlias
		if p.keyword("AS") {
			name, err := p.alias()
			if err != nil {
				return err
			}
			q.countAlias = name
		}
		return nil
	}
	seen := map[string]bool{}
	for {
		start := p.cur()
		if start.kind != tokIdent || isReserved(start) {
			return p.fail("'*', COUNT() or a path")
		}
		pa, err := p.path()
		if err != nil {
			return err
		}
		name := pa[len(pa)-1].Key
		if pa[len(pa)-1].Index >= 0 {
			name = "$" + strconv.Itoa(len(q.fields)+1)
		}
		if p.keyword("AS") {
			if name, err = p.alias(); err != nil {
				return err
			}
		}
		if seen[name] {
			return p.failAt(start, "duplicate name "+strconv.Quote(name)+" in SELECT; use AS to rename")
		}
		seen[name] = true
		q.fields = append(q.fields, field{path: pa, name: name})
		if !p.punct(",") {
			return nil
		}
	}
}

// alias parses the name after AS.
func (p *parser) alias() (string, error) {
	t := p.cur()
	if t.kind != tokIdent || isReserved(t) {
		return "", p.fail("a name")
	}
	p.next()
	return t.text, nil
}

func (p *parser) source(q *Query) error {
	if !p.keyword("devices") {
		return p.fail("devices or devices.modules")
	}
	if !p.punct(".") {
		q.from = Devices
		return nil
	}
	if !p.keyword("modules") {
		return p.fail("modules")
	}
	q.from = Modules
	return nil
}

// or parses cond OR cond ...; what names the expected condition in errors.
func (p *parser) or(what string) (cond, error) {
	c, err := p.and(what)
	if err != nil {
		return nil, err
	}
	if !p.cur().isKeyword("OR") {
		return c, nil
	}
	parts := orCond{c}
	for p.keyword("OR") {
		c, err := p.and("a condition")
		if err != nil {
			return nil, err
		}
		if o, ok := c.(orCond); ok {
			parts = append(parts, o...)
		} else {
			parts = append(parts, c)
		}
	}
	return parts, nil
}

func (p *parser) and(what string) (cond, error) {
	c, err := p.unary(what)
	if err != nil {
		return nil, err
	}
	if !p.cur().isKeyword("AND") {
		return c, nil
	}
	parts := andCond{}
	parts = appendAnd(parts, c)
	for p.keyword("AND") {
		c, err := p.unary("a condition")
		if err != nil {
			return nil, err
		}
		parts = appendAnd(parts, c)
	}
	return parts, nil
}

// appendAnd flattens nested ANDs, so that (a AND b) AND c evaluates, and
// counts for DeviceIDPrefix, like a AND b AND c.
func appendAnd(parts andCond, c cond) andCond {
	if a, ok := c.(andCond); ok {
		return append(parts, a...)
	}
	return append(parts, c)
}

func (p *parser) unary(what string) (cond, error) {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxDepth {
		return nil, p.failAt(p.cur(), "conditions nested more than "+strconv.Itoa(maxDepth)+" deep")
	}
	if p.keyword("NOT") {
		c, err := p.unary("a condition")
		if err != nil {
			return nil, err
		}
		return notCond{c}, nil
	}
	if p.punct("(") {
		c, err := p.or("a condition")
		if err != nil {
			return nil, err
		}
		if !p.punct(")") {
			return nil, p.fail("')'")
		}
		return c, nil
	}
	if t := p.cur(); t.kind == tokIdent && p.toks[p.i+1].is("(") {
		return p.call()
	}
	return p.predicate(what)
}

// predicate parses `operand op operand`, `operand [NOT] IN [...]` or
// `operand NIN [...]`.
func (p *parser) predicate(what string) (cond, error) {
	l, err := p.operand(what)
	if err != nil {
		return nil, err
	}
	t := p.cur()
	if t.kind == tokPunct {
		if o, ok := compareOp(t.text); ok {
			p.next()
			r, err := p.operand("a value")
			if err != nil {
				return nil, err
			}
			return &cmpCond{op: o, l: l, r: r}, nil
		}
	}
	negate := false
	switch {
	case p.keyword("IN"):
	case p.keyword("NIN"):
		negate = true
	case p.cur().isKeyword("NOT") && p.toks[p.i+1].isKeyword("IN"):
		p.i += 2
		negate = true
	default:
		return nil, p.fail("a comparison operator, IN or NIN")
	}
	list, err := p.array()
	if err != nil {
		return nil, err
	}
	return &inCond{x: l, list: list, negate: negate}, nil
}

// compareOp returns the comparison operator spelled s.
func compareOp(s string) (op, bool) {
	switch s {
	case "=":
		return opEq, true
	case "!=", "<>":
		return opNe, true
	case "<":
		return opLt, true
	case "<=":
		return opLe, true
	case ">":
		return opGt, true
	case ">=":
		return opGe, true
	}
	return 0, false
}

// array parses [literal, ...].
func (p *parser) array() ([]value, error) {
	if !p.punct("[") {
		return nil, p.fail("an array such as ['a', 'b']")
	}
	list := []value{}
	if p.punct("]") {
		return list, nil
	}
	for {
		v, ok := p.literal()
		if !ok {
			return nil, p.fail("a string, number, true, false or null")
		}
		list = append(list, v)
		if p.punct("]") {
			return list, nil
		}
		if !p.punct(",") {
			return nil, p.fail("',' or ']'")
		}
	}
}

// literal consumes a scalar literal if one is next.
func (p *parser) literal() (value, bool) {
	t := p.cur()
	var v value
	switch {
	case t.kind == tokString:
		v = value{kind: kString, s: t.text}
	case t.kind == tokNumber:
		v = value{kind: kNumber, f: t.num}
	case t.isKeyword("true"):
		v = value{kind: kBool, b: true}
	case t.isKeyword("false"):
		v = value{kind: kBool}
	case t.isKeyword("null"):
		v = value{kind: kNull}
	default:
		return value{}, false
	}
	p.next()
	return v, true
}

// operand parses a literal or a path; what names it in errors.
func (p *parser) operand(what string) (operand, error) {
	if v, ok := p.literal(); ok {
		return operand{lit: v}, nil
	}
	if t := p.cur(); t.kind != tokIdent || isReserved(t) {
		if t.is("[") {
			return operand{}, p.failAt(t, "arrays are only allowed after IN or NIN")
		}
		return operand{}, p.fail(what)
	}
	pa, err := p.path()
	if err != nil {
		return operand{}, err
	}
	return operand{path: pa}, nil
}

// path parses name(.name | ['name'] | [index])*; the current token is an
// identifier.
func (p *parser) path() (path, error) {
	pa := path{{Key: p.next().text, Index: -1}}
	for {
		switch {
		case p.punct("."):
			t := p.cur()
			if t.kind != tokIdent {
				return nil, p.fail("a property name")
			}
			p.next()
			pa = append(pa, Step{Key: t.text, Index: -1})
		case p.cur().is("[") && p.toks[p.i+1].kind == tokString:
			p.next()
			pa = append(pa, Step{Key: p.next().text, Index: -1})
			if !p.punct("]") {
				return nil, p.fail("']'")
			}
		case p.cur().is("[") && p.toks[p.i+1].kind == tokNumber:
			p.next()
			t := p.next()
			if t.num < 0 || t.num > math.MaxInt32 || t.num != math.Trunc(t.num) {
				return nil, p.failAt(t, "array index must be a whole number from 0")
			}
			pa = append(pa, Step{Index: int(t.num)})
			if !p.punct("]") {
				return nil, p.fail("']'")
			}
		default:
			return pa, nil
		}
	}
}

// typeFunc returns the kinds a type-testing function such as IS_STRING
// accepts, given its upper-case name.
func typeFunc(name string) (kinds uint8, ok bool) {
	const primitive = 1<<kNull | 1<<kBool | 1<<kNumber | 1<<kString
	switch name {
	case "IS_DEFINED":
		return primitive | 1<<kObject | 1<<kArray, true
	case "IS_PRIMITIVE":
		return primitive, true
	case "IS_NULL":
		return 1 << kNull, true
	case "IS_BOOL":
		return 1 << kBool, true
	case "IS_NUMBER":
		return 1 << kNumber, true
	case "IS_STRING":
		return 1 << kString, true
	case "IS_OBJECT":
		return 1 << kObject, true
	case "IS_ARRAY":
		return 1 << kArray, true
	}
	return 0, false
}

// stringFunc returns the string predicate with the given upper-case name.
func stringFunc(name string) (strFunc, bool) {
	switch name {
	case "STARTSWITH":
		return fnStartsWith, true
	case "ENDSWITH":
		return fnEndsWith, true
	case "CONTAINS":
		return fnContains, true
	}
	return 0, false
}

// call parses a function call; the current tokens are name and '('.
func (p *parser) call() (cond, error) {
	name := p.next()
	p.next()
	upper := strings.ToUpper(name.text)
	if kinds, ok := typeFunc(upper); ok {
		x, err := p.operand("a path")
		if err != nil {
			return nil, err
		}
		if !p.punct(")") {
			return nil, p.fail("')'")
		}
		return &typeCond{x: x, kinds: kinds}, nil
	}
	fn, ok := stringFunc(upper)
	if !ok {
		return nil, p.failAt(name, "unknown function "+name.text)
	}
	c := &strCond{fn: fn}
	var err error
	if c.a, err = p.operand("a path or string"); err != nil {
		return nil, err
	}
	if !p.punct(",") {
		return nil, p.fail("','")
	}
	if c.b, err = p.operand("a string"); err != nil {
		return nil, err
	}
	if p.punct(",") {
		switch {
		case p.keyword("true"):
			c.ignoreCase = true
		case p.keyword("false"):
		default:
			return nil, p.fail("true or false")
		}
	}
	if !p.punct(")") {
		return nil, p.fail("')'")
	}
	return c, nil
}

// deviceIDPrefix finds the longest deviceId prefix implied by the top-level
// conjuncts of c, or "".
func deviceIDPrefix(c cond) string {
	parts, ok := c.(andCond)
	if !ok {
		parts = andCond{c}
	}
	best := ""
	for _, k := range parts {
		var pre string
		switch k := k.(type) {
		case *cmpCond:
			if k.op != opEq {
				continue
			}
			switch {
			case k.l.path.isRoot("deviceId") && k.r.path == nil && k.r.lit.kind == kString:
				pre = k.r.lit.s
			case k.r.path.isRoot("deviceId") && k.l.path == nil && k.l.lit.kind == kString:
				pre = k.l.lit.s
			}
		case *strCond:
			if k.fn == fnStartsWith && !k.ignoreCase && k.a.path.isRoot("deviceId") && k.b.path == nil && k.b.lit.kind == kString {
				pre = k.b.lit.s
			}
		case *inCond:
			if !k.negate && k.x.path.isRoot("deviceId") {
				pre = commonPrefix(k.list)
			}
		}
		if len(pre) > len(best) {
			best = pre
		}
	}
	return best
}

// commonPrefix returns the longest prefix shared by every value of list,
// or "" unless they are all strings.
func commonPrefix(list []value) string {
	if len(list) == 0 {
		return ""
	}
	for _, v := range list {
		if v.kind != kString {
			return ""
		}
	}
	pre := list[0].s
	for _, v := range list[1:] {
		n := 0
		for n < len(pre) && n < len(v.s) && pre[n] == v.s[n] {
			n++
		}
		pre = pre[:n]
	}
	return pre
}
