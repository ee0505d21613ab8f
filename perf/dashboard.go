package perf

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/hubdesk/hubdesk/handlers"
	"github.com/hubdesk/hubdesk/hub"
	"github.com/hubdesk/hubdesk/static"
	"github.com/hubdesk/hubdesk/storage"
	"github.com/hubdesk/hubdesk/twinedit"
	"github.com/hubdesk/hubdesk/twinedit/twinedittest"
)

// Sessions is how many signed-in people the dashboard scenarios simulate.
const Sessions = 50

// DashboardScenarios measure the dashboard's pages against the in-process
// emulator at Sessions concurrent sessions, next to the hub calls each
// page makes, and the save path's CPU cost.
func DashboardScenarios() []Scenario {
	return []Scenario{
		PagesPerSecond("twin pages/s", 1000, twinPage),
		AddedLatency("twin page", twinPage),
		AddedLatency("device page", devicePage),
		AddedLatency("device list page", listPage),
		SavePath(3),
		// CodeMirror is about 118 KB of it gzipped; 250 KB leaves room for
		// the HTML of a bigger twin than the bench's.
		PageWeight(250),
	}
}

// page is a dashboard page and the hub calls it makes, for worker w.
type page struct {
	name string
	path func(w int) string
	hub  func(ctx context.Context, c *hub.Client, w int) error
}

var (
	twinPage = page{
		name: "twin",
		path: func(w int) string { return "/devices/" + benchDevice(w) + "/modules/" + benchModule + "/twin" },
		hub: func(ctx context.Context, c *hub.Client, w int) error {
			_, err := c.GetModuleTwin(ctx, benchDevice(w), benchModule)
			return err
		},
	}
	devicePage = page{
		name: "device",
		path: func(w int) string { return "/devices/" + benchDevice(w) },
		hub: func(ctx context.Context, c *hub.Client, w int) error {
			if _, err := c.GetDevice(ctx, benchDevice(w)); err != nil {
				return err
			}
			_, err := c.ListModules(ctx, benchDevice(w))
			return err
		},
	}
	listPage = page{
		name: "device list",
		path: func(int) string { return "/devices?size=50" },
		hub: func(ctx context.Context, c *hub.Client, _ int) error {
			if _, err := c.Statistics(ctx); err != nil {
				return err
			}
			_, err := c.Query(ctx, "SELECT * FROM devices", hub.QueryOptions{PageSize: 50})
			return err
		},
	}
)

func benchDevice(w int) string { return fmt.Sprintf("dash-%02d", w) }

// dashboard is the dashboard served over loopback HTTP on a durable
// emulator, with a signed-in browser per session.
type dashboard struct {
	url      string
	handler  http.Handler // what url serves, for servers of a scenario's own
	hub      *hub.Client
	browsers []*http.Client
}

// dashboardFor sets the dashboard up once per run; a failed setup is kept
// too, as trying again would find the first attempt's store still open.
func dashboardFor(ctx context.Context, env *Env) (*dashboard, error) {
	type setup struct {
		d   *dashboard
		err error
	}
	s, _ := Memo(env, "dashboard", func() (setup, error) {
		d, err := newDashboard(ctx, env)
		return setup{d, err}, nil
	})
	return s.d, s.err
}

