package handlers

import (
	"net/http"
	"net/url"
	"time"

	"github.com/gorilla/sessions"
	"github.com/labstack/echo/v4"

	"github.com/hubdesk/hubdesk/storage"
	"github.com/hubdesk/hubdesk/views"
)

// sessionName is the session cookie's name. The cookie is signed and
// encrypted and holds everything, so any replica can serve any request.
const sessionName = "hubdesk_session"

// Session keys.
const (
	keyUser    = "user"
	keyIssued  = "issued"
	keyFlashes = "flash"
	// keyDraftsSaved holds the saved-draft keys a successful save made
	// obsolete, for the next page to tell the browser.
	keyDraftsSaved = "drafts_saved"
	// keyRevealed holds a password generated for an account, shown once
	// on the next page.
	keyRevealed = "revealed"
	ctxUser     = "hubdesk.user"
)

// NewCookieStore returns the session store: cookies signed with hashKey
// and encrypted with blockKey, HttpOnly, SameSite=Lax, Secure over TLS.
func NewCookieStore(hashKey, blockKey []byte, maxAge time.Duration, secure bool) *sessions.CookieStore {
	s := sessions.NewCookieStore(hashKey, blockKey)
	s.Options = &sessions.Options{
		Path:     "/",
		MaxAge:   int(maxAge.Seconds()),
		HttpOnly: true,
		Secure:   secure,
		SameSite: http.SameSiteLaxMode,
	}
	s.MaxAge(int(maxAge.Seconds()))
	return s
}

func (h *Handler) session(c echo.Context) *sessions.Session {
	s, err := h.Sessions.Get(c.Request(), sessionName)
	if err != nil {
		// A cookie that no longer decodes (key rotated, tampered) is
		// simply a new, empty session.
		s, _ = h.Sessions.New(c.Request(), sessionName)
	}
	return s
}

// currentUser is the signed-in user, set by requireRole.
func currentUser(c echo.Context) (storage.User, bool) {
	u, ok := c.Get(ctxUser).(storage.User)
	return u, ok
}

// sessionUser is the signed-in user's name for logs, "" if none.
func sessionUser(c echo.Context) string {
	u, _ := currentUser(c)
	return u.Name
}

// startSession replaces any existing session with a new one for user, so
// nothing planted in a session before sign-in survives it. The session is
// the cookie, and the store decodes the request's cookie even into a "new"
// session: its values must be dropped by hand.
func (h *Handler) startSession(c echo.Context, user string) error {
	s := h.session(c)
	s.Values = map[any]any{keyUser: user, keyIssued: h.Now().Unix()}
	return s.Save(c.Request(), c.Response())
}

// endSession deletes the session cookie.
func (h *Handler) endSession(c echo.Context) error {
	s := h.session(c)
	s.Values = map[any]any{}
	s.Options.MaxAge = -1
	return s.Save(c.Request(), c.Response())
}

// addFlash queues a message for the next page this person sees.
func (h *Handler) addFlash(c echo.Context, kind, text string) {
	s := h.session(c)
	s.AddFlash(kind+"\x00"+text, keyFlashes)
	if err := s.Save(c.Request(), c.Response()); err != nil {
		h.Logger.Warn("save flash", "err", err)
	}
}

// takeFlashes returns and clears pending flash messages.
func (h *Handler) takeFlashes(c echo.Context) []views.Flash {
	s := h.session(c)
	raw := s.Flashes(keyFlashes)
	if len(raw) == 0 {
		return nil
	}
	if err := s.Save(c.Request(), c.Response()); err != nil {
		h.Logger.Warn("clear flashes", "err", err)
	}
	out := make([]views.Flash, 0, len(raw))
	for _, f := range raw {
		str, _ := f.(string)
		for i := 0; i < len(str); i++ {
			if str[i] == 0 {
				out = append(out, views.Flash{Kind: str[:i], Text: str[i+1:]})
				break
			}
		}
	}
	return out
}

// requireRole lets a request through only for a signed-in, enabled user
// with at least role need. The account is read on every request, so a
// disabled account or a changed role takes effect at once. A person the
// trusted sign-on proxy names needs no session and no account.
func (h *Handler) requireRole(need storage.Role) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			u, ok, err := h.proxyUser(c)
			if err != nil {
				return err
			}
			if !ok {
				s := h.session(c)
				name, _ := s.Values[keyUser].(string)
				issued, _ := s.Values[keyIssued].(int64)
				expired := h.Now().Sub(time.Unix(issued, 0)) > h.SessionMaxAge
				if name == "" || expired {
					// Escaped, or the return URL would lose all but
					// its first query parameter.
					return redirect(c, "/login?next="+url.QueryEscape(safeNext(c.Request().URL.RequestURI())))
				}
				u, err = h.DB.User(c.Request().Context(), name)
				if err != nil || u.Disabled {
					h.endSession(c)
					return redirect(c, "/login")
				}
			}
			c.Set(ctxUser, u)
			if !u.Role.Allows(need) {
				return echo.NewHTTPError(http.StatusForbidden, "Your role ("+string(u.Role)+") does not allow this. Ask an administrator.")
			}
			return next(c)
		}
	}
}
