package perf

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/hubdesk/hubdesk/hub"
	"github.com/hubdesk/hubdesk/hub/emulator"
)

// Sizes of issue 2's device list scenarios.
const (
	// SmallFleet is the reference fleet the big one is compared with.
	SmallFleet = 1_000
	// PageSize is the device list's page size (x-ms-max-item-count).
	PageSize = 100
	// DeepPage is the page measured deep in the big fleet: the last page
	// of a million devices.
	DeepPage = 10_000
	// maxPageRatio is how many times a page of the big fleet may cost a
	// page of the small one.
	maxPageRatio = 2.0
)

const listQuery = "SELECT * FROM devices"

// HubScenarios are issue 2's proof: module twin PATCH/s with If-Match and
// twin GET/s at Options.Clients concurrent clients on the durable store,
// and the first and a deep page of the device list at SmallFleet devices
// and at devices (a million in a full run). Everything goes through the
// hub client over loopback HTTP to an emulator on a bolt store.
func HubScenarios(devices int) []Scenario {
	return []Scenario{
		ModuleTwinPatch(5_000),
		ModuleTwinGet(20_000),
		ListPage(SmallFleet, 1),
		ListPage(SmallFleet, DeepPage),
		ListPageVersus(devices, 1, SmallFleet, 1),
		ListPageVersus(devices, DeepPage, SmallFleet, DeepPage),
	}
}

// twinHub is a durable hub with one device and one module per client.
type twinHub struct {
	c     *hub.Client
	ids   []string
	etags []string
}

const benchModule = "editor"

func twinHubFor(ctx context.Context, env *Env) (*twinHub, error) {
	return Memo(env, "twin-hub", func() (*twinHub, error) {
		srv, err := env.NewHub("twins")
		if err != nil {
			return nil, err
		}
		h := &twinHub{c: env.Client(srv)}
		for w := range env.Options().Clients {
			id := fmt.Sprintf("bench-%03d", w)
			if _, err := h.c.CreateDevice(ctx, &hub.Device{DeviceID: id}); err != nil && !errors.Is(err, hub.ErrAlreadyExists) {
				return nil, fmt.Errorf("perf: create device: %w", err)
			}
			if _, err := h.c.CreateModule(ctx, &hub.Module{DeviceID: id, ModuleID: benchModule}); err != nil && !errors.Is(err, hub.ErrAlreadyExists) {
				return nil, fmt.Errorf("perf: create module: %w", err)
			}
			tw, err := h.c.GetModuleTwin(ctx, id, benchModule)
			if err != nil {
				return nil, fmt.Errorf("perf: get module twin: %w", err)
			}
			h.ids = append(h.ids, id)
			h.etags = append(h.etags, tw.ETag)
		}
		return h, nil
	})
}

// ModuleTwinPatch measures PATCH /twins/{id}/modules/{mid} with If-Match:
// each client edits its own module twin with the etag the previous answer
// returned, so every write must succeed, and a 412 fails the scenario.
func ModuleTwinPatch(target float64) Scenario {
	return Scenario{
		Name:   "module twin PATCH",
		Target: ">= " + groupThousands(int64(target)) + "/s",
		Run: func(ctx context.Context, env *Env) (Result, error) {
			h, err := twinHubFor(ctx, env)
			if err != nil {
				return Result{}, err
			}
			o := env.Options()
			n := make([]int, o.Clients)
			st, err := Measure(ctx, o.Clients, o.Duration, func(ctx context.Context, w int) error {
				n[w]++
				patch := []byte(`{"properties":{"desired":{"setpoint":` + strconv.Itoa(n[w]) + `}}}`)
				tw, err := h.c.UpdateModuleTwin(ctx, h.ids[w], benchModule, patch, hub.IfMatch(h.etags[w]))
				if err != nil {
					return fmt.Errorf("PATCH %s/%s with the etag of the last answer: %w", h.ids[w], benchModule, err)
				}
				h.etags[w] = tw.ETag
				return nil
			})
			if err != nil {
				return Result{}, err
			}
			return Result{
				Measured: st.Rate(), Unit: "req/s", Ops: st.Ops, P50: st.P50, P99: st.P99,
				Verdict: atLeast(st.Rate(), target),
				Note:    fmt.Sprintf("%d clients, each its own module twin, If-Match; bolt store, every 200 durable", o.Clients),
			}, nil
		},
	}
}

