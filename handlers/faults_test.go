package handlers_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hubdesk/hubdesk/hub"
	"github.com/hubdesk/hubdesk/hub/emulator"
	"github.com/hubdesk/hubdesk/storage"
)

// loss is what a hubProxy does to the next write.
type loss int

const (
	loseNothing loss = iota
	loseRequest      // the write never reaches the hub; the client hears nothing
	loseAnswer       // the hub applies the write; its answer never comes back
)

// hubProxy stands between the dashboard's hub client and the emulator. It
// forwards every request and counts the writes that reach the emulator.
// Told to, it loses the next write or its answer the way a network does,
// holding the connection until the client gives up, and then breaks the
// reads that follow (the connection drops) until healed.
type hubProxy struct {
	t      *testing.T
	fwd    *httputil.ReverseProxy
	writes atomic.Int32

	mu         sync.Mutex
	next       loss
	thenBreak  bool         // after the loss, reads fail
	meanwhile  func() error // runs while the lost write hangs: another writer
	readsBroke bool
}

func (p *hubProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	write := r.Method == http.MethodPatch || r.Method == http.MethodPut || r.Method == http.MethodDelete
	p.mu.Lock()
	lose, meanwhile, broken := loseNothing, p.meanwhile, p.readsBroke
	if write {
		lose, p.next, p.meanwhile = p.next, loseNothing, nil
		if lose != loseNothing && p.thenBreak {
			p.readsBroke, p.thenBreak = true, false
		}
	}
	p.mu.Unlock()
	switch {
	case write && lose != loseNothing:
		if lose == loseAnswer {
			// Forwarded whatever the client does meanwhile, like a request
			// already on the hub's side of the network.
			p.fwd.ServeHTTP(httptest.NewRecorder(), r.WithContext(context.WithoutCancel(r.Context())))
			p.writes.Add(1)
		}
		if meanwhile != nil {
			if err := meanwhile(); err != nil {
				p.t.Errorf("the other writer: %v", err)
			}
		}
		// The server notices the client hanging up only once the body
		// has been read.
		_, _ = io.Copy(io.Discard, r.Body)
		<-r.Context().Done()
	case !write && broken:
		if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
			conn.Close()
		}
	default:
		if write {
			p.writes.Add(1)
		}
		p.fwd.ServeHTTP(w, r)
	}
}

// loseNext makes the proxy lose the next write (or its answer), running
// meanwhile (if not nil) while it hangs, and fail the reads after it when
// thenBreak is set.
func (p *hubProxy) loseNext(l loss, thenBreak bool, meanwhile func() error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.next, p.thenBreak, p.meanwhile = l, thenBreak, meanwhile
}

// heal makes the proxy forward everything again.
func (p *hubProxy) heal() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.next, p.thenBreak, p.meanwhile, p.readsBroke = loseNothing, false, nil, false
}

// faultTimeout is the dashboard's hub timeout in these tests: what a lost
// write costs.
const faultTimeout = 400 * time.Millisecond

