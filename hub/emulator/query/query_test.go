package query

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// deviceTwin is a device twin as the emulator stores and returns it.
const deviceTwin = `{
  "deviceId": "sensor-b1-003",
  "etag": "AAAAAAAAAAM=",
  "deviceEtag": "ODgxNTgwOA==",
  "version": 5,
  "status": "enabled",
  "statusReason": null,
  "statusUpdateTime": "0001-01-01T00:00:00Z",
  "connectionState": "Connected",
  "lastActivityTime": "2024-05-01T10:11:12.1234567Z",
  "cloudToDeviceMessageCount": 0,
  "authenticationType": "sas",
  "x509Thumbprint": {"primaryThumbprint": null, "secondaryThumbprint": null},
  "modelId": "",
  "capabilities": {"iotEdge": false},
  "tags": {
    "site": {"building": "B1", "floor": 3},
    "my-key": "dash",
    "owners": ["ana", "ben"],
    "ratio": 0.25
  },
  "properties": {
    "desired": {
      "fw": "1.2.0",
      "interval": 30,
      "$metadata": {"$lastUpdated": "2024-05-01T10:00:00Z", "$lastUpdatedVersion": 3,
        "fw": {"$lastUpdated": "2024-05-01T10:00:00Z", "$lastUpdatedVersion": 3}},
      "$version": 3
    },
    "reported": {
      "fw": "1.1.9",
      "temp": -4.5,
      "healthy": true,
      "$metadata": {"$lastUpdated": "2024-05-01T10:11:12Z"},
      "$version": 7
    }
  }
}`

// moduleTwin is a module twin of an edge device, without tags.
const moduleTwin = `{
  "deviceId": "edge-01",
  "moduleId": "$edgeAgent",
  "etag": "AAAAAAAAAAE=",
  "version": 2,
  "connectionState": "Disconnected",
  "properties": {
    "desired": {"$metadata": {"$lastUpdated": "2024-05-01T10:00:00Z"}, "$version": 1},
    "reported": {"$metadata": {"$lastUpdated": "2024-05-01T10:00:00Z"}, "$version": 1}
  }
}`

// decode decodes a document the way the emulator does.
func decode(t testing.TB, s string) map[string]any {
	t.Helper()
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	var doc map[string]any
	if err := d.Decode(&doc); err != nil {
		t.Fatalf("decode: %v", err)
	}
	return doc
}

