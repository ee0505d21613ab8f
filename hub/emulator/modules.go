package emulator

import (
	"net/http"
	"time"

	"github.com/hubdesk/hubdesk/hub"
)

// maxModulesPerDevice is how many modules a device may have.
const maxModulesPerDevice = 50

func checkModulePath(q *request) error {
	if err := checkID("Device", q.id); err != nil {
		return err
	}
	return checkID("Module", q.mid)
}

// newModuleRecord is a module created at now, its etags counting on from
// the store's etag floor (see registryMeta).
func newModuleRecord(id, mid, genID string, now time.Time, floor uint64) *moduleRecord {
	return &moduleRecord{
		Module: hub.Module{
			ModuleID:        mid,
			DeviceID:        id,
			GenerationID:    genID,
			ConnectionState: hub.Disconnected,
		},
		ETagN: int64(floor) + 1,
		Twin:  newTwinRecord(now, floor),
	}
}

func (e *Emulator) showModule(q *request) (response, error) {
	if err := checkModulePath(q); err != nil {
		return response{}, err
	}
	var m hub.Module
	err := e.store.View(func(tx Tx) error {
		rec, err := getModule(tx, q.id, q.mid)
		if err != nil {
			return err
		}
		if rec == nil {
			return moduleNotFound(q.id, q.mid)
		}
		m = rec.Module
		return nil
	})
	if err != nil {
		return response{}, err
	}
	return response{status: http.StatusOK, body: m, etag: m.ETag}, nil
}

// listModules returns the module identities of a device; an unknown
// device is 404 DeviceNotFound (choice).
func (e *Emulator) listModules(q *request) (response, error) {
	if err := checkID("Device", q.id); err != nil {
		return response{}, err
	}
	modules := []hub.Module{}
	err := e.store.View(func(tx Tx) error {
		if tx.Get(deviceKey(q.id)) == nil {
			return deviceNotFound(q.id)
		}
		return ascendRecords(tx, modulePrefix(q.id), decodeModule, func(rec *moduleRecord) bool {
			modules = append(modules, rec.Module)
			return true
		})
	})
	if err != nil {
		return response{}, err
	}
	return ok(modules), nil
}

// putModule creates or updates a module identity with the rules of devices.
func (e *Emulator) putModule(q *request) (response, error) {
	if err := checkModulePath(q); err != nil {
		return response{}, err
	}
	in, err := decodeIdentity(q.body, true)
	if err != nil {
		return response{}, err
	}
	if in.deviceID != "" && in.deviceID != q.id {
		return response{}, badRequest("The deviceId in the body ('%s') does not match the one in the path ('%s').", in.deviceID, q.id)
	}
	if in.moduleID != "" && in.moduleID != q.mid {
		return response{}, badRequest("The moduleId in the body ('%s') does not match the one in the path ('%s').", in.moduleID, q.mid)
	}
	cond := parseIfMatch(q.Header.Get("If-Match"))
	now := e.now()
	auth := in.auth
	if auth == nil {
		auth = generatedAuth()
	}
	genID := newGenerationID()
	var out hub.Module
	err = e.store.Update(func(tx Tx) error {
		if tx.Get(deviceKey(q.id)) == nil {
			return deviceNotFound(q.id)
		}
		cur, err := getModule(tx, q.id, q.mid)
		if err != nil {
			return err
		}
		meta, err := getMeta(tx)
		if err != nil {
			return err
		}
		rec := cur
		if cur == nil {
			rec = newModuleRecord(q.id, q.mid, genID, now, meta.ETagFloor)
		} else {
			copied := *cur
			rec = &copied
		}
		err = checkIdentityPut("Module", cur != nil, rec, cond,
			func() error { return moduleNotFound(q.id, q.mid) },
			func() error {
				return errorf(http.StatusConflict, hub.CodeModuleAlreadyExists,
					"A module with ID '%s' is already registered on device '%s'.", q.mid, q.id)
			})
		if err != nil {
			return err
		}
		if cur == nil {
			n := 0
			if err := tx.Ascend(modulePrefix(q.id), nil, func(_, _ []byte) bool { n++; return true }); err != nil {
				return err
			}
			if n >= maxModulesPerDevice {
				return errorf(http.StatusRequestEntityTooLarge, hub.CodeTooManyModulesOnDevice,
					"Device '%s' already has the maximum of %d modules.", q.id, maxModulesPerDevice)
			}
			meta.ModuleCount++
			if err := putMeta(tx, meta); err != nil {
				return err
			}
		}
		rec.Module.ManagedBy = in.managedBy
		rec.Module.Authentication = auth
		if err := putModule(tx, rec); err != nil {
			return err
		}
		out = rec.Module
		return nil
	})
	if err != nil {
		return response{}, err
	}
	return response{status: http.StatusOK, body: out, etag: out.ETag}, nil
}

func (e *Emulator) deleteModule(q *request) (response, error) {
	if err := checkModulePath(q); err != nil {
		return response{}, err
	}
	cond := parseIfMatch(q.Header.Get("If-Match"))
	err := e.store.Update(func(tx Tx) error {
		cur, err := getModule(tx, q.id, q.mid)
		if err != nil {
			return err
		}
		if cur == nil {
			if tx.Get(deviceKey(q.id)) == nil {
				return deviceNotFound(q.id)
			}
			return moduleNotFound(q.id, q.mid)
		}
		if cond.etag != "" && cond.etag != cur.Module.ETag {
			return preconditionFailed("Module", cur.Module.ETag, cond.etag)
		}
		meta, err := getMeta(tx)
		if err != nil {
			return err
		}
		meta.deleted(cur)
		if err := putMeta(tx, meta); err != nil {
			return err
		}
		return tx.Delete(moduleKey(q.id, q.mid))
	})
	if err != nil {
		return response{}, err
	}
	return response{status: http.StatusNoContent}, nil
}
