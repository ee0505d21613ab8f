// Package emulator is a local Azure IoT Hub: the service REST API
// (api-version 2021-04-12) for device and module identities, twins, queries
// and statistics, with SAS authentication, served from a Store. A client
// written for the real hub works against it unchanged apart from the base URL.
//
// Tests start one with NewServer and talk to it with Server.Client:
//
//	srv, err := emulator.NewServer(emulator.Options{SeedDemo: 20})
//	...
//	defer srv.Close()
//	c := srv.Client()
package emulator

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/hubdesk/hubdesk/hub"
)

// DefaultMaxBodyBytes is the largest request body accepted when
// Options.MaxBodyBytes is zero: room for a whole twin sent back with PATCH.
const DefaultMaxBodyBytes = 512 << 10

// DefaultSimulateInterval is how often the simulator updates devices when
// Options.SimulateInterval is zero.
const DefaultSimulateInterval = 3 * time.Second

// Options configure an Emulator or a Server. The zero value is a working
// in-memory hub with a random owner key.
type Options struct {
	// Store keeps the registry. Nil: an in-memory store, or a durable one
	// when DataDir is set. A Store given here is not closed by Close.
	Store Store
	// DataDir, when Store is nil and DataDir is not empty, is where a
	// durable store lives (DataDir/hub.db).
	DataDir string
	// HostName is the hub's host name, accepted as a SAS token resource
	// besides the Host of each request. Server defaults it to its address.
	HostName string
	// OwnerKey is the iothubowner policy's primary key (base64 of at least
	// 16 bytes); the other policies' keys derive from it. Empty: random keys,
	// kept in the store so that a durable hub keeps its connection strings.
	OwnerKey string
	// SeedDemo seeds that many demo devices when the registry is empty.
	SeedDemo int
	// SeedRandom makes the demo fleet; the same value gives the same fleet.
	SeedRandom int64
	// Simulate runs a device simulator that updates reported properties and
	// connection states of demo devices every SimulateInterval.
	Simulate bool
	// SimulateInterval is the simulator's period; zero means
	// DefaultSimulateInterval.
	SimulateInterval time.Duration
	// Latency delays every request.
	Latency time.Duration
	// ThrottleRate is the fraction (0..1) of requests answered with 429
	// ThrottlingException.
	ThrottleRate float64
	// RetryAfter is the Retry-After sent with 429 and 503; zero means 1s.
	RetryAfter time.Duration
	// UnavailableRate is the fraction (0..1) of requests answered with 503
	// ServiceUnavailable.
	UnavailableRate float64
	// MaxBodyBytes is the largest request body; larger ones get 413
	// MessageTooLarge. Zero means DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger receives request failures and simulator events; nil discards.
	Logger *slog.Logger

	// Addr is where NewServer listens; empty means 127.0.0.1:0.
	Addr string
	// TLSCertFile and TLSKeyFile, both set, make NewServer serve HTTPS.
	TLSCertFile, TLSKeyFile string
}

// Emulator is a local IoT Hub. It is an http.Handler serving the hub's
// service REST API.
type Emulator struct {
	store     Store
	ownsStore bool
	hostName  string
	policies  map[string]policyKeys
	// signed remembers Authorization headers whose signature checked out,
	// as clients send one token for its whole lifetime.
	signed  signatureCache
	maxBody int64
	now     func() time.Time
	log     *slog.Logger
	faults  *faults
	routes  []route

	stop     context.CancelFunc
	wg       sync.WaitGroup
	closeErr error
	once     sync.Once
}

