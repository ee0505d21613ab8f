package handlers

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	jsonpatch "github.com/evanphx/json-patch/v5"
	"github.com/labstack/echo/v4"

	"github.com/hubdesk/hubdesk/hub"
	"github.com/hubdesk/hubdesk/storage"
	"github.com/hubdesk/hubdesk/twinedit"
	"github.com/hubdesk/hubdesk/views"
)

// registerAudit installs the audit trail's pages.
func (h *Handler) registerAudit(viewer, editor, admin *echo.Group) {
	viewer.GET("/audit", h.listAudit)
	viewer.GET("/audit/export.csv", h.exportAuditCSV)
	viewer.GET("/audit/export.json", h.exportAuditJSON)
	viewer.GET("/audit/:id", h.showAuditEntry)
	editor.POST("/audit/:id/revert", h.revertAuditEntry)
	viewer.GET("/devices/:id/history", h.showDeviceHistory)
	viewer.GET("/devices/:id/modules/:mid/history", h.showModuleHistory)
}

// auditPageSizes are the audit log's page sizes; the first is the default.
func auditPageSizes() []int { return []int{50, 100, 500} }

// auditActions are the actions the log's filter offers.
func auditActions() []string {
	return []string{string(storage.AuditTwinUpdate), string(storage.AuditTwinReplace), string(storage.AuditDeviceCreate),
		string(storage.AuditDeviceUpdate), string(storage.AuditDeviceDelete), string(storage.AuditModuleCreate),
		string(storage.AuditModuleDelete), string(storage.AuditKeyReveal), string(storage.AuditAccountCreate),
		string(storage.AuditAccountSetRole), string(storage.AuditAccountDisable), string(storage.AuditAccountEnable),
		string(storage.AuditAccountResetPassword)}
}

// readAuditFilter reads the log's filter from the URL query: the form as
// typed (to show it again) and the storage filter. problem says what is
// wrong with it, "" when nothing is.
func readAuditFilter(c echo.Context) (vf views.AuditFilter, f storage.AuditFilter, problem string) {
	q := c.QueryParams()
	vf = views.AuditFilter{
		Person:   strings.TrimSpace(q.Get("person")),
		DeviceID: strings.TrimSpace(q.Get("device")),
		ModuleID: strings.TrimSpace(q.Get("module")),
		Account:  strings.TrimSpace(q.Get("account")),
		Action:   q.Get("action"),
		Outcome:  q.Get("outcome"),
		From:     strings.TrimSpace(q.Get("from")),
		To:       strings.TrimSpace(q.Get("to")),
	}
	vf.PageSize, _ = strconv.Atoi(q.Get("size"))
	if !slices.Contains(auditPageSizes(), vf.PageSize) {
		vf.PageSize = auditPageSizes()[0]
	}
	f = storage.AuditFilter{Actor: vf.Person, DeviceID: vf.DeviceID, ModuleID: vf.ModuleID, Account: vf.Account, Limit: vf.PageSize}
	f.Before, _ = strconv.ParseInt(q.Get("before"), 10, 64)
	var problems []string
	if vf.Action != "" {
		if !slices.Contains(auditActions(), vf.Action) {
			problems = append(problems, fmt.Sprintf("there is no action %q", vf.Action))
		}
		f.Action = storage.AuditAction(vf.Action)
	}
	if vf.Outcome != "" {
		o, err := storage.ParseAuditOutcome(vf.Outcome)
		if err != nil {
			problems = append(problems, fmt.Sprintf("there is no outcome %q", vf.Outcome))
		}
		f.Outcome = o
	}
	var ok bool
	if f.Since, ok = parseAuditTime(vf.From); !ok {
		problems = append(problems, fmt.Sprintf("%q is not a time like 2026-03-01T14:05", vf.From))
	}
	if f.Until, ok = parseAuditTime(vf.To); !ok {
		problems = append(problems, fmt.Sprintf("%q is not a time like 2026-03-01T14:05", vf.To))
	}
	if problems != nil {
		problem = "The filter was not applied: " + strings.Join(problems, "; ") + "."
	}
	return vf, f, problem
}

