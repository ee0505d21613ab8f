package emulator

import (
	"net/http"
	"strconv"
	"time"

	"github.com/hubdesk/hubdesk/hub"
)

// maxListTop is the most devices one list returns.
const maxListTop = 1000

func (e *Emulator) showDevice(q *request) (response, error) {
	if err := checkID("Device", q.id); err != nil {
		return response{}, err
	}
	var d hub.Device
	err := e.store.View(func(tx Tx) error {
		rec, err := getDevice(tx, q.id)
		if err != nil {
			return err
		}
		if rec == nil {
			return deviceNotFound(q.id)
		}
		d = rec.Device
		return nil
	})
	if err != nil {
		return response{}, err
	}
	return response{status: http.StatusOK, body: d, etag: d.ETag}, nil
}

// listDevices returns up to top identities in id order; top outside
// 1..1000 means 1000.
func (e *Emulator) listDevices(q *request) (response, error) {
	top, err := strconv.Atoi(q.URL.Query().Get("top"))
	if err != nil || top < 1 || top > maxListTop {
		top = maxListTop
	}
	devices := make([]hub.Device, 0, min(top, 64))
	err = e.store.View(func(tx Tx) error {
		return ascendRecords(tx, prefixDevice, decodeDevice, func(rec *deviceRecord) bool {
			devices = append(devices, rec.Device)
			return len(devices) < top
		})
	})
	if err != nil {
		return response{}, err
	}
	return ok(devices), nil
}

// putDevice creates or updates a device identity (see SPEC section 3).
func (e *Emulator) putDevice(q *request) (response, error) {
	if err := checkID("Device", q.id); err != nil {
		return response{}, err
	}
	in, err := decodeIdentity(q.body, false)
	if err != nil {
		return response{}, err
	}
	if in.deviceID != "" && in.deviceID != q.id {
		return response{}, badRequest("The deviceId in the body ('%s') does not match the one in the path ('%s').", in.deviceID, q.id)
	}
	cond := parseIfMatch(q.Header.Get("If-Match"))
	now := e.now()
	// Keys are made outside the transaction, which may run more than once.
	auth := in.auth
	if auth == nil {
		auth = generatedAuth()
	}
	genID := newGenerationID()
	systemAuth := [2]*hub.AuthenticationMechanism{generatedAuth(), generatedAuth()}
	var out hub.Device
	err = e.store.Update(func(tx Tx) error {
		cur, err := getDevice(tx, q.id)
		if err != nil {
			return err
		}
		meta, err := getMeta(tx)
		if err != nil {
			return err
		}
		rec := cur
		if cur == nil {
			rec = newDeviceRecord(q.id, genID, now, meta.ETagFloor)
		} else {
			copied := *cur
			rec = &copied
		}
		err = checkIdentityPut("Device", cur != nil, rec, cond,
			func() error { return deviceNotFound(q.id) },
			func() error {
				return errorf(http.StatusConflict, hub.CodeDeviceAlreadyExists,
					"A device with ID '%s' is already registered.", q.id)
			})
		if err != nil {
			return err
		}
		wasEdge := rec.Device.IsEdge()
		applyDeviceInput(rec, in, auth, cur != nil, now)
		if cur == nil || !wasEdge {
			n, err := ensureSystemModules(tx, rec, systemAuth, now, meta.ETagFloor)
			if err != nil {
				return err
			}
			meta.ModuleCount += n
		}
		meta.add(statsOf(&rec.Device, 1))
		if cur != nil {
			meta.add(statsOf(&cur.Device, -1))
		}
		if err := putMeta(tx, meta); err != nil {
			return err
		}
		if err := putDevice(tx, rec); err != nil {
			return err
		}
		out = rec.Device
		return nil
	})
	if err != nil {
		return response{}, err
	}
	return response{status: http.StatusOK, body: out, etag: out.ETag}, nil
}

