// Package twinedittest provides the maximum-size twin that twinedit's
// benchmarks and hubdesk bench measure the save path on.
package twinedittest

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/hubdesk/hubdesk/twinedit"
)

// SaveCase is a maximum-size twin (8 KB tags, 32 KB desired), a draft
// changing three values, and a concurrent change elsewhere.
type SaveCase struct {
	Base, Theirs, Mine twinedit.Doc
	// Plain is the twin as encoding/json would see it, for the baseline.
	Plain []byte
}

// BigSection returns a JSON object of about size bytes shaped like real
// twins: nested settings objects, numbers, strings and small arrays.
func BigSection(prefix string, size int) string {
	var b strings.Builder
	b.WriteString("{")
	for i := 0; b.Len() < size-200; i++ {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `"%s%d":{"enabled":true,"interval":%d,"threshold":%d.25,"name":"sensor-%d",`+
			`"tags":["a","b"],"limits":{"min":-%d,"max":%d,"unit":"celsius"}}`, prefix, i, i*10, i, i, i, i*3)
	}
	b.WriteString("}")
	return b.String()
}

// NewSaveCase builds the case.
func NewSaveCase() SaveCase {
	tags := BigSection("t", 8*1024)
	desired := BigSection("d", 32*1024)
	meta := `,"$metadata":{"$lastUpdated":"2024-05-01T10:00:00.1234567Z","$lastUpdatedVersion":7},"$version":7}`
	var s SaveCase
	s.Base = twinedit.Doc{Tags: json.RawMessage(tags), Desired: json.RawMessage(desired[:len(desired)-1] + meta)}
	s.Mine = twinedit.Doc{
		Tags:    json.RawMessage(strings.Replace(tags, `"interval":30,`, `"interval":45,`, 1)),
		Desired: json.RawMessage(strings.Replace(strings.Replace(desired, `"max":150,`, `"max":160,`, 1), `"name":"sensor-7"`, `"name":"boiler"`, 1)),
	}
	theirsDesired := strings.Replace(desired, `"threshold":90.25`, `"threshold":91.5`, 1)
	s.Theirs = twinedit.Doc{Tags: json.RawMessage(tags), Desired: json.RawMessage(theirsDesired[:len(theirsDesired)-1] + strings.Replace(meta, "7", "8", -1))}
	s.Plain = []byte(`{"tags":` + tags + `,"properties":{"desired":` + string(s.Base.Desired) + `}}`)
	return s
}
