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

// getStats reads the registry counts kept up to date by every write.
func getStats(tx Tx) (hub.Statistics, error) {
	var s hub.Statistics
	v := tx.Get(keyStats)
	if v == nil {
		return s, nil
	}
	if err := json.Unmarshal(v, &s); err != nil {
		return s, fmt.Errorf("decode statistics: %w", err)
	}
	return s, nil
}

// addStats adds a change in device counts to the stored statistics.
func addStats(tx Tx, delta hub.Statistics) error {
	if delta == (hub.Statistics{}) {
		return nil
	}
	s, err := getStats(tx)
	if err != nil {
		return err
	}
	s.TotalDeviceCount += delta.TotalDeviceCount
	s.EnabledDeviceCount += delta.EnabledDeviceCount
	s.DisabledDeviceCount += delta.DisabledDeviceCount
	b, err := json.Marshal(s)
	if err != nil {
		return err
	}
	return tx.Put(keyStats, b)
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

func sumStats(a, b hub.Statistics) hub.Statistics {
	return hub.Statistics{
		TotalDeviceCount:    a.TotalDeviceCount + b.TotalDeviceCount,
		EnabledDeviceCount:  a.EnabledDeviceCount + b.EnabledDeviceCount,
		DisabledDeviceCount: a.DisabledDeviceCount + b.DisabledDeviceCount,
	}
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
