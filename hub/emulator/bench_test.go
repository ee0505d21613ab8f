package emulator_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hubdesk/hubdesk/hub"
	"github.com/hubdesk/hubdesk/hub/emulator"
)

// benchFleet is the registry size for benchmarks: EMULATOR_BENCH_DEVICES,
// default 100,000 (1,000,000 works, given a minute and a few GB).
func benchFleet(b *testing.B) int {
	n := 100_000
	if v := os.Getenv("EMULATOR_BENCH_DEVICES"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil {
			b.Fatal(err)
		}
	}
	return n
}

type benchHub struct {
	emu *emulator.Emulator
	tok string
}

func newBenchHub(b *testing.B) *benchHub {
	owner := "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
	emu, err := emulator.New(emulator.Options{HostName: "example.com", OwnerKey: owner})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { emu.Close() })
	n := benchFleet(b)
	start := time.Now()
	if err := emu.SeedDevices(n, 1); err != nil {
		b.Fatal(err)
	}
	b.Logf("seeded %d devices in %v", n, time.Since(start))
	tok, err := hub.SignSAS("example.com", "iothubowner", owner, time.Now().Add(time.Hour))
	if err != nil {
		b.Fatal(err)
	}
	return &benchHub{emu: emu, tok: tok}
}

func (h *benchHub) query(b *testing.B, q, token string, max int) (int, string) {
	req := httptest.NewRequest("POST", "/devices/query?api-version=2021-04-12", strings.NewReader(`{"query":"`+q+`"}`))
	req.Header.Set("Authorization", h.tok)
	req.Header.Set("x-ms-max-item-count", strconv.Itoa(max))
	if token != "" {
		req.Header.Set("x-ms-continuation", token)
	}
	w := httptest.NewRecorder()
	h.emu.ServeHTTP(w, req)
	if w.Code != http.StatusOK {
		b.Fatalf("query: %d %s", w.Code, w.Body)
	}
	return w.Body.Len(), w.Header().Get("x-ms-continuation")
}

// BenchmarkQueryPages compares the first page of a full listing with a page
// deep into it: with seeking tokens they cost the same.
func BenchmarkQueryPages(b *testing.B) {
	h := newBenchHub(b)
	n := benchFleet(b)
	// A token for a page 90% of the way through, made the way the hub makes
	// them: by paging there.
	_, deep := h.query(b, fmt.Sprintf("SELECT * FROM devices WHERE deviceId >= 'sensor-%07d'", n*9/10), "", 1)
	if deep == "" {
		b.Fatal("no continuation token for the deep page")
	}
	b.Run("first", func(b *testing.B) {
		for b.Loop() {
			h.query(b, "SELECT * FROM devices", "", 100)
		}
	})
	b.Run("deep", func(b *testing.B) {
		for b.Loop() {
			h.query(b, "SELECT * FROM devices", deep, 100)
		}
	})
	b.Run("get twin", func(b *testing.B) {
		for b.Loop() {
			req := httptest.NewRequest("GET", "/twins/sensor-0000042?api-version=2021-04-12", nil)
			req.Header.Set("Authorization", h.tok)
			w := httptest.NewRecorder()
			h.emu.ServeHTTP(w, req)
			if w.Code != 200 {
				b.Fatal(w.Code)
			}
		}
	})
	b.Run("count all", func(b *testing.B) {
		for b.Loop() {
			h.query(b, "SELECT COUNT() FROM devices", "", 1)
		}
	})
}

// BenchmarkQueryScans measures the queries the dashboard's device list
// sends, which visit every twin of the fleet. Each reports ns/twin, the cost
// per device in the registry, so fleets of different sizes compare.
func BenchmarkQueryScans(b *testing.B) {
	h := newBenchHub(b)
	n := benchFleet(b)
	// The 10,000th page of 100 (or the last one of a smaller fleet): key
	// order puts the n/20 gateways before the sensors.
	pos := min(10_000, n/100)*100 - 100
	var after string
	if g := n / gatewayEvery; pos < g {
		after = fmt.Sprintf("gateway-%05d", pos)
	} else {
		k := pos - g
		after = fmt.Sprintf("sensor-%07d", k+k/(gatewayEvery-1)+1)
	}
	_, deep := h.query(b, "SELECT * FROM devices WHERE deviceId >= '"+after+"'", "", 1)
	tests := []struct {
		name, query, token string
		max                int
	}{
		{"count all", "SELECT COUNT() AS n FROM devices", "", 1},
		{"count modules", "SELECT COUNT() AS n FROM devices.modules", "", 1},
		{"count disabled", "SELECT COUNT() AS n FROM devices WHERE status = 'disabled'", "", 1},
		{"count site", "SELECT COUNT() AS n FROM devices WHERE tags.site = 'lyon'", "", 1},
		{"count contains", "SELECT COUNT() AS n FROM devices WHERE CONTAINS(deviceId, '123')", "", 1},
		{"page 1% filter", "SELECT * FROM devices WHERE properties.reported.battery = 42", "", 100},
		{"page 10000", "SELECT * FROM devices", deep, 100},
	}
	for _, tt := range tests {
		b.Run(tt.name, func(b *testing.B) {
			for b.Loop() {
				h.query(b, tt.query, tt.token, tt.max)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/twin")
		})
	}
}

// gatewayEvery mirrors the seeding: one device in 20 is a gateway.
const gatewayEvery = 20

// BenchmarkServeModuleTwinGet is the emulator's own cost of one module twin
// GET, from the request to the encoded answer, without the network: what
// the twin GET/s figure of `hubdesk bench` spends on the server side.
func BenchmarkServeModuleTwinGet(b *testing.B) {
	owner := "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
	emu, err := emulator.New(emulator.Options{HostName: "example.com", OwnerKey: owner})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { emu.Close() })
	if err := emu.SeedDemo(100, 1); err != nil {
		b.Fatal(err)
	}
	tok, err := hub.SignSAS("example.com", "iothubowner", owner, time.Now().Add(time.Hour))
	if err != nil {
		b.Fatal(err)
	}
	req := httptest.NewRequest("GET", "/twins/gateway-00000/modules/telemetry?api-version=2021-04-12", nil)
	req.Header.Set("Authorization", tok)
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		emu.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatalf("GET: %d %s", w.Code, w.Body)
		}
	}
}
