package handlers

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"golang.org/x/time/rate"

	"github.com/hubdesk/hubdesk/storage"
	"github.com/hubdesk/hubdesk/views"
)

// loginForm is the sign-in form.
type loginForm struct {
	Name     string `form:"name"`
	Password string `form:"password"`
	Next     string `form:"next"`
}

func (h *Handler) showLogin(c echo.Context) error {
	// The sign-on proxy has already signed this person in (or refused
	// them a role, which the page they return to will say).
	if _, ok, err := h.proxyUser(c); ok || err != nil {
		next := safeNext(c.QueryParam("next"))
		if strings.HasPrefix(next, "/login") {
			next = "/"
		}
		return redirect(c, next)
	}
	m := views.Login{Page: h.page(c, "Sign in", ""), Next: safeNext(c.QueryParam("next"))}
	return render(c, http.StatusOK, views.LoginPage(m))
}

func (h *Handler) login(c echo.Context) error {
	var f loginForm
	if err := c.Bind(&f); err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, "The sign-in form could not be read.")
	}
	f.Name = strings.TrimSpace(f.Name)
	fail := func(status int, msg string) error {
		m := views.Login{Page: h.page(c, "Sign in", ""), Name: f.Name, Next: safeNext(f.Next), Error: msg}
		return render(c, status, views.LoginPage(m))
	}
	refund, ok := h.logins.attempt(c.RealIP(), f.Name)
	if !ok {
		h.Logger.Warn("sign-in rate limited", "user", f.Name, "ip", c.RealIP())
		h.signIn("rate_limited")
		return fail(http.StatusTooManyRequests, "Too many sign-in attempts. Wait a few minutes and try again.")
	}
	u, err := h.DB.Authenticate(c.Request().Context(), f.Name, f.Password)
	if errors.Is(err, storage.ErrBadCredentials) {
		h.Logger.Info("sign-in refused", "user", f.Name, "ip", c.RealIP())
		h.signIn("refused")
		return fail(http.StatusUnauthorized, "Wrong user name or password.")
	}
	if err != nil {
		return err
	}
	refund()
	if err := h.startSession(c, u.Name); err != nil {
		return err
	}
	h.Logger.Info("signed in", "user", u.Name, "ip", c.RealIP())
	h.signIn("ok")
	return redirect(c, safeNext(f.Next))
}

func (h *Handler) logout(c echo.Context) error {
	if _, ok, _ := h.proxyUser(c); ok {
		h.addFlash(c, "warn", "Your organisation's sign-on signs you in to hubdesk; sign out there to end it.")
		return redirect(c, "/")
	}
	if err := h.endSession(c); err != nil {
		return err
	}
	h.signIn("signed_out")
	return redirect(c, "/login")
}

// safeNext returns next if it is a path on this site, else "/": a return
// URL must never send a person to another site.
func safeNext(next string) string {
	if next == "" || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n\t") {
		return "/"
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil {
		return "/"
	}
	return next
}

// loginLimiter allows a burst of failed sign-in attempts per client
// address and per user name, refilled slowly, so guessing passwords is
// impractical. Every attempt takes its token before the password is
// checked, so parallel guesses are limited too; a successful sign-in gives
// it back, so people signing in, many from one office address or one
// person many times, never use up the attempts.
type loginLimiter struct {
	mu    sync.Mutex
	now   func() time.Time
	byKey map[string]*limiterEntry
}

type limiterEntry struct {
	lim  *rate.Limiter
	seen time.Time
}

const (
	loginBurst = 10
	loginEvery = 30 * time.Second
)

func newLoginLimiter(now func() time.Time) *loginLimiter {
	return &loginLimiter{now: now, byKey: map[string]*limiterEntry{}}
}

// attempt takes an attempt for ip and user; ok is false when either has
// none left. refund gives the attempt back.
func (l *loginLimiter) attempt(ip, user string) (refund func(), ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if len(l.byKey) > 10000 {
		for k, e := range l.byKey {
			if now.Sub(e.seen) > loginBurst*loginEvery {
				delete(l.byKey, k)
			}
		}
	}
	ok = true
	var taken []*rate.Reservation
	for _, k := range []string{"ip:" + ip, "user:" + strings.ToLower(user)} {
		e := l.byKey[k]
		if e == nil {
			e = &limiterEntry{lim: rate.NewLimiter(rate.Every(loginEvery), loginBurst)}
			l.byKey[k] = e
		}
		e.seen = now
		r := e.lim.ReserveN(now, 1)
		if r.DelayFrom(now) > 0 {
			r.CancelAt(now)
			ok = false
			continue
		}
		taken = append(taken, r)
	}
	return func() {
		// Cancelled as of the moment it was taken: a reservation
		// cancelled after its time has come gives nothing back.
		for _, r := range taken {
			r.CancelAt(now)
		}
	}, ok
}
