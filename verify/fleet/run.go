package fleet

import (
	"context"
	"sync"
)

// DefaultParallel is --parallel's default. A host's verify is almost all
// waiting on round trips (a few ms of this machine's CPU per host, ~15 MB
// RSS for 20 hosts at once, ~25 MB for 200), so the bound is there for file
// descriptors (a handful per host in flight; Go raises the soft limit to
// the hard one), not for speed: with 16, 200 hosts ran in 13 waves, at
// least 13x one host's time on any network, against issue 15's 3x.
const DefaultParallel = 256

// Run calls check for every host, at most parallel at a time, and returns
// the results in the hosts' order. done, when not nil, is called after each
// host finishes (from the finishing goroutine, one call at a time), for a
// progress bar. Once ctx is cancelled no new host is started; check gets
// ctx and decides what a cancelled host reports.
func Run[R any](ctx context.Context, hosts []Host, parallel int, check func(context.Context, Host) R, done func(i int, r R)) []R {
	if parallel < 1 {
		parallel = 1
	}
	results := make([]R, len(hosts))
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	var mu sync.Mutex
	for i, h := range hosts {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			// Hosts never started still get a result, computed with the
			// cancelled ctx, so the report has one row per host.
			results[i] = check(ctx, h)
			if done != nil {
				mu.Lock()
				done(i, results[i])
				mu.Unlock()
			}
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			r := check(ctx, h)
			results[i] = r
			if done != nil {
				mu.Lock()
				done(i, r)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return results
}
