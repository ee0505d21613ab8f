package perf

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// tinyOptions make every scenario run in a few tens of milliseconds, so
// the scenarios are exercised on every test run without measuring much.
func tinyOptions(t *testing.T) Options {
	return Options{Duration: 20 * time.Millisecond, Clients: 4, Dir: t.TempDir()}
}

// tinyFleet has 25 pages, so its deep page is its last, like the 1k fleet's.
const tinyFleet = 2_500

// parseTable reads the rows of the table WriteTable printed, checking that
// every line has the table's columns.
func parseTable(t *testing.T, out string) [][]string {
	t.Helper()
	var rows [][]string
	header := false
	for line := range strings.SplitSeq(out, "\n") {
		if !strings.HasPrefix(line, "|") {
			continue
		}
		if !strings.HasSuffix(line, "|") {
			t.Fatalf("table line does not end with |: %q", line)
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		if len(cells) != len(tableColumns()) {
			t.Fatalf("table line has %d cells, want %d: %q", len(cells), len(tableColumns()), line)
		}
		switch {
		case !header:
			if !slices.Equal(cells, tableColumns()) {
				t.Fatalf("header = %q, want %q", cells, tableColumns())
			}
			header = true
		case strings.Trim(cells[0], "-") == "":
		default:
			rows = append(rows, cells)
		}
	}
	if !header {
		t.Fatalf("no table in output:\n%s", out)
	}
	return rows
}

func TestRunHubScenariosTable(t *testing.T) {
	scenarios := HubScenarios(tinyFleet)
	var out bytes.Buffer
	if err := Run(context.Background(), &out, tinyOptions(t), scenarios...); err != nil {
		t.Fatalf("Run: %v\n%s", err, out.String())
	}
	t.Log("\n" + out.String())
	if !strings.HasPrefix(out.String(), "hubdesk bench: ") || !strings.Contains(out.String(), "GOMAXPROCS") {
		t.Errorf("output does not start with the machine facts:\n%s", out.String())
	}
	rows := parseTable(t, out.String())
	if len(rows) != len(scenarios) {
		t.Fatalf("%d rows, want %d", len(rows), len(scenarios))
	}
	measured := regexp.MustCompile(`^[0-9][0-9,.]* (req/s|ms/page)$`)
	latency := regexp.MustCompile(`^[0-9.e+-]+ms$`)
	for i, r := range rows {
		if r[0] != scenarios[i].Name || r[1] != scenarios[i].Target {
			t.Errorf("row %d names %q %q, want %q %q", i, r[0], r[1], scenarios[i].Name, scenarios[i].Target)
		}
		if !measured.MatchString(r[2]) || !latency.MatchString(r[3]) || !latency.MatchString(r[4]) {
			t.Errorf("row %d figures do not parse: %q", i, r)
		}
		if !slices.Contains([]string{"PASS", "FAIL", "info"}, r[5]) {
			t.Errorf("row %d verdict %q", i, r[5])
		}
	}
	for _, want := range []string{"device list @1k p10", "device list @2500 p25", "page 25 of 25 (the last)", "seeded 2,500 devices into bolt", "walked 24 pages"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q", want)
		}
	}
}

func TestRunJSONAndOnly(t *testing.T) {
	opts := tinyOptions(t)
	opts.JSON = true
	opts.Only = regexp.MustCompile(`GET|@1k p1$`)
	var out bytes.Buffer
	if err := Run(context.Background(), &out, opts, HubScenarios(tinyFleet)...); err != nil {
		t.Fatalf("Run: %v\n%s", err, out.String())
	}
	var rep struct {
		Machine struct {
			CPUs      int    `json:"cpus"`
			GoVersion string `json:"go_version"`
		} `json:"machine"`
		Rows []struct {
			Scenario string  `json:"scenario"`
			Measured float64 `json:"measured"`
			Ops      int     `json:"ops"`
			P50      float64 `json:"p50_ms"`
			P99      float64 `json:"p99_ms"`
			Verdict  string  `json:"verdict"`
		} `json:"rows"`
	}
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("JSON: %v\n%s", err, out.String())
	}
	if rep.Machine.CPUs < 1 || rep.Machine.GoVersion == "" {
		t.Errorf("machine = %+v", rep.Machine)
	}
	var names []string
	for _, r := range rep.Rows {
		names = append(names, r.Scenario)
		if r.Measured <= 0 || r.Ops < 1 || r.P50 <= 0 || r.P99 < r.P50 {
			t.Errorf("row %+v: figures out of order", r)
		}
	}
	if want := []string{"module twin GET", "device list @1k p1"}; !slices.Equal(names, want) {
		t.Errorf("rows %q, want %q", names, want)
	}
}