// newFaultApp is a dashboard whose hub client reaches an emulator made
// with opts through a hubProxy, with a short hub timeout, making at most
// attempts attempts per request. a.hub talks to the emulator directly, as
// another writer would.
func newFaultApp(t *testing.T, opts emulator.Options, attempts int) (*app, *hubProxy) {
	t.Helper()
	var p *hubProxy
	a := newApp(t, appOptions{emulator: opts, hubTimeout: faultTimeout, dashboardHub: func(emu *emulator.Server) *hub.Client {
		target, _ := url.Parse(emu.URL())
		p = &hubProxy{t: t, fwd: httputil.NewSingleHostReverseProxy(target)}
		psrv := httptest.NewServer(p)
		t.Cleanup(psrv.Close)
		client, err := hub.New(emu.ConnectionString(), hub.WithBaseURL(psrv.URL), hub.WithRetry(attempts, 5*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		return client
	}})
	// Setting up goes around the faults: retried until it gets through.
	a.hub = a.emu.Client(hub.WithRetry(20, time.Millisecond))
	return a, p
}

// TestPagesUnderHubFaults browses the device list, a device and a twin
// while the hub is slow, throttles and is unavailable at times: every
// answer is the page or an error page naming the problem, never a 500,
// and with the client's retries nearly every page gets through.
func TestPagesUnderHubFaults(t *testing.T) {
	tests := []struct {
		name     string
		attempts int
		served   float64 // at least this share of pages
		errors   bool    // error pages must have been seen
	}{
		{"with retries", hub.DefaultMaxAttempts, 0.9, false},
		{"without retries", 1, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a, _ := newFaultApp(t, emulator.Options{Latency: 2 * time.Millisecond, ThrottleRate: 0.15, UnavailableRate: 0.1,
				SeedDemo: 3, SeedRandom: 1}, tt.attempts)
			devices, err := a.hub.ListDevices(context.Background(), 0)
			if err != nil || len(devices) == 0 {
				t.Fatalf("seeded devices: %v %v", devices, err)
			}
			id := devices[0].DeviceID
			b := a.browser()
			b.signIn("ed")
			pages := []page{
				{"/devices", id},
				{"/devices/" + url.PathEscape(id), "Save identity"},
				{"/devices/" + url.PathEscape(id) + "/twin", "data-json-editor"},
			}
			const rounds = 12
			served, failed := browseUnderFaults(t, b, pages, rounds)
			total := rounds * len(pages)
			t.Logf("%d of %d pages served; error pages: %v", served, total, failed)
			if float64(served) < tt.served*float64(total) {
				t.Errorf("%d of %d pages served, want at least %.0f%%", served, total, 100*tt.served)
			}
			if tt.errors && len(failed) == 0 {
				t.Error("no error page seen: the faults were not injected")
			}
			if strings.Contains(a.logs.String(), "panic") {
				t.Error("a handler panicked")
			}
		})
	}
}

// page is a dashboard page and a text it shows when it loads.
type page struct{ path, want string }

// faultHeadings are the error pages' names for the hub's problems.
var faultHeadings = []string{"The hub is busy", "The hub is unavailable", "The hub is unreachable"}

// browseUnderFaults loads every page rounds times, eight at a time, and
// checks each answer is the page or an error page naming a hub problem. It
// returns how many pages were served and the error pages by heading.
func browseUnderFaults(t *testing.T, b *browser, pages []page, rounds int) (served int, failed map[string]int) {
	t.Helper()
	type result struct {
		page
		status int
		body   string
	}
	results := make(chan result, rounds*len(pages))
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for range rounds {
		for _, p := range pages {
			wg.Go(func() {
				sem <- struct{}{}
				defer func() { <-sem }()
				res, err := b.c.Get(b.app.url + p.path)
				if err != nil {
					results <- result{page: p, body: err.Error()}
					return
				}
				defer res.Body.Close()
				body, _ := io.ReadAll(res.Body)
				results <- result{p, res.StatusCode, string(body)}
			})
		}
	}
	wg.Wait()
	close(results)
	failed = map[string]int{}
	for r := range results {
		switch r.status {
		case http.StatusOK:
			if !strings.Contains(r.body, r.want) {
				t.Errorf("%s: 200 without %q", r.path, r.want)
				continue
			}
			served++
		case http.StatusServiceUnavailable, http.StatusGatewayTimeout, http.StatusBadGateway:
			named := ""
			for _, h := range faultHeadings {
				if strings.Contains(r.body, h) {
					named = h
				}
			}
			if named == "" {
				t.Errorf("%s: %d error page does not name the problem:\n%s", r.path, r.status, r.body)
			}
			failed[named]++
		default:
			t.Errorf("%s: status %d:\n%s", r.path, r.status, r.body)
		}
	}
	return served, failed
}

// newTwinFaultApp is newFaultApp on a fault-free hub holding dev1/mod1
// with a twin, as newTwinApp.
func newTwinFaultApp(t *testing.T) (*app, *hubProxy) {
	t.Helper()
	a, p := newFaultApp(t, emulator.Options{}, hub.DefaultMaxAttempts)
	createDevices(t, a.hub, "dev1")
	if _, err := a.hub.CreateModule(context.Background(), &hub.Module{DeviceID: "dev1", ModuleID: "mod1"}); err != nil {
		t.Fatal(err)
	}
	a.patchTwin(`{"tags":{"site":"A"},"properties":{"desired":{"fw":"1.0","mode":"eco"}}}`)
	return a, p
}

// otherWriter returns a meanwhile for hubProxy.loseNext: a colleague
// patching dev1/mod1's twin while the dashboard's save hangs.
func (a *app) otherWriter(patch string) func() error {
	return func() error {
		_, err := a.hub.UpdateModuleTwin(context.Background(), "dev1", "mod1", []byte(patch), hub.Unconditional())
		return err
	}
}

// onlyAudit is the one audit entry, failing the test if there is not
// exactly one.
// saveWithoutAnswer submits the form of page to action with set while the
// proxy loses the write's request or answer (and with thenBreak every
// read after it), another person writing meanwhile if set. It checks the
// status, the page the person ends on and how many writes reached the
// hub, and returns that page.
func saveWithoutAnswer(t *testing.T, b *browser, p *hubProxy, l loss, thenBreak bool, meanwhile func() error,
	page, action string, set url.Values, status int, writes int32, want ...string) string {
	t.Helper()
	p.loseNext(l, thenBreak, meanwhile)
	res, body := b.submit(page, action, set)
	p.heal()
	if res.StatusCode != status {
		t.Fatalf("save: %d, want %d\n%s", res.StatusCode, status, body)
	}
	if res.StatusCode == http.StatusSeeOther {
		_, body = b.get(res.Header.Get("Location"))
	}
	mustContain(t, body, want...)
	if got := p.writes.Load(); got != writes {
		t.Errorf("%d writes reached the hub, want %d", got, writes)
	}
	return body
}

// checkOnlyAudit checks the trail's one entry: its outcome, its detail, and
// when it is ok the resource's etag after.
func checkOnlyAudit(t *testing.T, a *app, outcome storage.AuditOutcome, detail, etag string) {
	t.Helper()
	e := onlyAudit(t, a)
	if e.Outcome != outcome || !strings.Contains(e.Detail, detail) {
		t.Errorf("audit: %s %q, want %s with %q", e.Outcome, e.Detail, outcome, detail)
	}
	if e.Outcome == storage.AuditOK && e.ETagAfter != etag {
		t.Errorf("audit etag after %q, want the resource's %q", e.ETagAfter, etag)
	}
}

// sendAgain submits the form the person was offered once more: it must get
// status and reach the hub exactly once.
func sendAgain(t *testing.T, b *browser, p *hubProxy, page, action string, status int) {
	t.Helper()
	writes := p.writes.Load()
	res, body := b.submit(page, action, nil)
	if res.StatusCode != status {
		t.Fatalf("send again: %d, want %d\n%s", res.StatusCode, status, body)
	}
	if got := p.writes.Load(); got != writes+1 {
		t.Errorf("sending again made %d writes, want 1", got-writes)
	}
}

func onlyAudit(t *testing.T, a *app) storage.AuditEntry {
	t.Helper()
	entries, _, err := a.db.ListAudit(context.Background(), storage.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Fatalf("%d audit entries, want 1: %+v", len(entries), entries)
	}
	return entries[0]
}

// TestTwinSaveWithoutAnswer saves a twin while the network between the
// dashboard and the hub loses the request or the answer: the dashboard
// reads the twin back and says what happened, never sending the patch a
// second time by itself, and the audit trail holds what is known.
func TestTwinSaveWithoutAnswer(t *testing.T) {
	tests := []struct {
		name      string
		lose      loss
		thenBreak bool   // reads fail after the loss
		meanwhile string // a colleague's patch while the save hangs
		status    int
		want      []string
		writes    int32 // the dashboard's writes that reached the hub
		fw        string
		outcome   storage.AuditOutcome
		detail    string
		// again is the status of sending the offered draft once more; 0
		// when nothing is offered.
		again int
	}{
		{"applied, answer lost", loseAnswer, false, "", http.StatusSeeOther,
			[]string{"Saved 1 change: desired.fw (changed). Confirmed by reading the twin back"}, 1, "2.0",
			storage.AuditOK, "reading it back confirmed it was applied", 0},
		{"applied, answer lost, colleague wrote elsewhere after", loseAnswer, false, `{"tags":{"owner":"bob"}}`, http.StatusSeeOther,
			[]string{"Confirmed by reading the twin back"}, 1, "2.0", storage.AuditOK, "confirmed", 0},
		{"request lost", loseRequest, false, "", http.StatusGatewayTimeout,
			[]string{"The hub did not answer in time; nothing was saved; your draft is kept.", "saving again is safe"}, 0, "1.0",
			storage.AuditError, "read back: not applied", http.StatusSeeOther},
		{"request lost, colleague changed the same value", loseRequest, false, `{"properties":{"desired":{"fw":"9.9"}}}`, http.StatusConflict,
			[]string{"someone else changed it meanwhile", "Your changes were not saved", "9.9"}, 0, "9.9",
			storage.AuditConflict, "someone else changed it meanwhile", 0},
		{"applied, answer lost, read back fails", loseAnswer, true, "", http.StatusGatewayTimeout,
			[]string{"whether your change was saved is unknown", "Your draft is kept", "412 Precondition Failed", "Send again with If-Match"}, 1, "2.0",
			storage.AuditUnknown, "outcome unknown", http.StatusConflict},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a, p := newTwinFaultApp(t)
			b := a.browser()
			b.signIn("ed")
			_, page := b.get(twinPath)
			_, review := b.submit(page, reviewPath, url.Values{"desired": {`{"fw": "2.0", "mode": "eco"}`}})
			var meanwhile func() error
			if tt.meanwhile != "" {
				meanwhile = a.otherWriter(tt.meanwhile)
			}
			body := saveWithoutAnswer(t, b, p, tt.lose, tt.thenBreak, meanwhile, review, savePath, nil, tt.status, tt.writes, tt.want...)
			_, desired, etag := a.twinState()
			if desired["fw"] != tt.fw {
				t.Errorf("fw on the hub = %v, want %s", desired["fw"], tt.fw)
			}
			checkOnlyAudit(t, a, tt.outcome, tt.detail, etag)
			if tt.again == 0 {
				return
			}
			sendAgain(t, b, p, body, savePath, tt.again)
			_, desired, now := a.twinState()
			switch {
			case desired["fw"] != "2.0":
				t.Errorf("after sending again fw = %v", desired["fw"])
			case tt.again == http.StatusConflict && now != etag:
				t.Error("the hub applied the patch a second time")
			}
		})
	}
}