// ModuleTwinGet measures GET /twins/{id}/modules/{mid}, each client
// reading its own module twin.
func ModuleTwinGet(target float64) Scenario {
	return Scenario{
		Name:   "module twin GET",
		Target: ">= " + groupThousands(int64(target)) + "/s",
		Run: func(ctx context.Context, env *Env) (Result, error) {
			h, err := twinHubFor(ctx, env)
			if err != nil {
				return Result{}, err
			}
			o := env.Options()
			st, err := Measure(ctx, o.Clients, o.Duration, func(ctx context.Context, w int) error {
				_, err := h.c.GetModuleTwin(ctx, h.ids[w], benchModule)
				return err
			})
			if err != nil {
				return Result{}, err
			}
			return Result{
				Measured: st.Rate(), Unit: "req/s", Ops: st.Ops, P50: st.P50, P99: st.P99,
				Verdict: atLeast(st.Rate(), target),
				Note:    fmt.Sprintf("%d clients, each its own module twin; bolt store", o.Clients),
			}, nil
		},
	}
}

// ListPage measures one page of the device list (SELECT * FROM devices,
// PageSize twins a page) of a durable hub seeded with fleet demo devices:
// page 1, or a deeper one reached by following continuation tokens once
// and then asked for again and again with the same token. A page past the
// end of the fleet is taken as its last page.
func ListPage(fleet, page int) Scenario {
	page = min(page, lastPage(fleet))
	return Scenario{
		Name:   listName(fleet, page),
		Target: "reference",
		Run: func(ctx context.Context, env *Env) (Result, error) {
			p, err := measurePage(ctx, env, fleet, page)
			if err != nil {
				return Result{}, err
			}
			p.res.Verdict = Info
			return p.res, nil
		},
	}
}

// ListPageVersus is ListPage judged against the same kind of page of a
// reference fleet: it passes when its median costs at most twice the
// reference's, both measured in this run.
func ListPageVersus(fleet, page, refFleet, refPage int) Scenario {
	page = min(page, lastPage(fleet))
	refPage = min(refPage, lastPage(refFleet))
	return Scenario{
		Name:   listName(fleet, page),
		Target: fmt.Sprintf("<= %gx %s", maxPageRatio, listName(refFleet, refPage)),
		Run: func(ctx context.Context, env *Env) (Result, error) {
			ref, err := measurePage(ctx, env, refFleet, refPage)
			if err != nil {
				return Result{}, err
			}
			p, err := measurePage(ctx, env, fleet, page)
			if err != nil {
				return Result{}, err
			}
			ratio := float64(p.res.P50) / float64(ref.res.P50)
			res := p.res
			res.Verdict = Pass
			if ratio > maxPageRatio {
				res.Verdict = Fail
			}
			res.Note = fmt.Sprintf("p50 %.2fx the reference's; %s", ratio, res.Note)
			return res, nil
		},
	}
}

// pageCost is a measured page, kept so that every row comparing with it
// uses the same figure.
type pageCost struct{ res Result }

func measurePage(ctx context.Context, env *Env, fleet, page int) (pageCost, error) {
	return Memo(env, fmt.Sprintf("page/%d/%d", fleet, page), func() (pageCost, error) {
		srv, err := seededFleet(ctx, env, fleet)
		if err != nil {
			return pageCost{}, err
		}
		c := env.Client(srv)
		token, err := pageToken(ctx, env, c, fleet, page)
		if err != nil {
			return pageCost{}, err
		}
		want := PageSize
		if page == lastPage(fleet) {
			want = fleet - (page-1)*PageSize
		}
		st, err := Measure(ctx, 1, env.Options().Duration, func(ctx context.Context, _ int) error {
			p, err := c.Query(ctx, listQuery, hub.QueryOptions{PageSize: PageSize, Continuation: token})
			if err != nil {
				return err
			}
			if len(p.Items) != want {
				return fmt.Errorf("page %d of %d devices has %d twins, want %d", page, fleet, len(p.Items), want)
			}
			return nil
		})
		if err != nil {
			return pageCost{}, err
		}
		where := "first page"
		if page > 1 {
			where = fmt.Sprintf("page %s of %s", groupThousands(int64(page)), groupThousands(int64(lastPage(fleet))))
			if page == lastPage(fleet) {
				where += " (the last)"
			}
		}
		return pageCost{Result{
			Measured: ms(st.Mean), Unit: "ms/page", Ops: st.Ops, P50: st.P50, P99: st.P99,
			Note: fmt.Sprintf("%s, %d twins, of %s devices, one client", where, want, groupThousands(int64(fleet))),
		}}, nil
	})
}

