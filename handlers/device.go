package handlers

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/hubdesk/hubdesk/hub"
	"github.com/hubdesk/hubdesk/storage"
	"github.com/hubdesk/hubdesk/views"
)

// identity is the editable part of a device identity, as compared after a
// 412. KeysHash stands in for the keys so a change of them underneath is
// seen without the keys ever reaching the page.
type identity struct {
	Status              string `json:"status"`
	StatusReason        string `json:"statusReason"`
	AuthType            string `json:"authType"`
	PrimaryThumbprint   string `json:"primaryThumbprint"`
	SecondaryThumbprint string `json:"secondaryThumbprint"`
	Edge                bool   `json:"edge"`
	DeviceScope         string `json:"deviceScope"`
	KeysHash            string `json:"keys"`
}

func identityOf(d *hub.Device) identity {
	id := identity{
		Status:       string(d.Status),
		StatusReason: d.StatusReason,
		Edge:         d.IsEdge(),
		DeviceScope:  d.DeviceScope,
		AuthType:     string(hub.AuthNone),
	}
	if a := d.Authentication; a != nil {
		id.AuthType = string(a.Type)
		if a.X509Thumbprint != nil {
			id.PrimaryThumbprint = a.X509Thumbprint.PrimaryThumbprint
			id.SecondaryThumbprint = a.X509Thumbprint.SecondaryThumbprint
		}
		if k := a.SymmetricKey; k != nil && (k.PrimaryKey != "" || k.SecondaryKey != "") {
			sum := sha256.Sum256([]byte(k.PrimaryKey + "\x00" + k.SecondaryKey))
			id.KeysHash = hex.EncodeToString(sum[:8])
		}
	}
	return id
}

func (id identity) form(etag string, base identity) views.Identity {
	b, _ := json.Marshal(base)
	return views.Identity{
		ETag:                etag,
		Status:              id.Status,
		StatusReason:        id.StatusReason,
		AuthType:            id.AuthType,
		PrimaryThumbprint:   id.PrimaryThumbprint,
		SecondaryThumbprint: id.SecondaryThumbprint,
		Edge:                id.Edge,
		DeviceScope:         id.DeviceScope,
		Base:                string(b),
	}
}

// identityFields names the fields of identity for people, in form order.
var identityFields = []struct {
	name string
	get  func(identity) string
	set  func(*identity, identity)
}{
	{"Status", func(i identity) string { return i.Status }, func(d *identity, s identity) { d.Status = s.Status }},
	{"Status reason", func(i identity) string { return i.StatusReason }, func(d *identity, s identity) { d.StatusReason = s.StatusReason }},
	{"Authentication", func(i identity) string { return i.AuthType }, func(d *identity, s identity) { d.AuthType = s.AuthType }},
	{"Primary thumbprint", func(i identity) string { return i.PrimaryThumbprint }, func(d *identity, s identity) { d.PrimaryThumbprint = s.PrimaryThumbprint }},
	{"Secondary thumbprint", func(i identity) string { return i.SecondaryThumbprint }, func(d *identity, s identity) { d.SecondaryThumbprint = s.SecondaryThumbprint }},
	{"IoT Edge", func(i identity) string { return fmt.Sprint(i.Edge) }, func(d *identity, s identity) { d.Edge = s.Edge }},
	{"Device scope", func(i identity) string { return i.DeviceScope }, func(d *identity, s identity) { d.DeviceScope = s.DeviceScope }},
	{"Keys", func(i identity) string {
		if i.KeysHash == "" {
			return "none"
		}
		return "set (" + i.KeysHash + ")"
	}, func(d *identity, s identity) { d.KeysHash = s.KeysHash }},
}

// showDevice is a device's page: facts, identity form, modules.
func (h *Handler) showDevice(c echo.Context) error {
	id := pathParam(c, "id")
	d, err := h.Hub.GetDevice(c.Request().Context(), id)
	if err != nil {
		return err
	}
	cur := identityOf(d)
	return h.renderDevice(c, http.StatusOK, d, cur.form(d.ETag, cur), nil, nil, nil)
}

