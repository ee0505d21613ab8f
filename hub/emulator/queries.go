package emulator

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/hubdesk/hubdesk/hub"
	"github.com/hubdesk/hubdesk/hub/emulator/internal/twindoc"
	"github.com/hubdesk/hubdesk/hub/emulator/query"
)

// Paging of query results.
const (
	defaultPageSize = 100
	maxPageSize     = 1000
	tokenFormat     = 1
)

// Query response headers.
const (
	headerContinuation = "x-ms-continuation"
	headerMaxItems     = "x-ms-max-item-count"
	headerItemType     = "x-ms-item-type"
)

// queryTwins answers POST /devices/query (SPEC section 7). A continuation
// token holds the key of the last twin returned, so the next page seeks
// straight to it whatever its depth.
func (e *Emulator) queryTwins(q *request) (response, error) {
	m, err := members(q.body)
	if err != nil {
		return response{}, formatError(err)
	}
	text, err := stringMember(m, "query")
	if err != nil {
		return response{}, err
	}
	if strings.TrimSpace(text) == "" {
		return response{}, badRequest("The query is empty.")
	}
	qry, err := query.Parse(text)
	if err != nil {
		var se *query.SyntaxError
		if errors.As(err, &se) {
			return response{}, badRequest("Invalid query: %s", se.Error())
		}
		return response{}, badRequest("Invalid query: %v", err)
	}
	pageSize := defaultPageSize
	if h := q.Header.Get(headerMaxItems); h != "" {
		if n, err := strconv.Atoi(strings.TrimSpace(h)); err == nil {
			pageSize = min(max(n, 1), maxPageSize)
		}
	}
	tok, err := parseContinuation(q.Header.Get(headerContinuation))
	if err != nil {
		return response{}, err
	}

	prefix := prefixDevice
	if qry.From() == query.Modules {
		prefix = prefixModule
	}
	if p, ok := qry.DeviceIDPrefix(); ok {
		prefix = append(append([]byte(nil), prefix...), p...)
	}
	if qry.IsCount() {
		n, err := e.countTwins(qry, prefix)
		if err != nil {
			return response{}, err
		}
		h := http.Header{}
		h.Set(headerItemType, "Raw")
		return response{status: http.StatusOK, header: h,
			body: []map[string]any{{qry.CountAlias(): n}}}, nil
	}

	if top, ok := qry.Top(); ok {
		pageSize = min(pageSize, top-tok.returned)
		if pageSize <= 0 {
			return response{status: http.StatusOK, body: []any{}}, nil
		}
	}
	items := make([]any, 0, min(pageSize, 64))
	var last []byte
	more := false
	err = e.store.View(func(tx Tx) error {
		return scanTwins(tx, qry, prefix, tok.after, func(k, v []byte) (bool, error) {
			if len(items) == pageSize {
				more = true
				return false, nil
			}
			// Only the twins returned are decoded whole.
			if qry.IsProjection() {
				row, err := twinDoc(qry.From(), v)
				if err != nil {
					return false, err
				}
				items = append(items, qry.Project(row.doc))
			} else {
				tw, err := decodeTwin(qry.From(), v)
				if err != nil {
					return false, err
				}
				items = append(items, tw)
			}
			last = append(last[:0], k...)
			return true, nil
		})
	})
	if err != nil {
		return response{}, err
	}
	h := http.Header{}
	h.Set(headerItemType, "Twin")
	if qry.IsProjection() {
		h.Set(headerItemType, "Raw")
	}
	if top, ok := qry.Top(); ok && tok.returned+len(items) >= top {
		more = false
	}
	if more {
		h.Set(headerContinuation, continuation{after: last, returned: tok.returned + len(items)}.String())
	}
	return response{status: http.StatusOK, header: h, body: items}, nil
}

// countTwins counts the twins under prefix that match qry. Without a
// condition on the whole collection, it reads the counts kept by writes.
func (e *Emulator) countTwins(qry *query.Query, prefix []byte) (int, error) {
	n := 0
	err := e.store.View(func(tx Tx) error {
		if !qry.HasCondition() {
			m, err := getMeta(tx)
			if err != nil {
				return err
			}
			if qry.From() == query.Modules {
				n = int(m.ModuleCount)
			} else {
				n = int(m.TotalDeviceCount)
			}
			return nil
		}
		return scanTwins(tx, qry, prefix, nil, func(_, _ []byte) (bool, error) {
			n++
			return true, nil
		})
	})
	return n, err
}

// scanTwins calls fn with each stored twin under prefix, after the key
// after if not nil, that matches qry's condition, while fn returns true.
// Conditions read the records in place through a twinView.
func scanTwins(tx Tx, qry *query.Query, prefix, after []byte, fn func(k, v []byte) (bool, error)) error {
	view := &twinView{from: qry.From()}
	var ferr error
	err := tx.Ascend(prefix, after, func(k, v []byte) bool {
		if ferr = view.load(v); ferr != nil {
			return false
		}
		matched := qry.MatchDoc(view)
		if ferr = view.err; ferr != nil {
			return false
		}
		if !matched {
			return true
		}
		var more bool
		more, ferr = fn(k, v)
		return more && ferr == nil
	})
	if err != nil {
		return err
	}
	if ferr != nil {
		return fmt.Errorf("query: %w", ferr)
	}
	return nil
}

