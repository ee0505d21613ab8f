package proof

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hubdesk/hubdesk/hub"
)

// childHub is a durable emulator running in a child process.
type childHub struct {
	cmd    *exec.Cmd
	stderr *bytes.Buffer
	hub    *hub.Client
}

// startChildHub runs the test binary as a durable emulator on dir and
// waits until it serves.
func startChildHub(t *testing.T, dir string) (*childHub, time.Duration) {
	t.Helper()
	began := time.Now()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childHubEnv+"="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := &bytes.Buffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &childHub{cmd: cmd, stderr: stderr}
	t.Cleanup(c.kill)
	line := make(chan string, 1)
	go func() {
		s := bufio.NewScanner(out)
		s.Scan()
		line <- s.Text()
	}()
	var ready string
	select {
	case ready = <-line:
	case <-time.After(30 * time.Second):
		t.Fatal("the child hub did not start within 30s")
	}
	f := strings.Fields(ready)
	if len(f) != 3 || f[0] != "ready" {
		c.kill()
		t.Fatalf("the child hub did not open its store: %q\n%s", ready, stderr)
	}
	c.hub, err = hub.New(f[2], hub.WithBaseURL(f[1]), hub.WithRetry(1, 0),
		hub.WithHTTPClient(&http.Client{Timeout: 10 * time.Second}))
	if err != nil {
		t.Fatal(err)
	}
	return c, time.Since(began)
}

// kill ends the child with SIGKILL: no deferred function, no store close.
func (c *childHub) kill() {
	if c.cmd.ProcessState != nil {
		return
	}
	c.cmd.Process.Kill()
	c.cmd.Wait()
}

// crashDevice is what the load knows of one of its devices: the state
// after its last acknowledged write, and the write in flight when the hub
// died, whose fate is unknown.
type crashDevice struct {
	id      string
	exists  bool
	n       int    // tags.n of the twin
	etag    string // the twin's etag, for If-Match
	pending *crashState
}

type crashState struct {
	exists bool
	n      int
}

// crashAcks counts acknowledged writes.
type crashAcks struct{ creates, patches, deletes int }

func (a crashAcks) total() int { return a.creates + a.patches + a.deletes }

// TestCrashDurability kills a durable emulator in a child process with
// SIGKILL at random moments under a write load (creates, If-Match twin
// patches, deletes), restarts it on the same data, and checks that the
// store opens and holds every write it acknowledged: created devices with
// their last acknowledged twin, deleted ones gone, the registry's counts
// matching its devices. A write in flight at the kill may be there or not.
func TestCrashDurability(t *testing.T) {
	kills, workers, perWorker := size(4, 20), 4, 6
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 3))
	devices := make([][]*crashDevice, workers)
	for w := range devices {
		for k := range perWorker {
			devices[w] = append(devices[w], &crashDevice{id: fmt.Sprintf("crash-w%d-d%d", w, k)})
		}
	}
	child, took := startChildHub(t, dir)
	t.Logf("first start: %s", took.Round(time.Millisecond))
	var all crashAcks
	for cycle := range kills {
		ctx, cancel := context.WithCancel(context.Background())
		acks := make([]crashAcks, workers)
		var acked atomic.Int64
		errs := make(chan error, workers)
		var wg sync.WaitGroup
		for w := range workers {
			wrng := rand.New(rand.NewPCG(rng.Uint64(), uint64(w)))
			wg.Go(func() {
				if err := crashLoad(ctx, child.hub, wrng, devices[w], &acks[w], &acked); err != nil {
					errs <- err
				}
			})
		}
		// A random moment, but not before the cycle has some writes to
		// lose.
		began := time.Now()
		time.Sleep(time.Duration(100+rng.IntN(500)) * time.Millisecond)
		for acked.Load() < 20 && time.Since(began) < 10*time.Second {
			time.Sleep(5 * time.Millisecond)
		}
		load := time.Since(began).Round(time.Millisecond)
		child.kill()
		wg.Wait()
		cancel()
		close(errs)
		for err := range errs {
			t.Fatalf("cycle %d: %v", cycle, err)
		}
		var c crashAcks
		for _, a := range acks {
			c.creates += a.creates
			c.patches += a.patches
			c.deletes += a.deletes
		}
		all.creates, all.patches, all.deletes = all.creates+c.creates, all.patches+c.patches, all.deletes+c.deletes

		child, took = startChildHub(t, dir)
		inFlight, applied := 0, 0
		for _, ds := range devices {
			for _, d := range ds {
				p, was, err := checkCrashDevice(child.hub, d)
				if err != nil {
					t.Fatalf("cycle %d: %v", cycle, err)
				}
				if p {
					inFlight++
					if was {
						applied++
					}
				}
			}
		}
		count := checkCrashCounts(t, child.hub, devices)
		t.Logf("cycle %d: killed after %s; %d writes acknowledged (%d creates, %d twin patches, %d deletes), all present after a restart of %s; %d writes in flight (%d applied); %d devices",
			cycle, load, c.total(), c.creates, c.patches, c.deletes, took.Round(time.Millisecond), inFlight, applied, count)
	}
	t.Logf("%d kills: %d acknowledged writes, none lost", kills, all.total())
}

