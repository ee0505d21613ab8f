package emulator

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hubdesk/hubdesk/hub"
	"github.com/hubdesk/hubdesk/hub/emulator/query"
)

// scanFleet is an emulator with a seeded fleet and records that reach the
// corners of the twin document: every authentication kind, arrays, nested
// objects and numbers in tags, and records stored as JSON by older versions.
func scanFleet(t *testing.T) *Emulator {
	t.Helper()
	now := time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.UTC)
	e, err := New(Options{Now: func() time.Time { return now }, OwnerKey: "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	if err := e.SeedDevices(200, 7); err != nil {
		t.Fatal(err)
	}
	odd := newDeviceRecord("odd-1", "1", now, 9)
	odd.Device.Status, odd.Device.StatusReason = hub.StatusDisabled, "broken"
	odd.Device.StatusUpdatedTime = hub.Time{Time: now.Add(-time.Hour)}
	odd.Device.Authentication = &hub.AuthenticationMechanism{Type: hub.AuthSelfSigned,
		X509Thumbprint: &hub.X509Thumbprint{PrimaryThumbprint: "AB12", SecondaryThumbprint: "CD"}}
	odd.Device.ParentScopes = []string{"scope-a", "scope-b"}
	odd.Device.DeviceScope = "scope-a"
	odd.Device.CloudToDeviceMessageCount = 5
	odd.Twin = demoTwin(
		map[string]any{"arr": []any{"a", "b", json.Number("3")}, "obj": map[string]any{"deep": true, "n": json.Number("1.5e2")}, "site": "lyon", "floor": json.Number("-0")},
		map[string]any{"telemetryInterval": json.Number("30"), "list": []any{map[string]any{"x": "y"}}},
		map[string]any{"fw": map[string]any{"version": "2"}, "battery": json.Number("42")}, now)
	bare := newDeviceRecord("odd-2", "2", now, 0)
	bare.Device.Capabilities = nil
	bare.Device.Authentication = &hub.AuthenticationMechanism{Type: hub.AuthNone}
	mod := newModuleRecord("odd-1", "m1", "3", now, 0)
	mod.Module.Authentication = &hub.AuthenticationMechanism{Type: hub.AuthCertificateAuthority}
	legacyDev := newDeviceRecord("legacy-1", "4", now, 0)
	legacyDev.Device.ETag = identityETag(legacyDev.ETagN)
	legacyDev.Twin = demoTwin(map[string]any{"site": "lyon"}, nil, map[string]any{"battery": json.Number("42")}, now)
	legacyMod := newModuleRecord("legacy-1", "old", "5", now, 0)
	legacyMod.Module.ETag = identityETag(legacyMod.ETagN)
	err = e.store.Update(func(tx Tx) error {
		for _, rec := range []identityRecord{odd, bare, mod} {
			if err := rec.put(tx); err != nil {
				return err
			}
		}
		d, _ := json.Marshal(legacyDev)
		m, _ := json.Marshal(legacyMod)
		if err := tx.Put(deviceKey("legacy-1"), d); err != nil {
			return err
		}
		return tx.Put(moduleKey("legacy-1", "old"), m)
	})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// oracleScan is the query path before twinView: every record decoded into
// the map document of twinDoc and matched with query.Match.
func oracleScan(t *testing.T, e *Emulator, qry *query.Query) []string {
	t.Helper()
	prefix := prefixDevice
	if qry.From() == query.Modules {
		prefix = prefixModule
	}
	var keys []string
	err := e.store.View(func(tx Tx) error {
		var derr error
		err := tx.Ascend(prefix, nil, func(k, v []byte) bool {
			row, err := twinDoc(qry.From(), v)
			if err != nil {
				derr = err
				return false
			}
			if qry.Match(row.doc) {
				keys = append(keys, string(k))
			}
			return true
		})
		if err != nil {
			return err
		}
		return derr
	})
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

// queryPaths are paths into every field of device and module twins, with
// steps of the wrong kind and past the end.
var queryPaths = []string{
	"deviceId", "moduleId", "deviceEtag", "etag", "status", "statusReason", "statusUpdateTime",
	"connectionState", "lastActivityTime", "cloudToDeviceMessageCount",
	"capabilities", "capabilities.iotEdge", "capabilities.other", "capabilities[0]", "capabilities.iotEdge.x",
	"deviceScope", "parentScopes", "parentScopes[0]", "parentScopes[1]", "parentScopes[2]", "parentScopes.x",
	"authenticationType", "x509Thumbprint", "x509Thumbprint.primaryThumbprint",
	"x509Thumbprint.secondaryThumbprint", "x509Thumbprint.other", "x509Thumbprint[0]",
	"modelId", "version", "version.x", "nosuch", "deviceId.x", "deviceId[0]",
	"tags", "tags.site", "tags.floor", "tags.kind", "tags.role", "tags.nope", "tags[0]",
	"tags.arr", "tags.arr[0]", "tags.arr[2]", "tags.arr[3]", "tags.arr.x",
	"tags.obj", "tags.obj.deep", "tags.obj.n", "tags.obj.deep.x", "tags.pipeline",
	"properties", "properties[0]", "properties.other", "properties.desired", "properties.reported",
	"properties.desired.$version", "properties.reported.$version", "properties.desired.$version.x",
	"properties.desired.$metadata", "properties.desired.telemetryInterval",
	"properties.desired.list[0].x", "properties.desired.list[0]", "properties.desired.runtime.type",
	"properties.reported.battery", "properties.reported.fw", "properties.reported.fw.version",
	"properties.reported.temperature", "properties.reported.os.name", "properties.reported.status",
}

// queriesFor builds conditions on each path: its type, and comparisons with
// values it has in some twins.
func queriesFor(t *testing.T, e *Emulator, from query.Source) []string {
	t.Helper()
	all, err := query.Parse("SELECT * FROM " + from.String())
	if err != nil {
		t.Fatal(err)
	}
	var docs []map[string]any
	err = e.store.View(func(tx Tx) error {
		prefix := prefixDevice
		if from == query.Modules {
			prefix = prefixModule
		}
		return tx.Ascend(prefix, nil, func(_, v []byte) bool {
			row, err := twinDoc(all.From(), v)
			if err != nil {
				t.Fatal(err)
			}
			docs = append(docs, row.doc)
			return true
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	var qs []string
	for _, p := range queryPaths {
		for _, fn := range []string{"IS_DEFINED", "IS_STRING", "IS_NUMBER", "IS_BOOL", "IS_OBJECT", "IS_ARRAY", "IS_NULL"} {
			qs = append(qs, fmt.Sprintf("%s(%s)", fn, p))
		}
		qs = append(qs, p+" != 'x'", "NOT ("+p+" = 0)", p+" IN ['lyon', 2, true]")
		pq, err := query.Parse("SELECT " + p + " AS v FROM devices")
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		for _, i := range []int{0, 1, 5, 17, len(docs) / 2, len(docs) - 3, len(docs) - 2, len(docs) - 1} {
			v, ok := pq.Project(docs[i])["v"]
			if !ok {
				continue
			}
			switch v.(type) {
			case map[string]any, []any:
				continue
			}
			lit, _ := json.Marshal(v)
			if seen[string(lit)] {
				continue
			}
			seen[string(lit)] = true
			qs = append(qs, fmt.Sprintf("%s = %s", p, lit), fmt.Sprintf("%s >= %s", p, lit), fmt.Sprintf("%s < %s", p, lit))
			if s, ok := v.(string); ok && len(s) > 2 {
				qs = append(qs, fmt.Sprintf("CONTAINS(%s, %q)", p, s[1:len(s)-1]), fmt.Sprintf("STARTSWITH(%s, %q, true)", p, s[:2]))
			}
		}
	}
	return append(qs,
		"etag = deviceEtag", "lastActivityTime > statusUpdateTime", "tags.site = tags.building",
		"properties.reported.$version > properties.desired.$version", "version >= cloudToDeviceMessageCount",
		"status = 'disabled' AND tags.site = 'lyon'", "capabilities.iotEdge = true OR tags.floor > 5",
		"CONTAINS(deviceId, '12')", "STARTSWITH(deviceId, 'gateway-0001')", "CONTAINS(deviceId, 'SENSOR', true)",
		"deviceId IN ['sensor-0000007', 'odd-1', 'legacy-1']", "moduleId IN ['$edgeAgent', 'old']",
		"NOT (tags.site = 'lyon' AND properties.reported.battery > 50)",
	)
}

// TestScanMatchesOracle holds the in-place scan to the document the old
// path built, on every query of a generated set, for devices and modules.
func TestScanMatchesOracle(t *testing.T) {
	e := scanFleet(t)
	for _, from := range []query.Source{query.Devices, query.Modules} {
		qs := queriesFor(t, e, from)
		matchedSome := 0
		for _, where := range qs {
			text := "SELECT * FROM " + from.String() + " WHERE " + where
			qry, err := query.Parse(text)
			if err != nil {
				t.Fatalf("%s: %v", text, err)
			}
			want := oracleScan(t, e, qry)
			var got []string
			err = e.store.View(func(tx Tx) error {
				return scanTwins(tx, qry, prefixOf(qry), nil, func(k, _ []byte) (bool, error) {
					got = append(got, string(k))
					return true, nil
				})
			})
			if err != nil {
				t.Fatalf("%s: %v", text, err)
			}
			if !slices.Equal(got, want) {
				t.Errorf("%s: scan matched %d twins, the document path %d\nscan: %.200q\ndocs: %.200q", text, len(got), len(want), got, want)
			}
			if len(want) > 0 && len(want) < 200 {
				matchedSome++
			}
		}
		t.Logf("%s: %d queries, %d matching some but not all twins", from, len(qs), matchedSome)
		if matchedSome < len(qs)/4 {
			t.Errorf("%s: only %d of %d queries tell twins apart", from, matchedSome, len(qs))
		}
	}
}

func prefixOf(qry *query.Query) []byte {
	if qry.From() == query.Modules {
		return prefixModule
	}
	return prefixDevice
}

// TestCountFromMeta checks the counts an unfiltered COUNT() reads against a
// scan, through creates and deletes of devices and modules.
func TestCountFromMeta(t *testing.T) {
	e := scanFleet(t)
	check := func(when string) {
		t.Helper()
		for _, from := range []query.Source{query.Devices, query.Modules} {
			all, _ := query.Parse("SELECT COUNT() FROM " + from.String())
			scan, _ := query.Parse("SELECT COUNT() FROM " + from.String() + " WHERE IS_DEFINED(deviceId)")
			n, err := e.countTwins(all, prefixOf(all))
			if err != nil {
				t.Fatal(err)
			}
			want, err := e.countTwins(scan, prefixOf(scan))
			if err != nil {
				t.Fatal(err)
			}
			if n != want {
				t.Errorf("%s: COUNT() FROM %s = %d from the stats record, %d by scanning", when, from, n, want)
			}
		}
	}
	// The hand-made records went around the handlers: count them as a
	// store from before module counts would be.
	err := e.store.Update(func(tx Tx) error {
		m, err := getMeta(tx)
		if err != nil {
			return err
		}
		m.TotalDeviceCount += 3
		m.ModulesCounted = false
		return putMeta(tx, m)
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := countModules(e.store); err != nil {
		t.Fatal(err)
	}
	check("after counting")
	for _, c := range []struct{ method, path, body string }{
		{"PUT", "/devices/new-edge", `{"capabilities":{"iotEdge":true}}`},
		{"PUT", "/devices/new-edge/modules/m", `{}`},
		{"DELETE", "/devices/odd-1/modules/m1", ``},
		{"DELETE", "/devices/gateway-00001", ``},
		{"DELETE", "/devices/legacy-1", ``},
	} {
		if code := serveInternal(t, e, c.method, c.path, c.body); code >= 300 {
			t.Fatalf("%s %s: %d", c.method, c.path, code)
		}
		check(c.method + " " + c.path)
	}
}

// serveInternal sends one request to e with owner rights and returns the
// status code.
func serveInternal(t *testing.T, e *Emulator, method, path, body string) int {
	t.Helper()
	tok, err := hub.SignSAS("example.com", PolicyOwner, e.PolicyKey(PolicyOwner), time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest(method, path+"?api-version=2021-04-12", strings.NewReader(body))
	req.Header.Set("Authorization", tok)
	w := httptest.NewRecorder()
	e.ServeHTTP(w, req)
	return w.Code
}

// TestScanAllocates checks that matching a stored twin allocates nothing,
// whatever part of it the condition reads.
func TestScanAllocates(t *testing.T) {
	e := scanFleet(t)
	var raw []byte
	err := e.store.View(func(tx Tx) error {
		raw = append(raw, tx.Get(deviceKey("odd-1"))...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	view := &twinView{from: query.Devices}
	for _, where := range []string{
		"status = 'disabled'", "tags.site = 'lyon' AND tags.arr[2] = 3", "properties.reported.fw.version = '2'",
		"CONTAINS(deviceId, 'odd')", "etag != deviceEtag AND statusUpdateTime > lastActivityTime",
		"properties.desired.$version = 2 AND x509Thumbprint.primaryThumbprint = 'AB12' AND parentScopes[1] = 'scope-b'",
	} {
		qry, err := query.Parse("SELECT COUNT() FROM devices WHERE " + where)
		if err != nil {
			t.Fatal(err)
		}
		if err := view.load(raw); err != nil || !qry.MatchDoc(view) {
			t.Fatalf("%s: no match (%v)", where, err)
		}
		n := testing.AllocsPerRun(50, func() {
			if view.load(raw) != nil || !qry.MatchDoc(view) {
				t.Fatal("no match")
			}
		})
		if n != 0 {
			t.Errorf("%s: %v allocations per twin, want 0", where, n)
		}
	}
}