// TestIdentitySaveWithoutAnswer is TestTwinSaveWithoutAnswer for a device
// identity, saved with PUT.
func TestIdentitySaveWithoutAnswer(t *testing.T) {
	colleague := func(a *app) func() error {
		return func() error {
			d, err := a.hub.GetDevice(context.Background(), "dev1")
			if err != nil {
				return err
			}
			d.Status, d.StatusReason = hub.StatusDisabled, "lost"
			_, err = a.hub.UpdateDevice(context.Background(), d, hub.Unconditional())
			return err
		}
	}
	tests := []struct {
		name      string
		lose      loss
		thenBreak bool
		colleague bool // a colleague changes the identity while the save hangs
		status    int
		want      []string
		writes    int32
		reason    string // the device's status reason on the hub after
		outcome   storage.AuditOutcome
		detail    string
		again     int
	}{
		{"applied, answer lost", loseAnswer, false, false, http.StatusSeeOther,
			[]string{"Saved the identity of dev1. Confirmed by reading the device back"}, 1, "checked",
			storage.AuditOK, "confirmed", 0},
		{"request lost", loseRequest, false, false, http.StatusGatewayTimeout,
			[]string{"The hub did not answer in time; nothing was saved; your changes are kept below.", `value="checked"`}, 0, "",
			storage.AuditError, "read back: not applied", http.StatusSeeOther},
		{"request lost, colleague changed it", loseRequest, false, true, http.StatusConflict,
			[]string{"someone else changed it meanwhile", "Changed since you loaded the form", "lost"}, 0, "lost",
			storage.AuditConflict, "someone else changed it meanwhile", 0},
		{"applied, answer lost, read back fails", loseAnswer, true, false, http.StatusGatewayTimeout,
			[]string{"whether your changes were saved is unknown", "412 Precondition Failed", `value="checked"`}, 1, "checked",
			storage.AuditUnknown, "outcome unknown", http.StatusConflict},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a, p := newTwinFaultApp(t)
			b := a.browser()
			b.signIn("ed")
			_, page := b.get("/devices/dev1")
			var meanwhile func() error
			if tt.colleague {
				meanwhile = colleague(a)
			}
			body := saveWithoutAnswer(t, b, p, tt.lose, tt.thenBreak, meanwhile, page, "/devices/dev1",
				url.Values{"statusReason": {"checked"}}, tt.status, tt.writes, tt.want...)
			d := getDevice(t, a, "dev1")
			if d.StatusReason != tt.reason {
				t.Errorf("status reason on the hub = %q, want %q", d.StatusReason, tt.reason)
			}
			checkOnlyAudit(t, a, tt.outcome, tt.detail, d.ETag)
			if tt.again == 0 {
				return
			}
			sendAgain(t, b, p, body, "/devices/dev1", tt.again)
			now := getDevice(t, a, "dev1")
			switch {
			case now.StatusReason != "checked":
				t.Errorf("after sending again the status reason is %q", now.StatusReason)
			case tt.again == http.StatusConflict && now.ETag != d.ETag:
				t.Error("the hub applied the identity a second time")
			}
		})
	}
}