// renderDevice shows d with form (which may hold a draft) and its modules.
func (h *Handler) renderDevice(c echo.Context, status int, d *hub.Device, form views.Identity, errs []views.FieldError, underneath []views.FieldChange, keys *views.Keys) error {
	u, _ := currentUser(c)
	m := views.DevicePage{
		Page:       h.page(c, d.DeviceID, "devices"),
		ID:         d.DeviceID,
		URL:        deviceURL(d.DeviceID),
		TwinURL:    deviceURL(d.DeviceID) + "/twin",
		Form:       form,
		Errors:     errs,
		Underneath: underneath,
		Keys:       keys,
		CanEdit:    u.Role.Allows(storage.RoleEditor),
		CanAdmin:   u.Role.Allows(storage.RoleAdmin),
		Facts: views.DeviceFacts{
			GenerationID:           d.GenerationID,
			ConnectionState:        string(d.ConnectionState),
			ConnectionStateUpdated: ago(h.Now(), d.ConnectionStateUpdatedTime),
			StatusUpdated:          ago(h.Now(), d.StatusUpdatedTime),
			LastActivity:           ago(h.Now(), d.LastActivityTime),
			CloudToDeviceMessages:  d.CloudToDeviceMessageCount,
			ParentScopes:           d.ParentScopes,
			HasKeys:                identityOf(d).KeysHash != "",
		},
	}
	mods, err := h.Hub.ListModules(c.Request().Context(), d.DeviceID)
	if err != nil {
		m.ModuleErr = "The modules could not be loaded: " + classify(err).heading + "."
	}
	for _, mod := range mods {
		m.Modules = append(m.Modules, views.ModuleRow{
			ID:              mod.ModuleID,
			URL:             moduleURL(d.DeviceID, mod.ModuleID),
			TwinURL:         moduleURL(d.DeviceID, mod.ModuleID) + "/twin",
			ConnectionState: string(mod.ConnectionState),
			ManagedBy:       mod.ManagedBy,
			LastActivity:    ago(h.Now(), mod.LastActivityTime),
			System:          strings.HasPrefix(mod.ModuleID, "$"),
		})
	}
	return render(c, status, views.DevicePageView(m))
}

// maxStatusReason is the hub's limit on statusReason.
const maxStatusReason = 128

var thumbprint = regexp.MustCompile(`^([0-9A-Fa-f]{40}|[0-9A-Fa-f]{64})$`)

// readIdentity reads the identity form, checking it as the hub would.
func readIdentity(c echo.Context) (identity, []views.FieldError) {
	id := identity{
		Status:              c.FormValue("status"),
		StatusReason:        strings.TrimSpace(c.FormValue("statusReason")),
		AuthType:            c.FormValue("authType"),
		PrimaryThumbprint:   strings.TrimSpace(c.FormValue("primaryThumbprint")),
		SecondaryThumbprint: strings.TrimSpace(c.FormValue("secondaryThumbprint")),
		Edge:                c.FormValue("edge") == "on",
		DeviceScope:         strings.TrimSpace(c.FormValue("deviceScope")),
	}
	var errs []views.FieldError
	bad := func(field, msg string) { errs = append(errs, views.FieldError{Field: field, Message: msg}) }
	if id.Status != string(hub.StatusEnabled) && id.Status != string(hub.StatusDisabled) {
		bad("status", "Choose enabled or disabled.")
	}
	if len([]rune(id.StatusReason)) > maxStatusReason {
		bad("statusReason", fmt.Sprintf("At most %d characters.", maxStatusReason))
	}
	switch hub.AuthenticationType(id.AuthType) {
	case hub.AuthSAS, hub.AuthCertificateAuthority, hub.AuthNone:
		id.PrimaryThumbprint, id.SecondaryThumbprint = "", ""
	case hub.AuthSelfSigned:
		if !thumbprint.MatchString(id.PrimaryThumbprint) {
			bad("primaryThumbprint", "A self-signed device needs a primary thumbprint of 40 or 64 hex digits.")
		}
		if id.SecondaryThumbprint != "" && !thumbprint.MatchString(id.SecondaryThumbprint) {
			bad("secondaryThumbprint", "A thumbprint is 40 or 64 hex digits.")
		}
	default:
		bad("authType", "Choose an authentication type.")
	}
	return id, errs
}

