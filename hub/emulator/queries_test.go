package emulator_test

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/hubdesk/hubdesk/hub/emulator"
)

// queryAll pages through a query and returns the deviceIds (or
// deviceId/moduleId) of every item and the number of pages.
func queryAll(t *testing.T, h *testHub, q string, pageSize int) ([]string, int) {
	t.Helper()
	var ids []string
	token := ""
	for pages := 1; ; pages++ {
		hdr := map[string]string{"x-ms-max-item-count": strconv.Itoa(pageSize)}
		if token != "" {
			hdr["x-ms-continuation"] = token
		}
		r := h.do(call{method: "POST", path: "/devices/query", body: map[string]string{"query": q}, header: hdr})
		want(t, r, 200, "")
		var items []map[string]any
		r.json(t, &items)
		if len(items) > pageSize {
			t.Fatalf("page of %d items, max %d", len(items), pageSize)
		}
		for _, it := range items {
			id := fmt.Sprint(it["deviceId"])
			if m, ok := it["moduleId"]; ok {
				id += "/" + fmt.Sprint(m)
			}
			ids = append(ids, id)
		}
		token = r.header.Get("x-ms-continuation")
		if token == "" {
			return ids, pages
		}
		if len(items) == 0 {
			t.Fatal("empty page with a continuation")
		}
		if pages > 1000 {
			t.Fatal("runaway paging")
		}
	}
}

func TestQueryPaging(t *testing.T) {
	h := newTestHub(t, emulator.Options{})
	for i := range 25 {
		status := "enabled"
		if i%3 == 0 {
			status = "disabled"
		}
		h.createDevice(fmt.Sprintf("dev%02d", i), map[string]any{"status": status})
	}
	tests := []struct {
		query     string
		pageSize  int
		wantN     int
		wantPages int
	}{
		{"SELECT * FROM devices", 7, 25, 4},
		{"SELECT * FROM devices", 25, 25, 1},
		{"SELECT * FROM devices", 5, 25, 5},
		{"SELECT * FROM devices", 1000, 25, 1},
		{"SELECT * FROM devices WHERE status = 'disabled'", 3, 9, 3},
		{"SELECT * FROM devices WHERE status = 'disabled'", 4, 9, 3},
		{"SELECT * FROM devices WHERE STARTSWITH(deviceId, 'dev1')", 4, 10, 3},
		{"SELECT * FROM devices WHERE deviceId = 'dev07'", 4, 1, 1},
		{"SELECT * FROM devices WHERE deviceId = 'nope'", 4, 0, 1},
		{"SELECT TOP 10 * FROM devices", 4, 10, 3},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/%d", tt.query, tt.pageSize), func(t *testing.T) {
			ids, pages := queryAll(t, h, tt.query, tt.pageSize)
			if len(ids) != tt.wantN || pages != tt.wantPages {
				t.Errorf("%d items in %d pages, want %d in %d", len(ids), pages, tt.wantN, tt.wantPages)
			}
			seen := map[string]bool{}
			for i, id := range ids {
				if seen[id] {
					t.Errorf("duplicate %s", id)
				}
				seen[id] = true
				if i > 0 && ids[i-1] >= id {
					t.Errorf("out of order: %s after %s", id, ids[i-1])
				}
			}
		})
	}
}

func TestQueryResults(t *testing.T) {
	h := newTestHub(t, emulator.Options{})
	h.createDevice("gw", map[string]any{"capabilities": map[string]any{"iotEdge": true}})
	h.createModule("gw", "telemetry")
	h.createDevice("s1", nil)
	h.createDevice("s2", map[string]any{"status": "disabled"})
	want(t, h.do(call{method: "PATCH", path: "/twins/s1", body: `{"tags":{"site":{"floor":3}}}`}), 200, "")
	tests := []struct {
		name     string
		query    string
		itemType string
		want     string // items as compact JSON, or "" to skip
		n        int
	}{
		{"count", "SELECT COUNT() AS n FROM devices", "Raw", `[{"n":3}]`, 1},
		{"count where", "SELECT COUNT() AS n FROM devices WHERE status = 'enabled'", "Raw", `[{"n":2}]`, 1},
		{"projection", "SELECT deviceId, tags.site.floor AS floor FROM devices WHERE tags.site.floor = 3", "Raw", `[{"deviceId":"s1","floor":3}]`, 1},
		{"edge", "SELECT * FROM devices WHERE capabilities.iotEdge = true", "Twin", "", 1},
		{"modules", "SELECT * FROM devices.modules", "Twin", "", 3},
		{"modules where", "SELECT * FROM devices.modules WHERE moduleId = 'telemetry'", "Twin", "", 1},
		{"member name case", "", "Twin", "", 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := any(map[string]string{"query": tt.query})
			if tt.query == "" {
				body = `{"Query":"SELECT * FROM devices"}`
			}
			r := h.do(call{method: "POST", path: "/devices/query", body: body})
			want(t, r, 200, "")
			if got := r.header.Get("x-ms-item-type"); got != tt.itemType {
				t.Errorf("item type %q, want %q", got, tt.itemType)
			}
			if r.header.Get("x-ms-continuation") != "" {
				t.Error("continuation on a complete result")
			}
			var items []map[string]any
			r.json(t, &items)
			if len(items) != tt.n {
				t.Errorf("%d items, want %d: %s", len(items), tt.n, r.body)
			}
			if tt.want != "" && strings.TrimSpace(string(r.body)) != tt.want {
				t.Errorf("body %s, want %s", r.body, tt.want)
			}
			for _, it := range items {
				if _, ok := it["authentication"]; ok {
					t.Errorf("query result carries authentication: %v", it)
				}
			}
		})
	}
}

func TestQueryErrors(t *testing.T) {
	h := newTestHub(t, emulator.Options{})
	h.createDevice("d1", nil)
	tests := []struct {
		name   string
		body   string
		header map[string]string
		status int
		code   string
	}{
		{"syntax", `{"query":"SELECT * FROM devices WHERE"}`, nil, 400, "ArgumentInvalid"},
		{"bad token", `{"query":"SELECT * FROM devices"}`, map[string]string{"x-ms-continuation": "!!"}, 400, "ArgumentInvalid"},
		{"max items zero clamps", `{"query":"SELECT * FROM devices"}`, map[string]string{"x-ms-max-item-count": "0"}, 200, ""},
		{"max items huge clamps", `{"query":"SELECT * FROM devices"}`, map[string]string{"x-ms-max-item-count": "5000"}, 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := h.do(call{method: "POST", path: "/devices/query", body: tt.body, header: tt.header})
			want(t, r, tt.status, tt.code)
		})
	}
	r := h.do(call{method: "POST", path: "/devices/query", body: `{"query":"SELECT * FROM devices WHERE"}`})
	if !strings.Contains(string(r.body), "position") {
		t.Errorf("syntax error does not name the position: %s", r.body)
	}
}
