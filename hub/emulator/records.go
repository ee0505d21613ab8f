package emulator

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/hubdesk/hubdesk/hub"
)

// Record layout in the Store. Device ids never contain NUL, so NUL separates
// key parts and a device's modules sort together right after each other.
//
//	d\x00{deviceId}                device identity and twin (deviceRecord)
//	m\x00{deviceId}\x00{moduleId}  module identity and twin (moduleRecord)
//	x\x00stats                     registry counts (hub.Statistics)
//	x\x00policies                  shared access policy keys
var (
	prefixDevice = []byte("d\x00")
	prefixModule = []byte("m\x00")
	keyStats     = []byte("x\x00stats")
	keyPolicies  = []byte("x\x00policies")
)

func deviceKey(id string) []byte {
	return append(append(make([]byte, 0, len(prefixDevice)+len(id)), prefixDevice...), id...)
}

func moduleKey(id, mid string) []byte {
	k := make([]byte, 0, len(prefixModule)+len(id)+1+len(mid))
	return append(append(append(append(k, prefixModule...), id...), 0), mid...)
}

// modulePrefix is the key prefix of all modules of device id.
func modulePrefix(id string) []byte {
	k := make([]byte, 0, len(prefixModule)+len(id)+1)
	return append(append(append(k, prefixModule...), id...), 0)
}

// deviceRecord is a device identity with its twin, stored as one value so a
// twin read or a query visits one key.
type deviceRecord struct {
	Device hub.Device `json:"d"`
	ETagN  int64      `json:"n"`
	Twin   twinRecord `json:"t"`
}

// moduleRecord is a module identity with its twin.
type moduleRecord struct {
	Module hub.Module `json:"m"`
	ETagN  int64      `json:"n"`
	Twin   twinRecord `json:"t"`
}

func getDevice(tx Tx, id string) (*deviceRecord, error) {
	v := tx.Get(deviceKey(id))
	if v == nil {
		return nil, nil
	}
	return decodeDevice(v)
}

func decodeDevice(v []byte) (*deviceRecord, error) {
	if isLegacyRecord(v) {
		return decodeLegacyDevice(v)
	}
	return decodeBinaryDevice(v)
}

func putDevice(tx Tx, rec *deviceRecord) error {
	rec.Device.ETag = identityETag(rec.ETagN)
	return tx.Put(deviceKey(rec.Device.DeviceID), encodeDevice(nil, rec))
}

func getModule(tx Tx, id, mid string) (*moduleRecord, error) {
	v := tx.Get(moduleKey(id, mid))
	if v == nil {
		return nil, nil
	}
	return decodeModule(v)
}

func decodeModule(v []byte) (*moduleRecord, error) {
	if isLegacyRecord(v) {
		return decodeLegacyModule(v)
	}
	return decodeBinaryModule(v)
}

func putModule(tx Tx, rec *moduleRecord) error {
	rec.Module.ETag = identityETag(rec.ETagN)
	return tx.Put(moduleKey(rec.Module.DeviceID, rec.Module.ModuleID), encodeModule(nil, rec))
}

// identityETag is the hub's identity etag: base64 of the counter's decimal text.
func identityETag(n int64) string {
	return base64.StdEncoding.EncodeToString([]byte(strconv.FormatInt(n, 10)))
}

// twinETag is the hub's twin etag: base64 of the counter as 8 big-endian bytes.
func twinETag(n uint64) string {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], n)
	return base64.StdEncoding.EncodeToString(b[:])
}

// registryMeta is the record at keyStats: the device counts the hub
// reports and what the emulator keeps besides, each changed in the
// transaction of the write that changes it.
type registryMeta struct {
	hub.Statistics
	// ModuleCount counts module identities, so that an unfiltered
	// SELECT COUNT() FROM devices.modules reads one record.
	ModuleCount int64 `json:"moduleCount"`
	// ModulesCounted is set once ModuleCount is right: stores written
	// before it existed are counted once when opened (see countModules).
	ModulesCounted bool `json:"modulesCounted,omitempty"`
	// ETagFloor is at least every etag counter, identity or twin, of every
	// identity deleted so far. New identities and twins count on from
	// above it, so a device deleted and created again never shows an etag
	// a client may still hold from before.
	ETagFloor uint64 `json:"etagFloor,omitempty"`
}

// getMeta reads the registry's counts and counters.
func getMeta(tx Tx) (registryMeta, error) {
	var m registryMeta
	v := tx.Get(keyStats)
	if v == nil {
		return m, nil
	}
	if err := json.Unmarshal(v, &m); err != nil {
		return m, fmt.Errorf("decode statistics: %w", err)
	}
	return m, nil
}

