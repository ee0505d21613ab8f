package emulator

import (
	"context"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/hubdesk/hubdesk/hub"
)

// faults injects the failures a real hub shows under load, so that clients
// can be tested against them: latency, throttling and unavailability.
type faults struct {
	latency     time.Duration
	throttle    float64
	unavailable float64
	retryAfter  time.Duration
}

func newFaults(opts Options) *faults {
	f := &faults{
		latency:     opts.Latency,
		throttle:    opts.ThrottleRate,
		unavailable: opts.UnavailableRate,
		retryAfter:  opts.RetryAfter,
	}
	if f.retryAfter <= 0 {
		f.retryAfter = time.Second
	}
	return f
}

// inject delays the request and may fail it with 429 or 503.
func (f *faults) inject(ctx context.Context) error {
	if f.latency > 0 {
		t := time.NewTimer(f.latency)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return errorf(http.StatusServiceUnavailable, hub.CodeServiceUnavailable, "The request was cancelled.")
		}
	}
	if f.throttle > 0 && rand.Float64() < f.throttle {
		err := errorf(http.StatusTooManyRequests, hub.CodeThrottlingException,
			"Throttling: the IoT hub is receiving too many requests. Retry later.")
		err.retryAfter = f.retryAfter
		return err
	}
	if f.unavailable > 0 && rand.Float64() < f.unavailable {
		err := errorf(http.StatusServiceUnavailable, hub.CodeServiceUnavailable,
			"The service is temporarily unavailable. Retry later.")
		err.retryAfter = f.retryAfter
		return err
	}
	return nil
}
