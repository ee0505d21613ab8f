package emulator_test

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/hubdesk/hubdesk/hub/emulator"
)

func TestCreateDeviceDefaults(t *testing.T) {
	h := newTestHub(t, emulator.Options{})
	r := h.do(call{method: "PUT", path: "/devices/dev1", body: map[string]any{}})
	want(t, r, http.StatusOK, "")
	d := r.obj(t)
	checks := []struct{ field, want string }{
		{"deviceId", "dev1"},
		{"status", "enabled"},
		{"connectionState", "Disconnected"},
		{"statusUpdatedTime", "0001-01-01T00:00:00Z"},
		{"connectionStateUpdatedTime", "0001-01-01T00:00:00Z"},
		{"lastActivityTime", "0001-01-01T00:00:00Z"},
		{"etag", base64.StdEncoding.EncodeToString([]byte("1"))},
	}
	for _, c := range checks {
		if got := fmt.Sprint(d[c.field]); got != c.want {
			t.Errorf("%s = %q, want %q", c.field, got, c.want)
		}
	}
	if got := r.header.Get("ETag"); got != `"`+d["etag"].(string)+`"` {
		t.Errorf("ETag header %q, body etag %q", got, d["etag"])
	}
	if d["cloudToDeviceMessageCount"] != float64(0) {
		t.Errorf("cloudToDeviceMessageCount = %v", d["cloudToDeviceMessageCount"])
	}
	if caps := d["capabilities"].(map[string]any); caps["iotEdge"] != false {
		t.Errorf("capabilities = %v", caps)
	}
	if g, _ := d["generationId"].(string); g == "" {
		t.Error("no generationId")
	}
	auth := d["authentication"].(map[string]any)
	sk := auth["symmetricKey"].(map[string]any)
	for _, k := range []string{"primaryKey", "secondaryKey"} {
		raw, err := base64.StdEncoding.DecodeString(sk[k].(string))
		if err != nil || len(raw) != 32 {
			t.Errorf("%s = %q: want base64 of 32 bytes", k, sk[k])
		}
	}
	if auth["type"] != "sas" {
		t.Errorf("authentication.type = %v", auth["type"])
	}
}

func TestPutDeviceConditions(t *testing.T) {
	tests := []struct {
		name     string
		exists   bool
		ifMatch  string // "ETAG" is replaced by the current etag
		status   int
		code     string
		wantETag string // decimal counter after the call
	}{
		{"create", false, "", 200, "", "1"},
		{"duplicate", true, "", 409, "DeviceAlreadyExists", ""},
		{"star quoted", true, `"*"`, 200, "", "2"},
		{"star bare", true, `*`, 200, "", "2"},
		{"star missing", false, `"*"`, 404, "DeviceNotFound", ""},
		{"etag match", true, `"ETAG"`, 200, "", "2"},
		{"weak etag match", true, `W/"ETAG"`, 200, "", "2"},
		{"etag stale", true, `"MTIz"`, 412, "PreconditionFailed", ""},
		{"etag missing device", false, `"MQ=="`, 404, "DeviceNotFound", ""},
		{"unquoted ignored is a create", false, `MTIz`, 200, "", "1"},
		{"unquoted ignored conflicts", true, `MTIz`, 409, "DeviceAlreadyExists", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newTestHub(t, emulator.Options{})
			etag := ""
			if tt.exists {
				etag = h.createDevice("d1", nil)["etag"].(string)
			}
			r := h.do(call{method: "PUT", path: "/devices/d1", body: map[string]any{"status": "disabled"},
				header: map[string]string{"If-Match": strings.ReplaceAll(tt.ifMatch, "ETAG", etag)}})
			want(t, r, tt.status, tt.code)
			if tt.wantETag == "" {
				return
			}
			got := r.obj(t)["etag"].(string)
			if w := base64.StdEncoding.EncodeToString([]byte(tt.wantETag)); got != w {
				t.Errorf("etag %q, want %q", got, w)
			}
		})
	}
}