// apply returns d with the editable fields of id. Keys are kept when the
// type stays sas, and left to the hub to generate when it becomes sas.
func apply(d hub.Device, id identity) *hub.Device {
	d.Status = hub.Status(id.Status)
	d.StatusReason = id.StatusReason
	d.DeviceScope = id.DeviceScope
	d.Capabilities = &hub.DeviceCapabilities{IoTEdge: id.Edge}
	auth := &hub.AuthenticationMechanism{Type: hub.AuthenticationType(id.AuthType)}
	switch auth.Type {
	case hub.AuthSAS:
		if d.Authentication != nil && d.Authentication.Type == hub.AuthSAS {
			auth.SymmetricKey = d.Authentication.SymmetricKey
		}
	case hub.AuthSelfSigned:
		auth.X509Thumbprint = &hub.X509Thumbprint{PrimaryThumbprint: id.PrimaryThumbprint, SecondaryThumbprint: id.SecondaryThumbprint}
	}
	d.Authentication = auth
	return &d
}

// updateDevice saves the identity form with PUT and If-Match of the etag
// the form was loaded with. The other fields (keys above all) come from
// the device as the hub has it now; If-Match makes sure that is the
// version the person saw.
func (h *Handler) updateDevice(c echo.Context) error {
	ctx := c.Request().Context()
	devID := pathParam(c, "id")
	etag := c.FormValue("etag")
	var base identity
	if err := json.Unmarshal([]byte(c.FormValue("base")), &base); err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, "The form is incomplete. Reload the device and try again.")
	}
	mine, errs := readIdentity(c)
	cur, err := h.Hub.GetDevice(ctx, devID)
	if err != nil {
		return err
	}
	if errs != nil {
		return h.renderDevice(c, http.StatusUnprocessableEntity, cur, mine.form(etag, base), errs, nil, nil)
	}
	upd := apply(*cur, mine)
	wctx, cancel := h.writeContext(c)
	saved, err := h.Hub.UpdateDevice(wctx, upd, hub.IfMatch(etag))
	cancel()
	entry := storage.AuditEntry{Action: storage.AuditDeviceUpdate, DeviceID: devID, Section: "identity",
		ETagBefore: etag, Sent: deviceForAudit(upd), Before: identityJSON(base), After: identityJSON(mine)}
	if err != nil && uncertain(err) {
		return h.settleIdentity(c, cur, etag, base, mine, entry, err)
	}
	if err == nil {
		entry.ETagAfter = saved.ETag
	}
	h.audit(c, entry, err)
	switch {
	case err == nil:
		h.addFlash(c, "ok", "Saved the identity of "+devID+".")
		return redirect(c, deviceURL(devID))
	case errors.Is(err, hub.ErrPreconditionFailed):
		h.conflict("identity")
		// Re-read: the device may have changed again since cur.
		if cur, err = h.Hub.GetDevice(ctx, devID); err != nil {
			return err
		}
		return h.identityConflict(c, cur, base, mine, "Not saved: this identity changed since you loaded it.")
	case errors.Is(err, hub.ErrBadRequest):
		return h.renderDevice(c, http.StatusUnprocessableEntity, cur, mine.form(etag, base),
			[]views.FieldError{{Field: "form", Message: "The hub refused the change: " + hubMessage(err)}}, nil, nil)
	}
	return err
}

