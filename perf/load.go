package perf

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"
)

// Stats are the figures of one timed loop.
type Stats struct {
	// Ops is how many calls succeeded.
	Ops int
	// Elapsed is the wall time of the loop.
	Elapsed time.Duration
	// Mean, P50 and P99 are the latencies of the calls.
	Mean, P50, P99 time.Duration
}

// Rate is the calls per second.
func (s Stats) Rate() float64 {
	if s.Elapsed <= 0 {
		return 0
	}
	return float64(s.Ops) / s.Elapsed.Seconds()
}

// Measure calls op in a loop from clients goroutines at once for d, and
// times every call. worker (0..clients-1) tells each goroutine which of
// its own resources to use. The first error stops every worker and is
// returned; so does the end of ctx. Every call gets at least one try, so a
// tiny d still measures something.
func Measure(ctx context.Context, clients int, d time.Duration, op func(ctx context.Context, worker int) error) (Stats, error) {
	if clients < 1 {
		return Stats{}, errors.New("perf: Measure: want at least one client")
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	lat := make([][]time.Duration, clients)
	var (
		wg       sync.WaitGroup
		errOnce  sync.Once
		firstErr error
	)
	start := time.Now()
	deadline := start.Add(d)
	for w := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			mine := make([]time.Duration, 0, 1024)
			for first := true; first || time.Now().Before(deadline); first = false {
				if ctx.Err() != nil {
					break
				}
				t0 := time.Now()
				if err := op(ctx, w); err != nil {
					errOnce.Do(func() { firstErr = err; cancel() })
					break
				}
				mine = append(mine, time.Since(t0))
			}
			lat[w] = mine
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if firstErr != nil {
		return Stats{}, firstErr
	}
	if err := ctx.Err(); err != nil {
		return Stats{}, err
	}
	all := slices.Concat(lat...)
	return summarize(all, elapsed), nil
}

// summarize sorts lat in place and takes its figures.
func summarize(lat []time.Duration, elapsed time.Duration) Stats {
	s := Stats{Ops: len(lat), Elapsed: elapsed}
	if len(lat) == 0 {
		return s
	}
	slices.Sort(lat)
	var sum time.Duration
	for _, l := range lat {
		sum += l
	}
	s.Mean = sum / time.Duration(len(lat))
	s.P50 = percentile(lat, 0.50)
	s.P99 = percentile(lat, 0.99)
	return s
}

// percentile is the nearest-rank percentile p (0..1] of sorted.
func percentile(sorted []time.Duration, p float64) time.Duration {
	rank := int(p*float64(len(sorted))+0.999999) - 1
	return sorted[min(max(rank, 0), len(sorted)-1)]
}