func TestPutDeviceMessageTexts(t *testing.T) {
	h := newTestHub(t, emulator.Options{})
	h.createDevice("d1", nil)
	r := h.do(call{method: "PUT", path: "/devices/d1", body: map[string]any{}})
	if !strings.Contains(string(r.body), `A device with ID 'd1' is already registered.`) {
		t.Errorf("409 body %s", r.body)
	}
	r = h.do(call{method: "GET", path: "/devices/nope"})
	want(t, r, 404, "DeviceNotFound")
	if !strings.Contains(string(r.body), "ErrorCode:DeviceNotFound;nope") {
		t.Errorf("404 body %s", r.body)
	}
}

func TestPutDeviceBody(t *testing.T) {
	key16 := base64.StdEncoding.EncodeToString(make([]byte, 16))
	key64 := base64.StdEncoding.EncodeToString(make([]byte, 64))
	key65 := base64.StdEncoding.EncodeToString(make([]byte, 65))
	key15 := base64.StdEncoding.EncodeToString(make([]byte, 15))
	thumb40 := strings.Repeat("a", 40)
	tests := []struct {
		name   string
		body   string
		status int
		code   string
	}{
		{"empty object", `{}`, 200, ""},
		{"empty body", ``, 200, ""},
		{"id matches", `{"deviceId":"d1"}`, 200, ""},
		{"id case-insensitive member", `{"DeviceId":"d1","Status":"disabled"}`, 200, ""},
		{"id mismatch", `{"deviceId":"other"}`, 400, "ArgumentInvalid"},
		{"junk read-only fields", `{"etag":0,"generationId":{},"connectionState":5,"statusUpdatedTime":"0",` +
			`"cloudToDeviceMessageCount":"0","lastActivityTime":[1],"connectionStateUpdatedTime":true}`, 200, ""},
		{"bad status", `{"status":"sleepy"}`, 400, "ArgumentInvalid"},
		{"status wrong type", `{"status":1}`, 400, "ArgumentInvalid"},
		{"status reason 128", `{"statusReason":"` + strings.Repeat("x", 128) + `"}`, 200, ""},
		{"status reason 129", `{"statusReason":"` + strings.Repeat("x", 129) + `"}`, 400, "ArgumentInvalid"},
		{"malformed json", `{"status":`, 400, "IotHubFormatError"},
		{"not an object", `[1,2]`, 400, "IotHubFormatError"},
		{"one key only", `{"authentication":{"type":"sas","symmetricKey":{"primaryKey":"` + key16 + `"}}}`, 400, "ArgumentInvalid"},
		{"null keys generate", `{"authentication":{"type":"sas","symmetricKey":{"primaryKey":null,"secondaryKey":null}}}`, 200, ""},
		{"keys 16 and 64", `{"authentication":{"type":"sas","symmetricKey":{"primaryKey":"` + key16 + `","secondaryKey":"` + key64 + `"}}}`, 200, ""},
		{"key 15 bytes", `{"authentication":{"type":"sas","symmetricKey":{"primaryKey":"` + key15 + `","secondaryKey":"` + key16 + `"}}}`, 400, "ArgumentInvalid"},
		{"key 65 bytes", `{"authentication":{"type":"sas","symmetricKey":{"primaryKey":"` + key16 + `","secondaryKey":"` + key65 + `"}}}`, 400, "ArgumentInvalid"},
		{"key not base64", `{"authentication":{"type":"sas","symmetricKey":{"primaryKey":"!!!","secondaryKey":"` + key16 + `"}}}`, 400, "ArgumentInvalid"},
		{"self signed", `{"authentication":{"type":"selfSigned","x509Thumbprint":{"primaryThumbprint":"` + thumb40 + `"}}}`, 200, ""},
		{"self signed 64", `{"authentication":{"type":"selfSigned","x509Thumbprint":{"primaryThumbprint":"` + strings.Repeat("B", 64) + `"}}}`, 200, ""},
		{"self signed no thumbprint", `{"authentication":{"type":"selfSigned"}}`, 400, "ArgumentInvalid"},
		{"self signed bad thumbprint", `{"authentication":{"type":"selfSigned","x509Thumbprint":{"primaryThumbprint":"xyz"}}}`, 400, "ArgumentInvalid"},
		{"certificate authority", `{"authentication":{"type":"certificateAuthority"}}`, 200, ""},
		{"none", `{"authentication":{"type":"none"}}`, 200, ""},
		{"unknown auth type", `{"authentication":{"type":"magic"}}`, 400, "ArgumentInvalid"},
		{"auth wrong type", `{"authentication":"sas"}`, 400, "ArgumentInvalid"},
		{"iotEdge wrong type", `{"capabilities":{"iotEdge":"yes"}}`, 400, "ArgumentInvalid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newTestHub(t, emulator.Options{})
			r := h.do(call{method: "PUT", path: "/devices/d1", body: tt.body})
			want(t, r, tt.status, tt.code)
		})
	}
}