// TestCreateWithoutAnswer creates a device and a module while the network
// loses the request or the answer: reading back tells which.
func TestCreateWithoutAnswer(t *testing.T) {
	tests := []struct {
		name       string
		form, post string // the page with the form, and where it posts
		fields     url.Values
		lose       loss
		want       []string // on the page after, following a redirect
		exists     func(*app) error
		created    bool
		outcome    storage.AuditOutcome
	}{
		{"device, answer lost", "/devices/~new", "/devices", url.Values{"deviceId": {"dev2"}}, loseAnswer,
			[]string{"Created device dev2. Confirmed by reading it back"}, deviceExists("dev2"), true, storage.AuditOK},
		{"device, request lost", "/devices/~new", "/devices", url.Values{"deviceId": {"dev2"}}, loseRequest,
			[]string{"the device was not created", `value="dev2"`}, deviceExists("dev2"), false, storage.AuditError},
		{"module, answer lost", "/devices/dev1", "/devices/dev1/modules", url.Values{"moduleId": {"mod2"}}, loseAnswer,
			[]string{"Created module mod2. Confirmed by reading it back"}, moduleExists("mod2"), true, storage.AuditOK},
		{"module, request lost", "/devices/dev1", "/devices/dev1/modules", url.Values{"moduleId": {"mod2"}}, loseRequest,
			[]string{"module mod2 was not created", "Adding it again is safe"}, moduleExists("mod2"), false, storage.AuditError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a, p := newTwinFaultApp(t)
			b := a.browser()
			b.signIn("ed")
			_, page := b.get(tt.form)
			p.loseNext(tt.lose, false, nil)
			res, body := b.submit(page, tt.post, tt.fields)
			p.heal()
			if loc := res.Header.Get("Location"); res.StatusCode == http.StatusSeeOther {
				_, body = b.get(loc)
			}
			mustContain(t, body, tt.want...)
			if err := tt.exists(a); (err == nil) != tt.created {
				t.Errorf("created %v, want %v (%v)", err == nil, tt.created, err)
			}
			if e := onlyAudit(t, a); e.Outcome != tt.outcome {
				t.Errorf("audit outcome %s, want %s", e.Outcome, tt.outcome)
			}
		})
	}
}