// identityConflict shows the form holding cur, the identity now, with the
// person's changes (base to mine) on top, and what changed underneath.
func (h *Handler) identityConflict(c echo.Context, cur *hub.Device, base, mine identity, why string) error {
	theirs := identityOf(cur)
	merged, changes := rebaseIdentity(base, theirs, mine)
	return h.renderDevice(c, http.StatusConflict, cur, merged.form(cur.ETag, theirs), []views.FieldError{{Field: "form",
		Message: why + " The form now holds the latest version with your changes on top; check the fields below and save again."}}, changes, nil)
}

// settleDevice settles a device write conditional on etag ("" for a
// create) by reading the device back (see settle): holds says whether the device holds the
// write's change. It returns the device as read, nil if it could not be.
func (h *Handler) settleDevice(c echo.Context, id, etag string, holds func(*hub.Device) bool) (fate, *hub.Device, error) {
	var now *hub.Device
	fate, err := h.settle(c, etag, func(ctx context.Context) (string, bool, error) {
		d, err := h.Hub.GetDevice(ctx, id)
		if err != nil {
			return "", false, err
		}
		now = d
		return d.ETag, holds(d), nil
	})
	return fate, now, err
}

// settleIdentity answers an identity save that failed with err, an
// uncertain error, by reading the device back, as settleTwin does for
// twins. cur is the device as the save found it.
func (h *Handler) settleIdentity(c echo.Context, cur *hub.Device, etag string, base, mine identity, entry storage.AuditEntry, err error) error {
	fate, now, rerr := h.settleDevice(c, cur.DeviceID, etag, func(d *hub.Device) bool {
		return holdsIdentity(base, mine, identityOf(d))
	})
	switch fate {
	case applied:
		entry.ETagAfter, entry.Detail = now.ETag, confirmedDetail
		h.audit(c, entry, nil)
		h.addFlash(c, "ok", "Saved the identity of "+cur.DeviceID+". Confirmed by reading the device back: the hub was slow to answer.")
		return redirect(c, deviceURL(cur.DeviceID))
	case overtaken:
		h.audit(c, entry, &unsettled{err: err, fate: fate})
		h.conflict("identity")
		return h.identityConflict(c, now, base, mine, noAnswer(err)+", and reading the device back showed that someone else changed it meanwhile: your changes are not in it.")
	}
	h.audit(c, entry, &unsettled{err: err, fate: fate})
	msg := noAnswer(err) + "; nothing was saved; your changes are kept below. Reading the device back showed it unchanged, so saving again is safe."
	if fate == unknown {
		if !keepsDraft(rerr) {
			return rerr
		}
		// Saving again sends If-Match of the etag the form was loaded
		// with: a first save that was applied makes the hub refuse the
		// second with 412, so it cannot be applied twice.
		msg = noAnswer(err) + ", and the device could not be read back to check (" + classify(rerr).heading +
			"): whether your changes were saved is unknown. They are kept below. " + resendIsSafe
		now = cur
	}
	return h.renderDevice(c, classify(err).status, now, mine.form(etag, base), []views.FieldError{{Field: "form", Message: msg}}, nil, nil)
}

// holdsIdentity reports whether now holds the person's changes (base to
// mine), whatever else changed. Keys are left out: a switch to sas has the
// hub generate them.
func holdsIdentity(base, mine, now identity) bool {
	for _, f := range identityFields {
		if f.name != "Keys" && f.get(mine) != f.get(base) && f.get(now) != f.get(mine) {
			return false
		}
	}
	return true
}

// rebaseIdentity puts the person's changes (base to mine) on top of theirs
// and lists every field that changed underneath.
func rebaseIdentity(base, theirs, mine identity) (identity, []views.FieldChange) {
	merged := theirs
	var changes []views.FieldChange
	for _, f := range identityFields {
		b, t, m := f.get(base), f.get(theirs), f.get(mine)
		yours := m != b && f.name != "Keys"
		if yours {
			f.set(&merged, mine)
		}
		if t != b {
			changes = append(changes, views.FieldChange{Field: f.name, Loaded: b, Now: t, Yours: m, YoursChanged: yours, Differ: yours && m != t})
		}
	}
	return merged, changes
}

