package perf

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/hubdesk/hubdesk/hub"
	"github.com/hubdesk/hubdesk/hub/emulator"
)

// Env is what the scenarios of one run share: durable hubs, seeded fleets,
// values computed once, and the notes printed under the table. Everything
// it starts is closed when the run ends.
type Env struct {
	opts    Options
	dir     string
	ownsDir bool
	start   time.Time

	mu      sync.Mutex
	servers []*emulator.Server
	closers []func() error
	memo    map[string]any
	notes   []string
}

func newEnv(opts Options) (*Env, error) {
	e := &Env{opts: opts, dir: opts.Dir, memo: map[string]any{}, start: time.Now()}
	if e.dir == "" {
		dir, err := os.MkdirTemp("", "hubdesk-bench-")
		if err != nil {
			return nil, fmt.Errorf("perf: %w", err)
		}
		e.dir, e.ownsDir = dir, true
	}
	return e, nil
}

// Options are the run's options, defaults filled in.
func (e *Env) Options() Options { return e.opts }

// Notef adds a line to the notes printed under the table: how a figure was
// obtained, what setup cost.
func (e *Env) Notef(format string, args ...any) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.notes = append(e.notes, fmt.Sprintf(format, args...))
}

// Progressf reports a slow step as it happens, to Options.Progress.
func (e *Env) Progressf(format string, args ...any) {
	fmt.Fprintf(e.opts.Progress, "[%6.1fs] %s\n", time.Since(e.start).Seconds(), fmt.Sprintf(format, args...))
}

// NewHub starts an emulator on a durable store (bolt) in its own directory
// under the run's directory, on a free loopback port, with a fixed owner
// key. It is closed when the run ends.
func (e *Env) NewHub(name string) (*emulator.Server, error) {
	dir := filepath.Join(e.dir, name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("perf: hub %s: %w", name, err)
	}
	srv, err := emulator.NewServer(emulator.Options{DataDir: dir, OwnerKey: benchOwnerKey})
	if err != nil {
		return nil, fmt.Errorf("perf: hub %s: %w", name, err)
	}
	e.mu.Lock()
	e.servers = append(e.servers, srv)
	e.mu.Unlock()
	return srv, nil
}

// benchOwnerKey fixes the owner key so that a kept Options.Dir can be
// reopened with the same connection strings.
const benchOwnerKey = "YmVuY2gtYmVuY2gtYmVuY2gtYmVuY2gtYmVuY2g="

// Client returns a hub client for srv that keeps enough idle connections
// for Options.Clients concurrent callers (net/http keeps two per host by
// default, and would otherwise open a connection for most requests) and
// never retries, so that a failure shows instead of a slow figure.
func (e *Env) Client(srv *emulator.Server) *hub.Client {
	tr := &http.Transport{
		MaxIdleConns:        4 * e.opts.Clients,
		MaxIdleConnsPerHost: 2 * e.opts.Clients,
		IdleConnTimeout:     time.Minute,
	}
	return srv.Client(hub.WithHTTPClient(&http.Client{Transport: tr, Timeout: time.Minute}), hub.WithRetry(1, 0))
}

// Memo returns the value that f made the first time key was asked for in
// this run, calling f now if it never was: a fleet seeded for one scenario
// serves the next, a reference figure is measured once for every row that
// compares with it. Errors are not kept, so a later call tries again.
func Memo[T any](env *Env, key string, f func() (T, error)) (T, error) {
	env.mu.Lock()
	if v, ok := env.memo[key]; ok {
		env.mu.Unlock()
		return v.(T), nil
	}
	env.mu.Unlock()
	v, err := f()
	if err != nil {
		return v, err
	}
	env.mu.Lock()
	env.memo[key] = v
	env.mu.Unlock()
	return v, nil
}

// onClose runs f when the run ends, before the hubs stop.
func (e *Env) onClose(f func() error) {
	e.mu.Lock()
	e.closers = append(e.closers, f)
	e.mu.Unlock()
}

// close stops every hub and removes the run's temporary directory.
func (e *Env) close() error {
	e.mu.Lock()
	servers, closers := e.servers, e.closers
	e.servers, e.closers = nil, nil
	e.mu.Unlock()
	var errs []error
	for i := len(closers) - 1; i >= 0; i-- {
		if err := closers[i](); err != nil {
			errs = append(errs, err)
		}
	}
	for _, s := range servers {
		if err := s.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	if e.ownsDir {
		if err := os.RemoveAll(e.dir); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