func deviceExists(id string) func(*app) error {
	return func(a *app) error { _, err := a.hub.GetDevice(context.Background(), id); return err }
}

func moduleExists(id string) func(*app) error {
	return func(a *app) error { _, err := a.hub.GetModule(context.Background(), "dev1", id); return err }
}

// TestKeyChangeWithoutAnswer swaps a device's keys while the network
// loses the request or the answer.
func TestKeyChangeWithoutAnswer(t *testing.T) {
	tests := []struct {
		name    string
		lose    loss
		want    string
		swapped bool
		outcome storage.AuditOutcome
	}{
		{"answer lost", loseAnswer, "Swapped the primary and secondary keys of dev1. Confirmed by reading the device back", true, storage.AuditOK},
		{"request lost", loseRequest, "the keys were not changed", false, storage.AuditError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a, p := newTwinFaultApp(t)
			b := a.browser()
			b.signIn("ed")
			before := getDevice(t, a, "dev1")
			p.loseNext(tt.lose, false, nil)
			res, _ := b.post("/devices/dev1/keys", url.Values{"_csrf": {b.csrf("/devices/dev1")}, "etag": {before.ETag}, "action": {"swap"}})
			p.heal()
			if res.StatusCode != http.StatusSeeOther {
				t.Fatalf("swap: %d", res.StatusCode)
			}
			_, page := b.get(res.Header.Get("Location"))
			mustContain(t, page, tt.want)
			after := getDevice(t, a, "dev1").Authentication.SymmetricKey
			if swapped := after.PrimaryKey == before.Authentication.SymmetricKey.SecondaryKey; swapped != tt.swapped {
				t.Errorf("swapped %v, want %v", swapped, tt.swapped)
			}
			if e := onlyAudit(t, a); e.Outcome != tt.outcome {
				t.Errorf("audit outcome %s, want %s", e.Outcome, tt.outcome)
			}
		})
	}
}