// crashLoad writes to devs until the hub stops answering: creates the
// devices that do not exist, patches the twins of those that do with
// If-Match, and deletes some.
func crashLoad(ctx context.Context, c *hub.Client, rng *rand.Rand, devs []*crashDevice, acks *crashAcks, acked *atomic.Int64) error {
	for ctx.Err() == nil {
		d := devs[rng.IntN(len(devs))]
		var err error
		switch {
		case !d.exists:
			d.pending = &crashState{exists: true}
			_, err = c.CreateDevice(ctx, &hub.Device{DeviceID: d.id})
			if err == nil {
				d.exists, d.n, d.etag = true, 0, ""
				acks.creates++
			}
		case rng.IntN(8) == 0:
			d.pending = &crashState{}
			err = c.DeleteDevice(ctx, d.id, hub.Unconditional())
			if err == nil {
				d.exists = false
				acks.deletes++
			}
		default:
			next := d.n + 1
			d.pending = &crashState{exists: true, n: next}
			cond := hub.IfMatch(d.etag)
			if d.etag == "" {
				cond = hub.Unconditional()
			}
			var tw *hub.Twin
			tw, err = c.UpdateTwin(ctx, d.id, fmt.Appendf(nil, `{"tags":{"n":%d}}`, next), cond)
			if err == nil {
				d.n, d.etag = next, tw.ETag
				acks.patches++
			}
		}
		if err != nil {
			var he *hub.Error
			if errors.As(err, &he) {
				return fmt.Errorf("%s: the hub answered %w", d.id, err)
			}
			// No answer: the hub died with this write in flight.
			return nil
		}
		d.pending = nil
		acked.Add(1)
	}
	return nil
}

// checkCrashDevice compares d on the restarted hub with its last
// acknowledged state, or the state its write in flight would have made,
// and then takes the hub's state as d's.
func checkCrashDevice(c *hub.Client, d *crashDevice) (inFlight, applied bool, err error) {
	ctx := context.Background()
	got := crashState{exists: true}
	tw, err := c.GetTwin(ctx, d.id)
	switch {
	case errors.Is(err, hub.ErrNotFound):
		got = crashState{}
	case err != nil:
		return false, false, fmt.Errorf("%s: %w", d.id, err)
	default:
		var tags struct{ N int }
		if len(tw.Tags) > 0 {
			if err := json.Unmarshal(tw.Tags, &tags); err != nil {
				return false, false, fmt.Errorf("%s: tags %s: %w", d.id, tw.Tags, err)
			}
		}
		got.n = tags.N
	}
	want := crashState{exists: d.exists, n: d.n}
	if !d.exists {
		want.n = 0
	}
	p := d.pending
	d.pending = nil
	switch {
	case got == want:
	case p != nil && got == *p:
		applied = true
	default:
		return false, false, fmt.Errorf("%s after the restart: %+v, want %+v (the last acknowledged write) or %+v (the one in flight)", d.id, got, want, p)
	}
	d.exists, d.n = got.exists, got.n
	if tw != nil {
		d.etag = tw.ETag
	}
	return p != nil, applied, nil
}

// checkCrashCounts checks that the registry's statistics agree with the
// devices it lists, so its counters survived the kill along with the data.
func checkCrashCounts(t *testing.T, c *hub.Client, devices [][]*crashDevice) int {
	t.Helper()
	ctx := context.Background()
	listed, err := c.ListDevices(ctx, 1000)
	if err != nil {
		t.Fatal(err)
	}
	want := 0
	for _, ds := range devices {
		for _, d := range ds {
			if d.exists {
				want++
			}
		}
	}
	st, err := c.Statistics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(listed) != want || int(st.TotalDeviceCount) != want {
		t.Fatalf("after the restart the hub lists %d devices and counts %d, want %d", len(listed), st.TotalDeviceCount, want)
	}
	return want
}
