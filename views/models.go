// Package views renders hubdesk's pages with templ. Components take view
// models shaped like the screen; they never see hub types, echo or net/http.
package views

// Page is what every page's layout needs.
type Page struct {
	Title   string
	Nav     string // "overview", "devices": which menu entry is current
	User    string // signed-in user, "" on the sign-in page
	Role    string
	CSRF    string
	Flashes []Flash
	CSS, JS string // content-hashed asset URLs
	Icon    string // content-hashed favicon URL
	// Scripts are extra content-hashed scripts a page needs, in order.
	Scripts []string
}

// Flash is a one-time message shown at the top of the next page.
type Flash struct {
	Kind string // "ok", "warn" or "bad"
	Text string
}

// Login is the sign-in form.
type Login struct {
	Page
	Name  string
	Error string
	Next  string
}

// Overview is the landing page's counts.
type Overview struct {
	Page
	Total, Enabled, Disabled, Connected, Edge int64
	HubName                                   string
	Error                                     string
	// Recent is the latest activity from the audit trail, newest first.
	Recent        []AuditRow
	ActivityError string
}

// DeviceFilter is the device list's query, as the person typed it.
type DeviceFilter struct {
	Search     string // device id prefix or substring
	Status     string // "", "enabled", "disabled"
	Connection string // "", "Connected", "Disconnected"
	Edge       string // "", "true", "false"
	Tag        string // "key=value", key may be dotted (site.floor=3)
	Where      string // raw WHERE clause for experts
	PageSize   int
}

// DeviceList is one page of the device list.
type DeviceList struct {
	Page
	Filter     DeviceFilter
	PageSizes  []int
	Rows       []DeviceRow
	Total      int64 // matching devices; -1 when unknown
	Query      string
	NextURL    string
	FirstURL   string
	PageNumber int
	Error      string
}

// DeviceRow is a line of the device list.
type DeviceRow struct {
	ID, URL      string
	Status       string
	Connected    bool
	Edge         bool
	LastActivity string
	Tags         string
}

// Error is an error page.
type Error struct {
	Page
	Status  int
	Heading string
	Detail  string
	Retry   bool
}