// seededFleet is a durable hub holding fleet demo devices, seeded once a
// run. A kept Options.Dir holding it already is reused as it is.
func seededFleet(ctx context.Context, env *Env, fleet int) (*emulator.Server, error) {
	return Memo(env, fmt.Sprintf("fleet/%d", fleet), func() (*emulator.Server, error) {
		name := fmt.Sprintf("fleet-%d", fleet)
		srv, err := env.NewHub(name)
		if err != nil {
			return nil, err
		}
		stats, err := env.Client(srv).Statistics(ctx)
		if err != nil {
			return nil, fmt.Errorf("perf: statistics: %w", err)
		}
		if stats.TotalDeviceCount == int64(fleet) {
			env.Notef("reused the %s-device fleet in %s", groupThousands(int64(fleet)), env.dir)
			return srv, nil
		}
		if stats.TotalDeviceCount != 0 {
			return nil, fmt.Errorf("perf: %s holds %d devices, want 0 or %d", name, stats.TotalDeviceCount, fleet)
		}
		env.Progressf("seeding %s devices into bolt", groupThousands(int64(fleet)))
		start := time.Now()
		if err := srv.Emulator().SeedDevices(fleet, 1); err != nil {
			return nil, err
		}
		took := time.Since(start)
		size := "?"
		if fi, err := os.Stat(filepath.Join(env.dir, name, "hub.db")); err == nil {
			size = fmt.Sprintf("%.0f MB", float64(fi.Size())/1e6)
		}
		env.Notef("seeded %s devices into bolt in %v (%s devices/s; hub.db %s)",
			groupThousands(int64(fleet)), took.Round(10*time.Millisecond),
			groupThousands(int64(float64(fleet)/took.Seconds())), size)
		return srv, ctx.Err()
	})
}

// pageToken returns the continuation token that fetches page of the
// device list, by walking there from the first page as a client would.
func pageToken(ctx context.Context, env *Env, c *hub.Client, fleet, page int) (string, error) {
	token := ""
	start := time.Now()
	for p := 1; p < page; p++ {
		res, err := c.Query(ctx, listQuery, hub.QueryOptions{PageSize: PageSize, Continuation: token})
		if err != nil {
			return "", fmt.Errorf("perf: walking to page %d: page %d: %w", page, p, err)
		}
		if res.Continuation == "" {
			return "", fmt.Errorf("perf: walking to page %d: page %d has no continuation", page, p)
		}
		token = res.Continuation
		if p%1000 == 0 {
			env.Progressf("walked %s of %s pages", groupThousands(int64(p)), groupThousands(int64(page-1)))
		}
	}
	if page > 1 {
		took := time.Since(start)
		env.Notef("walked %s pages of %s devices to reach page %s in %v (%.2f ms/page)",
			groupThousands(int64(page-1)), groupThousands(int64(fleet)), groupThousands(int64(page)),
			took.Round(10*time.Millisecond), ms(took)/float64(page-1))
	}
	return token, nil
}

func lastPage(fleet int) int { return max(1, (fleet+PageSize-1)/PageSize) }

func listName(fleet, page int) string {
	return fmt.Sprintf("device list @%s p%s", shortCount(fleet), groupThousands(int64(page)))
}

// shortCount writes 1000 as 1k and 1000000 as 1M.
func shortCount(n int) string {
	switch {
	case n >= 1_000_000 && n%1_000_000 == 0:
		return strconv.Itoa(n/1_000_000) + "M"
	case n >= 1_000 && n%1_000 == 0:
		return strconv.Itoa(n/1_000) + "k"
	}
	return strconv.Itoa(n)
}

func atLeast(measured, target float64) Verdict {
	if measured >= target {
		return Pass
	}
	return Fail
}
