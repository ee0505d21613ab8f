package emulator_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hubdesk/hubdesk/hub/emulator"
)

func TestSeedDemo(t *testing.T) {
	h := newTestHub(t, emulator.Options{SeedDemo: 100, SeedRandom: 7})
	stats := h.do(call{method: "GET", path: "/statistics/devices"}).obj(t)
	if stats["totalDeviceCount"] != float64(100) {
		t.Fatalf("statistics %v", stats)
	}
	if stats["disabledDeviceCount"] == float64(0) {
		t.Error("no disabled demo devices")
	}
	gw := h.do(call{method: "GET", path: "/twins/gateway-00000"}).obj(t)
	if path(gw, "capabilities.iotEdge") != true || path(gw, "tags.site") == nil {
		t.Errorf("gateway twin %v", gw)
	}
	var mods []map[string]any
	h.do(call{method: "GET", path: "/devices/gateway-00000/modules"}).json(t, &mods)
	ids := []string{}
	for _, m := range mods {
		ids = append(ids, m["moduleId"].(string))
	}
	if got := strings.Join(ids, ","); !strings.HasPrefix(got, "$edgeAgent,$edgeHub,") || !strings.Contains(got, "telemetry") {
		t.Errorf("gateway modules %s", got)
	}
	tel := h.do(call{method: "GET", path: "/twins/gateway-00000/modules/telemetry"}).obj(t)
	if path(tel, "tags.pipeline") == nil || path(tel, "properties.desired.sendInterval") == nil || path(tel, "properties.reported.status") != "running" {
		t.Errorf("telemetry module twin %v", tel)
	}
	sensor := h.do(call{method: "GET", path: "/devices/sensor-0000001"}).obj(t)
	if ps, _ := sensor["parentScopes"].([]any); len(ps) != 1 || ps[0] != gw["deviceScope"] {
		t.Errorf("sensor parentScopes %v, gateway scope %v", sensor["parentScopes"], gw["deviceScope"])
	}
	r := h.do(call{method: "POST", path: "/devices/query", body: `{"query":"SELECT COUNT() AS n FROM devices WHERE connectionState = 'Connected'"}`})
	var counts []map[string]float64
	r.json(t, &counts)
	if counts[0]["n"] == 0 || counts[0]["n"] == 100 {
		t.Errorf("connected demo devices: %v", counts)
	}

	// The same seed gives the same fleet; a seeded registry is not seeded again.
	h2 := newTestHub(t, emulator.Options{SeedDemo: 100, SeedRandom: 7})
	a := h.do(call{method: "GET", path: "/devices/sensor-0000042"}).obj(t)
	b := h2.do(call{method: "GET", path: "/devices/sensor-0000042"}).obj(t)
	if fmt.Sprint(a["authentication"]) != fmt.Sprint(b["authentication"]) || a["generationId"] != b["generationId"] {
		t.Errorf("same seed, different devices:\n%v\n%v", a, b)
	}
	if err := h2.srv.Emulator().SeedDemo(50, 1); err != nil {
		t.Fatal(err)
	}
	if n := h2.do(call{method: "GET", path: "/statistics/devices"}).obj(t)["totalDeviceCount"]; n != float64(100) {
		t.Errorf("SeedDemo on a seeded registry: %v devices", n)
	}
}

func TestSimulator(t *testing.T) {
	h := newTestHub(t, emulator.Options{SeedDemo: 40, Simulate: true, SimulateInterval: 5 * time.Millisecond})
	before := map[string]map[string]any{}
	for i := 1; i < 40; i++ {
		if i%20 == 0 {
			continue
		}
		id := fmt.Sprintf("sensor-%07d", i)
		before[id] = h.do(call{method: "GET", path: "/twins/" + id}).obj(t)
	}
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		for id, old := range before {
			now := h.do(call{method: "GET", path: "/twins/" + id}).obj(t)
			if path(now, "properties.reported.$version") == path(old, "properties.reported.$version") {
				continue
			}
			if now["etag"] != old["etag"] {
				t.Errorf("%s: reported write changed the twin etag %v -> %v", id, old["etag"], now["etag"])
			}
			if now["version"].(float64) <= old["version"].(float64) {
				t.Errorf("%s: version did not grow", id)
			}
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("the simulator changed no reported properties in 5s")
}

func TestDurableKeys(t *testing.T) {
	dir := t.TempDir()
	e1, err := emulator.New(emulator.Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	cs := e1.ConnectionString("hub.local")
	if err := e1.Close(); err != nil {
		t.Fatal(err)
	}
	e2, err := emulator.New(emulator.Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer e2.Close()
	if got := e2.ConnectionString("hub.local"); got != cs {
		t.Errorf("connection string changed across restarts:\n%s\n%s", cs, got)
	}
	if _, err := os.Stat(filepath.Join(dir, "hub.db")); err != nil {
		t.Errorf("no durable store: %v", err)
	}
}