// putMeta stores the registry's counts and counters.
func putMeta(tx Tx, m registryMeta) error {
	b, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("encode statistics: %w", err)
	}
	return tx.Put(keyStats, b)
}

// getStats reads the device counts kept up to date by every write.
func getStats(tx Tx) (hub.Statistics, error) {
	m, err := getMeta(tx)
	return m.Statistics, err
}

// add adds a change in device counts.
func (m *registryMeta) add(delta hub.Statistics) {
	m.TotalDeviceCount += delta.TotalDeviceCount
	m.EnabledDeviceCount += delta.EnabledDeviceCount
	m.DisabledDeviceCount += delta.DisabledDeviceCount
}

// deleted counts out a deleted module or device and keeps its etag
// counters below the floor.
func (m *registryMeta) deleted(rec identityRecord) {
	etagN, tw := rec.counters()
	m.ETagFloor = max(m.ETagFloor, uint64(max(etagN, 0)), tw)
	if d, ok := rec.(*deviceRecord); ok {
		m.add(statsOf(&d.Device, -1))
	} else {
		m.ModuleCount--
	}
}

// identityRecord is a stored device or module, as the code that treats
// both alike sees it.
type identityRecord interface {
	// storedTwin is the record's twin, to change in place.
	storedTwin() *twinRecord
	// hubTwin is the twin as the hub returns it.
	hubTwin() (hub.Twin, error)
	// counters are the identity and twin etag counters.
	counters() (etagN int64, twinETagN uint64)
	// nextETag counts an update of the identity.
	nextETag()
	put(tx Tx) error
}

func (rec *deviceRecord) storedTwin() *twinRecord    { return &rec.Twin }
func (rec *deviceRecord) hubTwin() (hub.Twin, error) { return deviceTwin(rec) }
func (rec *deviceRecord) counters() (int64, uint64)  { return rec.ETagN, rec.Twin.ETagN }
func (rec *deviceRecord) nextETag()                  { rec.ETagN++ }
func (rec *deviceRecord) put(tx Tx) error            { return putDevice(tx, rec) }
func (rec *moduleRecord) storedTwin() *twinRecord    { return &rec.Twin }
func (rec *moduleRecord) hubTwin() (hub.Twin, error) { return moduleTwin(rec) }
func (rec *moduleRecord) counters() (int64, uint64)  { return rec.ETagN, rec.Twin.ETagN }
func (rec *moduleRecord) nextETag()                  { rec.ETagN++ }
func (rec *moduleRecord) put(tx Tx) error            { return putModule(tx, rec) }

// getIdentity reads the device id, or its module mid when mid is not
// empty; a missing one is the hub's DeviceNotFound or ModuleNotFound.
func getIdentity(tx Tx, id, mid string) (identityRecord, error) {
	if mid == "" {
		rec, err := getDevice(tx, id)
		if err == nil && rec == nil {
			return nil, deviceNotFound(id)
		}
		return rec, err
	}
	rec, err := getModule(tx, id, mid)
	if err != nil {
		return nil, err
	}
	if rec == nil {
		if tx.Get(deviceKey(id)) == nil {
			return nil, deviceNotFound(id)
		}
		return nil, moduleNotFound(id, mid)
	}
	return rec, nil
}

// statsOf is a single device's contribution to the statistics.
func statsOf(d *hub.Device, sign int64) hub.Statistics {
	s := hub.Statistics{TotalDeviceCount: sign}
	if d.Status == hub.StatusDisabled {
		s.DisabledDeviceCount = sign
	} else {
		s.EnabledDeviceCount = sign
	}
	return s
}

// countModules counts the modules of a store written before the meta
// record counted them, once.
func countModules(s Store) error {
	var m registryMeta
	err := s.View(func(tx Tx) error {
		var err error
		m, err = getMeta(tx)
		return err
	})
	if err != nil || m.ModulesCounted {
		return err
	}
	return s.Update(func(tx Tx) error {
		n := int64(0)
		if err := tx.Ascend(prefixModule, nil, func(_, _ []byte) bool { n++; return true }); err != nil {
			return err
		}
		m, err := getMeta(tx)
		if err != nil {
			return err
		}
		m.ModuleCount, m.ModulesCounted = n, true
		return putMeta(tx, m)
	})
}

// ascendRecords decodes each record under prefix in key order and passes it
// to fn while fn returns true; the first decoding error stops the walk.
func ascendRecords[R any](tx Tx, prefix []byte, decode func([]byte) (R, error), fn func(R) bool) error {
	var derr error
	err := tx.Ascend(prefix, nil, func(_, v []byte) bool {
		rec, err := decode(v)
		if err != nil {
			derr = err
			return false
		}
		return fn(rec)
	})
	if err != nil {
		return err
	}
	return derr
}
