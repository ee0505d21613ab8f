package emulator_test

import (
	"net/http"
	"testing"

	"github.com/hubdesk/hubdesk/hub/emulator"
)

// TestETagsAfterRecreate deletes a device with a module and creates both
// again: no identity or twin etag seen before the delete may come back, so
// an If-Match a client kept cannot apply to the new device. With a durable
// store the hub restarts in between, so the floor must be stored.
func TestETagsAfterRecreate(t *testing.T) {
	tests := []struct {
		name    string
		durable bool
	}{
		{"memory", false},
		{"durable with restart", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := emulator.Options{OwnerKey: "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="}
			if tt.durable {
				opts.DataDir = t.TempDir()
			}
			// seen holds the round in which each resource showed each etag.
			seen := map[[2]string]string{}
			// touch writes the device, its module and both twins a few
			// times, records every etag and fails on one a resource showed
			// in an earlier round. Different resources may share etags.
			touch := func(h *testHub, round string) (deviceETag, twinETag string) {
				t.Helper()
				note := func(etag, what string) {
					t.Helper()
					k := [2]string{what, etag}
					if prev, ok := seen[k]; ok && prev != round {
						t.Errorf("%s: etag %s again, first shown in the %s round", what, etag, prev)
					}
					seen[k] = round
				}
				d := h.createDevice("d1", nil)
				note(d["etag"].(string), "/devices/d1")
				m := h.createModule("d1", "m1")
				note(m["etag"].(string), "/devices/d1/modules/m1")
				for range 3 {
					for _, path := range []string{"/devices/d1", "/devices/d1/modules/m1"} {
						r := h.do(call{method: "PUT", path: path, body: map[string]any{}, header: map[string]string{"If-Match": "*"}})
						want(t, r, http.StatusOK, "")
						note(r.obj(t)["etag"].(string), path)
						deviceETag = r.obj(t)["etag"].(string)
					}
					for _, path := range []string{"/twins/d1/modules/m1", "/twins/d1"} {
						r := h.do(call{method: "PATCH", path: path, body: map[string]any{"tags": map[string]any{"n": 1}}})
						want(t, r, http.StatusOK, "")
						note(r.obj(t)["etag"].(string), path)
						twinETag = r.obj(t)["etag"].(string)
					}
				}
				return deviceETag, twinETag
			}
			// The first hub is closed by hand when durable, so not by
			// newTestHub's cleanup.
			srv, err := emulator.NewServer(opts)
			if err != nil {
				t.Fatal(err)
			}
			h := &testHub{t: t, srv: srv}
			_, oldTwin := touch(h, "first")
			oldDevice := h.do(call{method: "GET", path: "/devices/d1"}).obj(t)["etag"].(string)
			want(t, h.do(call{method: "DELETE", path: "/devices/d1"}), http.StatusNoContent, "")
			if tt.durable {
				if err := srv.Close(); err != nil {
					t.Fatal(err)
				}
				h = newTestHub(t, opts)
			} else {
				t.Cleanup(func() { srv.Close() })
			}
			touch(h, "second")
			r := h.do(call{method: "PUT", path: "/devices/d1", body: map[string]any{}, header: map[string]string{"If-Match": `"` + oldDevice + `"`}})
			want(t, r, http.StatusPreconditionFailed, "PreconditionFailed")
			r = h.do(call{method: "PATCH", path: "/twins/d1", body: map[string]any{"tags": map[string]any{"n": 2}}, header: map[string]string{"If-Match": `"` + oldTwin + `"`}})
			want(t, r, http.StatusPreconditionFailed, "PreconditionFailed")
		})
	}
}