// queryRow is one stored twin as a query sees it: the document WHERE and
// projections read, and a way to build the full twin for SELECT *.
type queryRow struct {
	doc  map[string]any
	twin func() (hub.Twin, error)
}

// twinDoc decodes a stored device or module record into a queryRow. The
// document is built directly from the record rather than through JSON,
// since a query may visit every twin; it has every field of the twin
// except $metadata, which the hub does not let queries filter on either.
func twinDoc(from query.Source, v []byte) (queryRow, error) {
	var row queryRow
	var twin twinRecord
	doc := make(map[string]any, 20)
	var auth *hub.AuthenticationMechanism
	if from == query.Modules {
		rec, err := decodeModule(v)
		if err != nil {
			return row, err
		}
		m := &rec.Module
		doc["deviceId"], doc["moduleId"], doc["deviceEtag"] = m.DeviceID, m.ModuleID, m.ETag
		doc["connectionState"] = string(m.ConnectionState)
		doc["lastActivityTime"] = m.LastActivityTime.String()
		doc["cloudToDeviceMessageCount"] = json.Number(strconv.FormatInt(m.CloudToDeviceMessageCount, 10))
		auth, twin = m.Authentication, rec.Twin
		row.twin = func() (hub.Twin, error) { return moduleTwin(rec) }
	} else {
		rec, err := decodeDevice(v)
		if err != nil {
			return row, err
		}
		d := &rec.Device
		doc["deviceId"], doc["deviceEtag"] = d.DeviceID, d.ETag
		doc["status"], doc["statusReason"] = string(d.Status), d.StatusReason
		doc["statusUpdateTime"] = d.StatusUpdatedTime.String()
		doc["connectionState"] = string(d.ConnectionState)
		doc["lastActivityTime"] = d.LastActivityTime.String()
		doc["cloudToDeviceMessageCount"] = json.Number(strconv.FormatInt(d.CloudToDeviceMessageCount, 10))
		doc["capabilities"] = map[string]any{"iotEdge": d.IsEdge()}
		if d.DeviceScope != "" {
			doc["deviceScope"] = d.DeviceScope
		}
		if len(d.ParentScopes) > 0 {
			ps := make([]any, len(d.ParentScopes))
			for i, p := range d.ParentScopes {
				ps[i] = p
			}
			doc["parentScopes"] = ps
		}
		auth, twin = d.Authentication, rec.Twin
		row.twin = func() (hub.Twin, error) { return deviceTwin(rec) }
	}
	var tw hub.Twin
	setTwinAuth(&tw, auth)
	doc["authenticationType"] = string(tw.AuthenticationType)
	doc["x509Thumbprint"] = map[string]any{
		"primaryThumbprint":   tw.X509Thumbprint.PrimaryThumbprint,
		"secondaryThumbprint": tw.X509Thumbprint.SecondaryThumbprint,
	}
	doc["modelId"] = ""
	st, err := twin.state()
	if err != nil {
		return row, err
	}
	doc["etag"] = twinETag(st.etagN)
	doc["version"] = json.Number(strconv.FormatInt(st.version, 10))
	doc["tags"] = st.tags.Props()
	doc["properties"] = map[string]any{
		"desired":  withVersion(st.desired),
		"reported": withVersion(st.reported),
	}
	row.doc = doc
	return row, nil
}

// decodeTwin decodes a stored device or module record into its twin.
func decodeTwin(from query.Source, v []byte) (hub.Twin, error) {
	if from == query.Modules {
		rec, err := decodeModule(v)
		if err != nil {
			return hub.Twin{}, err
		}
		return moduleTwin(rec)
	}
	rec, err := decodeDevice(v)
	if err != nil {
		return hub.Twin{}, err
	}
	return deviceTwin(rec)
}

// withVersion is a section's properties with its $version beside them.
func withVersion(s *twindoc.Section) map[string]any {
	props := s.Props()
	m := make(map[string]any, len(props)+1)
	for k, v := range props {
		m[k] = v
	}
	m["$version"] = json.Number(strconv.FormatInt(s.Version(), 10))
	return m
}

// continuation is the position of a query page: the key of the last item
// returned and how many were returned so far (for TOP).
type continuation struct {
	after    []byte
	returned int
}

// String is the opaque token sent in x-ms-continuation.
func (c continuation) String() string {
	b := []byte{tokenFormat}
	b = binary.AppendUvarint(b, uint64(c.returned))
	b = append(b, c.after...)
	return base64.RawURLEncoding.EncodeToString(b)
}

func parseContinuation(s string) (continuation, error) {
	var c continuation
	if s = strings.TrimSpace(s); s == "" {
		return c, nil
	}
	bad := badRequest("Invalid continuation token.")
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) < 2 || b[0] != tokenFormat {
		return c, bad
	}
	n, size := binary.Uvarint(b[1:])
	if size <= 0 || n > 1<<31 {
		return c, bad
	}
	c.returned = int(n)
	c.after = b[1+size:]
	if len(c.after) == 0 {
		return c, bad
	}
	return c, nil
}
