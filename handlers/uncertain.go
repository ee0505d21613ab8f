package handlers

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/hubdesk/hubdesk/hub"
)

// A write whose answer never came may or may not have been applied. The
// handlers do not guess and do not leave it to the person: they read the
// resource back and act on what they find (settle). They never send such a
// write again by themselves.

// DefaultHubTimeout is Deps.HubTimeout's default: long enough for a hub
// that throttles (the client waits out a Retry-After of a few seconds and
// tries again), short enough that nobody stares at a spinning page.
const DefaultHubTimeout = 15 * time.Second

func (h *Handler) hubTimeout() time.Duration {
	if h.HubTimeout > 0 {
		return h.HubTimeout
	}
	return DefaultHubTimeout
}

// writeContext bounds one write to the hub.
func (h *Handler) writeContext(c echo.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(c.Request().Context(), h.hubTimeout())
}

// uncertain reports whether a write that failed with err may have been
// applied all the same.
//
// The hub's answers are certain: a 4xx says what was wrong, and 429
// (throttled) and 503 (unavailable) are refusals the hub sends before it
// handles a request (the emulator injects them before any handler runs);
// the client has already retried those that were safe to retry. Any other
// 5xx may come from behind the point where the write was applied. A write
// that got no answer (timeout, reset connection, a reply cut short) may
// have reached the hub.
func uncertain(err error) bool {
	var he *hub.Error
	if errors.As(err, &he) {
		return he.StatusCode >= 500 && he.StatusCode != http.StatusServiceUnavailable
	}
	// Refused by the client before sending.
	return !errors.Is(err, hub.ErrNoCondition)
}

// fate is what became of a write whose answer was lost.
type fate int

const (
	notApplied fate = iota + 1 // the resource is as the write found it
	applied                    // the resource holds the write's change
	overtaken                  // someone else changed the resource meanwhile
	unknown                    // the resource could not be read back
)

// settle reads a resource back after a write that failed with an
// uncertain error and says what became of the write. etag is the version
// the write was conditional on, "" for a create (which the hub refuses
// when the resource exists, so "not found" means "not created"). read
// fetches the resource, keeping what its caller needs, and returns its
// etag and whether it holds the write's change.
//
// The read has a timeout of its own and outlives the person's request, so
// that the audit trail records the final knowledge even when the tab was
// closed; the client retries it on throttling and lost connections.
func (h *Handler) settle(c echo.Context, etag string, read func(context.Context) (now string, holds bool, err error)) (fate, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.Request().Context()), h.hubTimeout())
	defer cancel()
	now, holds, err := read(ctx)
	switch {
	case etag == "" && errors.Is(err, hub.ErrNotFound):
		return notApplied, nil
	case err != nil:
		return unknown, err
	case etag != "" && now == etag:
		return notApplied, nil
	case holds:
		// Were it someone else's write with the same values, the resource
		// still holds what the person asked for: sending it again would
		// only bump the version.
		return applied, nil
	}
	return overtaken, nil
}

// unsettled is a write that got no answer (err) and what reading the
// resource back found: it goes to the audit trail, worded by classify,
// and a write overtaken by someone else's counts as a conflict.
type unsettled struct {
	err  error
	fate fate
}

func (e *unsettled) Error() string {
	switch e.fate {
	case notApplied:
		return "not applied (read back): " + e.err.Error()
	case overtaken:
		return "overtaken by another write (read back): " + e.err.Error()
	}
	return "outcome unknown: " + e.err.Error()
}

func (e *unsettled) Unwrap() error { return e.err }

// Is makes an overtaken write match hub.ErrPreconditionFailed: like a 412,
// the resource changed since the person loaded it and their write is not
// in it.
func (e *unsettled) Is(target error) bool {
	return e.fate == overtaken && target == hub.ErrPreconditionFailed
}

// confirmedDetail is the audit trail's note on a write confirmed by
// reading back.
const confirmedDetail = "The hub did not answer the write; reading it back confirmed it was applied."

// noAnswer says, for a page, why a write's outcome had to be checked.
func noAnswer(err error) string {
	if errors.Is(err, hub.ErrServer) {
		return "The hub answered with a server error that does not say whether the change was applied"
	}
	return "The hub did not answer in time"
}

// resendIsSafe explains, after a write whose outcome stayed unknown, why
// sending it again cannot apply it twice.
const resendIsSafe = "Sending it again is safe: it goes with If-Match of the version you loaded, " +
	"so if the first attempt did reach the hub, the hub refuses the second (412 Precondition Failed) " +
	"and you are shown what changed instead of the change being applied twice."
