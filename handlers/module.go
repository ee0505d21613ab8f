package handlers

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/hubdesk/hubdesk/hub"
	"github.com/hubdesk/hubdesk/storage"
	"github.com/hubdesk/hubdesk/views"
)

// showModule is a module identity's page.
func (h *Handler) showModule(c echo.Context) error {
	return h.renderModule(c, false)
}

// revealModuleKeys shows a module's keys and connection strings.
func (h *Handler) revealModuleKeys(c echo.Context) error {
	return h.renderModule(c, true)
}

func (h *Handler) renderModule(c echo.Context, reveal bool) error {
	devID, modID := pathParam(c, "id"), pathParam(c, "mid")
	m, err := h.Hub.GetModule(c.Request().Context(), devID, modID)
	if err != nil {
		return err
	}
	u, _ := currentUser(c)
	p := views.ModulePage{
		Page:                  h.page(c, devID+"/"+modID, "devices"),
		DeviceID:              devID,
		ModuleID:              modID,
		DeviceURL:             deviceURL(devID),
		URL:                   moduleURL(devID, modID),
		TwinURL:               moduleURL(devID, modID) + "/twin",
		ETag:                  m.ETag,
		GenerationID:          m.GenerationID,
		ManagedBy:             m.ManagedBy,
		ConnectionState:       string(m.ConnectionState),
		LastActivity:          ago(h.Now(), m.LastActivityTime),
		CloudToDeviceMessages: m.CloudToDeviceMessageCount,
		System:                strings.HasPrefix(modID, "$"),
		CanAdmin:              u.Role.Allows(storage.RoleAdmin),
	}
	if m.Authentication != nil {
		p.AuthType = string(m.Authentication.Type)
	}
	keys := h.keysOf(m.Authentication, "DeviceId="+devID+";ModuleId="+modID)
	p.HasKeys = keys != nil
	if reveal {
		if keys == nil {
			return echo.NewHTTPError(http.StatusBadRequest, "This module has no symmetric keys.")
		}
		p.Keys = keys
		h.audit(c, storage.AuditEntry{Action: storage.AuditKeyReveal, DeviceID: devID, ModuleID: modID, Section: "keys", ETagBefore: m.ETag}, nil)
	}
	return render(c, http.StatusOK, views.ModulePageView(p))
}

// createModule adds a module with generated keys to a device.
func (h *Handler) createModule(c echo.Context) error {
	devID := pathParam(c, "id")
	modID := strings.TrimSpace(c.FormValue("moduleId"))
	fail := func(msg string) error {
		h.addFlash(c, "bad", msg)
		return redirect(c, deviceURL(devID)+"#modules")
	}
	switch {
	case !hub.ValidID(modID):
		return fail("Module not created: a module id is 1 to 128 characters: letters, digits and - : . + % _ # * ? ! ( ) , = @ ; $ '.")
	case strings.HasPrefix(modID, "$"):
		return fail("Module not created: ids starting with $ are reserved for IoT Edge system modules.")
	}
	ctx, cancel := h.writeContext(c)
	created, err := h.Hub.CreateModule(ctx, &hub.Module{DeviceID: devID, ModuleID: modID,
		Authentication: &hub.AuthenticationMechanism{Type: hub.AuthSAS}})
	cancel()
	entry := storage.AuditEntry{Action: storage.AuditModuleCreate, DeviceID: devID, ModuleID: modID, Section: "identity",
		Sent: `{"authentication":{"type":"sas"}}`}
	if err != nil && uncertain(err) {
		return h.settleModuleCreate(c, devID, modID, entry, err)
	}
	if err == nil {
		entry.ETagAfter = created.ETag
	}
	h.audit(c, entry, err)
	switch {
	case err == nil:
		h.addFlash(c, "ok", "Created module "+modID+".")
		return redirect(c, moduleURL(devID, modID))
	case errors.Is(err, hub.ErrAlreadyExists):
		return fail("Module not created: " + modID + " already exists on this device.")
	case errors.Is(err, hub.ErrBadRequest), errors.Is(err, hub.ErrTooLarge):
		return fail("Module not created: the hub refused it: " + hubMessage(err))
	}
	return err
}

// deleteModule deletes a module with If-Match of the etag the page showed.
func (h *Handler) deleteModule(c echo.Context) error {
	devID, modID := pathParam(c, "id"), pathParam(c, "mid")
	err := h.Hub.DeleteModule(c.Request().Context(), devID, modID, hub.IfMatch(c.FormValue("etag")))
	h.audit(c, storage.AuditEntry{Action: storage.AuditModuleDelete, DeviceID: devID, ModuleID: modID, Section: "identity", ETagBefore: c.FormValue("etag")}, err)
	switch {
	case err == nil:
		h.addFlash(c, "ok", "Deleted module "+modID+" and its twin.")
		return redirect(c, deviceURL(devID)+"#modules")
	case errors.Is(err, hub.ErrPreconditionFailed):
		h.addFlash(c, "bad", "Not deleted: the module changed since you loaded it. Check it and delete again if you still mean to.")
		return redirect(c, moduleURL(devID, modID))
	}
	return err
}

// settleModuleCreate answers a create that failed with err, an uncertain
// error, by reading the module back, as settleDeviceCreate does for
// devices.
func (h *Handler) settleModuleCreate(c echo.Context, devID, modID string, entry storage.AuditEntry, err error) error {
	var now *hub.Module
	fate, rerr := h.settle(c, "", func(ctx context.Context) (string, bool, error) {
		m, err := h.Hub.GetModule(ctx, devID, modID)
		if err != nil {
			return "", false, err
		}
		now = m
		return m.ETag, m.Authentication != nil && m.Authentication.Type == hub.AuthSAS && m.ManagedBy == "", nil
	})
	var msg string
	switch fate {
	case applied:
		entry.ETagAfter, entry.Detail = now.ETag, confirmedDetail
		h.audit(c, entry, nil)
		h.addFlash(c, "ok", "Created module "+modID+". Confirmed by reading it back: the hub was slow to answer.")
		return redirect(c, moduleURL(devID, modID))
	case notApplied:
		msg = noAnswer(err) + "; module " + modID + " was not created (the hub has no such module). Adding it again is safe."
	case overtaken:
		msg = noAnswer(err) + ", and the device now has a module " + modID + " that is not the one you asked for: someone else may have created it meanwhile."
	default:
		if !keepsDraft(rerr) {
			return rerr
		}
		msg = noAnswer(err) + ", and the module could not be read back to check: whether " + modID + " was created is unknown. " +
			"Adding it again is safe: if the first attempt reached the hub, the hub answers that it already exists."
	}
	h.audit(c, entry, &unsettled{err: err, fate: fate})
	h.addFlash(c, "bad", msg)
	return redirect(c, deviceURL(devID)+"#modules")
}