// newKey is a symmetric key as the hub generates them.
func newKey() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

// changeKeys regenerates a key or swaps the two, with If-Match of the
// etag the page was loaded with.
func (h *Handler) changeKeys(c echo.Context) error {
	ctx := c.Request().Context()
	devID := pathParam(c, "id")
	d, err := h.Hub.GetDevice(ctx, devID)
	if err != nil {
		return err
	}
	if d.Authentication == nil || d.Authentication.Type != hub.AuthSAS || d.Authentication.SymmetricKey == nil {
		return echo.NewHTTPError(http.StatusBadRequest, "This device does not use symmetric keys.")
	}
	k := *d.Authentication.SymmetricKey
	var done string
	switch c.FormValue("action") {
	case "regenerate-primary":
		k.PrimaryKey, done = newKey(), "Regenerated the primary key"
	case "regenerate-secondary":
		k.SecondaryKey, done = newKey(), "Regenerated the secondary key"
	case "swap":
		k.PrimaryKey, k.SecondaryKey, done = k.SecondaryKey, k.PrimaryKey, "Swapped the primary and secondary keys"
	default:
		return echo.NewHTTPError(http.StatusBadRequest, "Unknown key action.")
	}
	upd := *d
	upd.Authentication = &hub.AuthenticationMechanism{Type: hub.AuthSAS, SymmetricKey: &k}
	wctx, cancel := h.writeContext(c)
	saved, err := h.Hub.UpdateDevice(wctx, &upd, hub.IfMatch(c.FormValue("etag")))
	cancel()
	entry := storage.AuditEntry{Action: storage.AuditDeviceUpdate, DeviceID: devID, Section: "keys",
		ETagBefore: c.FormValue("etag"), Sent: deviceForAudit(&upd), Detail: done,
		Before: identityJSON(identityOf(d)), After: identityJSON(identityOf(&upd))}
	if err != nil && uncertain(err) {
		return h.settleKeys(c, &upd, c.FormValue("etag"), done, entry, err)
	}
	if err == nil {
		entry.ETagAfter = saved.ETag
	}
	h.audit(c, entry, err)
	switch {
	case err == nil:
		h.addFlash(c, "ok", done+" of "+devID+". Devices using the old key must be given the new one.")
	case errors.Is(err, hub.ErrPreconditionFailed):
		h.addFlash(c, "bad", "Keys not changed: the identity changed since you loaded it. Check it below and try again.")
	default:
		return err
	}
	return redirect(c, deviceURL(devID))
}

// settleKeys answers a key change (upd, sent with If-Match of etag) that
// failed with err, an uncertain error, by reading the device back: the
// keys are new only if the hub holds exactly the ones sent.
func (h *Handler) settleKeys(c echo.Context, upd *hub.Device, etag, done string, entry storage.AuditEntry, err error) error {
	fate, now, _ := h.settleDevice(c, upd.DeviceID, etag, func(d *hub.Device) bool {
		return identityOf(d).KeysHash == identityOf(upd).KeysHash
	})
	switch fate {
	case applied:
		entry.ETagAfter, entry.Detail = now.ETag, done+". "+confirmedDetail
		h.audit(c, entry, nil)
		h.addFlash(c, "ok", done+" of "+upd.DeviceID+". Confirmed by reading the device back: the hub was slow to answer. Devices using the old key must be given the new one.")
		return redirect(c, deviceURL(upd.DeviceID))
	case notApplied:
		h.addFlash(c, "bad", noAnswer(err)+"; the keys were not changed (reading the device back showed it unchanged). Trying again is safe.")
	case overtaken:
		h.addFlash(c, "bad", noAnswer(err)+", and reading the device back showed someone else changed it meanwhile: the keys were not changed. Check it below and try again.")
	default:
		// Trying again sends If-Match of the etag the page was loaded
		// with: the hub refuses it if the first attempt was applied.
		h.addFlash(c, "bad", noAnswer(err)+", and the device could not be read back: whether the keys changed is unknown. "+
			"Reveal the keys to check. Trying again is safe: it goes with If-Match of the version you loaded, so the hub refuses it if the first attempt went through.")
	}
	h.audit(c, entry, &unsettled{err: err, fate: fate})
	return redirect(c, deviceURL(upd.DeviceID))
}

