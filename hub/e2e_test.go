package hub_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hubdesk/hubdesk/hub"
	"github.com/hubdesk/hubdesk/hub/emulator"
)

// newEmulator starts an in-memory emulator for one test.
func newEmulator(t *testing.T, opts emulator.Options) *emulator.Server {
	t.Helper()
	srv, err := emulator.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

// newClient returns an iothubowner client of srv built from its connection
// string, as the dashboard builds one.
func newClient(t *testing.T, srv *emulator.Server, opts ...hub.Option) *hub.Client {
	t.Helper()
	c, err := hub.New(srv.ConnectionString(), append([]hub.Option{hub.WithBaseURL(srv.URL())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestDeviceLifecycle(t *testing.T) {
	ctx := context.Background()
	c := newClient(t, newEmulator(t, emulator.Options{}))

	created, err := c.CreateDevice(ctx, &hub.Device{DeviceID: "dev-1"})
	if err != nil {
		t.Fatal(err)
	}
	if created.ETag == "" || created.GenerationID == "" || created.Status != hub.StatusEnabled {
		t.Errorf("created %+v", created)
	}
	if a := created.Authentication; a == nil || a.Type != hub.AuthSAS || a.SymmetricKey == nil || a.SymmetricKey.PrimaryKey == "" {
		t.Errorf("no generated keys: %+v", a)
	}
	if _, err := c.CreateDevice(ctx, &hub.Device{DeviceID: "dev-1"}); !errors.Is(err, hub.ErrAlreadyExists) {
		t.Errorf("second create: %v, want ErrAlreadyExists", err)
	}

	got, err := c.GetDevice(ctx, "dev-1")
	if err != nil {
		t.Fatal(err)
	}
	if got.ETag != created.ETag {
		t.Errorf("get etag %q, create etag %q", got.ETag, created.ETag)
	}

	got.Status, got.StatusReason = hub.StatusDisabled, "maintenance"
	updated, err := c.UpdateDevice(ctx, got, hub.IfMatch(got.ETag))
	if err != nil {
		t.Fatal(err)
	}
	if updated.ETag == got.ETag || updated.Status != hub.StatusDisabled || updated.GenerationID != created.GenerationID {
		t.Errorf("updated %+v (was etag %q)", updated, got.ETag)
	}
	// got.ETag is now stale: the hub must refuse rather than overwrite.
	if _, err := c.UpdateDevice(ctx, got, hub.IfMatch(got.ETag)); !errors.Is(err, hub.ErrPreconditionFailed) {
		t.Errorf("update with stale etag: %v, want ErrPreconditionFailed", err)
	}
	if err := c.DeleteDevice(ctx, "dev-1", hub.IfMatch(got.ETag)); !errors.Is(err, hub.ErrPreconditionFailed) {
		t.Errorf("delete with stale etag: %v, want ErrPreconditionFailed", err)
	}
	if _, err := c.UpdateDevice(ctx, got, hub.Unconditional()); err != nil {
		t.Errorf("unconditional update: %v", err)
	}

	list, err := c.ListDevices(ctx, 10)
	if err != nil || len(list) != 1 || list[0].DeviceID != "dev-1" {
		t.Errorf("ListDevices = %v, %v", list, err)
	}

	if err := c.DeleteDevice(ctx, "dev-1", hub.Unconditional()); err != nil {
		t.Fatal(err)
	}
	_, err = c.GetDevice(ctx, "dev-1")
	if !errors.Is(err, hub.ErrDeviceNotFound) || !errors.Is(err, hub.ErrNotFound) || errors.Is(err, hub.ErrModuleNotFound) {
		t.Errorf("get after delete: %v, want ErrDeviceNotFound", err)
	}
	var he *hub.Error
	if !errors.As(err, &he) || he.Code != hub.CodeDeviceNotFound || he.Op != "GetDevice" || he.TrackingID == "" {
		t.Errorf("error %#v", he)
	}
	if err := c.DeleteDevice(ctx, "dev-1", hub.Unconditional()); !errors.Is(err, hub.ErrDeviceNotFound) {
		t.Errorf("delete twice: %v, want ErrDeviceNotFound", err)
	}
	again, err := c.CreateDevice(ctx, &hub.Device{DeviceID: "dev-1"})
	if err != nil {
		t.Fatal(err)
	}
	if again.GenerationID == created.GenerationID {
		t.Error("re-created device kept its generationId")
	}
}

func TestIDsWithSpecialCharacters(t *testing.T) {
	ctx := context.Background()
	c := newClient(t, newEmulator(t, emulator.Options{}))
	for _, id := range []string{"a+b", "a%2Fb", "x#y?z", "semi;colon", "(p)!*'$@=,:.", "ünïcode"} {
		t.Run(id, func(t *testing.T) {
			_, err := c.CreateDevice(ctx, &hub.Device{DeviceID: id})
			if id == "ünïcode" {
				if !errors.Is(err, hub.ErrBadRequest) {
					t.Errorf("create: %v, want ErrBadRequest", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			d, err := c.GetDevice(ctx, id)
			if err != nil || d.DeviceID != id {
				t.Errorf("GetDevice(%q) = %+v, %v", id, d, err)
			}
			m, err := c.CreateModule(ctx, &hub.Module{DeviceID: id, ModuleID: id})
			if err != nil || m.ModuleID != id || m.DeviceID != id {
				t.Errorf("CreateModule = %+v, %v", m, err)
			}
			tw, err := c.GetModuleTwin(ctx, id, id)
			if err != nil || tw.DeviceID != id || tw.ModuleID != id {
				t.Errorf("GetModuleTwin = %+v, %v", tw, err)
			}
		})
	}
}

func TestModuleLifecycle(t *testing.T) {
	ctx := context.Background()
	c := newClient(t, newEmulator(t, emulator.Options{}))
	if _, err := c.CreateModule(ctx, &hub.Module{DeviceID: "nodev", ModuleID: "m"}); !errors.Is(err, hub.ErrDeviceNotFound) {
		t.Errorf("module on missing device: %v, want ErrDeviceNotFound", err)
	}
	if _, err := c.CreateDevice(ctx, &hub.Device{DeviceID: "d"}); err != nil {
		t.Fatal(err)
	}
	m, err := c.CreateModule(ctx, &hub.Module{DeviceID: "d", ModuleID: "m1", ManagedBy: "me"})
	if err != nil {
		t.Fatal(err)
	}
	if m.ETag == "" || m.ManagedBy != "me" {
		t.Errorf("created %+v", m)
	}
	if _, err := c.CreateModule(ctx, &hub.Module{DeviceID: "d", ModuleID: "m1"}); !errors.Is(err, hub.ErrAlreadyExists) {
		t.Errorf("duplicate module: %v, want ErrAlreadyExists", err)
	}
	if _, err := c.GetModule(ctx, "d", "nope"); !errors.Is(err, hub.ErrModuleNotFound) || errors.Is(err, hub.ErrDeviceNotFound) {
		t.Errorf("missing module: %v, want ErrModuleNotFound only", err)
	}
	m.ManagedBy = "you"
	m2, err := c.UpdateModule(ctx, m, hub.IfMatch(m.ETag))
	if err != nil {
		t.Fatal(err)
	}
	if m2.ManagedBy != "you" || m2.ETag == m.ETag {
		t.Errorf("updated %+v", m2)
	}
	if _, err := c.UpdateModule(ctx, m, hub.IfMatch(m.ETag)); !errors.Is(err, hub.ErrPreconditionFailed) {
		t.Errorf("stale module update: %v, want ErrPreconditionFailed", err)
	}
	if _, err := c.CreateModule(ctx, &hub.Module{DeviceID: "d", ModuleID: "m2"}); err != nil {
		t.Fatal(err)
	}
	list, err := c.ListModules(ctx, "d")
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, m := range list {
		ids = append(ids, m.ModuleID)
	}
	slices.Sort(ids)
	if !slices.Equal(ids, []string{"m1", "m2"}) {
		t.Errorf("modules %v", ids)
	}
	if err := c.DeleteModule(ctx, "d", "m1", hub.IfMatch(m.ETag)); !errors.Is(err, hub.ErrPreconditionFailed) {
		t.Errorf("stale module delete: %v", err)
	}
	if err := c.DeleteModule(ctx, "d", "m1", hub.IfMatch(m2.ETag)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetModuleTwin(ctx, "d", "m1"); !errors.Is(err, hub.ErrNotFound) {
		t.Errorf("twin of deleted module: %v, want ErrNotFound", err)
	}
}

func TestTooManyModules(t *testing.T) {
	ctx := context.Background()
	c := newClient(t, newEmulator(t, emulator.Options{}))
	if _, err := c.CreateDevice(ctx, &hub.Device{DeviceID: "d"}); err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		if _, err := c.CreateModule(ctx, &hub.Module{DeviceID: "d", ModuleID: fmt.Sprint("m", i)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.CreateModule(ctx, &hub.Module{DeviceID: "d", ModuleID: "m50"}); !errors.Is(err, hub.ErrTooLarge) {
		t.Errorf("51st module: %v, want ErrTooLarge", err)
	}
}

func TestTwinWrites(t *testing.T) {
	ctx := context.Background()
	c := newClient(t, newEmulator(t, emulator.Options{}))
	if _, err := c.CreateDevice(ctx, &hub.Device{DeviceID: "d"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateModule(ctx, &hub.Module{DeviceID: "d", ModuleID: "m"}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		get     func() (*hub.Twin, error)
		update  func(patch []byte, cond hub.Condition) (*hub.Twin, error)
		replace func(doc []byte, cond hub.Condition) (*hub.Twin, error)
	}{
		{"device twin",
			func() (*hub.Twin, error) { return c.GetTwin(ctx, "d") },
			func(p []byte, cond hub.Condition) (*hub.Twin, error) { return c.UpdateTwin(ctx, "d", p, cond) },
			func(p []byte, cond hub.Condition) (*hub.Twin, error) { return c.ReplaceTwin(ctx, "d", p, cond) }},
		{"module twin",
			func() (*hub.Twin, error) { return c.GetModuleTwin(ctx, "d", "m") },
			func(p []byte, cond hub.Condition) (*hub.Twin, error) {
				return c.UpdateModuleTwin(ctx, "d", "m", p, cond)
			},
			func(p []byte, cond hub.Condition) (*hub.Twin, error) {
				return c.ReplaceModuleTwin(ctx, "d", "m", p, cond)
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tw, err := tt.get()
			if err != nil {
				t.Fatal(err)
			}
			if tw.ETag != "AAAAAAAAAAE=" {
				t.Errorf("new twin etag %q", tw.ETag)
			}
			patched, err := tt.update([]byte(`{"tags":{"site":"a","floor":2},"properties":{"desired":{"fw":"1.0"}}}`), hub.IfMatch(tw.ETag))
			if err != nil {
				t.Fatal(err)
			}
			if patched.ETag != "AAAAAAAAAAI=" || !jsonHas(t, patched.Tags, "site", "a") || !jsonHas(t, patched.Properties.Desired, "fw", "1.0") {
				t.Errorf("patched etag %q tags %s desired %s", patched.ETag, patched.Tags, patched.Properties.Desired)
			}
			if _, err := tt.update([]byte(`{"tags":{"site":"b"}}`), hub.IfMatch(tw.ETag)); !errors.Is(err, hub.ErrPreconditionFailed) {
				t.Errorf("stale patch: %v, want ErrPreconditionFailed", err)
			}
			removed, err := tt.update([]byte(`{"tags":{"floor":null}}`), hub.IfMatch(patched.ETag))
			if err != nil {
				t.Fatal(err)
			}
			if jsonHas(t, removed.Tags, "floor", nil) || !jsonHas(t, removed.Tags, "site", "a") {
				t.Errorf("after null patch tags %s", removed.Tags)
			}
			replaced, err := tt.replace([]byte(`{"tags":{"only":true}}`), hub.IfMatch(removed.ETag))
			if err != nil {
				t.Fatal(err)
			}
			if jsonHas(t, replaced.Tags, "site", nil) || !jsonHas(t, replaced.Tags, "only", true) || replaced.ETag == removed.ETag {
				t.Errorf("replaced etag %q tags %s", replaced.ETag, replaced.Tags)
			}
			if _, err := tt.replace([]byte(`{"tags":{}}`), hub.IfMatch(removed.ETag)); !errors.Is(err, hub.ErrPreconditionFailed) {
				t.Errorf("stale replace: %v, want ErrPreconditionFailed", err)
			}
			if _, err := tt.update([]byte(`{"tags":{"bad.name":1}}`), hub.Unconditional()); !errors.Is(err, hub.ErrBadRequest) {
				t.Errorf("invalid tag name: %v, want ErrBadRequest", err)
			}
			again, err := tt.get()
			if err != nil || again.ETag != replaced.ETag {
				t.Errorf("get after writes: etag %q, want %q (%v)", again.ETag, replaced.ETag, err)
			}
		})
	}
	if _, err := c.CreateModule(ctx, &hub.Module{DeviceID: "d", ModuleID: "$edgeAgent"}); err != nil {
		t.Fatal(err)
	}
	_, err := c.UpdateModuleTwin(ctx, "d", "$edgeAgent", []byte(`{"tags":{"a":1}}`), hub.Unconditional())
	if !errors.Is(err, hub.ErrForbidden) && !errors.Is(err, hub.ErrBadRequest) {
		t.Errorf("system module twin write: %v, want ErrForbidden or ErrBadRequest", err)
	}
	if _, err := c.GetTwin(ctx, "nobody"); !errors.Is(err, hub.ErrDeviceNotFound) {
		t.Errorf("twin of missing device: %v", err)
	}
}

// jsonHas reports whether obj has key; if want is not nil, also that its
// value is want.
func jsonHas(t *testing.T, obj json.RawMessage, key string, want any) bool {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(obj, &m); err != nil {
		t.Fatalf("not an object: %s", obj)
	}
	v, ok := m[key]
	if want == nil {
		return ok
	}
	return ok && v == want
}

func TestQueryPagingAgainstEmulator(t *testing.T) {
	ctx := context.Background()
	c := newClient(t, newEmulator(t, emulator.Options{}))
	var want []string
	for i := range 25 {
		id := fmt.Sprintf("dev-%02d", i)
		want = append(want, id)
		if _, err := c.CreateDevice(ctx, &hub.Device{DeviceID: id}); err != nil {
			t.Fatal(err)
		}
		site := "north"
		if i%5 == 0 {
			site = "south"
		}
		if _, err := c.UpdateTwin(ctx, id, []byte(`{"tags":{"site":"`+site+`"}}`), hub.Unconditional()); err != nil {
			t.Fatal(err)
		}
	}

	first, err := c.Query(ctx, "SELECT * FROM devices", hub.QueryOptions{PageSize: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(first.Items) != 10 || first.Continuation == "" || first.ItemType != "Twin" {
		t.Fatalf("first page: %d items, continuation %q, type %q", len(first.Items), first.Continuation, first.ItemType)
	}
	pages := 0
	var got []string
	opts := hub.QueryOptions{PageSize: 10}
	for {
		p, err := c.Query(ctx, "SELECT * FROM devices", opts)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		twins, err := p.Twins()
		if err != nil {
			t.Fatal(err)
		}
		for _, tw := range twins {
			got = append(got, tw.DeviceID)
		}
		if p.Continuation == "" {
			break
		}
		opts.Continuation = p.Continuation
	}
	slices.Sort(got)
	if pages != 3 || !slices.Equal(got, want) {
		t.Errorf("%d pages of %v, want 3 pages of %v", pages, got, want)
	}

	var south []string
	for tw, err := range c.QueryTwins(ctx, "SELECT * FROM devices WHERE tags.site = 'south'", 2) {
		if err != nil {
			t.Fatal(err)
		}
		south = append(south, tw.DeviceID)
	}
	slices.Sort(south)
	if !slices.Equal(south, []string{"dev-00", "dev-05", "dev-10", "dev-15", "dev-20"}) {
		t.Errorf("south %v", south)
	}

	count, err := c.Query(ctx, "SELECT COUNT() AS n FROM devices WHERE tags.site = 'north'", hub.QueryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if count.ItemType != "Raw" || len(count.Items) != 1 || !strings.Contains(string(count.Items[0]), `20`) {
		t.Errorf("count: type %q items %s", count.ItemType, count.Items)
	}

	if _, err := c.Query(ctx, "SELECT * FROM devices WHERE", hub.QueryOptions{}); !errors.Is(err, hub.ErrBadRequest) {
		t.Errorf("syntax error: %v, want ErrBadRequest", err)
	}
}

func TestStatisticsAgainstEmulator(t *testing.T) {
	ctx := context.Background()
	c := newClient(t, newEmulator(t, emulator.Options{}))
	for i, status := range []hub.Status{hub.StatusEnabled, hub.StatusEnabled, hub.StatusDisabled} {
		if _, err := c.CreateDevice(ctx, &hub.Device{DeviceID: fmt.Sprint("s", i), Status: status}); err != nil {
			t.Fatal(err)
		}
	}
	s, err := c.Statistics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if *s != (hub.Statistics{TotalDeviceCount: 3, EnabledDeviceCount: 2, DisabledDeviceCount: 1}) {
		t.Errorf("statistics %+v", s)
	}
}

func TestAuthAgainstEmulator(t *testing.T) {
	ctx := context.Background()
	srv := newEmulator(t, emulator.Options{})

	cs, err := hub.ParseConnectionString(srv.ConnectionString())
	if err != nil {
		t.Fatal(err)
	}
	cs.SharedAccessKey = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
	wrong, err := hub.New(cs.Secret(), hub.WithBaseURL(srv.URL()))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := wrong.Statistics(ctx); !errors.Is(err, hub.ErrUnauthorized) {
		t.Errorf("wrong key: %v, want ErrUnauthorized", err)
	}

	reader, err := hub.New(srv.Emulator().PolicyConnectionString(srv.HostName(), emulator.PolicyRegistryRead), hub.WithBaseURL(srv.URL()))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reader.Statistics(ctx); err != nil {
		t.Errorf("registryRead statistics: %v", err)
	}
	if _, err := reader.CreateDevice(ctx, &hub.Device{DeviceID: "d"}); !errors.Is(err, hub.ErrUnauthorized) {
		t.Errorf("registryRead create: %v, want ErrUnauthorized", err)
	}
}

func TestFaultsAgainstEmulator(t *testing.T) {
	ctx := context.Background()
	t.Run("throttled", func(t *testing.T) {
		srv := newEmulator(t, emulator.Options{ThrottleRate: 1, RetryAfter: 30 * time.Second})
		c := newClient(t, srv, hub.WithRetry(3, time.Millisecond))
		start := time.Now()
		_, err := c.GetDevice(ctx, "d")
		var he *hub.Error
		if !errors.Is(err, hub.ErrThrottled) || !errors.As(err, &he) || he.RetryAfter != 30*time.Second {
			t.Errorf("err = %#v, want ErrThrottled with RetryAfter 30s", err)
		}
		if time.Since(start) > 5*time.Second {
			t.Error("waited although Retry-After exceeds the cap")
		}
	})
	t.Run("unavailable", func(t *testing.T) {
		srv := newEmulator(t, emulator.Options{UnavailableRate: 1, RetryAfter: time.Second})
		c := newClient(t, srv, hub.WithRetry(2, time.Millisecond))
		start := time.Now()
		if _, err := c.Statistics(ctx); !errors.Is(err, hub.ErrServer) {
			t.Errorf("err = %v, want ErrServer", err)
		}
		if waited := time.Since(start); waited < time.Second {
			t.Errorf("retried after %v, want the Retry-After of 1s honoured", waited)
		}
	})
}

func TestServerClientHelper(t *testing.T) {
	srv := newEmulator(t, emulator.Options{SeedDemo: 3})
	s, err := srv.Client().Statistics(context.Background())
	if err != nil || s.TotalDeviceCount != 3 {
		t.Errorf("Statistics = %+v, %v", s, err)
	}
}
