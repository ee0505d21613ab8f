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

// retryPolicy says how reads are retried.
type retryPolicy struct {
	maxAttempts int
	base        time.Duration
	maxDelay    time.Duration
}

// retryable reports whether a read that failed with err (an *Error or a
// transport error) may be tried again.
func retryable(ctx context.Context, err error) bool {
	if ctx.Err() != nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var he *Error
	if errors.As(err, &he) {
		return he.StatusCode == http.StatusTooManyRequests || he.StatusCode == http.StatusServiceUnavailable
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