// revealDeviceKeys shows a device's keys and connection strings. Revealing
// is an explicit POST so it can be limited and recorded.
func (h *Handler) revealDeviceKeys(c echo.Context) error {
	d, err := h.Hub.GetDevice(c.Request().Context(), pathParam(c, "id"))
	if err != nil {
		return err
	}
	keys := h.keysOf(d.Authentication, "DeviceId="+d.DeviceID)
	if keys == nil {
		return echo.NewHTTPError(http.StatusBadRequest, "This device has no symmetric keys.")
	}
	h.audit(c, storage.AuditEntry{Action: storage.AuditKeyReveal, DeviceID: d.DeviceID, Section: "keys", ETagBefore: d.ETag}, nil)
	cur := identityOf(d)
	return h.renderDevice(c, http.StatusOK, d, cur.form(d.ETag, cur), nil, nil, keys)
}

// keysOf is the revealed form of auth's keys, nil when there are none.
func (h *Handler) keysOf(auth *hub.AuthenticationMechanism, who string) *views.Keys {
	if auth == nil || auth.SymmetricKey == nil || auth.SymmetricKey.PrimaryKey == "" {
		return nil
	}
	k := auth.SymmetricKey
	conn := "HostName=" + h.HubName + ";" + who + ";SharedAccessKey="
	return &views.Keys{Primary: k.PrimaryKey, Secondary: k.SecondaryKey, PrimaryConnection: conn + k.PrimaryKey, SecondaryConnection: conn + k.SecondaryKey}
}

// deleteDevice deletes a device with If-Match of the etag the page showed.
func (h *Handler) deleteDevice(c echo.Context) error {
	devID := pathParam(c, "id")
	err := h.Hub.DeleteDevice(c.Request().Context(), devID, hub.IfMatch(c.FormValue("etag")))
	h.audit(c, storage.AuditEntry{Action: storage.AuditDeviceDelete, DeviceID: devID, Section: "identity", ETagBefore: c.FormValue("etag")}, err)
	switch {
	case err == nil:
		h.addFlash(c, "ok", "Deleted device "+devID+" with its modules and twins.")
		return redirect(c, "/devices")
	case errors.Is(err, hub.ErrPreconditionFailed):
		h.addFlash(c, "bad", "Not deleted: the device changed since you loaded it. Check it and delete again if you still mean to.")
		return redirect(c, deviceURL(devID))
	}
	return err
}

// showNewDevice is the create-device form.
func (h *Handler) showNewDevice(c echo.Context) error {
	return render(c, http.StatusOK, views.NewDevicePage(views.NewDevice{Page: h.page(c, "New device", "devices"), AuthType: "sas-auto"}))
}

