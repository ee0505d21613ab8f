// Package handlers is hubdesk's web interface: echo handlers that load from
// the hub, validate, and render views. Every handler returns an error; one
// error handler turns errors into pages.
package handlers

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"time"

	"github.com/gorilla/sessions"
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/hubdesk/hubdesk/hub"
	"github.com/hubdesk/hubdesk/static"
	"github.com/hubdesk/hubdesk/storage"
)

// Deps is what the handlers need from the rest of the program.
type Deps struct {
	Hub      *hub.Client
	HubName  string // the hub's host name, shown to people
	DB       *storage.DB
	Sessions sessions.Store
	Assets   *static.Assets
	Logger   *slog.Logger
	// Secure marks cookies Secure and sends HSTS: set when served over TLS
	// (directly or behind a TLS-terminating proxy).
	Secure bool
	// SessionMaxAge is how long a sign-in lasts.
	SessionMaxAge time.Duration
	// Ready reports whether the hub and the stores are usable (/readyz).
	Ready func(ctx context.Context) error
	// Metrics, if set, are measured and served at /metrics.
	Metrics *Metrics
	// ProxyAuth, if set, signs people in from the headers of an
	// authenticating reverse proxy (single sign-on).
	ProxyAuth *ProxyAuth
	// HubTimeout bounds each write to the hub, and separately the read
	// that checks a write which got no answer; zero means
	// DefaultHubTimeout.
	HubTimeout time.Duration
	// Proxies are the reverse proxies in front of hubdesk: a request from
	// one of them is from the address its X-Forwarded-For names. Without
	// them the TCP peer is the client and the header is ignored, so that
	// nobody can pick the address sign-in limits count against.
	Proxies []netip.Prefix
	Now     func() time.Time
}

// Handler serves the dashboard.
type Handler struct {
	Deps
	logins *loginLimiter
}

// New returns the dashboard's handlers.
func New(d Deps) *Handler {
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	return &Handler{Deps: d, logins: newLoginLimiter(d.Now)}
}

// contentSecurityPolicy allows only hubdesk's own scripts and styles: hub
// data rendered into a page can never run.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; font-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