func newDashboard(ctx context.Context, env *Env) (*dashboard, error) {
	srv, err := env.NewHub("dashboard")
	if err != nil {
		return nil, err
	}
	c := env.Client(srv)
	if st, err := c.Statistics(ctx); err != nil {
		return nil, err
	} else if st.TotalDeviceCount < 1000 {
		if err := srv.Emulator().SeedDemo(1000, 1); err != nil {
			return nil, fmt.Errorf("seeding the dashboard's hub: %w", err)
		}
	}
	desired := strings.Repeat(`"setting%d":{"enabled":true,"interval":30,"name":"sensor"},`, 1)
	for w := range Sessions {
		id := benchDevice(w)
		if _, err := c.CreateDevice(ctx, &hub.Device{DeviceID: id}); err != nil && !errors.Is(err, hub.ErrAlreadyExists) {
			return nil, err
		}
		if _, err := c.CreateModule(ctx, &hub.Module{DeviceID: id, ModuleID: benchModule}); err != nil && !errors.Is(err, hub.ErrAlreadyExists) {
			return nil, err
		}
		var props []string
		for i := range 20 {
			props = append(props, fmt.Sprintf(desired[:len(desired)-1], i))
		}
		patch := `{"tags":{"site":"bench","floor":3},"properties":{"desired":{` + strings.Join(props, ",") + `}}}`
		if _, err := c.UpdateModuleTwin(ctx, id, benchModule, []byte(patch), hub.Unconditional()); err != nil {
			return nil, err
		}
	}
	db, err := storage.OpenSQLite(ctx, filepath.Join(env.dir, "dashboard.db"), storage.Options{BcryptCost: 4})
	if err != nil {
		return nil, err
	}
	env.onClose(db.Close)
	const user, password = "bench", "bench password 123"
	if err := db.CreateUser(ctx, user, password, storage.RoleEditor); err != nil && !errors.Is(err, storage.ErrUserExists) {
		return nil, err
	}
	assets, err := static.New()
	if err != nil {
		return nil, err
	}
	h := handlers.New(handlers.Deps{
		Hub:           env.Client(srv),
		HubName:       srv.HostName(),
		DB:            db,
		Sessions:      handlers.NewCookieStore([]byte(strings.Repeat("h", 64)), []byte(strings.Repeat("b", 32)), time.Hour, false),
		Assets:        assets,
		Logger:        slog.New(slog.DiscardHandler),
		SessionMaxAge: time.Hour,
	})
	e := echo.New()
	h.Register(e)
	web := httptest.NewServer(e)
	env.onClose(func() error { web.Close(); return nil })
	d := &dashboard{url: web.URL, handler: e, hub: c}
	transport := &http.Transport{MaxIdleConnsPerHost: 2 * Sessions, MaxConnsPerHost: 2 * Sessions}
	// One sign-in (the limiter allows only a few per address), its session
	// cookie then shared by every simulated browser: the server keeps no
	// per-session state, so the load is the same as separate sign-ins.
	first, err := newBrowser(transport)
	if err != nil {
		return nil, err
	}
	if err := signIn(ctx, first, web.URL, user, password); err != nil {
		return nil, err
	}
	u, _ := url.Parse(web.URL)
	for range Sessions {
		b, err := newBrowser(transport)
		if err != nil {
			return nil, err
		}
		b.Jar.SetCookies(u, first.Jar.Cookies(u))
		d.browsers = append(d.browsers, b)
	}
	return d, nil
}

func newBrowser(t http.RoundTripper) (*http.Client, error) {
	jar, err := cookiejar.New(nil)
	if err != nil {
		return nil, err
	}
	return &http.Client{Jar: jar, Transport: t, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}, nil
}

var csrfField = regexp.MustCompile(`name="_csrf" value="([^"]+)"`)

func signIn(ctx context.Context, b *http.Client, base, user, password string) error {
	body, err := fetch(ctx, b, base+"/login")
	if err != nil {
		return err
	}
	m := csrfField.FindSubmatch(body)
	if m == nil {
		return errors.New("sign-in page has no CSRF token")
	}
	form := url.Values{"_csrf": {string(m[1])}, "name": {user}, "password": {password}}
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res, err := b.Do(req)
	if err != nil {
		return err
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther {
		return fmt.Errorf("sign in: status %d", res.StatusCode)
	}
	return nil
}

// fetch GETs u and insists on 200.
func fetch(ctx context.Context, b *http.Client, u string) ([]byte, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	res, err := b.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, err
	}
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: status %d", u, res.StatusCode)
	}
	return body, nil
}

// PagesPerSecond measures how many of p's pages the dashboard serves with
// Sessions people loading it at once.
func PagesPerSecond(name string, target float64, p page) Scenario {
	return Scenario{
		Name:   name,
		Target: ">= " + groupThousands(int64(target)) + "/s",
		Run: func(ctx context.Context, env *Env) (Result, error) {
			d, err := dashboardFor(ctx, env)
			if err != nil {
				return Result{}, err
			}
			st, err := Measure(ctx, Sessions, env.Options().Duration, func(ctx context.Context, w int) error {
				_, err := fetch(ctx, d.browsers[w], d.url+p.path(w))
				return err
			})
			if err != nil {
				return Result{}, err
			}
			return Result{Measured: st.Rate(), Unit: "pages/s", Ops: st.Ops, P50: st.P50, P99: st.P99,
				Verdict: atLeast(st.Rate(), target),
				Note:    fmt.Sprintf("%d signed-in sessions, each its own module twin; durable emulator in process", Sessions)}, nil
		},
	}
}

