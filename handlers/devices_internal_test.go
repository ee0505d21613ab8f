package handlers

import (
	"testing"

	"github.com/hubdesk/hubdesk/views"
)

func TestDeviceWhere(t *testing.T) {
	tests := []struct {
		name    string
		f       views.DeviceFilter
		want    string
		wantErr bool
	}{
		{"empty", views.DeviceFilter{}, "", false},
		{"prefix", views.DeviceFilter{Search: "sensor-"}, "STARTSWITH(deviceId, 'sensor-')", false},
		{"substring", views.DeviceFilter{Search: "*ens"}, "CONTAINS(deviceId, 'ens')", false},
		{"quote in search", views.DeviceFilter{Search: `a'b\c`}, `STARTSWITH(deviceId, 'a\'b\\c')`, false},
		{"status and edge", views.DeviceFilter{Status: "disabled", Edge: "true"}, "status = 'disabled' AND capabilities.iotEdge = true", false},
		{"connection", views.DeviceFilter{Connection: "Connected"}, "connectionState = 'Connected'", false},
		{"tag string", views.DeviceFilter{Tag: "site.building=B1"}, "tags.site.building = 'B1'", false},
		{"tag number", views.DeviceFilter{Tag: "floor = 3"}, "tags.floor = 3", false},
		{"tag bool", views.DeviceFilter{Tag: "vip=true"}, "tags.vip = true", false},
		{"tag quoted", views.DeviceFilter{Tag: `owner='Ann O''`}, `tags.owner = 'Ann O'`, false},
		{"raw where", views.DeviceFilter{Where: "a = 1 OR b = 2", Status: "enabled"}, "status = 'enabled' AND (a = 1 OR b = 2)", false},
		{"bad status", views.DeviceFilter{Status: "on"}, "", true},
		{"bad edge", views.DeviceFilter{Edge: "yes"}, "", true},
		{"bad connection", views.DeviceFilter{Connection: "x"}, "", true},
		{"tag without value", views.DeviceFilter{Tag: "site"}, "", true},
		{"tag key injection", views.DeviceFilter{Tag: "a OR 1=1"}, "", true},
		{"tag key quote", views.DeviceFilter{Tag: "a'b=1"}, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := deviceWhere(tt.f)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v", err)
			}
			if got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestSafeNext(t *testing.T) {
	tests := []struct{ in, want string }{
		{"/devices", "/devices"},
		{"/devices/a%2Fb?x=1", "/devices/a%2Fb?x=1"},
		{"", "/"},
		{"devices", "/"},
		{"//evil.example", "/"},
		{"/\\evil.example", "/"},
		{"https://evil.example", "/"},
		{"/ok\r\nSet-Cookie: x", "/"},
	}
	for _, tt := range tests {
		if got := safeNext(tt.in); got != tt.want {
			t.Errorf("safeNext(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func FuzzDeviceWhere(f *testing.F) {
	for _, s := range []string{"sensor", "*x", "a'b", `\`, "site.b=1", "a b=c"} {
		f.Add(s, s)
	}
	f.Fuzz(func(t *testing.T, search, tag string) {
		where, err := deviceWhere(views.DeviceFilter{Search: search, Tag: tag})
		if err != nil {
			return
		}
		// Every quote the person typed must be escaped: the clause has an
		// even number of unescaped single quotes.
		n := 0
		for i := 0; i < len(where); i++ {
			switch where[i] {
			case '\\':
				i++
			case '\'':
				n++
			}
		}
		if n%2 != 0 {
			t.Fatalf("unbalanced quotes in %q", where)
		}
	})
}

func TestTagSummary(t *testing.T) {
	tests := []struct{ in, want string }{
		{``, ""},
		{`{}`, ""},
		{`{"site":"lyon","floor":3,"vip":true}`, "floor=3 site=lyon vip=true"},
		{`{"a":1,"b":2,"c":3,"d":4,"e":5}`, "a=1 b=2 c=3 d=4 …"},
		{`{"o":{"x":1}}`, `o={"x":1}`},
		{`not json`, ""},
	}
	for _, tt := range tests {
		if got := tagSummary([]byte(tt.in)); got != tt.want {
			t.Errorf("tagSummary(%s) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
