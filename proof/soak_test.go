package proof

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// sample is the process at one moment of the soak, after a collection.
type sample struct {
	goroutines int
	heapInuse  uint64
}

func takeSample() sample {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return sample{goroutines: runtime.NumGoroutine(), heapInuse: m.HeapInuse}
}

// soakPages are the pages the soak's people browse; %s is their sensor.
var soakPages = []string{
	"/",
	"/devices?size=50",
	"/devices?q=gateway",
	"/devices/%s",
	"/devices/%s/twin",
	"/devices/gateway-00000/modules/telemetry",
	"/devices/gateway-00000/modules/telemetry/twin",
	"/devices/%s/history",
	"/audit",
}

// TestSoak browses and edits through the dashboard with several sessions
// for a while (the dashboard, the hub and its simulator all run in this
// process) and checks that neither goroutines nor the heap grow, and that
// the goroutines are back to where they started once the browsers close
// their connections.
func TestSoak(t *testing.T) {
	run, sessions := size(10*time.Second, 3*time.Minute), 4
	d := newDashboard(t, dashboardOptions{seedDemo: 200, simulate: true, editors: sessions})
	ctx := context.Background()
	browsers := make([]*browser, sessions)
	for i := range browsers {
		browsers[i] = newBrowser(d.url, i)
		if err := browsers[i].signIn(ctx, editorName(i)); err != nil {
			t.Fatal(err)
		}
	}
	closeConns := func() {
		for _, b := range browsers {
			b.close()
		}
		d.hubConns.CloseIdleConnections()
		http.DefaultTransport.(*http.Transport).CloseIdleConnections()
	}
	// Warm up: every page once, one edit, so that caches and pools exist
	// before the baseline is taken.
	for i, b := range browsers {
		for _, p := range soakPages {
			if _, err := b.get(ctx, soakPath(p, i)); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := soakEdit(ctx, b, i, 0); err != nil {
			t.Fatal(err)
		}
	}
	closeConns()
	time.Sleep(200 * time.Millisecond)
	baseline := takeSample()

	var pages, edits, conflicts atomic.Int64
	stop := make(chan struct{})
	errs := make(chan error, sessions)
	var wg sync.WaitGroup
	for i, b := range browsers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(i), 5))
			for n := 1; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				if rng.IntN(10) == 0 {
					saved, err := soakEdit(ctx, b, i, n)
					if err != nil {
						errs <- err
						return
					}
					edits.Add(1)
					if !saved {
						conflicts.Add(1)
					}
					continue
				}
				if _, err := b.get(ctx, soakPath(soakPages[rng.IntN(len(soakPages))], i)); err != nil {
					errs <- err
					return
				}
				pages.Add(1)
			}
		})
	}
	var samples []sample
	began := time.Now()
	tick := time.NewTicker(time.Second)
	for time.Since(began) < run {
		<-tick.C
		samples = append(samples, takeSample())
	}
	tick.Stop()
	close(stop)
	wg.Wait()
	took := time.Since(began)
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	t.Logf("%d sessions for %s: %d pages (%s), %d edits saved, %d refused with a conflict",
		sessions, took.Round(time.Millisecond), pages.Load(), rate(int(pages.Load()), took), edits.Load()-conflicts.Load(), conflicts.Load())
	var gs, hs []string
	for _, s := range samples {
		gs = append(gs, fmt.Sprint(s.goroutines))
		hs = append(hs, fmt.Sprintf("%.1f", float64(s.heapInuse)/(1<<20)))
	}
	t.Logf("baseline: %d goroutines, %.1f MiB heap in use", baseline.goroutines, float64(baseline.heapInuse)/(1<<20))
	t.Logf("goroutines per second: %s", strings.Join(gs, " "))
	t.Logf("heap in use per second (MiB): %s", strings.Join(hs, " "))

	// Growth: the last third of the run against the first, after a
	// warm-up of a fifth, with bounds generous enough for two busy cores.
	warm := samples[len(samples)/5:]
	third := len(warm) / 3
	early, late := mean(warm[:third]), mean(warm[len(warm)-third:])
	t.Logf("first third: %.1f goroutines, %.1f MiB; last third: %.1f goroutines, %.1f MiB",
		early.goroutines, early.heap/(1<<20), late.goroutines, late.heap/(1<<20))
	if late.goroutines > early.goroutines+20 {
		t.Errorf("goroutines grew from %.1f to %.1f on average", early.goroutines, late.goroutines)
	}
	if late.heap > early.heap*1.5+4<<20 {
		t.Errorf("heap in use grew from %.1f to %.1f MiB on average", early.heap/(1<<20), late.heap/(1<<20))
	}

	// Back to the baseline once the browsers have gone.
	closeConns()
	deadline := time.Now().Add(10 * time.Second)
	after := takeSample()
	for after.goroutines > baseline.goroutines+2 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
		closeConns()
		after = takeSample()
	}
	t.Logf("after the run, connections closed: %d goroutines (baseline %d), %.1f MiB heap in use",
		after.goroutines, baseline.goroutines, float64(after.heapInuse)/(1<<20))
	if after.goroutines > baseline.goroutines+2 {
		buf := make([]byte, 1<<20)
		t.Errorf("%d goroutines after the run, %d before:\n%s", after.goroutines, baseline.goroutines, buf[:runtime.Stack(buf, true)])
	}
}

func soakPath(p string, session int) string {
	if !strings.Contains(p, "%s") {
		return p
	}
	return fmt.Sprintf(p, fmt.Sprintf("sensor-%07d", session+1))
}

// soakEdit sets tags.soak of the session's sensor's twin to n through the
// editor, review and save; saved is false if the save met a conflict.
func soakEdit(ctx context.Context, b *browser, session, n int) (saved bool, err error) {
	u := soakPath("/devices/%s/twin", session)
	p, err := b.get(ctx, u)
	if err != nil {
		return false, err
	}
	f, err := formFor(p.body, u+"/review")
	if err != nil {
		return false, err
	}
	tags := map[string]any{}
	if err := json.Unmarshal([]byte(f.Get("tags")), &tags); err != nil {
		return false, fmt.Errorf("%s: tags: %w", u, err)
	}
	tags["soak"] = n
	doc, _ := json.Marshal(tags)
	f.Set("tags", string(doc))
	if p, err = b.post(ctx, u+"/review", f); err != nil {
		return false, err
	}
	if p.status != http.StatusOK {
		return false, fmt.Errorf("review %s: status %d", u, p.status)
	}
	if f, err = formFor(p.body, u+"/save"); err != nil {
		return false, err
	}
	if p, err = b.post(ctx, u+"/save", f); err != nil {
		return false, err
	}
	switch p.status {
	case http.StatusSeeOther:
		return true, nil
	case http.StatusConflict:
		return false, nil
	}
	return false, fmt.Errorf("save %s: status %d", u, p.status)
}

type average struct{ goroutines, heap float64 }

func mean(s []sample) average {
	var a average
	for _, x := range s {
		a.goroutines += float64(x.goroutines)
		a.heap += float64(x.heapInuse)
	}
	n := float64(max(len(s), 1))
	return average{a.goroutines / n, a.heap / n}
}
