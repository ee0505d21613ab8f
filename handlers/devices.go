package handlers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/hubdesk/hubdesk/hub"
	"github.com/hubdesk/hubdesk/storage"
	"github.com/hubdesk/hubdesk/views"
)

// pageSizes are the device list's page sizes; the hub's maximum is 1,000.
var pageSizes = []int{25, 50, 100, 250, 500, 1000}

const defaultPageSize = 50

// recentActivity is how many audit entries the overview shows.
const recentActivity = 10

func (h *Handler) showOverview(c echo.Context) error {
	ctx := c.Request().Context()
	m := views.Overview{Page: h.page(c, "Overview", "overview"), HubName: h.HubName}
	stats, err := h.Hub.Statistics(ctx)
	if err != nil {
		return err
	}
	m.Total, m.Enabled, m.Disabled = stats.TotalDeviceCount, stats.EnabledDeviceCount, stats.DisabledDeviceCount
	var wg sync.WaitGroup
	var errConn, errEdge error
	wg.Add(2)
	go func() { defer wg.Done(); m.Connected, errConn = h.count(ctx, "connectionState = 'Connected'") }()
	go func() { defer wg.Done(); m.Edge, errEdge = h.count(ctx, "capabilities.iotEdge = true") }()
	wg.Wait()
	if errConn != nil || errEdge != nil {
		m.Error = "Some counts could not be loaded from the hub."
		h.Logger.Warn("overview counts", "connected_err", errConn, "edge_err", errEdge)
	}
	recent, _, err := h.DB.ListAudit(ctx, storage.AuditFilter{Limit: recentActivity})
	if err != nil {
		h.Logger.Warn("overview activity", "err", err)
		m.ActivityError = "Recent activity could not be loaded."
	}
	for _, e := range recent {
		m.Recent = append(m.Recent, auditRow(h.Now(), e))
	}
	return render(c, http.StatusOK, views.OverviewPage(m))
}

// count runs SELECT COUNT() over devices matching where ("" for all).
func (h *Handler) count(ctx context.Context, where string) (int64, error) {
	q := "SELECT COUNT() AS n FROM devices"
	if where != "" {
		q += " WHERE " + where
	}
	page, err := h.Hub.Query(ctx, q, hub.QueryOptions{PageSize: 1})
	if err != nil {
		return 0, err
	}
	if len(page.Items) == 0 {
		return 0, nil
	}
	var row struct {
		N int64 `json:"n"`
	}
	if err := json.Unmarshal(page.Items[0], &row); err != nil {
		return 0, fmt.Errorf("count result: %w", err)
	}
	return row.N, nil
}

// deviceListForm is the device list's URL query.
type deviceListForm struct {
	Search     string `query:"q"`
	Status     string `query:"status"`
	Connection string `query:"connection"`
	Edge       string `query:"edge"`
	Tag        string `query:"tag"`
	Where      string `query:"where"`
	Size       int    `query:"size"`
	Cont       string `query:"ct"`
	PageNumber int    `query:"p"`
}

func (h *Handler) listDevices(c echo.Context) error {
	var f deviceListForm
	if err := (&echo.DefaultBinder{}).BindQueryParams(c, &f); err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, "The device list's address is malformed.")
	}
	filter := views.DeviceFilter{
		Search: strings.TrimSpace(f.Search), Status: f.Status, Connection: f.Connection,
		Edge: f.Edge, Tag: strings.TrimSpace(f.Tag), Where: strings.TrimSpace(f.Where), PageSize: f.Size,
	}
	if !validPageSize(filter.PageSize) {
		filter.PageSize = defaultPageSize
	}
	if f.PageNumber < 1 || f.Cont == "" {
		f.PageNumber = 1
	}
	m := views.DeviceList{Page: h.page(c, "Devices", "devices"), Filter: filter, PageSizes: pageSizes, PageNumber: f.PageNumber, Total: -1}
	where, err := deviceWhere(filter)
	if err != nil {
		m.Error = err.Error()
		return render(c, http.StatusUnprocessableEntity, views.DeviceListPage(m))
	}
	m.Query = "SELECT * FROM devices"
	if where != "" {
		m.Query += " WHERE " + where
	}
	ctx := c.Request().Context()
	var total int64 = -1
	var countErr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		total, countErr = h.deviceTotal(ctx, where)
	}()
	page, err := h.Hub.Query(ctx, m.Query, hub.QueryOptions{PageSize: filter.PageSize, Continuation: f.Cont})
	<-done
	if err != nil {
		if msg, ok := queryMistake(err); ok {
			m.Error = msg
			return render(c, http.StatusUnprocessableEntity, views.DeviceListPage(m))
		}
		return err
	}
	if countErr == nil {
		m.Total = total
	}
	twins, err := page.Twins()
	if err != nil {
		return err
	}
	now := h.Now()
	for _, t := range twins {
		m.Rows = append(m.Rows, views.DeviceRow{
			ID:           t.DeviceID,
			URL:          deviceURL(t.DeviceID),
			Status:       string(t.Status),
			Connected:    t.ConnectionState == hub.Connected,
			Edge:         t.IsEdge(),
			LastActivity: ago(now, t.LastActivityTime),
			Tags:         tagSummary(t.Tags),
		})
	}
	base := filterQuery(filter)
	m.FirstURL = "/devices?" + base.Encode()
	if page.Continuation != "" {
		next := filterQuery(filter)
		next.Set("ct", page.Continuation)
		next.Set("p", strconv.Itoa(f.PageNumber+1))
		m.NextURL = "/devices?" + next.Encode()
	}
	return render(c, http.StatusOK, views.DeviceListPage(m))
}