// parseAuditTime reads a datetime-local value as UTC; "" is no bound.
func parseAuditTime(s string) (time.Time, bool) {
	if s == "" {
		return time.Time{}, true
	}
	// datetime-local sends minutes, or seconds when the person typed them.
	for _, layout := range []string{"2006-01-02T15:04", "2006-01-02T15:04:05", time.RFC3339} {
		if t, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

// auditQuery is the URL query of a filter, leaving out what a history
// page fixes in its path, so links stay short and shareable.
func auditQuery(vf views.AuditFilter, fixed *views.TwinTarget) url.Values {
	v := url.Values{}
	set := func(k, val string) {
		if val != "" {
			v.Set(k, val)
		}
	}
	set("person", vf.Person)
	if fixed == nil {
		set("device", vf.DeviceID)
	}
	if fixed == nil || fixed.ModuleID == "" {
		set("module", vf.ModuleID)
	}
	if fixed == nil {
		set("account", vf.Account)
	}
	set("action", vf.Action)
	set("outcome", vf.Outcome)
	set("from", vf.From)
	set("to", vf.To)
	if vf.PageSize != auditPageSizes()[0] {
		v.Set("size", strconv.Itoa(vf.PageSize))
	}
	return v
}

func withQuery(path string, v url.Values) string {
	if len(v) == 0 {
		return path
	}
	return path + "?" + v.Encode()
}

// listAudit is the global audit log, newest first.
func (h *Handler) listAudit(c echo.Context) error {
	return h.auditList(c, nil)
}

// showDeviceHistory is a device's history: its identity and twin and those
// of all its modules, as a module is part of its device.
func (h *Handler) showDeviceHistory(c echo.Context) error {
	t := twinTarget{deviceID: pathParam(c, "id")}
	v := t.view()
	return h.auditList(c, &v)
}

// showModuleHistory is a module's history.
func (h *Handler) showModuleHistory(c echo.Context) error {
	t := twinTarget{deviceID: pathParam(c, "id"), moduleID: pathParam(c, "mid")}
	v := t.view()
	return h.auditList(c, &v)
}

// auditList renders a page of the log; target, if set, fixes it to a
// device or module and shows each entry's changes inline.
func (h *Handler) auditList(c echo.Context, target *views.TwinTarget) error {
	vf, f, problem := readAuditFilter(c)
	formURL, title := "/audit", "Audit trail"
	if target != nil {
		vf.Account, f.Account = "", ""
		vf.DeviceID, f.DeviceID = target.DeviceID, target.DeviceID
		formURL, title = target.DeviceURL+"/history", "History of device "+target.DeviceID
		if target.ModuleID != "" {
			vf.ModuleID, f.ModuleID = target.ModuleID, target.ModuleID
			formURL, title = target.ModuleURL+"/history", "History of module "+target.DeviceID+"/"+target.ModuleID
		}
	}
	nav := "audit"
	if target != nil {
		nav = "devices"
	}
	m := views.AuditList{
		Page:      h.page(c, title, nav),
		Heading:   title,
		Target:    target,
		FormURL:   formURL,
		Filter:    vf,
		PageSizes: auditPageSizes(),
		Actions:   auditActions(),
		Outcomes:  []string{string(storage.AuditOK), string(storage.AuditConflict), string(storage.AuditRefused), string(storage.AuditError), string(storage.AuditUnknown)},
		Inline:    target != nil,
	}
	page := auditQuery(vf, target)
	export := auditQuery(vf, nil)
	export.Del("size")
	m.ExportCSV, m.ExportJSON = withQuery("/audit/export.csv", export), withQuery("/audit/export.json", export)
	if problem != "" {
		m.Error = problem
		return render(c, http.StatusUnprocessableEntity, views.AuditListPage(m))
	}
	entries, next, err := h.DB.ListAudit(c.Request().Context(), f)
	if err != nil {
		return err
	}
	now := h.Now()
	for _, e := range entries {
		r := auditRow(now, e)
		if m.Inline {
			r.Changes = snapshotDiff(e.Before, e.After)
		}
		m.Rows = append(m.Rows, r)
	}
	if next != 0 {
		nv := auditQuery(vf, target)
		nv.Set("before", strconv.FormatInt(next, 10))
		m.NextURL = withQuery(formURL, nv)
	}
	if f.Before > 0 {
		m.FirstURL = withQuery(formURL, page)
	}
	return render(c, http.StatusOK, views.AuditListPage(m))
}

func isTwinChange(a storage.AuditAction) bool {
	return a == storage.AuditTwinUpdate || a == storage.AuditTwinReplace
}

// auditRow is an entry as lists show it.
func auditRow(now time.Time, e storage.AuditEntry) views.AuditRow {
	r := views.AuditRow{
		ID:       strconv.FormatInt(e.ID, 10),
		URL:      "/audit/" + strconv.FormatInt(e.ID, 10),
		At:       e.At.UTC().Format("2006-01-02 15:04:05"),
		Day:      e.At.UTC().Format("2006-01-02"),
		Clock:    e.At.UTC().Format("15:04:05"),
		AtISO:    e.At.UTC().Format(time.RFC3339),
		Ago:      ago(now, hub.Time{Time: e.At}),
		Person:   e.Actor,
		Action:   string(e.Action),
		DeviceID: e.DeviceID,
		ModuleID: e.ModuleID,
		Account:  e.Account,
		Section:  e.Section,
		Outcome:  string(e.Outcome),
		Reason:   e.Reason,
		Detail:   e.Detail,
	}
	if e.Account != "" {
		r.AccountURL = accountHistoryURL(e.Account)
	}
	if e.DeviceID != "" {
		t := twinTarget{deviceID: e.DeviceID, moduleID: e.ModuleID}
		r.DeviceURL = deviceURL(e.DeviceID)
		if e.ModuleID != "" {
			r.ModuleURL = moduleURL(e.DeviceID, e.ModuleID)
		}
		if isTwinChange(e.Action) {
			r.TwinURL = t.url()
		}
	}
	return r
}

// accountHistoryURL is the trail of changes to an account.
func accountHistoryURL(name string) string {
	return withQuery("/audit", url.Values{"account": {name}})
}

// snapshotDiff lines up an entry's before and after snapshots path by
// path: both are flattened to leaves (non-empty objects are descended
// into) with compact JSON values; equal leaves are left out. Tags come
// before properties, then paths in order.
func snapshotDiff(before, after string) []views.PathChange {
	b, a := flatten(before), flatten(after)
	keys := make([]string, 0, len(a)+len(b))
	paths := map[string]twinedit.Path{}
	for _, m := range []map[string]leaf{b, a} {
		for k, l := range m {
			if _, ok := paths[k]; !ok {
				keys = append(keys, k)
				paths[k] = l.path
			}
		}
	}
	slices.SortFunc(keys, func(x, y string) int {
		if rx, ry := sectionRank(paths[x]), sectionRank(paths[y]); rx != ry {
			return rx - ry
		}
		return strings.Compare(x, y)
	})
	var out []views.PathChange
	for _, k := range keys {
		bl, inB := b[k]
		al, inA := a[k]
		kind := twinedit.Changed
		switch {
		case inB && inA && bl.value == al.value:
			continue
		case !inB:
			kind = twinedit.Added
		case !inA:
			kind = twinedit.Removed
		}
		out = append(out, views.PathChange{Path: displayPath(paths[k]), Before: bl.value, After: al.value, Kind: string(kind)})
	}
	return out
}

func sectionRank(p twinedit.Path) int {
	switch {
	case len(p) > 0 && p[0] == "tags":
		return 0
	case len(p) > 0 && p[0] == "properties":
		return 1
	}
	return 2
}

// leaf is a flattened value: its path and compact JSON.
type leaf struct {
	path  twinedit.Path
	value string
}

// flatten maps a JSON object's leaves by their path's display string. Not
// an object (or empty text) flattens to nothing. A null is an absent value
// (snapshots write absent values as null), so it is left out.
func flatten(text string) map[string]leaf {
	out := map[string]leaf{}
	eachLeaf(decodeObject(json.RawMessage(text)), func(p twinedit.Path, v any) {
		if v == nil {
			return
		}
		if text, err := jsonText(v); err == nil {
			out[p.String()] = leaf{path: p, value: text}
		}
	})
	return out
}

// auditEntry loads the entry named by the :id parameter.
func (h *Handler) auditEntry(c echo.Context) (storage.AuditEntry, error) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		return storage.AuditEntry{}, echo.NewHTTPError(http.StatusNotFound, "There is no such audit entry.")
	}
	e, err := h.DB.AuditEntry(c.Request().Context(), id)
	if errors.Is(err, storage.ErrNotFound) {
		return e, echo.NewHTTPError(http.StatusNotFound, "There is no audit entry #"+strconv.FormatInt(id, 10)+".")
	}
	return e, err
}