// createDevice registers a device from the create form.
func (h *Handler) createDevice(c echo.Context) error {
	ctx := c.Request().Context()
	m := views.NewDevice{
		ID:           strings.TrimSpace(c.FormValue("deviceId")),
		AuthType:     c.FormValue("authType"),
		PrimaryKey:   strings.TrimSpace(c.FormValue("primaryKey")),
		SecondaryKey: strings.TrimSpace(c.FormValue("secondaryKey")),
		PrimaryTP:    strings.TrimSpace(c.FormValue("primaryThumbprint")),
		SecondaryTP:  strings.TrimSpace(c.FormValue("secondaryThumbprint")),
		Edge:         c.FormValue("edge") == "on",
		Parent:       strings.TrimSpace(c.FormValue("parent")),
	}
	d, errs := newDeviceOf(m)
	if errs == nil && m.Parent != "" {
		parent, err := h.Hub.GetDevice(ctx, m.Parent)
		switch {
		case errors.Is(err, hub.ErrNotFound):
			errs = append(errs, views.FieldError{Field: "parent", Message: "No device " + m.Parent + " on the hub."})
		case err != nil:
			return err
		case !parent.IsEdge():
			errs = append(errs, views.FieldError{Field: "parent", Message: m.Parent + " is not an IoT Edge device, so it cannot be a parent."})
		default:
			d.ParentScopes = []string{parent.DeviceScope}
			if !d.IsEdge() {
				d.DeviceScope = parent.DeviceScope
			}
		}
	}
	if errs == nil {
		wctx, cancel := h.writeContext(c)
		created, err := h.Hub.CreateDevice(wctx, d)
		cancel()
		entry := storage.AuditEntry{Action: storage.AuditDeviceCreate, DeviceID: m.ID, Section: "identity", Sent: deviceForAudit(d)}
		if err != nil && uncertain(err) {
			return h.settleDeviceCreate(c, m, d, entry, err)
		}
		if err == nil {
			entry.ETagAfter, entry.After = created.ETag, identityJSON(identityOf(created))
		}
		h.audit(c, entry, err)
		switch {
		case err == nil:
			h.addFlash(c, "ok", "Created device "+m.ID+".")
			return redirect(c, deviceURL(m.ID))
		case errors.Is(err, hub.ErrAlreadyExists):
			errs = append(errs, views.FieldError{Field: "deviceId", Message: "A device with this id already exists."})
		case errors.Is(err, hub.ErrBadRequest):
			errs = append(errs, views.FieldError{Field: "form", Message: "The hub refused the device: " + hubMessage(err)})
		default:
			return err
		}
	}
	return h.renderNewDevice(c, http.StatusUnprocessableEntity, m, errs)
}

// renderNewDevice shows the create form again with errs.
func (h *Handler) renderNewDevice(c echo.Context, status int, m views.NewDevice, errs []views.FieldError) error {
	// Keys typed by hand are not sent back to the page.
	m.PrimaryKey, m.SecondaryKey = "", ""
	m.Page, m.Errors = h.page(c, "New device", "devices"), errs
	return render(c, status, views.NewDevicePage(m))
}

// settleDeviceCreate answers a create that failed with err, an uncertain
// error, by reading the device back. A create is a PUT without If-Match,
// which the hub refuses (409) when the id is taken: it cannot be applied
// twice either.
func (h *Handler) settleDeviceCreate(c echo.Context, m views.NewDevice, sent *hub.Device, entry storage.AuditEntry, err error) error {
	fate, now, rerr := h.settleDevice(c, sent.DeviceID, "", func(d *hub.Device) bool { return holdsNewDevice(sent, d) })
	var msg string
	switch fate {
	case applied:
		entry.ETagAfter, entry.After, entry.Detail = now.ETag, identityJSON(identityOf(now)), confirmedDetail
		h.audit(c, entry, nil)
		h.addFlash(c, "ok", "Created device "+sent.DeviceID+". Confirmed by reading it back: the hub was slow to answer.")
		return redirect(c, deviceURL(sent.DeviceID))
	case notApplied:
		msg = noAnswer(err) + "; the device was not created (the hub has no device with this id). Your form is kept, so creating it again is safe."
	case overtaken:
		msg = noAnswer(err) + ", and the hub now has a device with this id that is not the one you asked for: someone else may have created it meanwhile. Check it before trying again."
	default:
		if !keepsDraft(rerr) {
			return rerr
		}
		msg = noAnswer(err) + ", and the device could not be read back to check: whether it was created is unknown. " +
			"Creating it again is safe: if the first attempt reached the hub, the hub answers that the id is taken."
	}
	h.audit(c, entry, &unsettled{err: err, fate: fate})
	return h.renderNewDevice(c, classify(err).status, m, []views.FieldError{{Field: "form", Message: msg}})
}

