package handlers

import (
	"crypto/rand"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/hubdesk/hubdesk/storage"
	"github.com/hubdesk/hubdesk/views"
)

// registerAccounts installs the account administration pages. Every route
// is in the admin group, so the role is checked on the server.
func (h *Handler) registerAccounts(app, admin *echo.Group) {
	admin.GET("/admin/users", h.listUsers)
	admin.POST("/admin/users", h.createUser)
	admin.POST("/admin/users/:name/role", h.setUserRole)
	admin.POST("/admin/users/:name/disabled", h.setUserDisabled)
	admin.POST("/admin/users/:name/password", h.resetUserPassword)
}

// Messages for refusals a person can fix.
const (
	msgLastAdmin     = "At least one enabled admin must remain."
	msgDisableSelf   = "You cannot disable the account you are signed in with. Ask another admin."
	msgConfirmDemote = "This would take away your own admin rights and with them this page. Tick the box to confirm."
)

// newUserForm is the add-account form.
type newUserForm struct {
	Name     string `form:"name"`
	Role     string `form:"role"`
	Password string `form:"password"`
}

// roleForm is a row's set-role form.
type roleForm struct {
	Role    string `form:"role"`
	Confirm string `form:"confirm"`
}

// disabledForm is a row's disable or enable button.
type disabledForm struct {
	Disabled string `form:"disabled"`
}

func (h *Handler) listUsers(c echo.Context) error {
	return h.renderAccounts(c, http.StatusOK, "", views.NewAccount{Role: string(storage.RoleViewer)})
}

// renderAccounts shows the account page with an optional refusal and the
// add-account form as given.
func (h *Handler) renderAccounts(c echo.Context, status int, refusal string, add views.NewAccount) error {
	users, err := h.DB.ListUsers(c.Request().Context())
	if err != nil {
		return err
	}
	me, _ := currentUser(c)
	revealed := h.takeRevealed(c)
	m := views.Accounts{
		Page:     h.page(c, "Accounts", "accounts"),
		Revealed: revealed,
		Roles:    []string{string(storage.RoleViewer), string(storage.RoleEditor), string(storage.RoleAdmin)},
		Error:    refusal,
		New:      add,
	}
	for _, u := range users {
		base := "/admin/users/" + url.PathEscape(u.Name)
		m.Rows = append(m.Rows, views.AccountRow{
			Name:        u.Name,
			Role:        string(u.Role),
			Disabled:    u.Disabled,
			Created:     formatAccountTime(u.CreatedAt),
			Updated:     formatAccountTime(u.UpdatedAt),
			Self:        u.Name == me.Name,
			RoleURL:     base + "/role",
			DisabledURL: base + "/disabled",
			PasswordURL: base + "/password",
		})
	}
	return render(c, status, views.AccountsPage(m))
}

func formatAccountTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

func (h *Handler) createUser(c echo.Context) error {
	var f newUserForm
	if err := c.Bind(&f); err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, "The form could not be read.")
	}
	f.Name = strings.TrimSpace(f.Name)
	add := views.NewAccount{Name: f.Name, Role: f.Role}
	if msg := checkUserName(f.Name); msg != "" {
		add.Errors = append(add.Errors, views.FieldError{Field: "name", Message: msg})
	}
	role, err := storage.ParseRole(f.Role)
	if err != nil {
		add.Errors = append(add.Errors, views.FieldError{Field: "role", Message: "Choose viewer, editor or admin."})
	}
	generated := f.Password == ""
	if generated {
		f.Password = generatePassword()
	} else if msg := checkPassword(f.Password); msg != "" {
		add.Errors = append(add.Errors, views.FieldError{Field: "password", Message: msg})
	}
	if len(add.Errors) > 0 {
		return h.renderAccounts(c, http.StatusUnprocessableEntity, "The account was not added: see the form below.", add)
	}
	switch err := h.DB.CreateUserBy(c.Request().Context(), actor(c), f.Name, f.Password, role); {
	case errors.Is(err, storage.ErrUserExists):
		add.Errors = append(add.Errors, views.FieldError{Field: "name", Message: "An account called " + f.Name + " already exists."})
		return h.renderAccounts(c, http.StatusUnprocessableEntity, "The account was not added: see the form below.", add)
	case err != nil:
		return err
	}
	h.Logger.Info("account created", "by", sessionUser(c), "user", f.Name, "role", role, "generated_password", generated)
	if generated {
		h.reveal(c, f.Name, f.Password)
	}
	h.addFlash(c, "ok", "Added account "+f.Name+" ("+string(role)+").")
	return redirect(c, "/admin/users")
}

func (h *Handler) setUserRole(c echo.Context) error {
	name, err := accountParam(c)
	if err != nil {
		return err
	}
	var f roleForm
	if err := c.Bind(&f); err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, "The form could not be read.")
	}
	role, err := storage.ParseRole(f.Role)
	if err != nil {
		return h.refuse(c, "Choose viewer, editor or admin.")
	}
	self := name == sessionUser(c)
	if self && role != storage.RoleAdmin && f.Confirm != "yes" {
		return h.refuse(c, msgConfirmDemote)
	}
	if err := h.DB.SetRole(c.Request().Context(), actor(c), name, role); err != nil {
		return h.accountError(c, name, err)
	}
	h.Logger.Info("account role set", "by", sessionUser(c), "user", name, "role", role)
	h.addFlash(c, "ok", "The role of "+name+" is now "+string(role)+".")
	if self && role != storage.RoleAdmin {
		return redirect(c, "/")
	}
	return redirect(c, "/admin/users")
}