// showAuditEntry is one entry in full.
func (h *Handler) showAuditEntry(c echo.Context) error {
	e, err := h.auditEntry(c)
	if err != nil {
		return err
	}
	m := views.AuditEntryPage{
		Page:       h.page(c, "Audit entry #"+strconv.FormatInt(e.ID, 10), "audit"),
		Row:        auditRow(h.Now(), e),
		ETagBefore: e.ETagBefore,
		ETagAfter:  e.ETagAfter,
		RequestID:  e.RequestID,
		Changes:    snapshotDiff(e.Before, e.After),
		RevertURL:  "/audit/" + strconv.FormatInt(e.ID, 10) + "/revert",
	}
	if e.Sent != "" {
		m.Sent = indentJSON([]byte(e.Sent))
	}
	if e.Before != "" {
		m.Before = indentJSON([]byte(e.Before))
	}
	if e.After != "" {
		m.After = indentJSON([]byte(e.After))
	}
	u, _ := currentUser(c)
	why := revertRefusal(e)
	switch {
	case why != "":
		m.NoRevert = why
	case !u.Role.Allows(storage.RoleEditor):
		m.NoRevert = "Editors can revert this change; your role (" + string(u.Role) + ") can only read the trail."
	default:
		m.CanRevert = true
	}
	return render(c, http.StatusOK, views.AuditEntryView(m))
}

