package emulator

import (
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/hubdesk/hubdesk/hub"
	"github.com/hubdesk/hubdesk/hub/emulator/internal/twindoc"
)

// seedBatch is how many devices one seeding transaction writes: big enough
// that a million devices take seconds, small enough to bound memory.
const seedBatch = 5000

// gatewayEvery makes one device in that many an edge gateway.
const gatewayEvery = 20

// Demo device ids. Sensors are numbered so that the simulator can find them.
const (
	gatewayIDFormat = "gateway-%05d"
	sensorIDFormat  = "sensor-%07d"
)

// gateway is a demo edge device and the tags its sensors inherit.
type gateway struct {
	rec  *deviceRecord
	tags map[string]any
}

// SeedDemo seeds a demo fleet of n devices made from seed, if the registry
// is empty; on a registry with devices it does nothing.
func (e *Emulator) SeedDemo(n int, seed int64) error {
	var stats hub.Statistics
	err := e.store.View(func(tx Tx) error {
		var err error
		stats, err = getStats(tx)
		return err
	})
	if err != nil {
		return fmt.Errorf("emulator: seed: %w", err)
	}
	if stats.TotalDeviceCount > 0 {
		return nil
	}
	return e.SeedDevices(n, seed)
}

// SeedDevices adds n demo devices made from seed, in big transactions, so
// that a registry of a million devices can be built for benchmarks. One
// device in twenty is an edge gateway with $edgeAgent, $edgeHub and custom
// modules; the others are leaf sensors under the gateway before them. Ids
// already present are left alone. The same n and seed give the same fleet,
// keys included.
func (e *Emulator) SeedDevices(n int, seed int64) error {
	rng := rand.New(rand.NewPCG(uint64(seed), 0x5eed))
	now := e.now().UTC()
	var gw gateway
	for start := 0; start < n; start += seedBatch {
		var devices []*deviceRecord
		var modules []*moduleRecord
		for i := start; i < min(start+seedBatch, n); i++ {
			if i%gatewayEvery == 0 {
				gw = demoGateway(rng, i/gatewayEvery, now)
				devices = append(devices, gw.rec)
				modules = append(modules, demoModules(rng, gw.rec, now)...)
				continue
			}
			devices = append(devices, demoSensor(rng, i, gw, now))
		}
		err := e.store.Update(func(tx Tx) error {
			meta, err := getMeta(tx)
			if err != nil {
				return err
			}
			// Copies, as Update may run this more than once.
			for _, d := range devices {
				if tx.Get(deviceKey(d.Device.DeviceID)) != nil {
					continue
				}
				rec := *d
				rec.ETagN += int64(meta.ETagFloor)
				rec.Twin.ETagN += meta.ETagFloor
				if err := putDevice(tx, &rec); err != nil {
					return err
				}
				meta.add(statsOf(&d.Device, 1))
			}
			for _, m := range modules {
				if tx.Get(moduleKey(m.Module.DeviceID, m.Module.ModuleID)) != nil {
					continue
				}
				rec := *m
				rec.ETagN += int64(meta.ETagFloor)
				rec.Twin.ETagN += meta.ETagFloor
				if err := putModule(tx, &rec); err != nil {
					return err
				}
				meta.ModuleCount++
			}
			return putMeta(tx, meta)
		})
		if err != nil {
			return fmt.Errorf("emulator: seed: %w", err)
		}
	}
	return nil
}

// seedAuth is SAS authentication with keys drawn from rng.
func seedAuth(rng *rand.Rand) *hub.AuthenticationMechanism {
	key := func() string {
		var b [32]byte
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return base64.StdEncoding.EncodeToString(b[:])
	}
	return &hub.AuthenticationMechanism{
		Type:           hub.AuthSAS,
		SymmetricKey:   &hub.SymmetricKey{PrimaryKey: key(), SecondaryKey: key()},
		X509Thumbprint: &hub.X509Thumbprint{},
	}
}

func seedGenerationID(rng *rand.Rand) string {
	return fmt.Sprintf("63%016d", rng.Int64N(1e16))
}

// demoTwin builds a twin from tags, desired and reported properties.
func demoTwin(tags, desired, reported map[string]any, now time.Time) twinRecord {
	st := &twinState{
		etagN:    1,
		version:  2,
		tags:     twindoc.New(hub.SectionTags, now),
		desired:  twindoc.New(hub.SectionDesired, now),
		reported: twindoc.New(hub.SectionReported, now),
	}
	if len(tags) > 0 {
		st.tags.Patch(tags, now)
		st.etagN++
		st.version++
	}
	if len(desired) > 0 {
		st.desired.Patch(desired, now)
		st.etagN++
		st.version++
	}
	if len(reported) > 0 {
		st.reported.Patch(reported, now)
		st.version++
	}
	rec, err := st.record()
	if err != nil {
		// Demo values are strings, numbers and booleans: they always encode.
		panic(fmt.Sprintf("emulator: encode demo twin: %v", err))
	}
	return rec
}

func connect(rng *rand.Rand, now time.Time, share float64) (hub.ConnectionState, hub.Time, hub.Time) {
	ago := time.Duration(rng.IntN(72*60)) * time.Minute
	if rng.Float64() < share {
		return hub.Connected, hub.Time{Time: now.Add(-ago)}, hub.Time{Time: now.Add(-time.Duration(rng.IntN(300)) * time.Second)}
	}
	return hub.Disconnected, hub.Time{Time: now.Add(-ago)}, hub.Time{Time: now.Add(-ago)}
}

