package emulator_test

import (
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/hubdesk/hubdesk/hub/emulator"
)

func TestPutModule(t *testing.T) {
	tests := []struct {
		name    string
		device  bool
		exists  bool
		ifMatch string
		body    string
		status  int
		code    string
	}{
		{"create", true, false, "", `{}`, 200, ""},
		{"create with ids", true, false, "", `{"deviceId":"d1","moduleId":"m1","managedBy":"me"}`, 200, ""},
		{"duplicate", true, true, "", `{}`, 409, "ModuleAlreadyExistsOnDevice"},
		{"no device", false, false, "", `{}`, 404, "DeviceNotFound"},
		{"update star", true, true, "*", `{}`, 200, ""},
		{"update etag", true, true, `"ETAG"`, `{}`, 200, ""},
		{"update stale", true, true, `"MTA="`, `{}`, 412, "PreconditionFailed"},
		{"update missing", true, false, "*", `{}`, 404, "ModuleNotFound"},
		{"module id mismatch", true, false, "", `{"moduleId":"m2"}`, 400, "ArgumentInvalid"},
		{"device id mismatch", true, false, "", `{"deviceId":"d2"}`, 400, "ArgumentInvalid"},
		{"junk read-only", true, false, "", `{"etag":1,"generationId":2,"connectionState":[],"cloudToDeviceMessageCount":"0"}`, 200, ""},
		{"malformed", true, false, "", `{`, 400, "IotHubFormatError"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newTestHub(t, emulator.Options{})
			etag := ""
			if tt.device {
				h.createDevice("d1", nil)
			}
			if tt.exists {
				etag = h.createModule("d1", "m1")["etag"].(string)
			}
			r := h.do(call{method: "PUT", path: "/devices/d1/modules/m1", body: tt.body,
				header: map[string]string{"If-Match": strings.ReplaceAll(tt.ifMatch, "ETAG", etag)}})
			want(t, r, tt.status, tt.code)
			if tt.status != 200 {
				return
			}
			m := r.obj(t)
			if m["moduleId"] != "m1" || m["deviceId"] != "d1" {
				t.Errorf("module %v", m)
			}
			if _, ok := m["status"]; ok {
				t.Error("modules have no status")
			}
			if r.header.Get("ETag") != `"`+m["etag"].(string)+`"` {
				t.Errorf("ETag header %q", r.header.Get("ETag"))
			}
		})
	}
}

func TestModuleLimit(t *testing.T) {
	h := newTestHub(t, emulator.Options{})
	h.createDevice("d1", nil)
	for i := range 50 {
		h.createModule("d1", "m"+strconv.Itoa(i))
	}
	r := h.do(call{method: "PUT", path: "/devices/d1/modules/one-too-many", body: map[string]any{}})
	want(t, r, http.StatusRequestEntityTooLarge, "TooManyModulesOnDevice")
	// Updating an existing module is still fine.
	r = h.do(call{method: "PUT", path: "/devices/d1/modules/m0", body: map[string]any{}, header: map[string]string{"If-Match": "*"}})
	want(t, r, 200, "")
}

func TestModuleReadsAndDeletes(t *testing.T) {
	h := newTestHub(t, emulator.Options{})
	h.createDevice("d1", nil)
	etag := h.createModule("d1", "m1")["etag"].(string)
	h.createModule("d1", "m2")
	tests := []struct {
		name   string
		c      call
		status int
		code   string
	}{
		{"get", call{method: "GET", path: "/devices/d1/modules/m1"}, 200, ""},
		{"get missing module", call{method: "GET", path: "/devices/d1/modules/zz"}, 404, "ModuleNotFound"},
		{"get missing device", call{method: "GET", path: "/devices/zz/modules/m1"}, 404, "ModuleNotFound"},
		{"list missing device", call{method: "GET", path: "/devices/zz/modules"}, 404, "DeviceNotFound"},
		{"bad module id", call{method: "GET", path: "/devices/d1/modules/a%20b"}, 400, "ArgumentInvalid"},
		{"delete stale", call{method: "DELETE", path: "/devices/d1/modules/m1", header: map[string]string{"If-Match": `"OTk="`}}, 412, "PreconditionFailed"},
		{"delete match", call{method: "DELETE", path: "/devices/d1/modules/m1", header: map[string]string{"If-Match": `"` + etag + `"`}}, 204, ""},
		{"delete again", call{method: "DELETE", path: "/devices/d1/modules/m1"}, 404, "ModuleNotFound"},
		{"delete no device", call{method: "DELETE", path: "/devices/zz/modules/m1"}, 404, "DeviceNotFound"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want(t, h.do(tt.c), tt.status, tt.code)
		})
	}
	var mods []map[string]any
	h.do(call{method: "GET", path: "/devices/d1/modules"}).json(t, &mods)
	if len(mods) != 1 || mods[0]["moduleId"] != "m2" {
		t.Errorf("modules after delete: %v", mods)
	}
}