// revertRefusal says why an entry cannot be reverted from the trail, ""
// when it can. Only twin changes are: an identity change's snapshot is not
// a merge patch, and undoing a create, delete or key change is a different
// action with its own consequences, done from the device's page.
func revertRefusal(e storage.AuditEntry) string {
	switch {
	case !isTwinChange(e.Action):
		return "Only twin changes can be reverted from the trail. Restore an identity by editing the device or module."
	case e.Outcome != storage.AuditOK:
		return "This change was not applied (outcome " + string(e.Outcome) + "), so there is nothing to revert."
	}
	return twinTarget{deviceID: e.DeviceID, moduleID: e.ModuleID}.readOnly()
}

// revertAuditEntry prepares the revert of a twin change as a normal edit:
// the inverse of the entry's change applied to the twin as it is now,
// shown on the review page and saved with If-Match of the twin's current
// etag, so a change made meanwhile is caught like any other.
func (h *Handler) revertAuditEntry(c echo.Context) error {
	e, err := h.auditEntry(c)
	if err != nil {
		return err
	}
	t := twinTarget{deviceID: e.DeviceID, moduleID: e.ModuleID}
	if why := t.readOnly(); why != "" {
		return echo.NewHTTPError(http.StatusForbidden, why)
	}
	if why := revertRefusal(e); why != "" {
		return echo.NewHTTPError(http.StatusUnprocessableEntity, why)
	}
	inverse, err := twinedit.Inverse(json.RawMessage(e.Before), json.RawMessage(e.After))
	if err != nil {
		return fmt.Errorf("audit entry %d: inverse of its snapshots: %w", e.ID, err)
	}
	tw, err := h.getTwin(c.Request().Context(), t)
	if err != nil {
		return err
	}
	now, err := editableDoc(tw)
	if err != nil {
		return err
	}
	n := "#" + strconv.FormatInt(e.ID, 10)
	unchanged := twinForm{etag: tw.ETag, base: now, draft: now}
	r, err := planRevert(now, e.After, inverse)
	if err != nil {
		return fmt.Errorf("audit entry %d: %w", e.ID, err)
	}
	f := twinForm{etag: tw.ETag, base: now, draft: r.draft, reason: "Revert of audit entry " + n}
	p, errs := prepare(f)
	if errs != nil {
		return h.renderEditor(c, t, f, http.StatusUnprocessableEntity, errs,
			"Reverting audit entry "+n+" gives a twin the hub would refuse. Nothing was sent to the hub.")
	}
	if p.change.Empty() {
		return h.renderEditor(c, t, unchanged, http.StatusOK, nil,
			"The twin already holds the values from before audit entry "+n+": there is nothing to revert. Nothing was sent to the hub.")
	}
	m := h.review(c, t, f, p)
	m.Flashes = append(m.Flashes, views.Flash{Kind: "note", Text: "Reverting audit entry " + n + ": " + string(e.Action) +
		" by " + e.Actor + " at " + e.At.UTC().Format("2006-01-02 15:04:05 UTC") + ". Nothing is sent until you save."})
	if len(r.changedSince) > 0 {
		m.Flashes = append(m.Flashes, views.Flash{Kind: "warn", Text: "The twin changed since audit entry " + n + " at " +
			strings.Join(r.changedSince, ", ") + ": reverting sets these back to their values before the entry, undoing those later changes too."})
	}
	return render(c, http.StatusOK, views.TwinReviewPage(m))
}

