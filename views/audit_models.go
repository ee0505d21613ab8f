package views

import "strconv"

// AuditFilter is the audit log's query as the person typed it. Its fields
// are the URL's query parameters, so a filtered view is a shareable link.
type AuditFilter struct {
	Person, DeviceID, ModuleID string
	Account                    string // the account an account change changes
	Action, Outcome            string
	From, To                   string // datetime-local values, read as UTC
	PageSize                   int
}

// AuditList is a page of the audit trail: the global log or one device's or
// module's history.
type AuditList struct {
	Page
	Heading string
	// Target is set on a device's or module's history page: the list is
	// fixed to it and its filter fields are not offered.
	Target    *TwinTarget
	FormURL   string // where the filter form submits: the page itself
	Filter    AuditFilter
	PageSizes []int
	Actions   []string
	Outcomes  []string
	Rows      []AuditRow
	// Inline shows each row's changes under it, as history pages do.
	Inline                bool
	NextURL, FirstURL     string
	ExportCSV, ExportJSON string
	Error                 string // why the filter was not applied
}

// AuditRow is one entry of the trail as a list shows it.
type AuditRow struct {
	ID, URL            string
	At, AtISO, Ago     string // "2026-03-01 14:05:09" (UTC), RFC 3339, "3 minutes ago"
	Day, Clock         string // At's date and time of day, for a narrow column
	Person             string
	Action             string
	DeviceID, ModuleID string
	DeviceURL          string
	ModuleURL          string // "" for a device's entry
	TwinURL            string // "" unless the entry is a twin change
	Account            string // the account an account change changes
	AccountURL         string // that account's trail
	Section            string
	Outcome            string // ok, conflict, refused, error
	Reason             string
	Detail             string
	Changes            []PathChange // filled on history pages
}

// IsAccountChange reports whether the entry changed a hubdesk account
// rather than writing to the hub.
func (r AuditRow) IsAccountChange() bool { return r.Account != "" }

// OutcomeClass is the badge style of an outcome.
func (r AuditRow) OutcomeClass() string {
	switch r.Outcome {
	case "ok":
		return "badge ok"
	case "conflict", "refused", "unknown":
		return "badge warn"
	}
	return "badge bad"
}

// HistoryURL is the history page of the twin's device or module.
func (t TwinTarget) HistoryURL() string {
	if t.ModuleID == "" {
		return t.DeviceURL + "/history"
	}
	return t.ModuleURL + "/history"
}

// changesCaption heads an entry's diff: a write the hub did not accept
// changed nothing, it only tried to.
func changesCaption(r AuditRow, n int) string {
	switch r.Outcome {
	case "ok":
		return strconv.Itoa(n) + " changed value(s)"
	case "unknown":
		return strconv.Itoa(n) + " value(s) it tried to change; whether the hub applied them is unknown"
	}
	return strconv.Itoa(n) + " value(s) it tried to change, not applied (" + r.Outcome + ")"
}

// AuditEntryPage is one entry of the trail in full.
type AuditEntryPage struct {
	Page
	Row                   AuditRow
	ETagBefore, ETagAfter string
	RequestID             string
	Sent                  string // the exact body sent, indented; "" if nothing was sent
	Before, After         string // the snapshots, indented
	Changes               []PathChange
	// CanRevert offers the revert button; RevertURL is where it posts.
	CanRevert bool
	RevertURL string
	// NoRevert says why the entry cannot be reverted here, "" when it can
	// or when it is not a twin change.
	NoRevert string
}