// deviceTotal counts the devices a list shows: the registry statistics for
// an unfiltered list (cheap), a COUNT query otherwise.
func (h *Handler) deviceTotal(ctx context.Context, where string) (int64, error) {
	if where == "" {
		s, err := h.Hub.Statistics(ctx)
		if err != nil {
			return 0, err
		}
		return s.TotalDeviceCount, nil
	}
	return h.count(ctx, where)
}

// queryMistake recognises a query the hub rejected as malformed, which is the
// person's to fix, and returns the hub's explanation.
func queryMistake(err error) (string, bool) {
	var he *hub.Error
	if errors.As(err, &he) && he.StatusCode == http.StatusBadRequest {
		return "The hub rejected the query: " + he.Message, true
	}
	return "", false
}

func validPageSize(n int) bool {
	for _, s := range pageSizes {
		if s == n {
			return true
		}
	}
	return false
}

// filterQuery is the URL query for a filter, without paging.
func filterQuery(f views.DeviceFilter) url.Values {
	v := url.Values{}
	set := func(k, val string) {
		if val != "" {
			v.Set(k, val)
		}
	}
	set("q", f.Search)
	set("status", f.Status)
	set("connection", f.Connection)
	set("edge", f.Edge)
	set("tag", f.Tag)
	set("where", f.Where)
	if f.PageSize != defaultPageSize {
		v.Set("size", strconv.Itoa(f.PageSize))
	}
	return v
}

// tagPath is a dotted tag name: hub names without '.', '$', '#', spaces or
// control characters, joined by dots.
var tagPath = regexp.MustCompile(`^[^.$#\s\x00-\x1f\x7f-\x9f'"=]+(\.[^.$#\s\x00-\x1f\x7f-\x9f'"=]+)*$`)

// deviceWhere builds the WHERE clause of the device list's query from the
// filter, quoting every value the person typed.
func deviceWhere(f views.DeviceFilter) (string, error) {
	var conds []string
	if s := f.Search; s != "" {
		if part, ok := strings.CutPrefix(s, "*"); ok {
			conds = append(conds, "CONTAINS(deviceId, "+quote(part)+")")
		} else {
			conds = append(conds, "STARTSWITH(deviceId, "+quote(s)+")")
		}
	}
	switch f.Status {
	case "":
	case "enabled", "disabled":
		conds = append(conds, "status = "+quote(f.Status))
	default:
		return "", fmt.Errorf("unknown status %q", f.Status)
	}
	switch f.Connection {
	case "":
	case "Connected", "Disconnected":
		conds = append(conds, "connectionState = "+quote(f.Connection))
	default:
		return "", fmt.Errorf("unknown connection state %q", f.Connection)
	}
	switch f.Edge {
	case "":
	case "true", "false":
		conds = append(conds, "capabilities.iotEdge = "+f.Edge)
	default:
		return "", fmt.Errorf("edge must be true or false, not %q", f.Edge)
	}
	if f.Tag != "" {
		key, val, ok := strings.Cut(f.Tag, "=")
		key, val = strings.TrimSpace(key), strings.TrimSpace(val)
		if !ok || !tagPath.MatchString(key) {
			return "", fmt.Errorf("tag filter %q: write it as name=value, for example site.building=B1", f.Tag)
		}
		conds = append(conds, "tags."+key+" = "+literal(val))
	}
	if f.Where != "" {
		conds = append(conds, "("+f.Where+")")
	}
	return strings.Join(conds, " AND "), nil
}

// quote makes s a single-quoted query string literal.
func quote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

// literal is a typed value as a query literal: numbers and booleans as
// themselves, anything else as a string.
func literal(s string) string {
	if s == "true" || s == "false" {
		return s
	}
	if _, err := strconv.ParseFloat(s, 64); err == nil && !strings.ContainsAny(s, "xXnN") {
		return s
	}
	return quote(strings.Trim(s, `'"`))
}

// deviceURL is the dashboard's URL of a device.
func deviceURL(id string) string { return "/devices/" + url.PathEscape(id) }

// tagSummary shows a twin's top-level tags compactly.
func tagSummary(tags json.RawMessage) string {
	var m map[string]json.RawMessage
	if len(tags) == 0 || json.Unmarshal(tags, &m) != nil {
		return ""
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for i, k := range keys {
		if i == 4 {
			b.WriteString(" …")
			break
		}
		if i > 0 {
			b.WriteString(" ")
		}
		v := string(m[k])
		var str string
		if json.Unmarshal(m[k], &str) == nil {
			v = str
		}
		if r := []rune(v); len(r) > 40 {
			v = string(r[:37]) + "…"
		}
		b.WriteString(k + "=" + v)
	}
	return b.String()
}

// ago says how long before now t was, for people.
func ago(now time.Time, t hub.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := now.Sub(t.Time)
	switch {
	case d < 0:
		return "just now"
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return plural(int(d/time.Minute), "minute") + " ago"
	case d < 48*time.Hour:
		return plural(int(d/time.Hour), "hour") + " ago"
	}
	return plural(int(d/(24*time.Hour)), "day") + " ago"
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return strconv.Itoa(n) + " " + unit + "s"
}