// revert is a twin change undone on the twin as it is now.
type revert struct {
	draft twinedit.Doc
	// changedSince lists the paths the revert overwrites whose values are
	// no longer those the entry left.
	changedSince []string
}

// planRevert applies inverse, the merge patch from an entry's after
// snapshot back to its before snapshot, to now.
//
// The snapshots hold only changed values, so an added value shows in the
// inverse as the removal of its highest absent ancestor: adding tags.room
// to existing tags reads as {"tags":null}. Removing that ancestor is right
// only if it still holds exactly what the entry left; otherwise the
// removal is narrowed to the entry's own values inside it, so the revert
// never deletes what the entry did not add.
func planRevert(now twinedit.Doc, after string, inverse json.RawMessage) (revert, error) {
	inv := decodeObject(inverse)
	if inv == nil {
		return revert{}, errors.New("the inverse patch is not a JSON object")
	}
	afterDoc := decodeObject(json.RawMessage(after))
	tags := decodeObject(now.Tags)
	desired := decodeObject(now.Desired)
	nowDoc := map[string]any{"tags": tags, "properties": map[string]any{"desired": desired}}
	narrow(inv, afterDoc, nowDoc)

	var r revert
	var changed []twinedit.Path
	var walk func(p twinedit.Path, patch map[string]any)
	walk = func(p twinedit.Path, patch map[string]any) {
		for k, v := range patch {
			kp := append(p[:len(p):len(p)], k)
			if obj, ok := v.(map[string]any); ok && len(obj) > 0 {
				walk(kp, obj)
				continue
			}
			if av, _ := lookup(afterDoc, kp); !sameJSON(av, lookupValue(nowDoc, kp)) {
				changed = append(changed, kp)
			}
		}
	}
	walk(nil, inv)
	slices.SortFunc(changed, func(a, b twinedit.Path) int {
		if ra, rb := sectionRank(a), sectionRank(b); ra != rb {
			return ra - rb
		}
		return strings.Compare(a.String(), b.String())
	})
	for _, p := range changed {
		r.changedSince = append(r.changedSince, displayPath(p))
	}

	var err error
	r.draft = now
	if v, ok := inv["tags"]; ok {
		if r.draft.Tags, err = mergeSection(now.Tags, v); err != nil {
			return revert{}, fmt.Errorf("reverting tags: %w", err)
		}
	}
	if props, ok := inv["properties"]; ok {
		v, ok := props, true
		if pm, isMap := props.(map[string]any); isMap {
			v, ok = pm["desired"]
		}
		if ok {
			if r.draft.Desired, err = mergeSection(now.Desired, v); err != nil {
				return revert{}, fmt.Errorf("reverting desired properties: %w", err)
			}
		}
	}
	return r, nil
}