func TestDeviceIDs(t *testing.T) {
	tests := []struct {
		name   string
		path   string // escaped path segment
		id     string // id the hub must store
		status int
	}{
		{"plain", "abc", "abc", 200},
		{"all punctuation", "a-:.+%25_%23*%3F!(),=@;$'", "a-:.+%_#*?!(),=@;$'", 200},
		{"plus stays plus", "a+b", "a+b", 200},
		{"encoded plus", "a%2Bb", "a+b", 200},
		{"128 chars", strings.Repeat("x", 128), strings.Repeat("x", 128), 200},
		{"129 chars", strings.Repeat("x", 129), "", 400},
		{"space", "a%20b", "", 400},
		{"slash", "a%2Fb", "", 400},
		{"unicode", "%C3%A9", "", 400},
		{"ampersand", "a&b", "", 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newTestHub(t, emulator.Options{})
			r := h.do(call{method: "PUT", path: "/devices/" + tt.path, body: map[string]any{}})
			if tt.status != 200 {
				want(t, r, tt.status, "ArgumentInvalid")
				return
			}
			want(t, r, 200, "")
			if got := r.obj(t)["deviceId"]; got != tt.id {
				t.Errorf("deviceId %q, want %q", got, tt.id)
			}
			want(t, h.do(call{method: "GET", path: "/devices/" + tt.path}), 200, "")
		})
	}
}

func TestDeviceUpdateRules(t *testing.T) {
	h := newTestHub(t, emulator.Options{})
	d := h.createDevice("d1", nil)
	gen := d["generationId"]
	r := h.do(call{method: "PUT", path: "/devices/d1", body: map[string]any{"status": "disabled", "statusReason": "maintenance"},
		header: map[string]string{"If-Match": "*"}})
	want(t, r, 200, "")
	u := r.obj(t)
	if u["generationId"] != gen {
		t.Errorf("generationId changed on update: %v -> %v", gen, u["generationId"])
	}
	if u["statusUpdatedTime"] == "0001-01-01T00:00:00Z" {
		t.Error("statusUpdatedTime not set when status changed")
	}
	if u["status"] != "disabled" || u["statusReason"] != "maintenance" {
		t.Errorf("update not applied: %v", u)
	}
	// Delete and re-create: a new generation.
	want(t, h.do(call{method: "DELETE", path: "/devices/d1"}), 204, "")
	again := h.createDevice("d1", nil)
	if again["generationId"] == gen {
		t.Error("generationId reused after re-create")
	}
}

func TestEdgeDevice(t *testing.T) {
	h := newTestHub(t, emulator.Options{})
	d := h.createDevice("gw", map[string]any{"capabilities": map[string]any{"iotEdge": true}})
	if want := "ms-azure-iot-edge://gw-" + d["generationId"].(string); d["deviceScope"] != want {
		t.Errorf("deviceScope %v, want %v", d["deviceScope"], want)
	}
	r := h.do(call{method: "GET", path: "/devices/gw/modules"})
	want(t, r, 200, "")
	var mods []map[string]any
	r.json(t, &mods)
	if len(mods) != 2 || mods[0]["moduleId"] != "$edgeAgent" || mods[1]["moduleId"] != "$edgeHub" {
		t.Errorf("system modules: %v", mods)
	}
	leaf := h.createDevice("leaf", map[string]any{"deviceScope": d["deviceScope"]})
	if ps, _ := leaf["parentScopes"].([]any); len(ps) != 1 || ps[0] != d["deviceScope"] {
		t.Errorf("leaf parentScopes %v", leaf["parentScopes"])
	}
}

