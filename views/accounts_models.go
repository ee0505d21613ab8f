package views

// Accounts is the account administration page.
type Accounts struct {
	Page
	Rows  []AccountRow
	Roles []string
	// Revealed is a password the previous request generated, shown once.
	Revealed *RevealedPassword
	// Error says why the last change to an account was refused.
	Error string
	New   NewAccount
}

// AccountRow is a line of the account table with its forms' targets.
type AccountRow struct {
	Name, Role       string
	Disabled         bool
	Created, Updated string
	// Self marks the signed-in admin's own account: demoting it asks for
	// confirmation and disabling it is not offered.
	Self                              bool
	RoleURL, DisabledURL, PasswordURL string
}

// NewAccount is the add-account form as the person filled it in.
type NewAccount struct {
	Name, Role string
	Errors     []FieldError
}

// RevealedPassword is a generated password and the account it belongs to.
type RevealedPassword struct {
	User, Password string
}