func (h *Handler) setUserDisabled(c echo.Context) error {
	name, err := accountParam(c)
	if err != nil {
		return err
	}
	var f disabledForm
	if err := c.Bind(&f); err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, "The form could not be read.")
	}
	var disabled bool
	switch f.Disabled {
	case "true":
		disabled = true
	case "false":
	default:
		return echo.NewHTTPError(http.StatusBadRequest, "The form could not be read.")
	}
	if err := h.DB.SetDisabled(c.Request().Context(), actor(c), name, disabled); err != nil {
		return h.accountError(c, name, err)
	}
	what := "enabled"
	if disabled {
		what = "disabled"
	}
	h.Logger.Info("account "+what, "by", sessionUser(c), "user", name)
	h.addFlash(c, "ok", "Account "+name+" is "+what+".")
	return redirect(c, "/admin/users")
}

func (h *Handler) resetUserPassword(c echo.Context) error {
	name, err := accountParam(c)
	if err != nil {
		return err
	}
	password := generatePassword()
	if err := h.DB.SetPassword(c.Request().Context(), actor(c), name, password); err != nil {
		return h.accountError(c, name, err)
	}
	h.Logger.Info("account password reset", "by", sessionUser(c), "user", name)
	h.reveal(c, name, password)
	h.addFlash(c, "ok", "The password of "+name+" was reset.")
	return redirect(c, "/admin/users")
}

// actor is the signed-in person as the audit trail names them, with the
// request id that ties an account change to the log.
func actor(c echo.Context) storage.Actor {
	return storage.Actor{Name: sessionUser(c), RequestID: c.Response().Header().Get(echo.HeaderXRequestID)}
}

// accountParam is the account name in the path.
func accountParam(c echo.Context) (string, error) {
	name, err := url.PathUnescape(c.Param("name"))
	if err != nil || name == "" {
		return "", echo.NewHTTPError(http.StatusNotFound, "There is no such account.")
	}
	return name, nil
}

// accountError turns a refused account change into what the person sees.
func (h *Handler) accountError(c echo.Context, name string, err error) error {
	switch {
	case errors.Is(err, storage.ErrLastAdmin):
		return h.refuse(c, "Could not change "+name+": "+msgLastAdmin)
	case errors.Is(err, storage.ErrDisableSelf):
		return h.refuse(c, msgDisableSelf)
	case errors.Is(err, storage.ErrNotFound):
		return echo.NewHTTPError(http.StatusNotFound, "There is no account called "+name+". Someone may have changed the list: reload it.")
	}
	return err
}

// refuse re-renders the account page with 422 and why.
func (h *Handler) refuse(c echo.Context, msg string) error {
	return h.renderAccounts(c, http.StatusUnprocessableEntity, msg, views.NewAccount{Role: string(storage.RoleViewer)})
}

// reveal keeps a generated password in the encrypted session cookie until
// the next page shows it. It is never logged, nor stored anywhere else.
func (h *Handler) reveal(c echo.Context, user, password string) {
	s := h.session(c)
	s.Values[keyRevealed] = user + "\x00" + password
	if err := s.Save(c.Request(), c.Response()); err != nil {
		h.Logger.Warn("save revealed password", "err", err)
	}
}

// takeRevealed returns and forgets the password to show once.
func (h *Handler) takeRevealed(c echo.Context) *views.RevealedPassword {
	s := h.session(c)
	v, ok := s.Values[keyRevealed].(string)
	if !ok {
		return nil
	}
	delete(s.Values, keyRevealed)
	if err := s.Save(c.Request(), c.Response()); err != nil {
		h.Logger.Warn("forget revealed password", "err", err)
	}
	user, password, ok := strings.Cut(v, "\x00")
	if !ok {
		return nil
	}
	return &views.RevealedPassword{User: user, Password: password}
}

// generatePassword returns a random password of 26 base32 characters, 130
// bits: long enough that nobody will guess it, short enough to type once.
func generatePassword() string { return rand.Text() }

// checkUserName mirrors storage's rule with a message for the form.
func checkUserName(name string) string {
	if name == "" || len(name) > 64 {
		return "Give a name of 1 to 64 characters."
	}
	for _, r := range name {
		ok := r == '-' || r == '_' || r == '.' || r == '@' || (r >= '0' && r <= '9') || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z')
		if !ok {
			return "Use only letters, digits and - _ . @ in a name."
		}
	}
	return ""
}

// checkPassword mirrors storage's limits with a message for the form.
func checkPassword(p string) string {
	switch {
	case len(p) < storage.MinPasswordLength:
		return "Passwords need at least " + strconv.Itoa(storage.MinPasswordLength) + " characters."
	case len(p) > 72:
		return "Passwords can have at most 72 bytes."
	}
	return ""
}
