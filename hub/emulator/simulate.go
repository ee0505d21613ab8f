package emulator

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/hubdesk/hubdesk/hub"
)

// simulatedPerTick is how many demo devices the simulator touches per tick.
const simulatedPerTick = 20

// simulate plays the devices of the demo fleet until ctx ends: every
// interval some report new telemetry-like properties, and some connect or
// disconnect. Writes go through the Store like any other, as device writes:
// reported $version and the twin version change, the twin etag does not.
func (e *Emulator) simulate(ctx context.Context, interval time.Duration, seed int64) {
	rng := rand.New(rand.NewPCG(uint64(seed), 0x5117))
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := e.simulateTick(rng); err != nil {
			e.log.Warn("emulator: simulator", "err", err)
		}
	}
}

// simulateTick updates a few demo devices picked at random among the
// numbers the seeding used.
func (e *Emulator) simulateTick(rng *rand.Rand) error {
	var stats hub.Statistics
	if err := e.store.View(func(tx Tx) error {
		var err error
		stats, err = getStats(tx)
		return err
	}); err != nil {
		return err
	}
	if stats.TotalDeviceCount == 0 {
		return nil
	}
	now := e.now()
	for range min(simulatedPerTick, stats.TotalDeviceCount) {
		n := rng.IntN(int(stats.TotalDeviceCount))
		if err := e.simulateDevice(rng, n, now); err != nil {
			return err
		}
	}
	return nil
}

func (e *Emulator) simulateDevice(rng *rand.Rand, n int, now time.Time) error {
	id := fmt.Sprintf(sensorIDFormat, n)
	reported := map[string]any{
		"temperature": json.Number(strconv.FormatFloat(float64(150+rng.IntN(150))/10, 'f', -1, 64)),
		"battery":     rng.IntN(101),
	}
	if n%gatewayEvery == 0 {
		id = fmt.Sprintf(gatewayIDFormat, n/gatewayEvery)
		reported = map[string]any{"uptime": rng.IntN(1_000_000)}
	} else if rng.IntN(10) == 0 {
		reported["fw"] = map[string]any{"state": []string{"current", "downloading", "applying"}[rng.IntN(3)]}
	}
	flip := rng.IntN(8) == 0
	msgs := rng.IntN(100000)
	return e.store.Update(func(tx Tx) error {
		rec, err := getDevice(tx, id)
		if err != nil || rec == nil || rec.Device.Status == hub.StatusDisabled {
			return err
		}
		if flip {
			rec.Device.ConnectionState = map[hub.ConnectionState]hub.ConnectionState{
				hub.Connected: hub.Disconnected, hub.Disconnected: hub.Connected}[rec.Device.ConnectionState]
			rec.Device.ConnectionStateUpdatedTime = hub.Time{Time: now.UTC()}
		}
		if rec.Device.ConnectionState == hub.Connected {
			rec.Device.LastActivityTime = hub.Time{Time: now.UTC()}
		}
		if rec.Twin, err = writeReported(rec.Twin, reported, now); err != nil {
			return err
		}
		if err := putDevice(tx, rec); err != nil {
			return err
		}
		if !rec.Device.IsEdge() {
			return nil
		}
		m, err := getModule(tx, id, "telemetry")
		if err != nil || m == nil {
			return err
		}
		if m.Twin, err = writeReported(m.Twin, map[string]any{"messagesSent": msgs}, now); err != nil {
			return err
		}
		return putModule(tx, m)
	})
}