// New returns an Emulator configured by opts. Close releases it.
func New(opts Options) (*Emulator, error) {
	e := &Emulator{
		store:    opts.Store,
		hostName: opts.HostName,
		maxBody:  opts.MaxBodyBytes,
		now:      opts.Now,
		log:      opts.Logger,
	}
	if e.maxBody <= 0 {
		e.maxBody = DefaultMaxBodyBytes
	}
	if e.now == nil {
		e.now = time.Now
	}
	if e.log == nil {
		e.log = discardLogger()
	}
	if e.store == nil {
		e.ownsStore = true
		if opts.DataDir != "" {
			s, err := OpenBoltStore(filepath.Join(opts.DataDir, "hub.db"))
			if err != nil {
				return nil, fmt.Errorf("emulator: open store: %w", err)
			}
			e.store = s
		} else {
			e.store = NewMemoryStore()
		}
	}
	var err error
	if e.policies, err = loadPolicies(e.store, opts.OwnerKey); err != nil {
		e.closeStore()
		return nil, err
	}
	if err := countModules(e.store); err != nil {
		e.closeStore()
		return nil, fmt.Errorf("emulator: count modules: %w", err)
	}
	e.faults = newFaults(opts)
	e.routes = e.routeTable()
	if opts.SeedDemo > 0 {
		if err := e.SeedDemo(opts.SeedDemo, opts.SeedRandom); err != nil {
			e.closeStore()
			return nil, err
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	e.stop = cancel
	if opts.Simulate {
		interval := opts.SimulateInterval
		if interval <= 0 {
			interval = DefaultSimulateInterval
		}
		e.wg.Add(1)
		go func() {
			defer e.wg.Done()
			e.simulate(ctx, interval, opts.SeedRandom)
		}()
	}
	return e, nil
}

func (e *Emulator) closeStore() {
	if e.ownsStore {
		_ = e.store.Close()
	}
}

// Close stops the simulator and closes the store if New opened it.
func (e *Emulator) Close() error {
	e.once.Do(func() {
		e.stop()
		e.wg.Wait()
		if e.ownsStore {
			e.closeErr = e.store.Close()
		}
	})
	return e.closeErr
}

// PolicyKey returns the primary key of a shared access policy
// (iothubowner, registryRead, registryReadWrite, service), or "" for an
// unknown policy.
func (e *Emulator) PolicyKey(name string) string { return e.policies[name].Primary }

// PolicySecondaryKey returns the secondary key of a shared access policy,
// or "" for an unknown policy.
func (e *Emulator) PolicySecondaryKey(name string) string { return e.policies[name].Secondary }

// ConnectionString returns the iothubowner connection string for a hub at
// host (host name, with a port if not the default).
func (e *Emulator) ConnectionString(host string) string {
	return e.PolicyConnectionString(host, PolicyOwner)
}

// PolicyConnectionString returns the connection string of a shared access
// policy for a hub at host.
func (e *Emulator) PolicyConnectionString(host, policy string) string {
	return "HostName=" + host + ";SharedAccessKeyName=" + policy + ";SharedAccessKey=" + e.PolicyKey(policy)
}

// request is an HTTP request as handlers see it: the body already read and
// the path's ids decoded.
type request struct {
	*http.Request
	body []byte
	id   string // device id
	mid  string // module id
}

// route is one operation of the API. Path segments "{id}" and "{mid}" take
// the device and module id.
type route struct {
	method string
	path   []string
	right  right
	handle func(*request) (response, error)
}

// routeTable lists every operation, grouped by resource.
func (e *Emulator) routeTable() []route {
	r := func(method, path string, want right, h func(*request) (response, error)) route {
		return route{method: method, path: strings.Split(strings.Trim(path, "/"), "/"), right: want, handle: h}
	}
	return []route{
		r(http.MethodGet, "/devices", rightRegistryRead, e.listDevices),
		r(http.MethodPost, "/devices/query", rightRegistryRead|rightServiceConnect, e.queryTwins),
		r(http.MethodGet, "/devices/{id}", rightRegistryRead, e.showDevice),
		r(http.MethodPut, "/devices/{id}", rightRegistryWrite, e.putDevice),
		r(http.MethodDelete, "/devices/{id}", rightRegistryWrite, e.deleteDevice),

		r(http.MethodGet, "/devices/{id}/modules", rightRegistryRead, e.listModules),
		r(http.MethodGet, "/devices/{id}/modules/{mid}", rightRegistryRead, e.showModule),
		r(http.MethodPut, "/devices/{id}/modules/{mid}", rightRegistryWrite, e.putModule),
		r(http.MethodDelete, "/devices/{id}/modules/{mid}", rightRegistryWrite, e.deleteModule),

		r(http.MethodGet, "/twins/{id}", rightServiceConnect, e.showTwin),
		r(http.MethodPut, "/twins/{id}", rightServiceConnect, e.replaceTwin),
		r(http.MethodPatch, "/twins/{id}", rightServiceConnect, e.updateTwin),
		r(http.MethodGet, "/twins/{id}/modules/{mid}", rightServiceConnect, e.showTwin),
		r(http.MethodPut, "/twins/{id}/modules/{mid}", rightServiceConnect, e.replaceTwin),
		r(http.MethodPatch, "/twins/{id}/modules/{mid}", rightServiceConnect, e.updateTwin),

		r(http.MethodGet, "/statistics/devices", rightRegistryRead, e.showStatistics),
	}
}

// ServeHTTP answers one request of the hub's service API.
func (e *Emulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	defer func() {
		if v := recover(); v != nil {
			e.writeError(w, r, fmt.Errorf("panic: %v", v))
		}
	}()
	res, err := e.serve(r)
	e.writeResponse(w, r, res, err)
}

func (e *Emulator) serve(r *http.Request) (response, error) {
	if err := e.faults.inject(r.Context()); err != nil {
		return response{}, err
	}
	req, rt, err := e.match(r)
	if err != nil {
		return response{}, err
	}
	if err := checkAPIVersion(r.URL.Query().Get("api-version")); err != nil {
		return response{}, err
	}
	if err := e.authorize(r, rt.right); err != nil {
		return response{}, err
	}
	if req.body, err = readBody(r, e.maxBody); err != nil {
		return response{}, err
	}
	return rt.handle(req)
}

// match finds the route of r and decodes its path: segments are
// percent-decoded as paths (%2B is +, + stays +, %2F is / inside a segment).
func (e *Emulator) match(r *http.Request) (*request, route, error) {
	raw := strings.Split(strings.Trim(r.URL.EscapedPath(), "/"), "/")
	segs := make([]string, len(raw))
	for i, s := range raw {
		d, err := url.PathUnescape(s)
		if err != nil {
			return nil, route{}, badRequest("Invalid path segment %q.", s)
		}
		segs[i] = d
	}
	methodOK := false
	req := &request{Request: r}
	for _, rt := range e.routes {
		*req = request{Request: r}
		if !matchPath(rt.path, segs, req) {
			continue
		}
		if rt.method != r.Method {
			methodOK = true
			continue
		}
		return req, rt, nil
	}
	if methodOK {
		return nil, route{}, errorf(http.StatusMethodNotAllowed, "MethodNotAllowed",
			"The requested resource does not support http method '%s'.", r.Method)
	}
	return nil, route{}, errorf(http.StatusNotFound, "NotFound", "No route for %s.", r.URL.Path)
}

func matchPath(pattern, segs []string, req *request) bool {
	if len(pattern) != len(segs) {
		return false
	}
	for i, p := range pattern {
		switch p {
		case "{id}":
			req.id = segs[i]
		case "{mid}":
			req.mid = segs[i]
		default:
			if p != segs[i] {
				return false
			}
		}
	}
	return true
}

func checkAPIVersion(v string) error {
	if v == "" {
		return errorf(http.StatusBadRequest, hub.CodeInvalidProtocolVersion,
			"The api-version query parameter is required.")
	}
	// Every dated version the SDKs send since 2018 is answered alike.
	if _, err := time.Parse(time.DateOnly, strings.TrimSuffix(v, "-preview")); err != nil || v < "2018-06-30" {
		return errorf(http.StatusBadRequest, hub.CodeInvalidProtocolVersion,
			"Invalid api-version %q.", v)
	}
	return nil
}

// readBody reads at most limit bytes of the body.
func readBody(r *http.Request, limit int64) ([]byte, error) {
	if r.Body == nil {
		return nil, nil
	}
	if r.ContentLength > limit {
		return nil, tooLarge(limit)
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return nil, badRequest("Cannot read the request body.")
	}
	if int64(len(b)) > limit {
		return nil, tooLarge(limit)
	}
	return b, nil
}
