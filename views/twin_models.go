package views

// TwinTarget names the twin a page is about and where its pages are.
type TwinTarget struct {
	DeviceID, ModuleID string // ModuleID is "" for a device twin
	DeviceURL          string
	ModuleURL          string // "" for a device twin
	URL                string // the twin editor; actions are URL + "/review" etc.
	// DraftKey prefixes the browser's saved-draft keys for this twin.
	DraftKey string
}

// Label is how the twin is named in headings.
func (t TwinTarget) Label() string {
	if t.ModuleID == "" {
		return "Device twin"
	}
	return "Module twin"
}

// TwinFacts is the read-only header of a twin page.
type TwinFacts struct {
	ETag, DeviceETag                string
	Version                         int64
	DesiredVersion, ReportedVersion int64
	Status, StatusReason            string
	ConnectionState                 string
	LastActivity                    string
	AuthType                        string
	ModelID                         string
	Edge                            bool
	DeviceScope                     string
}

// TwinForm is the edit in progress. Every page of the edit pipeline
// carries it in hidden fields, so no server keeps state between steps.
type TwinForm struct {
	ETag                  string // the etag of the version Base came from
	BaseTags, BaseDesired string
	Tags, Desired         string // the person's draft
	Mode                  string // "patch" (PATCH) or "replace" (PUT)
	Reason                string // optional, for the audit trail
}

// Replace reports whether the form saves with PUT.
func (f TwinForm) Replace() bool { return f.Mode == "replace" }

// FieldError is a problem with one editor's content.
type FieldError struct {
	Field   string // "tags" or "desired"
	Path    string // e.g. desired.a.b, "" for the whole section
	Message string
}

// Compared is one line of desired next to reported.
type Compared struct {
	Path              string
	Desired, Reported string // compact JSON, "" when absent
	ReportedAgo       string // "3 minutes ago", from $metadata
	Differs           bool
}

// TwinEditor is the twin page: facts, the two editors, reported beside
// desired.
type TwinEditor struct {
	Page
	Target   TwinTarget
	Facts    TwinFacts
	ReadOnly string // why the twin cannot be edited here, "" when it can
	Form     TwinForm
	Errors   []FieldError
	Notice   string
	Reported string // indented JSON without $metadata
	Compared []Compared
	// ClearDrafts lists saved-draft keys the browser should forget: set
	// right after a save.
	ClearDrafts string
}

// ErrorsFor returns the errors of one editor.
func (m TwinEditor) ErrorsFor(field string) []FieldError {
	var out []FieldError
	for _, e := range m.Errors {
		if e.Field == field {
			out = append(out, e)
		}
	}
	return out
}

// PathChange is one changed value in a diff. Values are compact JSON, ""
// when absent.
type PathChange struct {
	Path          string
	Before, After string
	Kind          string // "added", "removed", "changed"
}

// TwinReview shows exactly what saving will send, before it is sent.
type TwinReview struct {
	Page
	Target  TwinTarget
	Form    TwinForm
	Changes []PathChange
	Method  string // PATCH or PUT
	Body    string // the exact request body, indented
	Error   string // why the last attempt to save failed; the draft is kept
	// Lost is set when this review overwrites changes made underneath.
	Lost []PathChange
	// Rebased says the draft was moved onto a newer version: these are
	// the changes made underneath.
	Underneath []PathChange
}

// Conflict is one path both sides changed differently.
type Conflict struct {
	Path               string // for display
	Key                string // identifies the row to the server
	Base, Theirs, Mine string
}

// TwinConflict is the prompt after a save was refused because the twin
// changed since the person loaded it.
type TwinConflict struct {
	Page
	Target TwinTarget
	// Form is the person's edit as they submitted it.
	Form TwinForm
	// Theirs is the twin as it is now.
	TheirETag, TheirTags, TheirDesired string
	Underneath                         []PathChange
	Conflicts                          []Conflict
	// Lost is what "overwrite anyway" would discard.
	Lost []PathChange
	// Merged is the draft moved onto the latest version, when nothing
	// conflicts; Changes and Body are what saving it sends.
	Merged      *TwinForm
	Changes     []PathChange
	Method      string
	Body        string
	CanOverride bool
}
