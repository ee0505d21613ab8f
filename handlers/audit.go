package handlers

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/hubdesk/hubdesk/hub"
	"github.com/hubdesk/hubdesk/storage"
	"github.com/hubdesk/hubdesk/twinedit"
)

// audit records a write the dashboard sent to the hub (or a key reveal),
// with its outcome taken from err. The write has happened whatever the
// trail says, so a failure to record is logged loudly rather than shown as
// a failed save; the request id ties the log line to the page.
func (h *Handler) audit(c echo.Context, e storage.AuditEntry, err error) {
	if h.DB == nil {
		return
	}
	u, _ := currentUser(c)
	e.Actor = u.Name
	e.RequestID = c.Response().Header().Get(echo.HeaderXRequestID)
	switch {
	case err == nil:
		e.Outcome = storage.AuditOK
	case errors.Is(err, hub.ErrPreconditionFailed):
		e.Outcome = storage.AuditConflict
		e.Detail = "the hub refused the write: the etag changed since it was loaded (412)"
		if u := (*unsettled)(nil); errors.As(err, &u) {
			e.Detail = "the hub did not answer the write; reading it back showed that someone else changed it meanwhile"
		}
	default:
		e.Outcome = storage.AuditError
		if u := (*unsettled)(nil); errors.As(err, &u) && u.fate == unknown {
			e.Outcome = storage.AuditUnknown
		}
		e.Detail = auditDetail(err)
	}
	// The trail must be written even when the person's request was
	// cancelled (closed tab) after the hub accepted the write.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.Request().Context()), 5*time.Second)
	defer cancel()
	if _, rerr := h.DB.RecordAudit(ctx, e); rerr != nil {
		h.Logger.Error("audit trail: record failed", "id", e.RequestID, "action", e.Action,
			"device", e.DeviceID, "module", e.ModuleID, "outcome", e.Outcome, "err", rerr)
	}
}

// auditDetail describes a failed write without internals or secrets: the
// hub's own message when it gave one, else the page's heading.
func auditDetail(err error) string {
	o := classify(err)
	var he *hub.Error
	if errors.As(err, &he) && he.Message != "" {
		return o.heading + ": " + he.Message
	}
	return o.heading
}

// changedSections names the twin sections a change touches.
func changedSections(ch *twinedit.Change) string {
	switch {
	case ch.Tags != nil && ch.Desired != nil:
		return "tags+desired"
	case ch.Tags != nil:
		return "tags"
	case ch.Desired != nil:
		return "desired"
	}
	return ""
}

// snapshots are the changed values of a twin before and after a change,
// each as a twin-shaped JSON object ({"tags":{...},"properties":{"desired":
// {...}}}) holding only the changed paths, an absent value as null. The
// nulls keep the parent objects in the snapshot, so that
// twinedit.Inverse of the two, the merge patch that reverts the change,
// removes an added key rather than its whole parent.
func snapshots(paths []twinedit.PathChange) (before, after string) {
	b, a := map[string]any{}, map[string]any{}
	for _, p := range paths {
		setPath(b, p.Path, orNull(p.Before))
		setPath(a, p.Path, orNull(p.After))
	}
	before, _ = jsonText(b)
	after, _ = jsonText(a)
	return before, after
}

func orNull(v json.RawMessage) json.RawMessage {
	if v == nil {
		return json.RawMessage("null")
	}
	return v
}

func setPath(m map[string]any, p twinedit.Path, v json.RawMessage) {
	for _, seg := range p[:len(p)-1] {
		next, ok := m[seg].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[seg] = next
		}
		m = next
	}
	m[p[len(p)-1]] = v
}

// identityJSON is an identity for the trail: keys only as their hash.
func identityJSON(id identity) string {
	text, _ := jsonText(id)
	return text
}
