package emulator

import (
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/hubdesk/hubdesk/hub"
)

// testRecords are device and module records covering every optional part of
// the binary form: the demo fleet's kinds and hand-made corners.
func testRecords(t testing.TB) ([]*deviceRecord, []*moduleRecord) {
	t.Helper()
	now := time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.UTC)
	rng := rand.New(rand.NewPCG(1, 2))
	gw := demoGateway(rng, 3, now)
	devices := []*deviceRecord{gw.rec, demoSensor(rng, 61, gw, now), demoSensor(rng, 62, gw, now)}
	modules := demoModules(rng, gw.rec, now)

	bare := newDeviceRecord("bare", "", time.Time{}, 0)
	bare.Device.Capabilities = nil
	bare.ETagN = 1 << 40
	x509 := newDeviceRecord("x509:é", "637000", now, 7)
	x509.Device.Authentication = &hub.AuthenticationMechanism{Type: hub.AuthSelfSigned,
		X509Thumbprint: &hub.X509Thumbprint{PrimaryThumbprint: "AB", SecondaryThumbprint: ""}}
	x509.Device.StatusUpdatedTime = hub.Time{Time: now.Add(-time.Hour)}
	x509.Device.CloudToDeviceMessageCount = -3
	x509.Device.ParentScopes = []string{"a", "", "c"}
	none := newDeviceRecord("none", "1", now, 0)
	none.Device.Authentication = &hub.AuthenticationMechanism{Type: hub.AuthNone}
	none.Device.Status = hub.StatusDisabled
	none.Device.StatusReason = "gone"
	devices = append(devices, bare, x509, none)

	m := newModuleRecord("bare", "m", "", time.Time{}, 1<<50)
	m.Module.CloudToDeviceMessageCount = 7
	modules = append(modules, m)
	return devices, modules
}

func TestRecordRoundTrip(t *testing.T) {
	devices, modules := testRecords(t)
	for _, rec := range devices {
		rec.Device.ETag = identityETag(rec.ETagN)
		// JSON records are what records were before the binary form, so
		// both must decode to the same record.
		legacy, err := json.Marshal(rec)
		if err != nil {
			t.Fatal(err)
		}
		want, err := decodeDevice(legacy)
		if err != nil {
			t.Fatal(err)
		}
		got, err := decodeDevice(encodeDevice(nil, rec))
		if err != nil {
			t.Fatalf("%s: %v", rec.Device.DeviceID, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: binary record decodes to\n%+v\nJSON to\n%+v", rec.Device.DeviceID, got, want)
		}
	}
	for _, rec := range modules {
		rec.Module.ETag = identityETag(rec.ETagN)
		legacy, err := json.Marshal(rec)
		if err != nil {
			t.Fatal(err)
		}
		want, err := decodeModule(legacy)
		if err != nil {
			t.Fatal(err)
		}
		got, err := decodeModule(encodeModule(nil, rec))
		if err != nil {
			t.Fatalf("%s: %v", rec.Module.ModuleID, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: binary record decodes to\n%+v\nJSON to\n%+v", rec.Module.ModuleID, got, want)
		}
	}
}

func TestRecordCorrupt(t *testing.T) {
	devices, modules := testRecords(t)
	d := encodeDevice(nil, devices[4])
	m := encodeModule(nil, modules[0])
	for i := range d {
		if _, err := decodeDevice(d[:i]); err == nil {
			t.Errorf("a device record cut to %d of %d bytes decoded", i, len(d))
		}
	}
	if _, err := decodeDevice(append(d, 0)); err == nil {
		t.Error("a device record with a trailing byte decoded")
	}
	if _, err := decodeDevice(m); err == nil {
		t.Error("a module record decoded as a device")
	}
	if _, err := decodeModule(d); err == nil {
		t.Error("a device record decoded as a module")
	}
}

// TestRecordPrivate checks that a decoded record does not alias the store's
// bytes, which are only lent for the duration of a callback.
func TestRecordPrivate(t *testing.T) {
	devices, _ := testRecords(t)
	b := encodeDevice(nil, devices[0])
	rec, err := decodeDevice(b)
	if err != nil {
		t.Fatal(err)
	}
	want := *rec
	wantTags := string(rec.Twin.Tags)
	for i := range b {
		b[i] = 0
	}
	if rec.Device.DeviceID != want.Device.DeviceID || string(rec.Twin.Tags) != wantTags {
		t.Error("decoded record changed with the stored bytes")
	}
}
