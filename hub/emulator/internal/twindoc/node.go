package twindoc

// NodeKind is the JSON type of a Node.
type NodeKind uint8

// The kinds of Node. Invalid marks bytes that are not a storage form: the
// record is corrupt.
const (
	Invalid NodeKind = iota
	Object
	Array
	String
	Number
	Bool
	Null
)

// Node is a value inside a section's storage form, read in place: a lookup
// walks the bytes, skipping what it passes over, and allocates nothing, so a
// query can test one property of a million stored twins without decoding
// them. Strings it returns are substrings of the data given to Root.
type Node struct {
	s        string
	i        int  // offset of the value's tag byte
	withMeta bool // members carry metadata nodes
}

// Root returns the root object of a section stored by MarshalBinary, and the
// section's $version. The data is a string so that callers holding bytes
// valid for a while can read them without a copy; see the package emulator.
func Root(data string) (root Node, version int64, err error) {
	if len(data) < 2 || data[0] != storageFormat {
		return Node{}, 0, errCorrupt
	}
	withMeta := false
	switch data[1] {
	case 't':
	case 'd', 'r':
		withMeta = true
	default:
		return Node{}, 0, errCorrupt
	}
	d := binDecoder{s: data, i: 2}
	v := d.uvarint()
	if withMeta {
		d.varint()
		d.uvarint()
		d.uvarint()
	}
	if d.err != nil || d.i >= len(data) || data[d.i] != 'o' || v < 1 || v > 1<<62 {
		return Node{}, 0, errCorrupt
	}
	return Node{s: data, i: d.i, withMeta: withMeta}, int64(v), nil
}

// Kind is the node's JSON type.
func (n Node) Kind() NodeKind {
	if n.i >= len(n.s) {
		return Invalid
	}
	switch n.s[n.i] {
	case 'o':
		return Object
	case 'a':
		return Array
	case 's':
		return String
	case 'n':
		return Number
	case 't', 'f':
		return Bool
	case 'z':
		return Null
	}
	return Invalid
}

// Text is the value of a String node, or the JSON text of a Number node.
func (n Node) Text() string {
	d := binDecoder{s: n.s, i: n.i + 1}
	t := d.str()
	if d.err != nil {
		return ""
	}
	return t
}

// Bool is the value of a Bool node.
func (n Node) Bool() bool { return n.i < len(n.s) && n.s[n.i] == 't' }

// Member returns the member name of an Object node; ok is false when n has
// no such member or is not an object. On corrupt data it returns ok true
// and a node of kind Invalid.
func (n Node) Member(name string) (m Node, ok bool) {
	if n.Kind() != Object {
		return Node{}, false
	}
	d := binDecoder{s: n.s, i: n.i + 1}
	count := d.count()
	for range count {
		k := d.str()
		if d.err != nil {
			break
		}
		if n.withMeta {
			d.varint()
			d.uvarint()
			d.uvarint()
		}
		if k == name {
			if d.err != nil {
				break
			}
			return Node{s: n.s, i: d.i, withMeta: n.withMeta}, true
		}
		if k > name { // members are sorted by name
			return Node{}, false
		}
		d.skip(n.withMeta, 0)
	}
	if d.err != nil {
		return Node{s: n.s, i: len(n.s)}, true
	}
	return Node{}, false
}

// Index returns element i of an Array node; ok is false when n is not an
// array or is shorter. On corrupt data it returns ok true and a node of
// kind Invalid.
func (n Node) Index(i int) (e Node, ok bool) {
	if n.Kind() != Array {
		return Node{}, false
	}
	d := binDecoder{s: n.s, i: n.i + 1}
	count := d.count()
	if i >= count {
		if d.err != nil {
			return Node{s: n.s, i: len(n.s)}, true
		}
		return Node{}, false
	}
	for range i {
		d.skip(false, 0)
	}
	if d.err != nil {
		return Node{s: n.s, i: len(n.s)}, true
	}
	return Node{s: n.s, i: d.i}, true
}

// skip moves past one value (and, below an object of a section with
// metadata, the metadata of its members).
func (d *binDecoder) skip(withMeta bool, depth int) {
	if d.err != nil || d.i >= len(d.s) || depth > maxNesting {
		d.fail()
		return
	}
	tag := d.s[d.i]
	d.i++
	switch tag {
	case 'o':
		for range d.count() {
			d.str()
			if withMeta {
				d.varint()
				d.uvarint()
				d.uvarint()
			}
			d.skip(withMeta, depth+1)
			if d.err != nil {
				return
			}
		}
	case 'a':
		for range d.count() {
			d.skip(false, depth+1)
			if d.err != nil {
				return
			}
		}
	case 's', 'n':
		d.str()
	case 't', 'f', 'z':
	default:
		d.fail()
	}
}