func TestParseShape(t *testing.T) {
	tests := []struct {
		q          string
		from       Source
		count      bool
		alias      string
		projection bool
		top        int
	}{
		{q: "SELECT * FROM devices", from: Devices},
		{q: "select * from DEVICES where status = 'enabled'", from: Devices},
		{q: "SELECT * FROM devices.modules WHERE moduleId = 'm'", from: Modules},
		{q: "SELECT * FROM Devices . Modules", from: Modules},
		{q: "SELECT COUNT() AS numberOfDevices FROM devices", count: true, alias: "numberOfDevices"},
		{q: "SELECT count(*) FROM devices WHERE tags.site.floor > 1", count: true, alias: DefaultCountAlias},
		{q: "SELECT deviceId, tags.site FROM devices", projection: true},
		{q: "SELECT TOP 5 * FROM devices", top: 5},
	}
	for _, tt := range tests {
		t.Run(tt.q, func(t *testing.T) {
			q, err := Parse(tt.q)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			top, hasTop := q.Top()
			if q.From() != tt.from || q.IsCount() != tt.count || q.CountAlias() != tt.alias ||
				q.IsProjection() != tt.projection || top != tt.top || hasTop != (tt.top > 0) {
				t.Errorf("got from=%v count=%v alias=%q projection=%v top=%d,%v", q.From(), q.IsCount(),
					q.CountAlias(), q.IsProjection(), top, hasTop)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		q   string
		pos int
		msg string
	}{
		{"", 1, "expected SELECT"},
		{"SELECT", 7, "expected '*', COUNT() or a path after 'SELECT'"},
		{"SELECT * FROM devices WHERE status =", 37, "expected a value after '='"},
		{"SELECT * FROM devices WHERE status = )", 38, "expected a value after '=', found ')'"},
		{"SELECT * FROM devices WHERE", 28, "expected a condition after 'WHERE'"},
		{"SELECT * FROM devices WHERE AND", 29, "expected a condition after 'WHERE', found 'AND'"},
		{"SELECT * FROM devices WHERE status", 35, "expected a comparison operator, IN or NIN after 'status'"},
		{"SELECT * FROM jobs", 15, "expected devices or devices.modules after 'FROM', found 'jobs'"},
		{"SELECT * FROM devices.jobs", 23, "expected modules after '.', found 'jobs'"},
		{"SELECT * devices", 10, "expected FROM after '*', found 'devices'"},
		{"SELECT * FROM devices status = 'x'", 23, "expected WHERE or end of query"},
		{"SELECT * FROM devices WHERE a = 1 b = 2", 35, "expected AND, OR or end of query after '1', found 'b'"},
		{"SELECT * FROM devices WHERE (a = 1", 35, "expected ')' after '1'"},
		{"SELECT * FROM devices WHERE a = 'open", 33, "unterminated string"},
		{`SELECT * FROM devices WHERE a = 'x\q'`, 35, `invalid escape \q`},
		{`SELECT * FROM devices WHERE a = '\u12'`, 34, `invalid \u escape`},
		{"SELECT * FROM devices WHERE a IN 'x'", 34, "expected an array such as ['a', 'b'] after 'IN', found string \"x\""},
		{"SELECT * FROM devices WHERE a IN [1,", 37, "expected a string, number, true, false or null after ','"},
		{"SELECT * FROM devices WHERE a IN [1 2]", 37, "expected ',' or ']' after '1', found '2'"},
		{"SELECT * FROM devices WHERE a = [1]", 33, "arrays are only allowed after IN or NIN"},
		{"SELECT * FROM devices WHERE a ! 1", 31, "unexpected '!'"},
		{"SELECT * FROM devices WHERE a = 1e999", 33, "number 1e999 is out of range"},
		{"SELECT * FROM devices WHERE a = 12ab", 35, "unexpected character after number 12"},
		{"SELECT * FROM devices WHERE a = #", 33, "unexpected character '#'"},
		{"SELECT * FROM devices WHERE LOWER(a) = 'x'", 29, "unknown function LOWER"},
		{"SELECT * FROM devices WHERE STARTSWITH(a 'x')", 42, "expected ',' after 'a'"},
		{"SELECT * FROM devices WHERE STARTSWITH(a, 'x', 1)", 48, "expected true or false after ','"},
		{"SELECT * FROM devices WHERE IS_DEFINED(tags.)", 45, "expected a property name after '.'"},
		{"SELECT * FROM devices WHERE tags['x' = 1", 38, "expected ']' after string \"x\""},
		{"SELECT * FROM devices WHERE tags[-1] = 1", 34, "array index must be a whole number"},
		{"SELECT COUNT( FROM devices", 15, "expected ')' after '('"},
		{"SELECT COUNT() AS FROM devices", 19, "expected a name after 'AS', found 'FROM'"},
		{"SELECT a.x, b.x FROM devices", 13, `duplicate name "x"`},
		{"SELECT TOP 0 * FROM devices", 12, "expected a positive whole number after 'TOP'"},
		{"SELECT * FROM devices WHERE é = 1", 29, "unexpected character 'é'"},
		{"SELECT * FROM devices WHERE deviceId = 'é' AND", 47, "expected a condition after 'AND'"},
		{"SELECT * FROM devices WHERE " + strings.Repeat("(", 100) + "a = 1" + strings.Repeat(")", 100), 93, "nested more than 64 deep"},
		{"SELECT * FROM devices WHERE " + strings.Repeat("NOT ", 100) + "a = 1", 285, "nested more than 64 deep"},
		{strings.Repeat(" ", MaxLength+1), MaxLength + 1, "longer than 8192 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.q, func(t *testing.T) {
			_, err := Parse(tt.q)
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("Parse(%q) = %v, want a *SyntaxError", tt.q, err)
			}
			if se.Pos != tt.pos || !strings.Contains(se.Msg, tt.msg) {
				t.Errorf("got position %d %q, want position %d containing %q", se.Pos, se.Msg, tt.pos, tt.msg)
			}
			if !strings.HasPrefix(err.Error(), "syntax error at position ") {
				t.Errorf("Error() = %q", err.Error())
			}
		})
	}
}

func TestMatch(t *testing.T) {
	device, module := decode(t, deviceTwin), decode(t, moduleTwin)
	tests := []struct {
		where       string
		device, mod bool
	}{
		{"", true, true},
		{"deviceId = 'sensor-b1-003'", true, false},
		{`deviceId = "sensor-b1-003"`, true, false},
		{"'sensor-b1-003' = deviceId", true, false},
		{"status = 'enabled'", true, false},
		{"status != 'disabled'", true, false},
		// Missing paths make every comparison undefined, also != and NOT.
		{"status <> 'enabled'", false, false},
		{"NOT (status = 'enabled')", false, false},
		{"NOT status = 'disabled'", true, false},
		{"connectionState = 'Disconnected'", false, true},
		{"capabilities.iotEdge = false", true, false},
		{"capabilities.iotEdge != true", true, false},
		{"capabilities.iotEdge = 'false'", false, false},
		{"tags.site.building = 'B1'", true, false},
		{"tags.site.floor = 3", true, false},
		{"tags.site.floor = 3.0", true, false},
		{"tags.site.floor = '3'", false, false},
		{"tags.site.floor != '3'", false, false},
		{"tags.site.floor > 2 AND tags.site.floor <= 3", true, false},
		{"tags.site.floor >= 4 OR tags.site.building < 'B2'", true, false},
		{"tags.site.floor < -1", false, false},
		{"tags.ratio < 0.3", true, false},
		{"tags.site = null", false, false},
		{"statusReason = null", true, false},
		{"statusReason != null", false, false},
		{"tags['my-key'] = 'dash'", true, false},
		{`tags["my-key"] = 'dash'`, true, false},
		{"tags.owners[1] = 'ben'", true, false},
		{"tags.owners[2] = 'ben'", false, false},
		{"tags.owners = 'ben'", false, false},
		{"properties.desired.fw = '1.2.0'", true, false},
		{"properties.reported.fw < properties.desired.fw", true, false},
		{"properties.reported.temp = -4.5", true, false},
		{"properties.reported.temp > -5e0", true, false},
		{"properties.reported.healthy = true", true, false},
		{"properties.reported.$version = 7", true, false},
		{"properties.desired.$metadata.fw.$lastUpdatedVersion = 3", true, false},
		{"version >= 2", true, true},
		{"etag = 'AAAAAAAAAAE='", false, true},
		{"moduleId = '$edgeAgent'", false, true},
		{"status IN ['enabled', 'disabled']", true, false},
		{"status NIN ['disabled']", true, false},
		{"status NOT IN ['enabled']", false, false},
		{"tags.site.floor IN [1, 2, 3]", true, false},
		{"tags.site.floor IN ['3']", false, false},
		{"tags.site.floor NIN ['3']", true, false},
		{"deviceId IN []", false, false},
		{"IS_DEFINED(tags)", true, false},
		{"NOT IS_DEFINED(tags)", false, true},
		{"IS_DEFINED(properties.reported.fw)", true, false},
		{"IS_NULL(statusReason)", true, false},
		{"IS_STRING(tags.site.building) AND IS_NUMBER(tags.site.floor)", true, false},
		{"IS_BOOL(capabilities.iotEdge)", true, false},
		{"IS_OBJECT(tags.site) AND IS_ARRAY(tags.owners)", true, false},
		{"IS_PRIMITIVE(tags.site)", false, false},
		{"STARTSWITH(deviceId, 'sensor-')", true, false},
		{"STARTSWITH(deviceId, 'SENSOR-')", false, false},
		{"STARTSWITH(deviceId, 'SENSOR-', true)", true, false},
		{"ENDSWITH(deviceId, '-01')", false, true},
		{"ENDSWITH(deviceId, '-B1-003', true)", true, false},
		{"CONTAINS(deviceId, 'B1', true) AND NOT CONTAINS(deviceId, 'B2', true)", true, false},
		{"CONTAINS(deviceId, 'a-much-longer-needle-than-the-id', true)", false, false},
		{"CONTAINS(moduleId, 'edge')", false, true},
		{"NOT STARTSWITH(tags.site.floor, '3')", false, false},
		// AND/OR with undefined: false AND undefined is false, true OR undefined is true.
		{"tags.x = 1 OR deviceId = 'edge-01'", false, true},
		{"NOT (tags.x = 1 AND deviceId = 'nope')", true, true},
		{"NOT (tags.x = 1 OR deviceId = 'nope')", false, false},
		{"(status = 'enabled' OR moduleId = '$edgeAgent') AND version > 1", true, true},
		{"1 = 1", true, true},
		{"null = null", true, true},
		{"false < true", true, true},
	}
	for _, tt := range tests {
		t.Run(tt.where, func(t *testing.T) {
			text := "SELECT * FROM devices"
			if tt.where != "" {
				text += " WHERE " + tt.where
			}
			q, err := Parse(text)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if got := q.Match(device); got != tt.device {
				t.Errorf("device twin: Match = %v, want %v", got, tt.device)
			}
			if got := q.Match(module); got != tt.mod {
				t.Errorf("module twin: Match = %v, want %v", got, tt.mod)
			}
		})
	}
}

func TestMatchPlainNumbers(t *testing.T) {
	// Documents decoded without UseNumber, or built in Go, still compare.
	q, err := Parse("SELECT * FROM devices WHERE a = 2 AND b > 1 AND c < 3")
	if err != nil {
		t.Fatal(err)
	}
	doc := map[string]any{"a": 2.0, "b": 2, "c": int64(2)}
	if !q.Match(doc) {
		t.Error("Match = false, want true")
	}
}

func TestProject(t *testing.T) {
	device := decode(t, deviceTwin)
	tests := []struct {
		q    string
		want string
	}{
		{"SELECT deviceId, tags.site FROM devices", `{"deviceId":"sensor-b1-003","site":{"building":"B1","floor":3}}`},
		{"SELECT deviceId AS id, properties.reported.fw AS reportedFw, tags.nope FROM devices",
			`{"id":"sensor-b1-003","reportedFw":"1.1.9"}`},
		{"SELECT tags['my-key'], tags.owners[0] FROM devices", `{"$2":"ana","my-key":"dash"}`},
		{"SELECT moduleId FROM devices.modules", `{}`},
	}
	for _, tt := range tests {
		t.Run(tt.q, func(t *testing.T) {
			q, err := Parse(tt.q)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			got, err := json.Marshal(q.Project(device))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("Project = %s, want %s", got, tt.want)
			}
		})
	}
	q, err := Parse("SELECT * FROM devices")
	if err != nil {
		t.Fatal(err)
	}
	if got := q.Project(device); !reflect.DeepEqual(got, device) {
		t.Errorf("Project of SELECT * = %v, want the document", got)
	}
}