// newDeviceRecord is a device created at now, its etags counting on from
// the store's etag floor (see registryMeta).
func newDeviceRecord(id, genID string, now time.Time, floor uint64) *deviceRecord {
	return &deviceRecord{
		Device: hub.Device{
			DeviceID:        id,
			GenerationID:    genID,
			ConnectionState: hub.Disconnected,
			Status:          hub.StatusEnabled,
			Capabilities:    &hub.DeviceCapabilities{},
		},
		ETagN: int64(floor) + 1,
		Twin:  newTwinRecord(now, floor),
	}
}

// applyDeviceInput replaces the mutable fields of rec with in.
func applyDeviceInput(rec *deviceRecord, in identityInput, auth *hub.AuthenticationMechanism, update bool, now time.Time) {
	d := &rec.Device
	if update && d.Status != in.status {
		d.StatusUpdatedTime = hub.Time{Time: now.UTC()}
	}
	d.Status = in.status
	d.StatusReason = in.statusReason
	d.Authentication = auth
	d.Capabilities = &hub.DeviceCapabilities{IoTEdge: in.iotEdge}
	d.DeviceScope = in.deviceScope
	if in.iotEdge && d.DeviceScope == "" {
		d.DeviceScope = "ms-azure-iot-edge://" + d.DeviceID + "-" + d.GenerationID
	}
	d.ParentScopes = in.parentScopes
	if !in.iotEdge && d.DeviceScope != "" && len(d.ParentScopes) == 0 {
		// A leaf device's parent is the edge device whose scope it has.
		d.ParentScopes = []string{d.DeviceScope}
	}
}

// ensureSystemModules creates $edgeAgent and $edgeHub for an edge device,
// as the hub does when a device becomes an edge device, and says how many
// it created.
func ensureSystemModules(tx Tx, rec *deviceRecord, auth [2]*hub.AuthenticationMechanism, now time.Time, floor uint64) (int64, error) {
	if !rec.Device.IsEdge() {
		return 0, nil
	}
	n := int64(0)
	for i, mid := range []string{"$edgeAgent", "$edgeHub"} {
		cur, err := getModule(tx, rec.Device.DeviceID, mid)
		if err != nil {
			return n, err
		}
		if cur != nil {
			continue
		}
		m := newModuleRecord(rec.Device.DeviceID, mid, rec.Device.GenerationID+strconv.Itoa(i), now, floor)
		m.Module.Authentication = auth[i]
		if err := putModule(tx, m); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// deleteDevice deletes a device identity with its modules and twins.
func (e *Emulator) deleteDevice(q *request) (response, error) {
	if err := checkID("Device", q.id); err != nil {
		return response{}, err
	}
	cond := parseIfMatch(q.Header.Get("If-Match"))
	err := e.store.Update(func(tx Tx) error {
		cur, err := getDevice(tx, q.id)
		if err != nil {
			return err
		}
		if cur == nil {
			return deviceNotFound(q.id)
		}
		if cond.etag != "" && cond.etag != cur.Device.ETag {
			return preconditionFailed("Device", cur.Device.ETag, cond.etag)
		}
		meta, err := getMeta(tx)
		if err != nil {
			return err
		}
		meta.deleted(cur)
		var keys [][]byte
		err = ascendRecords(tx, modulePrefix(q.id), decodeModule, func(m *moduleRecord) bool {
			meta.deleted(m)
			keys = append(keys, moduleKey(q.id, m.Module.ModuleID))
			return true
		})
		if err != nil {
			return err
		}
		keys = append(keys, deviceKey(q.id))
		for _, k := range keys {
			if err := tx.Delete(k); err != nil {
				return err
			}
		}
		return putMeta(tx, meta)
	})
	if err != nil {
		return response{}, err
	}
	return response{status: http.StatusNoContent}, nil
}

func (e *Emulator) showStatistics(q *request) (response, error) {
	var s hub.Statistics
	err := e.store.View(func(tx Tx) error {
		var err error
		s, err = getStats(tx)
		return err
	})
	if err != nil {
		return response{}, err
	}
	return ok(s), nil
}