func TestDeleteDevice(t *testing.T) {
	tests := []struct {
		name    string
		ifMatch string
		status  int
		code    string
	}{
		{"unconditional", "", 204, ""},
		{"star", `"*"`, 204, ""},
		{"match", `"ETAG"`, 204, ""},
		{"stale", `"Nw=="`, 412, "PreconditionFailed"},
		{"unquoted ignored", `Nw==`, 204, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newTestHub(t, emulator.Options{})
			etag := h.createDevice("d1", map[string]any{"capabilities": map[string]any{"iotEdge": true}})["etag"].(string)
			h.createModule("d1", "m1")
			r := h.do(call{method: "DELETE", path: "/devices/d1",
				header: map[string]string{"If-Match": strings.ReplaceAll(tt.ifMatch, "ETAG", etag)}})
			want(t, r, tt.status, tt.code)
			if tt.status == 204 {
				if len(r.body) != 0 {
					t.Errorf("204 with body %s", r.body)
				}
				want(t, h.do(call{method: "GET", path: "/devices/d1"}), 404, "DeviceNotFound")
				want(t, h.do(call{method: "GET", path: "/twins/d1"}), 404, "DeviceNotFound")
				want(t, h.do(call{method: "GET", path: "/devices/d1/modules/m1"}), 404, "ModuleNotFound")
				// Modules went with the device: a new device of that id has none.
				h.createDevice("d1", nil)
				var mods []any
				h.do(call{method: "GET", path: "/devices/d1/modules"}).json(t, &mods)
				if len(mods) != 0 {
					t.Errorf("modules survived delete: %v", mods)
				}
			}
		})
	}
	h := newTestHub(t, emulator.Options{})
	want(t, h.do(call{method: "DELETE", path: "/devices/none"}), 404, "DeviceNotFound")
}

func TestListDevices(t *testing.T) {
	h := newTestHub(t, emulator.Options{})
	for i := range 12 {
		h.createDevice("d"+strconv.Itoa(100+i), nil)
	}
	tests := []struct {
		path string
		n    int
	}{
		{"/devices", 12},
		{"/devices/", 12},
		{"/devices?top=5", 5},
		{"/devices/?top=5", 5},
		{"/devices?top=0", 12},
		{"/devices?top=-3", 12},
		{"/devices?top=1001", 12},
		{"/devices?top=abc", 12},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			r := h.do(call{method: "GET", path: tt.path})
			want(t, r, 200, "")
			var ds []map[string]any
			r.json(t, &ds)
			if len(ds) != tt.n {
				t.Errorf("got %d devices, want %d", len(ds), tt.n)
			}
		})
	}
}

func TestStatistics(t *testing.T) {
	h := newTestHub(t, emulator.Options{})
	stats := func() map[string]any {
		r := h.do(call{method: "GET", path: "/statistics/devices"})
		want(t, r, 200, "")
		return r.obj(t)
	}
	check := func(total, enabled, disabled float64) {
		t.Helper()
		s := stats()
		if s["totalDeviceCount"] != total || s["enabledDeviceCount"] != enabled || s["disabledDeviceCount"] != disabled {
			t.Errorf("statistics %v, want %v/%v/%v", s, total, enabled, disabled)
		}
	}
	check(0, 0, 0)
	h.createDevice("a", nil)
	h.createDevice("b", map[string]any{"status": "disabled"})
	h.createDevice("c", nil)
	check(3, 2, 1)
	h.do(call{method: "PUT", path: "/devices/a", body: map[string]any{"status": "disabled"}, header: map[string]string{"If-Match": "*"}})
	check(3, 1, 2)
	h.do(call{method: "DELETE", path: "/devices/b"})
	check(2, 1, 1)
	// A failed write changes nothing.
	h.do(call{method: "PUT", path: "/devices/c", body: map[string]any{"status": "disabled"}, header: map[string]string{"If-Match": `"bad"`}})
	check(2, 1, 1)
}