func TestDeviceIDPrefix(t *testing.T) {
	tests := []struct {
		where  string
		prefix string
	}{
		{"", ""},
		{"deviceId = 'd1'", "d1"},
		{"'d1' = deviceId", "d1"},
		{"STARTSWITH(deviceId, 'sensor-')", "sensor-"},
		{"status = 'enabled' AND STARTSWITH(deviceId, 'sen') AND deviceId = 'sensor-1'", "sensor-1"},
		{"(status = 'enabled' AND deviceId = 'x1') AND version > 2", "x1"},
		{"deviceId IN ['plant-a-1', 'plant-a-2', 'plant-b']", "plant-"},
		{"deviceId IN ['a', 1]", ""},
		{"deviceId NIN ['a']", ""},
		{"STARTSWITH(deviceId, 'S', true)", ""},
		{"deviceId = 'a' OR deviceId = 'b'", ""},
		{"NOT deviceId = 'a'", ""},
		{"deviceId != 'a'", ""},
		{"deviceId = 3", ""},
		{"tags.deviceId = 'a'", ""},
		{"moduleId = 'a'", ""},
	}
	for _, tt := range tests {
		t.Run(tt.where, func(t *testing.T) {
			text := "SELECT * FROM devices"
			if tt.where != "" {
				text += " WHERE " + tt.where
			}
			q, err := Parse(text)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			prefix, ok := q.DeviceIDPrefix()
			if prefix != tt.prefix || ok != (tt.prefix != "") {
				t.Errorf("DeviceIDPrefix = %q, %v, want %q", prefix, ok, tt.prefix)
			}
		})
	}
}