// mergeSection applies patch to a section; removing the section empties
// it, as a twin always has one.
func mergeSection(section json.RawMessage, patch any) (json.RawMessage, error) {
	if patch == nil {
		return json.RawMessage("{}"), nil
	}
	pb, err := json.Marshal(patch)
	if err != nil {
		return nil, err
	}
	out, err := jsonpatch.MergePatch(orEmpty(section), pb)
	if err != nil {
		return nil, err
	}
	return json.RawMessage(indentJSON(out)), nil
}

// narrow rewrites, in place, each removal in patch of an object that now
// differs from what after holds there into removals of after's keys, down
// to where now still matches after.
func narrow(patch, after, now map[string]any) {
	for k, v := range patch {
		av, _ := after[k].(map[string]any)
		nv, nowIsObj := now[k].(map[string]any)
		switch pv := v.(type) {
		case nil:
			if len(av) == 0 || !nowIsObj || sameJSON(nv, av) {
				continue
			}
			sub := make(map[string]any, len(av))
			for ak := range av {
				sub[ak] = nil
			}
			narrow(sub, av, nv)
			patch[k] = sub
		case map[string]any:
			narrow(pv, av, nv)
		}
	}
}

// lookup finds the value at p in a decoded document.
func lookup(doc map[string]any, p twinedit.Path) (any, bool) {
	var cur any = doc
	for _, seg := range p {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[seg]; !ok {
			return nil, false
		}
	}
	return cur, true
}

func lookupValue(doc map[string]any, p twinedit.Path) any {
	v, _ := lookup(doc, p)
	return v
}

// sameJSON compares decoded JSON values, numbers by value: the hub may
// write 2.0 back as 2. Absent and null are the same, as in a merge patch.
func sameJSON(a, b any) bool {
	switch av := a.(type) {
	case map[string]any:
		bv, ok := b.(map[string]any)
		if !ok || len(av) != len(bv) {
			return false
		}
		for k, x := range av {
			y, ok := bv[k]
			if !ok || !sameJSON(x, y) {
				return false
			}
		}
		return true
	case []any:
		bv, ok := b.([]any)
		if !ok || len(av) != len(bv) {
			return false
		}
		for i := range av {
			if !sameJSON(av[i], bv[i]) {
				return false
			}
		}
		return true
	case json.Number:
		bv, ok := b.(json.Number)
		if !ok {
			return false
		}
		if av == bv {
			return true
		}
		x, err1 := av.Float64()
		y, err2 := bv.Float64()
		return err1 == nil && err2 == nil && x == y
	}
	return a == b
}

// exportAuditCSV streams the entries the filter selects as CSV.
func (h *Handler) exportAuditCSV(c echo.Context) error {
	return h.exportAudit(c, "csv", "text/csv; charset=utf-8", storage.WriteAuditCSV)
}

// exportAuditJSON streams the entries the filter selects as a JSON array.
func (h *Handler) exportAuditJSON(c echo.Context) error {
	return h.exportAudit(c, "json", echo.MIMEApplicationJSONCharsetUTF8, storage.WriteAuditJSON)
}

// exportAudit streams every entry the filter selects (paging parameters
// are ignored), a page of the database at a time. Once the first byte is
// out the status cannot change: a failure midway is logged and cuts the
// file short (a cut JSON export does not parse).
func (h *Handler) exportAudit(c echo.Context, ext, contentType string,
	write func(io.Writer, iter.Seq2[storage.AuditEntry, error]) error) error {
	_, f, problem := readAuditFilter(c)
	if problem != "" {
		return echo.NewHTTPError(http.StatusBadRequest, problem)
	}
	f.Before, f.Limit = 0, 0
	name := "hubdesk-audit-" + h.Now().UTC().Format("2006-01-02") + "." + ext
	res := c.Response()
	res.Header().Set(echo.HeaderContentType, contentType)
	res.Header().Set(echo.HeaderContentDisposition, `attachment; filename="`+name+`"`)
	res.Header().Set("Cache-Control", "no-store")
	res.WriteHeader(http.StatusOK)
	if err := write(res, h.DB.AuditEntries(c.Request().Context(), f)); err != nil {
		h.Logger.Error("audit export cut short", "id", res.Header().Get(echo.HeaderXRequestID), "err", err)
	}
	return nil
}
