package emulator

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/hubdesk/hubdesk/hub"
	"github.com/hubdesk/hubdesk/hub/emulator/internal/twindoc"
)

// twinRecord is a twin as stored: counters and the three sections in
// twindoc's storage form.
type twinRecord struct {
	ETagN    uint64 `json:"e"`
	Version  int64  `json:"v"`
	Tags     []byte `json:"t"`
	Desired  []byte `json:"d"`
	Reported []byte `json:"r"`
}

// newTwinRecord is the twin of an identity created at now, its etag
// counting on from the store's etag floor (see registryMeta).
func newTwinRecord(now time.Time, floor uint64) twinRecord {
	t := &twinState{
		etagN:    floor + 1,
		version:  2,
		tags:     twindoc.New(hub.SectionTags, now),
		desired:  twindoc.New(hub.SectionDesired, now),
		reported: twindoc.New(hub.SectionReported, now),
	}
	rec, err := t.record()
	if err != nil {
		// Encoding three empty sections cannot fail.
		panic(fmt.Sprintf("emulator: encode empty twin: %v", err))
	}
	return rec
}

// twinState is a decoded twinRecord.
type twinState struct {
	etagN                   uint64
	version                 int64
	tags, desired, reported *twindoc.Section
}

func (r twinRecord) state() (*twinState, error) {
	t := &twinState{etagN: r.ETagN, version: r.Version,
		tags: new(twindoc.Section), desired: new(twindoc.Section), reported: new(twindoc.Section)}
	for _, s := range []struct {
		data []byte
		sec  *twindoc.Section
	}{{r.Tags, t.tags}, {r.Desired, t.desired}, {r.Reported, t.reported}} {
		if err := s.sec.UnmarshalBinary(s.data); err != nil {
			return nil, fmt.Errorf("decode twin: %w", err)
		}
	}
	return t, nil
}

func (t *twinState) record() (twinRecord, error) {
	rec := twinRecord{ETagN: t.etagN, Version: t.version}
	var err error
	if rec.Tags, err = t.tags.MarshalBinary(); err != nil {
		return rec, err
	}
	if rec.Desired, err = t.desired.MarshalBinary(); err != nil {
		return rec, err
	}
	rec.Reported, err = t.reported.MarshalBinary()
	return rec, err
}

// wire fills the twin fields of out from the record, reading its
// sections in place (twindoc.AppendJSONFromBinary): a twin GET builds no
// document. The three sections share one buffer.
func (r twinRecord) wire(out *hub.Twin) error {
	out.ETag = twinETag(r.ETagN)
	out.Version = r.Version
	buf := make([]byte, 0, 2*(len(r.Tags)+len(r.Desired)+len(r.Reported))+512)
	var ends [3]int
	for i, sec := range [][]byte{r.Tags, r.Desired, r.Reported} {
		var err error
		if buf, err = twindoc.AppendJSONFromBinary(buf, bytesString(sec)); err != nil {
			return fmt.Errorf("decode twin: %w", err)
		}
		ends[i] = len(buf)
	}
	buf = buf[:len(buf):len(buf)]
	if tags := buf[:ends[0]]; string(tags) != "{}" {
		out.Tags = tags
	}
	out.Properties.Desired = buf[ends[0]:ends[1]]
	out.Properties.Reported = buf[ends[1]:ends[2]]
	return nil
}

// deviceTwin is the twin of a device as the hub returns it.
func deviceTwin(rec *deviceRecord) (hub.Twin, error) {
	d := &rec.Device
	tw := hub.Twin{
		DeviceID:                  d.DeviceID,
		DeviceETag:                d.ETag,
		Status:                    d.Status,
		StatusReason:              d.StatusReason,
		StatusUpdateTime:          d.StatusUpdatedTime,
		ConnectionState:           d.ConnectionState,
		LastActivityTime:          d.LastActivityTime,
		CloudToDeviceMessageCount: d.CloudToDeviceMessageCount,
		Capabilities:              d.Capabilities,
		DeviceScope:               d.DeviceScope,
		ParentScopes:              d.ParentScopes,
	}
	setTwinAuth(&tw, d.Authentication)
	return tw, rec.Twin.wire(&tw)
}

// moduleTwin is the twin of a module as the hub returns it.
func moduleTwin(rec *moduleRecord) (hub.Twin, error) {
	m := &rec.Module
	tw := hub.Twin{
		DeviceID:                  m.DeviceID,
		ModuleID:                  m.ModuleID,
		DeviceETag:                m.ETag,
		ConnectionState:           m.ConnectionState,
		LastActivityTime:          m.LastActivityTime,
		CloudToDeviceMessageCount: m.CloudToDeviceMessageCount,
	}
	setTwinAuth(&tw, m.Authentication)
	return tw, rec.Twin.wire(&tw)
}

func setTwinAuth(tw *hub.Twin, a *hub.AuthenticationMechanism) {
	tw.AuthenticationType = hub.AuthSAS
	tw.X509Thumbprint = &hub.X509Thumbprint{}
	if a != nil {
		tw.AuthenticationType = a.Type
		if a.X509Thumbprint != nil {
			tw.X509Thumbprint = a.X509Thumbprint
		}
	}
}

// checkTwinPath checks the ids of a device twin route, or of a module twin
// route when the request names a module.
func checkTwinPath(q *request) error {
	if q.mid == "" {
		return checkID("Device", q.id)
	}
	return checkModulePath(q)
}

