package twindoc

import (
	"strconv"
	"time"
)

// AppendJSONFromBinary appends to b the JSON form of the section whose
// storage form is data, exactly as Section.AppendJSON writes it, but read
// in place: no tree is built, so a twin GET costs a walk over its bytes
// rather than a map and a metadata node per property. Both forms sort
// members by name, so the properties are one pass over the bytes and
// $metadata a second.
func AppendJSONFromBinary(b []byte, data string) ([]byte, error) {
	root, version, err := Root(data)
	if err != nil {
		return b, err
	}
	w := binJSON{d: binDecoder{s: data, i: root.i}, b: append(b, '{')}
	empty := w.members(root.withMeta, 0)
	if w.d.err == nil && w.d.i != len(data) {
		w.d.fail()
	}
	if w.d.err != nil {
		return b, w.d.err
	}
	if root.withMeta {
		if !empty {
			w.b = append(w.b, ',')
		}
		w.b = append(w.b, `"$metadata":`...)
		// The root's metadata sits just before its value.
		w.d = binDecoder{s: data, i: 2}
		w.d.uvarint()
		w.meta(0)
		w.b = append(w.b, `,"$version":`...)
		w.b = strconv.AppendInt(w.b, version, 10)
	}
	w.b = append(w.b, '}')
	return w.b, w.d.err
}

// binJSON writes JSON while a binDecoder walks a storage form.
type binJSON struct {
	d binDecoder
	b []byte
	// lastSec and lastNsec are the stamp lastText holds, formatted once
	// for the many properties a write stamps alike.
	lastSec  int64
	lastNsec uint64
	lastText []byte
}

// members writes the members of the object whose tag is next, without its
// braces, and reports whether it had none.
func (w *binJSON) members(withMeta bool, depth int) bool {
	d := &w.d
	d.i++ // 'o', checked by the caller
	n := d.count()
	for i := range n {
		if i > 0 {
			w.b = append(w.b, ',')
		}
		w.b = appendString(w.b, d.str())
		w.b = append(w.b, ':')
		if withMeta {
			w.skipStamp()
		}
		w.value(withMeta, depth+1)
		if d.err != nil {
			return false
		}
	}
	return n == 0
}

func (w *binJSON) value(withMeta bool, depth int) {
	d := &w.d
	if d.err != nil || d.i >= len(d.s) || depth > maxNesting {
		d.fail()
		return
	}
	switch d.s[d.i] {
	case 'o':
		w.b = append(w.b, '{')
		w.members(withMeta, depth)
		w.b = append(w.b, '}')
		return
	case 'a':
		d.i++
		w.b = append(w.b, '[')
		for i := range d.count() {
			if i > 0 {
				w.b = append(w.b, ',')
			}
			w.value(false, depth+1)
			if d.err != nil {
				return
			}
		}
		w.b = append(w.b, ']')
		return
	}
	tag := d.s[d.i]
	d.i++
	switch tag {
	case 's':
		w.b = appendString(w.b, d.str())
	case 'n':
		w.b = append(w.b, d.str()...)
	case 't':
		w.b = append(w.b, "true"...)
	case 'f':
		w.b = append(w.b, "false"...)
	case 'z':
		w.b = append(w.b, "null"...)
	default:
		d.fail()
	}
}

// skipStamp moves past a node's metadata.
func (w *binJSON) skipStamp() {
	w.d.varint()
	w.d.uvarint()
	w.d.uvarint()
}

// meta writes the $metadata object of the node (stamp, then value) next.
func (w *binJSON) meta(depth int) {
	d := &w.d
	sec, nsec, ver := d.varint(), d.uvarint(), d.uvarint()
	if nsec >= 1e9 || ver > 1<<62 {
		d.fail()
	}
	if d.err != nil || depth > maxNesting {
		d.fail()
		return
	}
	w.b = append(w.b, `{"$lastUpdated":"`...)
	if w.lastText == nil || sec != w.lastSec || nsec != w.lastNsec {
		t := time.Unix(sec, int64(nsec)).UTC()
		if sec == zeroUnix && nsec == 0 {
			t = time.Time{}
		}
		w.lastSec, w.lastNsec = sec, nsec
		w.lastText = t.AppendFormat(w.lastText[:0], time.RFC3339Nano)
	}
	w.b = append(w.b, w.lastText...)
	w.b = append(w.b, '"')
	if ver > 0 {
		w.b = append(w.b, `,"$lastUpdatedVersion":`...)
		w.b = strconv.AppendUint(w.b, ver, 10)
	}
	if d.i < len(d.s) && d.s[d.i] == 'o' {
		d.i++
		for range d.count() {
			w.b = append(w.b, ',')
			w.b = appendString(w.b, d.str())
			w.b = append(w.b, ':')
			w.meta(depth + 1)
			if d.err != nil {
				return
			}
		}
	} else {
		d.skip(true, depth)
	}
	w.b = append(w.b, '}')
}
