package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"runtime/pprof"
	"time"

	"github.com/hubdesk/hubdesk/perf"
)

// runBench runs the benchmark scenarios side by side in this one process
// and prints their table: hubdesk bench [-quick] [-duration D] [-devices N]
// [-only REGEXP] [-json].
func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("hubdesk bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	quick := fs.Bool("quick", false, fmt.Sprintf("bounded run for CI: %v per scenario and %d devices", perf.QuickDuration, perf.QuickDevices))
	duration := fs.Duration("duration", 0, fmt.Sprintf("how long each scenario's timed loop runs (default %v)", perf.DefaultDuration))
	devices := fs.Int("devices", 0, fmt.Sprintf("devices in the big fleet of the device list scenarios (default %d)", perf.DefaultDevices))
	clients := fs.Int("clients", perf.DefaultClients, "concurrent clients of the twin scenarios")
	only := fs.String("only", "", "run only the scenarios whose name matches this regular expression")
	asJSON := fs.Bool("json", false, "print JSON instead of the table")
	dir := fs.String("dir", "", "keep the durable stores here and reuse a fleet seeded by an earlier run (default: a temporary directory, removed)")
	quiet := fs.Bool("q", false, "no progress lines on stderr")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the whole run (client and emulator) to this file")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("bench: unexpected argument %q", fs.Arg(0))
	}
	opts := perf.Options{Duration: *duration, Clients: *clients, JSON: *asJSON, Dir: *dir, Progress: stderr}
	if *quiet {
		opts.Progress = io.Discard
	}
	n := *devices
	if *quick {
		n = orDefault(n, perf.QuickDevices)
		opts.Duration = durationOr(opts.Duration, perf.QuickDuration)
	}
	n = orDefault(n, perf.DefaultDevices)
	if *only != "" {
		re, err := regexp.Compile(*only)
		if err != nil {
			return fmt.Errorf("bench: -only: %w", err)
		}
		opts.Only = re
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return fmt.Errorf("bench: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("bench: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	return perf.Run(ctx, stdout, opts, append(perf.HubScenarios(n), perf.DashboardScenarios()...)...)
}

// orDefault is n, or def when n is not set.
func orDefault(n, def int) int {
	if n > 0 {
		return n
	}
	return def
}

func durationOr(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}
