package hub

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"math/rand/v2"
	"net/http"
	"time"
)

// defaultMaxRetryDelay caps a single wait between attempts. A hub asking
// for longer (Retry-After) gets its error returned instead: an interactive
// caller is better served by "throttled, retry in 60s" than by a hang.
const defaultMaxRetryDelay = 10 * time.Second

// retryPolicy says how often and how fast requests are retried; which
// requests may be is mayRetry's decision.
type retryPolicy struct {
	maxAttempts int
	base        time.Duration
	maxDelay    time.Duration
}

// mayRetry reports whether r, which failed with err, may be sent again.
//
// Reads may, on the errors retryable allows. A write may only when it is
// conditional on an etag (If-Match "etag", not "*") and the hub refused
// it with 429 or 503: the hub sheds those requests before handling them
// (the emulator injects them before any handler runs), and were one ever
// applied all the same, its etag would be spent and the second send would
// get 412, never apply twice. A write that got no answer at all (timeout,
// reset connection) is not retried: its caller has to find out what
// became of it, and a 412 caused by its own first send would mislead it.
// Unconditional writes and creates are never retried.
func (r request) mayRetry(ctx context.Context, err error) bool {
	if r.read {
		return retryable(ctx, err)
	}
	return r.cond != nil && !r.cond.force && refused(ctx, err)
}

// refused reports whether err is the hub turning a request away without
// handling it: throttled (429) or unavailable (503).
func refused(ctx context.Context, err error) bool {
	if ctx.Err() != nil {
		return false
	}
	var he *Error
	return errors.As(err, &he) && (he.StatusCode == http.StatusTooManyRequests || he.StatusCode == http.StatusServiceUnavailable)
}

// retryable reports whether a read that failed with err (an *Error or a
// transport error) may be tried again.
func retryable(ctx context.Context, err error) bool {
	if ctx.Err() != nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var he *Error
	if errors.As(err, &he) {
		return refused(ctx, err)
	}
	// A certificate the client does not trust will not be trusted on the
	// next attempt either.
	var certErr *tls.CertificateVerificationError
	var unknownAuthority x509.UnknownAuthorityError
	var hostnameErr x509.HostnameError
	if errors.As(err, &certErr) || errors.As(err, &unknownAuthority) || errors.As(err, &hostnameErr) {
		return false
	}
	// Anything else from the transport: connection refused or reset,
	// EOF before a response.
	return true
}

// delay is how long to wait before attempt number attempt+1 (attempt
// counts from 1), and false if the wait would exceed maxDelay. A
// Retry-After from the hub wins over the exponential backoff.
func (p retryPolicy) delay(attempt int, err error) (time.Duration, bool) {
	var he *Error
	if errors.As(err, &he) && he.RetryAfter > 0 {
		return he.RetryAfter, he.RetryAfter <= p.maxDelay
	}
	d := p.base << (attempt - 1)
	if d > p.maxDelay || d <= 0 && p.base > 0 {
		d = p.maxDelay
	}
	// Full jitter in [d/2, d): spreads clients that failed together.
	if half := d / 2; half > 0 {
		d = half + rand.N(half)
	}
	return d, true
}