func TestRunReportsFailingScenario(t *testing.T) {
	boom := errors.New("boom")
	var out bytes.Buffer
	err := Run(context.Background(), &out, tinyOptions(t),
		Scenario{Name: "broken", Target: "-", Run: func(context.Context, *Env) (Result, error) { return Result{}, boom }},
		Scenario{Name: "fine", Target: "-", Run: func(context.Context, *Env) (Result, error) {
			return Result{Measured: 1, Unit: "x", Verdict: Info}, nil
		}},
	)
	if !errors.Is(err, boom) {
		t.Errorf("Run error = %v, want boom", err)
	}
	rows := parseTable(t, out.String())
	if len(rows) != 2 || rows[0][5] != "ERROR" || rows[0][6] != "boom" || rows[1][5] != "info" {
		t.Errorf("rows = %q", rows)
	}
}

func TestMeasureStopsAtFirstError(t *testing.T) {
	boom := errors.New("boom")
	_, err := Measure(context.Background(), 3, time.Minute, func(_ context.Context, w int) error {
		if w == 1 {
			return boom
		}
		time.Sleep(time.Millisecond)
		return nil
	})
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want boom", err)
	}
}

func TestSummarize(t *testing.T) {
	ms := func(n ...int) []time.Duration {
		var d []time.Duration
		for _, v := range n {
			d = append(d, time.Duration(v)*time.Millisecond)
		}
		return d
	}
	tests := []struct {
		name          string
		lat           []time.Duration
		p50, p99, avg time.Duration
	}{
		{"one", ms(7), 7 * time.Millisecond, 7 * time.Millisecond, 7 * time.Millisecond},
		{"unsorted", ms(3, 1, 2, 4), 2 * time.Millisecond, 4 * time.Millisecond, 2500 * time.Microsecond},
		{"tail", append(ms(make([]int, 98)...), ms(1000, 1000)...), 0, time.Second, 20 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := summarize(tt.lat, time.Second)
			if s.P50 != tt.p50 || s.P99 != tt.p99 || s.Mean != tt.avg {
				t.Errorf("p50 %v p99 %v mean %v, want %v %v %v", s.P50, s.P99, s.Mean, tt.p50, tt.p99, tt.avg)
			}
			if s.Rate() != float64(len(tt.lat)) {
				t.Errorf("rate %v, want %d/s", s.Rate(), len(tt.lat))
			}
		})
	}
}

func TestFormatting(t *testing.T) {
	tests := []struct{ got, want string }{
		{groupThousands(0), "0"},
		{groupThousands(999), "999"},
		{groupThousands(1000), "1,000"},
		{groupThousands(1234567), "1,234,567"},
		{shortCount(1000), "1k"},
		{shortCount(1_000_000), "1M"},
		{shortCount(100_000), "100k"},
		{shortCount(2500), "2500"},
		{formatLatency(1234 * time.Microsecond), "1.23ms"},
		{formatLatency(250 * time.Millisecond), "250ms"},
		{formatMeasured(Result{Measured: 6123.4, Unit: "req/s"}), "6,123 req/s"},
		{formatMeasured(Result{Measured: 1.234, Unit: "ms/page"}), "1.23 ms/page"},
		{listName(1_000_000, 10_000), "device list @1M p10,000"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}