func TestStringEscapes(t *testing.T) {
	tests := []struct {
		lit  string
		want string
	}{
		{`'it\'s'`, "it's"},
		{`"it's"`, "it's"},
		{`'say "hi"'`, `say "hi"`},
		{`'a\\b\/c'`, `a\b/c`},
		{`'\n\t\r\b\f'`, "\n\t\r\b\f"},
		{`'\u00e9'`, "é"},
		{`'\ud83d\ude00'`, "😀"},
		{`'é'`, "é"},
	}
	for _, tt := range tests {
		t.Run(tt.lit, func(t *testing.T) {
			q, err := Parse("SELECT * FROM devices WHERE tags.s = " + tt.lit)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if !q.Match(map[string]any{"tags": map[string]any{"s": tt.want}}) {
				t.Errorf("%s does not equal %q", tt.lit, tt.want)
			}
		})
	}
}

func BenchmarkMatch(b *testing.B) {
	doc := decode(b, deviceTwin)
	benches := []struct{ name, where string }{
		{"string equal", "status = 'enabled'"},
		{"number compare", "tags.site.floor > 2"},
		{"missing path", "tags.nope.deeper = 1"},
		{"and of three", "status = 'enabled' AND tags.site.building = 'B1' AND properties.reported.temp < 0"},
		{"in list", "tags.site.building IN ['B3', 'B2', 'B1']"},
		{"startswith", "STARTSWITH(deviceId, 'sensor-') AND IS_DEFINED(properties.reported.fw)"},
	}
	for _, bb := range benches {
		q, err := Parse("SELECT * FROM devices WHERE " + bb.where)
		if err != nil {
			b.Fatal(err)
		}
		if !q.Match(doc) && bb.name != "missing path" {
			b.Fatalf("%s: no match", bb.where)
		}
		b.Run(bb.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				q.Match(doc)
			}
		})
	}
}

