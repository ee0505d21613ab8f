package views

// Identity is the editable part of a device identity, as the form holds it.
// Keys are never part of it: they are changed by explicit actions and
// shown only when revealed.
type Identity struct {
	ETag                string
	Status              string // "enabled" or "disabled"
	StatusReason        string
	AuthType            string // "sas", "selfSigned", "certificateAuthority", "none"
	PrimaryThumbprint   string
	SecondaryThumbprint string
	Edge                bool
	DeviceScope         string
	// Base is the version the form was loaded from (JSON, no secrets), to
	// tell after a 412 which fields changed underneath.
	Base string
}

// FieldChange is an identity field that changed underneath an edit.
type FieldChange struct {
	Field                string
	Loaded, Now, Yours   string
	YoursChanged, Differ bool // Differ: you changed it too, to something else
}

// Keys are a device's or module's revealed secrets.
type Keys struct {
	Primary, Secondary                     string
	PrimaryConnection, SecondaryConnection string
}

// ModuleRow is a line of a device's module list.
type ModuleRow struct {
	ID, URL, TwinURL string
	ConnectionState  string
	ManagedBy        string
	LastActivity     string
	System           bool
}

// DeviceFacts are a device's read-only identity facts.
type DeviceFacts struct {
	GenerationID           string
	ConnectionState        string
	ConnectionStateUpdated string
	StatusUpdated          string
	LastActivity           string
	CloudToDeviceMessages  int64
	ParentScopes           []string
	HasKeys                bool // symmetric keys exist and can be revealed
}

// DevicePage shows a device identity, its edit form and its modules.
type DevicePage struct {
	Page
	ID, URL, TwinURL string
	Facts            DeviceFacts
	Form             Identity
	Errors           []FieldError
	// Underneath lists fields changed since the form was loaded, after the
	// hub refused a save with 412.
	Underneath []FieldChange
	Keys       *Keys // revealed keys, nil unless revealed
	Modules    []ModuleRow
	ModuleErr  string
	NewModule  string
	CanEdit    bool
	CanAdmin   bool
}

// ModulePage shows a module identity.
type ModulePage struct {
	Page
	DeviceID, ModuleID    string
	DeviceURL, URL        string
	TwinURL               string
	ETag, GenerationID    string
	ManagedBy             string
	ConnectionState       string
	LastActivity          string
	AuthType              string
	CloudToDeviceMessages int64
	HasKeys               bool
	Keys                  *Keys
	System                bool
	CanAdmin              bool
}

// NewDevice is the form that creates a device.
type NewDevice struct {
	Page
	ID           string
	AuthType     string // "sas-auto", "sas-manual", "selfSigned", "certificateAuthority"
	PrimaryKey   string
	SecondaryKey string
	PrimaryTP    string
	SecondaryTP  string
	Edge         bool
	Parent       string // parent edge device id, for a leaf device
	Errors       []FieldError
}
