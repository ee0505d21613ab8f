package twindoc_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/hubdesk/hubdesk/hub"
	"github.com/hubdesk/hubdesk/hub/emulator/internal/twindoc"
)

// sample is a desired section of about size bytes (as hub.SectionSize
// counts) shaped like a real device's configuration, written in several
// patches so that its metadata carries different stamps.
func sample(tb testing.TB, size int) *twindoc.Section {
	s := twindoc.New(hub.SectionDesired, t0)
	for i := 0; s.Size() < size; i++ {
		s.Patch(decode(tb, fmt.Sprintf(
			`{"dev%03d":{"name":"sensor %03d","rate":%d,"on":true,"limits":[1.5,2.5,-3],"site":{"floor":%d,"room":"r%03d"}}}`,
			i, i, i*10, i%7, i)), t0.Add(time.Duration(i)*time.Second))
	}
	return s
}

func benchRecord(b *testing.B, size int, useJSON bool) {
	s := sample(b, size)
	var rec []byte
	if useJSON {
		rec, _ = s.MarshalJSON()
	} else {
		rec, _ = s.MarshalBinary()
	}
	w, _ := s.MarshalJSON()
	patch := decode(b, `{"dev001":{"rate":99,"site":{"room":"lab"}},"new":"x"}`)
	b.ReportAllocs()
	var out []byte
	for b.Loop() {
		var d *twindoc.Section
		if useJSON {
			var err error
			if d, err = twindoc.ParseJSON(hub.SectionDesired, rec); err != nil {
				b.Fatal(err)
			}
		} else {
			d = new(twindoc.Section)
			if err := d.UnmarshalBinary(rec); err != nil {
				b.Fatal(err)
			}
		}
		d.Patch(patch, t1)
		var err error
		if useJSON {
			out, err = d.AppendJSON(out[:0])
		} else {
			out, err = d.AppendBinary(out[:0])
		}
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(rec)), "record-bytes")
	b.ReportMetric(float64(len(w)), "wire-bytes")
}

// BenchmarkRecordPatch is what the emulator does per twin PATCH: decode the
// stored section, patch it, encode it for storage. JSON is the alternative
// storage form the binary one was chosen over.
func BenchmarkRecordPatch(b *testing.B) {
	for _, size := range []int{2 << 10, 32<<10 - 200} {
		for _, form := range []string{"binary", "json"} {
			b.Run(fmt.Sprintf("%dKB/%s", (size+512)>>10, form), func(b *testing.B) {
				benchRecord(b, size, form == "json")
			})
		}
	}
}

// BenchmarkGet is a twin GET: decode the stored section, write its wire form.
func BenchmarkGet(b *testing.B) {
	for _, size := range []int{2 << 10, 32<<10 - 200} {
		s := sample(b, size)
		rec, _ := s.MarshalBinary()
		b.Run(fmt.Sprintf("%dKB", (size+512)>>10), func(b *testing.B) {
			b.ReportAllocs()
			var out []byte
			for b.Loop() {
				var d twindoc.Section
				if err := d.UnmarshalBinary(rec); err != nil {
					b.Fatal(err)
				}
				out, _ = d.AppendJSON(out[:0])
			}
		})
	}
}