func BenchmarkParse(b *testing.B) {
	const text = "SELECT * FROM devices WHERE status = 'enabled' AND tags.site.floor IN [1, 2, 3] AND STARTSWITH(deviceId, 'sensor-')"
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(text); err != nil {
			b.Fatal(err)
		}
	}
}

// fieldDoc answers Field from a table keyed by the path's text, as a caller
// reading stored records does, and counts the calls.
type fieldDoc struct {
	fields map[string]Value
	calls  int
}

func (d *fieldDoc) Field(p Path) Value {
	d.calls++
	var b strings.Builder
	for i, s := range p {
		if i > 0 {
			b.WriteByte('.')
		}
		if s.Index >= 0 {
			b.WriteString("[" + string(rune('0'+s.Index)) + "]")
			continue
		}
		b.WriteString(s.Key)
	}
	return d.fields[b.String()]
}

func TestMatchDoc(t *testing.T) {
	doc := &fieldDoc{fields: map[string]Value{
		"deviceId":         StringValue("sensor-1"),
		"status":           StringValue("disabled"),
		"tags":             ObjectValue(),
		"tags.floor":       NumberText("3"),
		"tags.owners":      ArrayValue(),
		"tags.owners.[0]":  StringValue("ana"),
		"tags.big":         NumberText("1e999"),
		"tags.on":          BoolValue(true),
		"tags.gone":        NullValue(),
		"properties.temp":  NumberValue(-4.5),
		"capabilities.iot": BoolValue(false),
	}}
	tests := []struct {
		where string
		want  bool
	}{
		{"", true},
		{"status = 'disabled' AND tags.floor = 3", true},
		{"tags.floor >= 3.5", false},
		{"tags.owners[0] = 'ana'", true},
		{"IS_OBJECT(tags) AND IS_ARRAY(tags.owners)", true},
		{"IS_DEFINED(tags.big)", false}, // does not parse as a float64
		{"tags.on = true AND IS_NULL(tags.gone)", true},
		{"properties.temp < 0 OR tags.missing = 1", true},
		{"NOT (tags.missing = 1)", false},
		{"capabilities.iot IN [false]", true},
		{"STARTSWITH(deviceId, 'sensor')", true},
	}
	for _, tt := range tests {
		t.Run(tt.where, func(t *testing.T) {
			text := "SELECT * FROM devices"
			if tt.where != "" {
				text += " WHERE " + tt.where
			}
			q, err := Parse(text)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if q.HasCondition() != (tt.where != "") {
				t.Errorf("HasCondition = %v", q.HasCondition())
			}
			if got := q.MatchDoc(doc); got != tt.want {
				t.Errorf("MatchDoc = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestMatchDocAllocates(t *testing.T) {
	q, err := Parse("SELECT COUNT() FROM devices WHERE status = 'disabled' AND (tags.floor IN [1, 2, 3] OR CONTAINS(deviceId, 'sen', true))")
	if err != nil {
		t.Fatal(err)
	}
	var d Doc = rootDoc{"status": StringValue("disabled"), "deviceId": StringValue("sensor-1")}
	if n := testing.AllocsPerRun(100, func() { q.MatchDoc(d) }); n != 0 {
		t.Errorf("MatchDoc allocates %v times per call, want 0", n)
	}
}

// rootDoc holds root fields only, and looks them up without allocating.
type rootDoc map[string]Value

func (d rootDoc) Field(p Path) Value {
	if len(p) != 1 {
		return Value{}
	}
	return d[p[0].Key]
}
