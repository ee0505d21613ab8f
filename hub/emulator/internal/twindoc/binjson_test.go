package twindoc_test

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/hubdesk/hubdesk/hub"
	"github.com/hubdesk/hubdesk/hub/emulator/internal/twindoc"
)

// binJSONCases are sections built by patches, as the emulator stores them.
func binJSONCases(t testing.TB) map[string]*twindoc.Section {
	out := map[string]*twindoc.Section{}
	for _, kind := range []hub.Section{hub.SectionTags, hub.SectionDesired, hub.SectionReported} {
		out[string(kind)+" empty"] = twindoc.New(kind, t0)
		s := twindoc.New(kind, t0)
		s.Patch(decode(t, `{"fw":"1.0","n":1.50,"on":true,"off":false,"z":{"b":{"c":"<&>\u2028\"\\"}},
			"arr":[1,{"in":"array"},[],{}],"empty":{},"é":"ü","long":"`+string(bytes.Repeat([]byte("x"), 300))+`"}`), t1)
		s.Patch(decode(t, `{"z":{"a":2,"b":{"d":null}},"fw":"2.0"}`), t2)
		s.Patch(decode(t, `{"n":null}`), t3)
		out[string(kind)+" patched"] = s
		zero := twindoc.New(kind, time.Time{})
		zero.Patch(decode(t, `{"a":1}`), time.Time{})
		out[string(kind)+" zero time"] = zero
	}
	return out
}

// TestAppendJSONFromBinary: reading the storage form in place writes what
// decoding it and writing the tree does, byte for byte.
func TestAppendJSONFromBinary(t *testing.T) {
	for name, s := range binJSONCases(t) {
		t.Run(name, func(t *testing.T) {
			bin, err := s.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			want := wire(t, s)
			got, err := twindoc.AppendJSONFromBinary([]byte("prefix"), string(bin))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != "prefix"+want {
				t.Errorf("got  %s\nwant prefix%s", got, want)
			}
			if !json.Valid(got[len("prefix"):]) {
				t.Errorf("invalid JSON %s", got)
			}
			for cut := range len(bin) {
				if _, err := twindoc.AppendJSONFromBinary(nil, string(bin[:cut])); err == nil {
					t.Errorf("accepted the record cut to %d of %d bytes", cut, len(bin))
				}
			}
		})
	}
}

// FuzzAppendJSONFromBinary: on any record the tree decoder accepts in its
// canonical form, the in-place writer agrees with it; on any record the tree
// decoder refuses, it refuses too; it never panics.
func FuzzAppendJSONFromBinary(f *testing.F) {
	for _, s := range binJSONCases(f) {
		bin, _ := s.MarshalBinary()
		f.Add(bin)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, gotErr := twindoc.AppendJSONFromBinary(nil, string(data))
		var s twindoc.Section
		if err := s.UnmarshalBinary(data); err != nil {
			if gotErr == nil {
				t.Fatalf("accepted a record UnmarshalBinary refuses (%v): %s", err, got)
			}
			return
		}
		if canon, _ := s.MarshalBinary(); !bytes.Equal(canon, data) {
			return // duplicate or unsorted names: never stored
		}
		if gotErr != nil {
			t.Fatalf("refused a canonical record: %v", gotErr)
		}
		if want := wire(t, &s); string(got) != want {
			t.Fatalf("got  %s\nwant %s", got, want)
		}
	})
}

func BenchmarkTwinSectionJSON(b *testing.B) {
	s := binJSONCases(b)["desired patched"]
	bin, _ := s.MarshalBinary()
	b.Run("decode tree then write", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var s twindoc.Section
			if err := s.UnmarshalBinary(bin); err != nil {
				b.Fatal(err)
			}
			if _, err := s.MarshalJSON(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("in place", func(b *testing.B) {
		b.ReportAllocs()
		var buf []byte
		for b.Loop() {
			var err error
			if buf, err = twindoc.AppendJSONFromBinary(buf[:0], string(bin)); err != nil {
				b.Fatal(err)
			}
		}
	})
}
