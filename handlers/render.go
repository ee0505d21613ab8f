package handlers

import (
	"bytes"
	"net/http"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

	"github.com/hubdesk/hubdesk/views"
)

// render writes a page with status. It renders into a buffer first so a
// failed render never sends half a page.
func render(c echo.Context, status int, page templ.Component) error {
	var buf bytes.Buffer
	if err := page.Render(c.Request().Context(), &buf); err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.HTMLBlob(status, buf.Bytes())
}

// page fills the layout's view model for the current request, consuming
// pending flash messages.
func (h *Handler) page(c echo.Context, title, nav string) views.Page {
	p := views.Page{
		Title: title,
		Nav:   nav,
		CSS:   h.Assets.URL("style.css"),
		JS:    h.Assets.URL("app.js"),
		Icon:  h.Assets.URL("favicon.svg"),
	}
	if tok, ok := c.Get("csrf").(string); ok {
		p.CSRF = tok
	}
	if u, ok := currentUser(c); ok {
		p.User, p.Role = u.Name, string(u.Role)
	}
	p.Flashes = h.takeFlashes(c)
	return p
}

// redirect sends a 303 See Other, the answer to a successful form post.
func redirect(c echo.Context, url string) error {
	return c.Redirect(http.StatusSeeOther, url)
}