// showTwin answers GET of a device twin or, on the module routes, a module
// twin.
func (e *Emulator) showTwin(q *request) (response, error) {
	if err := checkTwinPath(q); err != nil {
		return response{}, err
	}
	var tw hub.Twin
	err := e.store.View(func(tx Tx) error {
		rec, err := getIdentity(tx, q.id, q.mid)
		if err != nil {
			return err
		}
		tw, err = rec.hubTwin()
		return err
	})
	if err != nil {
		return response{}, err
	}
	return response{status: http.StatusOK, body: tw, etag: tw.ETag}, nil
}

func (e *Emulator) updateTwin(q *request) (response, error) { return e.writeTwin(q, false) }

func (e *Emulator) replaceTwin(q *request) (response, error) { return e.writeTwin(q, true) }

// writeTwin applies a twin PATCH or PUT to a device twin or, on the module
// routes, a module twin.
func (e *Emulator) writeTwin(q *request, replace bool) (response, error) {
	if err := checkTwinPath(q); err != nil {
		return response{}, err
	}
	w, err := decodeTwinWrite(q.body, replace)
	if err != nil {
		return response{}, err
	}
	cond := parseIfMatch(q.Header.Get("If-Match"))
	now := e.now()
	var tw hub.Twin
	err = e.store.Update(func(tx Tx) error {
		rec, err := getIdentity(tx, q.id, q.mid)
		if err != nil {
			return err
		}
		// The hub keeps the twins of $edgeAgent and $edgeHub to itself:
		// deployments write them. 403 is our choice (SPEC section 3).
		if q.mid != "" && hub.IsSystemModuleID(q.mid) {
			return errorf(http.StatusForbidden, hub.CodeSystemModuleModifyDisallow,
				"The twin of system module '%s' cannot be changed through the service API.", q.mid)
		}
		t := rec.storedTwin()
		if *t, err = w.apply(*t, cond, now); err != nil {
			return err
		}
		if err := rec.put(tx); err != nil {
			return err
		}
		tw, err = rec.hubTwin()
		return err
	})
	if err != nil {
		return response{}, err
	}
	return response{status: http.StatusOK, body: tw, etag: tw.ETag}, nil
}

// twinWrite is a validated twin PATCH or PUT.
type twinWrite struct {
	replace       bool
	tags, desired map[string]any // nil: not written (PATCH only)
}

// decodeTwinWrite reads a twin PATCH or PUT body. Only tags and
// properties.desired are read (names of these members match
// case-insensitively); everything else is ignored, so a client may send
// back the whole twin it got. Both sections are checked before anything is
// applied.
func decodeTwinWrite(body []byte, replace bool) (twinWrite, error) {
	w := twinWrite{replace: replace}
	m, err := members(body)
	if err != nil {
		return w, formatError(err)
	}
	props, err := objectMember(m, "properties")
	if err != nil {
		return w, err
	}
	for _, s := range []struct {
		kind hub.Section
		raw  json.RawMessage
		dst  *map[string]any
	}{{hub.SectionTags, m["tags"], &w.tags}, {hub.SectionDesired, props["desired"], &w.desired}} {
		if isNull(s.raw) {
			if replace {
				*s.dst = map[string]any{}
			}
			continue
		}
		var verr error
		if replace {
			verr = hub.ValidateSection(s.kind, s.raw)
		} else {
			verr = hub.ValidatePatch(s.kind, s.raw)
		}
		if verr != nil {
			return w, twinError(verr)
		}
		if *s.dst, err = twindoc.DecodeObject(s.raw); err != nil {
			return w, twinError(err)
		}
	}
	return w, nil
}

// twinError maps the twin rules' errors to the hub's answers.
func twinError(err error) error {
	var ve *hub.ValidationError
	switch {
	case errors.As(err, &ve):
		return badRequest("%s", ve.Message)
	case errors.Is(err, hub.ErrTwinFormat):
		msg := err.Error()
		if _, after, ok := strings.Cut(msg, ": "); ok {
			msg = after
		}
		return errorf(http.StatusBadRequest, hub.CodeIotHubFormatError, "Invalid twin JSON: %s", msg)
	}
	return err
}

// apply writes w to the stored twin rec if cond allows, checking the size
// limits on the result; on any error nothing changes.
func (w twinWrite) apply(rec twinRecord, cond ifMatch, now time.Time) (twinRecord, error) {
	if cond.etag != "" && cond.etag != twinETag(rec.ETagN) {
		return rec, preconditionFailed("Twin", twinETag(rec.ETagN), cond.etag)
	}
	if w.tags == nil && w.desired == nil {
		return rec, nil
	}
	st, err := rec.state()
	if err != nil {
		return rec, err
	}
	for _, s := range []struct {
		sec *twindoc.Section
		p   map[string]any
	}{{st.tags, w.tags}, {st.desired, w.desired}} {
		if s.p == nil {
			continue
		}
		if w.replace {
			s.sec.Replace(s.p, now)
		} else {
			s.sec.Patch(s.p, now)
		}
		if size, limit := s.sec.Size(), s.sec.Kind().MaxSize(); size > limit {
			return rec, badRequest("The %s section is too large: %d bytes, at most %d.", s.sec.Kind(), size, limit)
		}
		st.version++
	}
	st.etagN++
	return st.record()
}

// writeReported applies a device's reported-property patch: reported
// $version and the twin version go up, the etag does not.
func writeReported(rec twinRecord, patch map[string]any, now time.Time) (twinRecord, error) {
	st, err := rec.state()
	if err != nil {
		return rec, err
	}
	st.reported.Patch(patch, now)
	st.version++
	return st.record()
}