// AddedLatency measures p's page and, alternately in the same run, the hub
// calls it makes, one at a time so that the figure is latency and not
// queueing (with Sessions at once on two cores, a page's p50 is mostly the
// wait for a core; PagesPerSecond covers that load): the difference of
// the medians is what the dashboard adds to a page.
func AddedLatency(name string, p page) Scenario {
	return Scenario{
		Name:   name + " added latency",
		Target: "<= 1 ms median",
		Run: func(ctx context.Context, env *Env) (Result, error) {
			d, err := dashboardFor(ctx, env)
			if err != nil {
				return Result{}, err
			}
			half := env.Options().Duration / 2
			calls, err := Measure(ctx, 1, half, func(ctx context.Context, w int) error { return p.hub(ctx, d.hub, w) })
			if err != nil {
				return Result{}, err
			}
			pages, err := Measure(ctx, 1, half, func(ctx context.Context, w int) error {
				_, err := fetch(ctx, d.browsers[w], d.url+p.path(w))
				return err
			})
			if err != nil {
				return Result{}, err
			}
			added := pages.P50 - calls.P50
			v := Pass
			if added > time.Millisecond {
				v = Fail
			}
			return Result{Measured: float64(added.Microseconds()) / 1000, Unit: "ms", Ops: pages.Ops, P50: pages.P50, P99: pages.P99, Verdict: v,
				Note: fmt.Sprintf("page p50 %s minus its hub calls' p50 %s, one request at a time",
					formatLatency(pages.P50), formatLatency(calls.P50))}, nil
		},
	}
}

// SavePath measures what saving a draft of a maximum-size twin costs the
// dashboard's CPU (diff, the hub's rules on both sections, and the
// three-way rebase a 412 leads to) against one encoding/json decode and
// encode of the same twin, timed alternately in one run.
func SavePath(maxRatio float64) Scenario {
	return Scenario{
		Name:   "save path vs encoding/json",
		Target: fmt.Sprintf("<= %gx", maxRatio),
		Run: func(ctx context.Context, env *Env) (Result, error) {
			s := twinedittest.NewSaveCase()
			save := func() error {
				if _, err := twinedit.Diff(s.Base, s.Mine); err != nil {
					return err
				}
				if err := hub.ValidateSection(hub.SectionTags, s.Mine.Tags); err != nil {
					return err
				}
				if err := hub.ValidateSection(hub.SectionDesired, s.Mine.Desired); err != nil {
					return err
				}
				_, err := twinedit.Rebase(s.Base, s.Theirs, s.Mine)
				return err
			}
			plain := func() error {
				var v any
				if err := json.Unmarshal(s.Plain, &v); err != nil {
					return err
				}
				_, err := json.Marshal(v)
				return err
			}
			var tSave, tPlain time.Duration
			var nSave, nPlain int
			deadline := time.Now().Add(env.Options().Duration)
			for time.Now().Before(deadline) || nSave == 0 {
				for _, r := range []struct {
					f func() error
					t *time.Duration
					n *int
				}{{save, &tSave, &nSave}, {plain, &tPlain, &nPlain}} {
					start := time.Now()
					for range 20 {
						if err := r.f(); err != nil {
							return Result{}, err
						}
					}
					*r.t += time.Since(start)
					*r.n += 20
				}
			}
			perSave, perPlain := tSave/time.Duration(nSave), tPlain/time.Duration(nPlain)
			ratio := float64(perSave) / float64(perPlain)
			v := Pass
			if ratio > maxRatio {
				v = Fail
			}
			return Result{Measured: ratio, Unit: "x", Ops: nSave, P50: perSave, Verdict: v,
				Note: fmt.Sprintf("%s per save of a %d KB twin vs %s per encoding/json round trip; p50 column: one save", formatLatency(perSave), len(s.Plain)/1024, formatLatency(perPlain))}, nil
		},
	}
}
