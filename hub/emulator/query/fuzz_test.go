package query

import (
	"errors"
	"testing"
	"unicode/utf8"
)

// FuzzParse checks that Parse never panics, that every error is a
// *SyntaxError pointing inside the query (or just past it), and that every
// query that parses evaluates and projects twins without panicking.
func FuzzParse(f *testing.F) {
	seeds := []string{
		"SELECT * FROM devices",
		"SELECT * FROM devices.modules WHERE moduleId = '$edgeAgent'",
		"SELECT COUNT() AS n FROM devices WHERE status = 'enabled' AND connectionState = 'Connected'",
		"SELECT TOP 3 deviceId, tags.site AS s, tags['my-key'], tags.owners[1] FROM devices",
		"SELECT * FROM devices WHERE tags.site.floor IN [1, 2.5, -3e2, 'x', true, null] OR NOT (version < 2)",
		"SELECT * FROM devices WHERE status NIN ['disabled'] AND deviceId NOT IN [\"a\\u00e9\", 'b\\'c']",
		"SELECT * FROM devices WHERE IS_DEFINED(properties.reported.fw) AND STARTSWITH(deviceId, 'sen', true)",
		"SELECT * FROM devices WHERE ENDSWITH(deviceId, 'x') OR CONTAINS(tags.name, 'y') OR IS_NULL(statusReason)",
		"SELECT * FROM devices WHERE properties.reported.fw <> properties.desired.fw",
		"SELECT * FROM devices WHERE ((a = 1) AND (b >= 2 OR c <= 3)) AND d > 4",
		"select count(*) from devices where capabilities.iotEdge = true",
		"SELECT * FROM devices WHERE a = '\\ud83d\\ude00'",
		"SELECT * FROM devices WHERE a = 'unterminated",
	}
	for _, s := range seeds {
		f.Add(s)
	}
	docs := []map[string]any{decode(f, deviceTwin), decode(f, moduleTwin), {}}
	f.Fuzz(func(t *testing.T, s string) {
		q, err := Parse(s)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("Parse(%q) error %T, want *SyntaxError", s, err)
			}
			if end := utf8.RuneCountInString(s) + 1; se.Pos < 1 || (se.Pos > end && len(s) <= MaxLength) {
				t.Fatalf("Parse(%q): position %d outside 1..%d", s, se.Pos, end)
			}
			return
		}
		for _, doc := range docs {
			q.Match(doc)
			q.Project(doc)
		}
		q.DeviceIDPrefix()
	})
}