func demoGateway(rng *rand.Rand, n int, now time.Time) gateway {
	sites := []string{"rotterdam", "lyon", "austin", "osaka", "porto", "gdansk"}
	customers := []string{"contoso", "fabrikam", "northwind", "tailspin", "wingtip"}
	id := fmt.Sprintf(gatewayIDFormat, n)
	gen := seedGenerationID(rng)
	site := sites[n%len(sites)]
	state, stateTime, active := connect(rng, now, 0.85)
	d := hub.Device{
		DeviceID:                   id,
		GenerationID:               gen,
		ConnectionState:            state,
		ConnectionStateUpdatedTime: stateTime,
		LastActivityTime:           active,
		Status:                     hub.StatusEnabled,
		Authentication:             seedAuth(rng),
		Capabilities:               &hub.DeviceCapabilities{IoTEdge: true},
		DeviceScope:                "ms-azure-iot-edge://" + id + "-" + gen,
	}
	tags := map[string]any{
		"site":     site,
		"building": fmt.Sprintf("B%d", 1+rng.IntN(4)),
		"customer": customers[rng.IntN(len(customers))],
		"role":     "gateway",
	}
	reported := map[string]any{
		"os":     map[string]any{"name": "Ubuntu Core", "version": "22"},
		"uptime": rng.IntN(1_000_000),
	}
	return gateway{
		rec:  &deviceRecord{Device: d, ETagN: 1, Twin: demoTwin(tags, nil, reported, now)},
		tags: tags,
	}
}

func demoModules(rng *rand.Rand, gw *deviceRecord, now time.Time) []*moduleRecord {
	id := gw.Device.DeviceID
	mod := func(mid string, tags, desired, reported map[string]any) *moduleRecord {
		m := hub.Module{
			ModuleID:                   mid,
			DeviceID:                   id,
			GenerationID:               seedGenerationID(rng),
			ConnectionState:            gw.Device.ConnectionState,
			ConnectionStateUpdatedTime: gw.Device.ConnectionStateUpdatedTime,
			LastActivityTime:           gw.Device.LastActivityTime,
			Authentication:             seedAuth(rng),
		}
		if hub.IsSystemModuleID(mid) {
			m.ManagedBy = "iotEdge"
		}
		return &moduleRecord{Module: m, ETagN: 1, Twin: demoTwin(tags, desired, reported, now)}
	}
	mods := []*moduleRecord{
		mod("$edgeAgent", nil,
			map[string]any{"schemaVersion": "1.1", "runtime": map[string]any{"type": "docker"}},
			map[string]any{"lastDesiredStatus": map[string]any{"code": 200}}),
		mod("$edgeHub", nil,
			map[string]any{"schemaVersion": "1.1", "storeAndForwardConfiguration": map[string]any{"timeToLiveSecs": 7200}},
			map[string]any{"clients": map[string]any{}}),
		mod("telemetry",
			map[string]any{"pipeline": "hot", "owner": "data-team"},
			map[string]any{"sendInterval": 5 + rng.IntN(55), "batching": rng.IntN(2) == 0},
			map[string]any{"messagesSent": rng.IntN(100000), "status": "running"}),
	}
	if rng.IntN(2) == 0 {
		mods = append(mods, mod("opcua-publisher",
			map[string]any{"protocol": "opcua", "line": fmt.Sprintf("L%d", 1+rng.IntN(6))},
			map[string]any{"publishingInterval": 1000, "endpoint": fmt.Sprintf("opc.tcp://plc-%d:4840", rng.IntN(50))},
			map[string]any{"connectedNodes": rng.IntN(400), "status": "running"}))
	}
	return mods
}

func demoSensor(rng *rand.Rand, n int, gw gateway, now time.Time) *deviceRecord {
	reasons := []string{"decommissioned", "battery replaced", "suspected tampering", "awaiting RMA"}
	id := fmt.Sprintf(sensorIDFormat, n)
	state, stateTime, active := connect(rng, now, 0.6)
	d := hub.Device{
		DeviceID:                   id,
		GenerationID:               seedGenerationID(rng),
		ConnectionState:            state,
		ConnectionStateUpdatedTime: stateTime,
		LastActivityTime:           active,
		Status:                     hub.StatusEnabled,
		Authentication:             seedAuth(rng),
		Capabilities:               &hub.DeviceCapabilities{},
		DeviceScope:                gw.rec.Device.DeviceScope,
		ParentScopes:               []string{gw.rec.Device.DeviceScope},
	}
	if rng.IntN(100) < 8 {
		d.Status = hub.StatusDisabled
		d.StatusReason = reasons[rng.IntN(len(reasons))]
		d.StatusUpdatedTime = hub.Time{Time: now.Add(-time.Duration(rng.IntN(30*24)) * time.Hour)}
		d.ConnectionState = hub.Disconnected
	}
	gwTags := gw.tags
	tags := map[string]any{
		"site":     gwTags["site"],
		"building": gwTags["building"],
		"floor":    rng.IntN(8),
		"customer": gwTags["customer"],
		"kind":     []string{"temperature", "humidity", "vibration", "door"}[rng.IntN(4)],
	}
	desired := map[string]any{"telemetryInterval": 10 * (1 + rng.IntN(6))}
	fw := "1.4.2"
	if rng.IntN(10) == 0 {
		fw = "1.3.9"
	}
	reported := map[string]any{
		"temperature": float64(150+rng.IntN(150)) / 10,
		"battery":     rng.IntN(101),
		"fw":          map[string]any{"version": fw, "state": "current"},
	}
	return &deviceRecord{Device: d, ETagN: 1, Twin: demoTwin(tags, desired, reported, now)}
}