// holdsNewDevice reports whether got is the device sent asked for. What
// the hub fills in (keys when none were given, an edge device's scope) is
// not compared.
func holdsNewDevice(sent, got *hub.Device) bool {
	s, g := identityOf(sent), identityOf(got)
	if s.KeysHash == "" {
		g.KeysHash = ""
	}
	if s.DeviceScope == "" {
		g.DeviceScope = ""
	}
	return s == g
}

// newDeviceOf checks the create form and builds the identity to create.
func newDeviceOf(m views.NewDevice) (*hub.Device, []views.FieldError) {
	var errs []views.FieldError
	bad := func(field, msg string) { errs = append(errs, views.FieldError{Field: field, Message: msg}) }
	if !hub.ValidID(m.ID) {
		bad("deviceId", "A device id is 1 to 128 characters: letters, digits and - : . + % _ # * ? ! ( ) , = @ ; $ '.")
	}
	d := &hub.Device{DeviceID: m.ID, Status: hub.StatusEnabled, Capabilities: &hub.DeviceCapabilities{IoTEdge: m.Edge}}
	switch m.AuthType {
	case "sas-auto":
		d.Authentication = &hub.AuthenticationMechanism{Type: hub.AuthSAS}
	case "sas-manual":
		for _, k := range []struct{ field, v string }{{"primaryKey", m.PrimaryKey}, {"secondaryKey", m.SecondaryKey}} {
			raw, err := base64.StdEncoding.DecodeString(k.v)
			if err != nil || len(raw) < 16 || len(raw) > 64 {
				bad(k.field, "A key is the base64 of 16 to 64 bytes.")
			}
		}
		d.Authentication = &hub.AuthenticationMechanism{Type: hub.AuthSAS, SymmetricKey: &hub.SymmetricKey{PrimaryKey: m.PrimaryKey, SecondaryKey: m.SecondaryKey}}
	case "selfSigned":
		if !thumbprint.MatchString(m.PrimaryTP) {
			bad("primaryThumbprint", "A self-signed device needs a primary thumbprint of 40 or 64 hex digits.")
		}
		if m.SecondaryTP != "" && !thumbprint.MatchString(m.SecondaryTP) {
			bad("secondaryThumbprint", "A thumbprint is 40 or 64 hex digits.")
		}
		d.Authentication = &hub.AuthenticationMechanism{Type: hub.AuthSelfSigned, X509Thumbprint: &hub.X509Thumbprint{PrimaryThumbprint: m.PrimaryTP, SecondaryThumbprint: m.SecondaryTP}}
	case "certificateAuthority":
		d.Authentication = &hub.AuthenticationMechanism{Type: hub.AuthCertificateAuthority}
	default:
		bad("authType", "Choose how the device authenticates.")
	}
	return d, errs
}

// deviceForAudit is the body of a device PUT as the trail keeps it: the
// keys replaced by a marker, as the trail must never hold secrets.
func deviceForAudit(d *hub.Device) string {
	cp := *d
	if a := cp.Authentication; a != nil && a.SymmetricKey != nil {
		redacted := *a
		redacted.SymmetricKey = &hub.SymmetricKey{PrimaryKey: "(secret)", SecondaryKey: "(secret)"}
		if a.SymmetricKey.PrimaryKey == "" && a.SymmetricKey.SecondaryKey == "" {
			redacted.SymmetricKey = nil
		}
		cp.Authentication = &redacted
	}
	b, _ := json.Marshal(cp)
	return string(b)
}
