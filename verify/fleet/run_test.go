package fleet

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"
)

func hostsN(n int) []Host {
	hs := make([]Host, n)
	for i := range hs {
		hs[i] = Host{Name: fmt.Sprint("h", i), Addr: fmt.Sprint("h", i)}
	}
	return hs
}

// TestRunBound proves the bound holds and results keep the hosts' order.
func TestRunBound(t *testing.T) {
	t.Parallel()
	var cur, peak atomic.Int32
	var calls atomic.Int32
	res := Run(context.Background(), hostsN(40), 5, func(ctx context.Context, h Host) string {
		n := cur.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		time.Sleep(5 * time.Millisecond)
		cur.Add(-1)
		return h.Name
	}, func(i int, r string) { calls.Add(1) })
	if peak.Load() > 5 || peak.Load() < 2 {
		t.Errorf("peak concurrency %d, want 2..5", peak.Load())
	}
	if calls.Load() != 40 {
		t.Errorf("done called %d times, want 40", calls.Load())
	}
	for i, r := range res {
		if r != fmt.Sprint("h", i) {
			t.Fatalf("result %d is %s: order lost", i, r)
		}
	}
}

// TestRunCancelled: after cancel, every host still has a result (the check
// sees the cancelled ctx) and no new host runs concurrently.
func TestRunCancelled(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	var started atomic.Int32
	res := Run(ctx, hostsN(10), 1, func(ctx context.Context, h Host) string {
		if started.Add(1) == 2 {
			cancel()
		}
		if ctx.Err() != nil {
			return "cancelled"
		}
		return "ok"
	}, nil)
	if len(res) != 10 || res[0] != "ok" || res[9] != "cancelled" {
		t.Errorf("got %v", res)
	}
}

// TestRunDefaultStartsAFleetOfHundredsAtOnce: under DefaultParallel the
// 200 hosts of issue 15's fleet all run at the same time, so their round
// trips overlap (with 16 they ran in 13 waves, 13x one host's time at
// least). Each check waits until all 200 have started; ctx only bounds a
// failing run.
func TestRunDefaultStartsAFleetOfHundredsAtOnce(t *testing.T) {
	t.Parallel()
	const n = 200
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var started atomic.Int32
	all := make(chan struct{})
	res := Run(ctx, hostsN(n), DefaultParallel, func(ctx context.Context, h Host) bool {
		if started.Add(1) == n {
			close(all)
		}
		select {
		case <-all:
			return true
		case <-ctx.Done():
			return false
		}
	}, nil)
	waited := 0
	for _, ok := range res {
		if !ok {
			waited++
		}
	}
	if waited > 0 {
		t.Errorf("%d of %d hosts never ran alongside all the others (DefaultParallel %d)", waited, n, DefaultParallel)
	}
}
