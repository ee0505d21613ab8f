// Package perf measures hubdesk end to end, through real HTTP over loopback,
// and prints each figure beside its target. Every scenario of a run shares
// one process, one machine state and one build, so the ratios between rows
// mean something even where the absolute figures depend on the machine.
//
// A scenario is a name, a target and a function that measures:
//
//	perf.Run(ctx, os.Stdout, perf.Options{}, perf.HubScenarios(1_000_000)...)
//
// Scenarios get what they need (durable hubs, seeded fleets, clients) from
// the Env of the run, which closes it all when the run ends.
package perf

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"runtime"
	"strings"
	"time"
)

// Verdict says how a measured figure compares with its target.
type Verdict string

// Verdicts.
const (
	Pass  Verdict = "PASS"
	Fail  Verdict = "FAIL"
	Info  Verdict = "info" // a reference figure with no target of its own
	Error Verdict = "ERROR"
	Skip  Verdict = "skipped" // not measured here, such as without a browser; the note says why
)

// Result is what one scenario measured.
type Result struct {
	// Measured is the headline figure, in Unit: 6,120 req/s, 1.8 ms/page.
	Measured float64
	// Unit names what Measured counts, such as "req/s" or "ms/page".
	Unit string
	// Ops is how many timed requests the figure comes from.
	Ops int
	// P50 and P99 are latency percentiles of the timed requests.
	P50, P99 time.Duration
	// Verdict compares Measured (or a ratio, see Note) with the target.
	Verdict Verdict
	// Note says what a reader needs to read the row right: which page,
	// against what a ratio was taken.
	Note string
}

// Scenario is one measurement of a run.
type Scenario struct {
	// Name identifies the scenario in the table and for Options.Only.
	Name string
	// Target is the goal in words, such as ">= 5,000/s".
	Target string
	// Run measures. It may take a while to set up (seeding a fleet); only
	// its timed loops should be bounded by Options.Duration.
	Run func(ctx context.Context, env *Env) (Result, error)
}

// Options configure a run. Zero fields take the defaults of Defaults.
type Options struct {
	// Duration is how long each timed loop runs.
	Duration time.Duration
	// Clients is how many concurrent clients the load scenarios run.
	Clients int
	// Only, if not nil, runs only the scenarios whose name it matches.
	Only *regexp.Regexp
	// JSON prints a JSON document instead of the table.
	JSON bool
	// Dir holds the durable stores; empty means a temporary directory
	// removed when the run ends.
	Dir string
	// Progress receives a line per slow setup step (seeding, walking
	// pages); nil discards them.
	Progress io.Writer
}

// Defaults for a full run and for a quick one (-quick: CI, seconds).
const (
	DefaultDuration = 5 * time.Second
	DefaultClients  = 32
	DefaultDevices  = 1_000_000
	QuickDuration   = time.Second
	QuickDevices    = 100_000
)

// Row is one line of the report: a scenario with what it measured.
type Row struct {
	Scenario string `json:"scenario"`
	Target   string `json:"target"`
	Result
}

// MarshalJSON writes a row with latencies in milliseconds.
func (r Row) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // targets read ">= 5,000/s"
	err := enc.Encode(struct {
		Scenario string  `json:"scenario"`
		Target   string  `json:"target"`
		Measured float64 `json:"measured"`
		Unit     string  `json:"unit"`
		Ops      int     `json:"ops"`
		P50ms    float64 `json:"p50_ms"`
		P99ms    float64 `json:"p99_ms"`
		Verdict  Verdict `json:"verdict"`
		Note     string  `json:"note,omitempty"`
	}{r.Scenario, r.Target, r.Measured, r.Unit, r.Ops, ms(r.P50), ms(r.P99), r.Verdict, r.Note})
	return bytes.TrimSpace(b.Bytes()), err
}

// Report is everything a run measured.
type Report struct {
	Machine Machine  `json:"machine"`
	Rows    []Row    `json:"rows"`
	Notes   []string `json:"notes"`
}

// Machine describes where the figures were measured.
type Machine struct {
	CPUs       int    `json:"cpus"`
	GOMAXPROCS int    `json:"gomaxprocs"`
	CPUModel   string `json:"cpu_model,omitempty"`
	GoVersion  string `json:"go_version"`
	OS         string `json:"os"`
	Arch       string `json:"arch"`
	// LoadAvg is the one-minute load average when the run started: figures
	// taken on a busy machine read low.
	LoadAvg string `json:"load_avg,omitempty"`
}

// Run runs the scenarios that opts selects, one after another, and writes
// the report to w: a table, or JSON when opts.JSON. A scenario that fails
// gets an ERROR row and the others still run; Run then returns an error
// naming the failures after writing the report.
func Run(ctx context.Context, w io.Writer, opts Options, scenarios ...Scenario) error {
	opts = opts.withDefaults()
	env, err := newEnv(opts)
	if err != nil {
		return err
	}
	rep, runErr := runAll(ctx, env, scenarios)
	if cerr := env.close(); cerr != nil {
		runErr = errors.Join(runErr, cerr)
	}
	var werr error
	if opts.JSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		werr = enc.Encode(rep)
	} else {
		werr = WriteTable(w, rep)
	}
	return errors.Join(runErr, werr)
}

func runAll(ctx context.Context, env *Env, scenarios []Scenario) (Report, error) {
	rep := Report{Machine: machine(), Rows: []Row{}}
	var errs []error
	for _, s := range scenarios {
		if env.opts.Only != nil && !env.opts.Only.MatchString(s.Name) {
			continue
		}
		if err := ctx.Err(); err != nil {
			errs = append(errs, err)
			break
		}
		env.Progressf("%s: running", s.Name)
		res, err := s.Run(ctx, env)
		if err != nil {
			res = Result{Verdict: Error, Note: err.Error()}
			errs = append(errs, fmt.Errorf("%s: %w", s.Name, err))
		}
		rep.Rows = append(rep.Rows, Row{Scenario: s.Name, Target: s.Target, Result: res})
	}
	rep.Notes = append([]string{}, env.notes...)
	if len(rep.Rows) == 0 && len(errs) == 0 {
		errs = append(errs, errors.New("perf: no scenario selected"))
	}
	return rep, errors.Join(errs...)
}

func (o Options) withDefaults() Options {
	if o.Duration <= 0 {
		o.Duration = DefaultDuration
	}
	if o.Clients <= 0 {
		o.Clients = DefaultClients
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	return o
}

func machine() Machine {
	m := Machine{
		CPUs:       runtime.NumCPU(),
		GOMAXPROCS: runtime.GOMAXPROCS(0),
		GoVersion:  runtime.Version(),
		OS:         runtime.GOOS,
		Arch:       runtime.GOARCH,
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		if f := strings.Fields(string(b)); len(f) > 0 {
			m.LoadAvg = f[0]
		}
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
	}
	return m
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