// Register installs the middleware and every route on e.
func (h *Handler) Register(e *echo.Echo) {
	e.HTTPErrorHandler = h.handleError
	e.IPExtractor = clientIP(h.Proxies)
	e.Use(middleware.RequestID())
	e.Use(h.logRequests)
	if h.Metrics != nil {
		e.Use(h.Metrics.measure(h.Now))
	}
	e.Use(middleware.Recover())
	e.Use(middleware.BodyLimit("2M"))
	hsts := 0
	if h.Secure {
		hsts = 31536000
	}
	e.Use(middleware.SecureWithConfig(middleware.SecureConfig{
		ContentTypeNosniff:    "nosniff",
		XFrameOptions:         "DENY",
		HSTSMaxAge:            hsts,
		ContentSecurityPolicy: contentSecurityPolicy,
		ReferrerPolicy:        "same-origin",
	}))

	// Operations: no session, no CSRF.
	e.GET("/healthz", h.healthz)
	e.GET("/readyz", h.readyz)
	if h.Metrics != nil {
		e.GET("/metrics", echo.WrapHandler(h.Metrics.Handler()))
	}
	e.GET(static.Prefix+"*", echo.WrapHandler(h.Assets))

	app := e.Group("", middleware.CSRFWithConfig(middleware.CSRFConfig{
		TokenLookup:    "form:_csrf,header:X-CSRF-Token",
		CookieName:     "hubdesk_csrf",
		CookiePath:     "/",
		CookieHTTPOnly: true,
		CookieSecure:   h.Secure,
		CookieSameSite: http.SameSiteStrictMode,
		ErrorHandler: func(err error, c echo.Context) error {
			return echo.NewHTTPError(http.StatusForbidden, "The form expired or came from elsewhere. Reload the page and try again.")
		},
	}))
	app.GET("/login", h.showLogin)
	app.POST("/login", h.login)
	app.POST("/logout", h.logout)

	viewer := app.Group("", h.requireRole(storage.RoleViewer))
	viewer.GET("/", h.showOverview)
	viewer.GET("/devices", h.listDevices)

	editor := app.Group("", h.requireRole(storage.RoleEditor))
	admin := app.Group("", h.requireRole(storage.RoleAdmin))
	viewer.GET("/devices/:id", h.showDevice)
	viewer.GET("/devices/:id/modules/:mid", h.showModule)
	// ~ is never part of a device id, so this cannot shadow a device.
	editor.GET("/devices/~new", h.showNewDevice)
	editor.POST("/devices", h.createDevice)
	editor.POST("/devices/:id", h.updateDevice)
	editor.POST("/devices/:id/keys", h.changeKeys)
	editor.POST("/devices/:id/modules", h.createModule)
	admin.POST("/devices/:id/keys/reveal", h.revealDeviceKeys)
	admin.POST("/devices/:id/delete", h.deleteDevice)
	admin.POST("/devices/:id/modules/:mid/keys/reveal", h.revealModuleKeys)
	admin.POST("/devices/:id/modules/:mid/delete", h.deleteModule)
	for _, twin := range []string{"/devices/:id/twin", "/devices/:id/modules/:mid/twin"} {
		viewer.GET(twin, h.showTwin)
		editor.POST(twin+"/edit", h.editTwin)
		editor.POST(twin+"/review", h.reviewTwin)
		editor.POST(twin+"/save", h.saveTwin)
		editor.POST(twin+"/resolve", h.resolveTwin)
		admin.POST(twin+"/overwrite", h.overwriteTwin)
	}
	h.registerAudit(viewer, editor, admin)
	h.registerAccounts(app, admin)

	// Every group with middleware registers a catch-all for unknown paths
	// that runs the group's middleware, and the last group's wins: an
	// unknown URL would answer 403 to anyone but an admin. One plain 404
	// for everybody replaces them.
	e.RouteNotFound("/*", func(echo.Context) error { return echo.ErrNotFound })
}

// clientIP finds a request's client: the TCP peer, or behind the given
// proxies the last address in X-Forwarded-For that is not one of them.
// Echo's own default would believe the header from anyone, and its
// X-Forwarded-For extractor trusts every private address unless told not
// to: on an intranet that is everybody.
func clientIP(proxies []netip.Prefix) echo.IPExtractor {
	if len(proxies) == 0 {
		return echo.ExtractIPDirect()
	}
	opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
	for _, p := range proxies {
		opts = append(opts, echo.TrustIPRange(&net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}))
	}
	return echo.ExtractIPFromXFFHeader(opts...)
}

// healthz answers while the process is up.
func (h *Handler) healthz(c echo.Context) error {
	return c.String(http.StatusOK, "ok\n")
}

// readyz answers 200 when the hub is reachable and the stores are writable.
func (h *Handler) readyz(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), 3*time.Second)
	defer cancel()
	if h.Ready != nil {
		if err := h.Ready(ctx); err != nil {
			h.Logger.Warn("not ready", "err", err)
			return c.String(http.StatusServiceUnavailable, "not ready\n")
		}
	}
	return c.String(http.StatusOK, "ready\n")
}

// logRequests logs every request with its id, status and duration.
func (h *Handler) logRequests(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := h.Now()
		err := next(c)
		if err != nil {
			c.Error(err)
		}
		res := c.Response()
		level := slog.LevelInfo
		if res.Status >= 500 {
			level = slog.LevelError
		}
		h.Logger.Log(c.Request().Context(), level, "request",
			"id", res.Header().Get(echo.HeaderXRequestID),
			"method", c.Request().Method,
			"route", c.Path(),
			"status", res.Status,
			"dur_ms", float64(h.Now().Sub(start).Microseconds())/1000,
			"user", sessionUser(c),
			"ip", c.RealIP())
		return nil
	}
}
