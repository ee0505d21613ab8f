package handlers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/hubdesk/hubdesk/hub"
	"github.com/hubdesk/hubdesk/views"
)

// outcome is how an error looks to a person: status, heading, detail.
type outcome struct {
	status          int
	heading, detail string
	retry           bool
}

// classify maps an error to what the person sees. It is the one place hub
// errors become pages; it never shows an internal error's text.
func classify(err error) outcome {
	var he *echo.HTTPError
	var hubErr *hub.Error
	var netErr net.Error
	var us *unsettled
	switch {
	case errors.As(err, &us):
		o := classify(us.err)
		switch us.fate {
		case notApplied:
			o.heading += " (read back: not applied)"
		case overtaken:
			o.heading += " (read back: changed by someone else)"
		default:
			o.heading += " (outcome unknown)"
		}
		return o
	case errors.As(err, &he):
		msg, _ := he.Message.(string)
		if msg == "" || he.Code >= 500 {
			msg = http.StatusText(he.Code)
		}
		return outcome{status: he.Code, heading: http.StatusText(he.Code), detail: msg}
	case errors.Is(err, hub.ErrModuleNotFound):
		return outcome{status: http.StatusNotFound, heading: "Module not found", detail: "The hub has no such module on this device. It may have been deleted."}
	case errors.Is(err, hub.ErrNotFound):
		return outcome{status: http.StatusNotFound, heading: "Device not found", detail: "The hub has no device with this id. It may have been deleted."}
	case errors.Is(err, hub.ErrThrottled):
		wait := "a few seconds"
		if errors.As(err, &hubErr) && hubErr.RetryAfter > 0 {
			wait = hubErr.RetryAfter.Round(time.Second).String()
		}
		return outcome{status: http.StatusServiceUnavailable, heading: "The hub is busy", detail: "IoT Hub is throttling requests. Try again in " + wait + ".", retry: true}
	case errors.As(err, &hubErr) && hubErr.StatusCode == http.StatusServiceUnavailable:
		wait := "a few seconds"
		if hubErr.RetryAfter > 0 {
			wait = hubErr.RetryAfter.Round(time.Second).String()
		}
		return outcome{status: http.StatusServiceUnavailable, heading: "The hub is unavailable", detail: "IoT Hub says it is temporarily unavailable. Try again in " + wait + ".", retry: true}
	case errors.Is(err, hub.ErrUnauthorized), errors.Is(err, hub.ErrForbidden):
		return outcome{status: http.StatusBadGateway, heading: "hubdesk cannot sign in to the hub",
			detail: "The hub refused hubdesk's credentials. An administrator should check the configured connection string (IOTHUB_CONNECTION_STRING) and its policy's rights."}
	case errors.Is(err, hub.ErrServer):
		return outcome{status: http.StatusBadGateway, heading: "The hub had a problem", detail: "IoT Hub answered with a server error. Try again shortly.", retry: true}
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr):
		return outcome{status: http.StatusGatewayTimeout, heading: "The hub is unreachable", detail: "hubdesk could not reach IoT Hub in time. Check the network and try again.", retry: true}
	case errors.As(err, &hubErr):
		return outcome{status: http.StatusBadGateway, heading: "The hub refused the request", detail: hubErr.Message}
	}
	return outcome{status: http.StatusInternalServerError, heading: "Something went wrong", detail: "hubdesk hit an unexpected error. It has been logged."}
}

// handleError renders the error page for err, logging 5xx at error level
// and 4xx at info.
func (h *Handler) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	o := classify(err)
	level := slog.LevelInfo
	if o.status >= 500 {
		level = slog.LevelError
	}
	reqID := c.Response().Header().Get(echo.HeaderXRequestID)
	h.Logger.Log(c.Request().Context(), level, "request failed", "id", reqID, "status", o.status, "err", err)
	if o.status == http.StatusInternalServerError {
		o.detail = fmt.Sprintf("%s Request id: %s.", o.detail, reqID)
	}
	if c.Request().Method == http.MethodHead {
		c.NoContent(o.status)
		return
	}
	m := views.Error{Page: h.page(c, o.heading, ""), Status: o.status, Heading: o.heading, Detail: o.detail, Retry: o.retry}
	if err := render(c, o.status, views.ErrorPage(m)); err != nil {
		h.Logger.Error("render error page", "err", err)
	}
}
