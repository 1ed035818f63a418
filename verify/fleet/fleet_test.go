package fleet

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/pfwdctl/pfwdctl/internal/fail"
	"github.com/pfwdctl/pfwdctl/internal/target"
	"github.com/pfwdctl/pfwdctl/internal/testenv"
	"github.com/pfwdctl/pfwdctl/verify"
	"github.com/pfwdctl/pfwdctl/verify/lab"
)

// startLabs starts n lab sshds at once, each with its own host key and
// client key, all allowed to forward to echo.
func startLabs(tb testing.TB, n int, echo target.Target, o lab.Options) []*lab.Server {
	tb.Helper()
	o.Sshd = testenv.Sshd(tb)
	o.Targets = []target.Target{echo}
	labs := make([]*lab.Server, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range labs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			labs[i], errs[i] = lab.Start(ctx, o)
		}()
	}
	wg.Wait()
	for i, s := range labs {
		if s != nil {
			tb.Cleanup(func() { s.Close() })
		}
		if errs[i] != nil {
			tb.Fatalf("lab %d: %v", i, errs[i])
		}
	}
	return labs
}

// inventoryLine is the line an admin would write for the lab: its port,
// account, key and pinned host key.
func inventoryLine(s *lab.Server) string {
	return fmt.Sprintf("%s user=%s key=%s host-key=%s", s.Addr, s.User, s.ClientKeyFile, ssh.FingerprintSHA256(s.HostKey))
}

func listenEcho(tb testing.TB) target.Target {
	tb.Helper()
	e, err := lab.ListenEcho()
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { e.Close() })
	return e.Target
}

func readInventory(tb testing.TB, lines []string) []Host {
	tb.Helper()
	p := filepath.Join(tb.TempDir(), "inventory")
	if err := os.WriteFile(p, []byte("# lab fleet\n"+strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		tb.Fatal(err)
	}
	hosts, err := ReadFile(p)
	if err != nil {
		tb.Fatal(err)
	}
	return hosts
}

// TestVerifyFleet runs the real checks against 20 good lab sshds, one with
// PermitOpen any and a key without options, and one port nobody listens on, all at once.
func TestVerifyFleet(t *testing.T) {
	echo := listenEcho(t)
	good := startLabs(t, 20, echo, lab.Options{})
	bad := startLabs(t, 1, echo, lab.Options{BareKey: true, Edit: lab.ReplaceLine("20-pfwd-only.conf", "PermitOpen", "PermitOpen any")})[0]
	closed := good[0].Addr[:strings.LastIndex(good[0].Addr, ":")] + ":1"

	var lines []string
	for _, s := range good {
		lines = append(lines, inventoryLine(s))
	}
	lines = append(lines, inventoryLine(bad), closed+" user=nobody key="+good[0].ClientKeyFile+" host-key="+fp+" # nothing listens")
	hosts := readInventory(t, lines)

	var mu sync.Mutex
	var progress []int
	rs := Verify(context.Background(), hosts, Options{
		Base:     verify.Options{Targets: []target.Target{echo}, Timeout: 20 * time.Second},
		Parallel: 16,
		Done: func(finished, total int, r HostResult) {
			mu.Lock()
			progress = append(progress, finished)
			mu.Unlock()
		},
	})
	if len(rs) != 22 || len(progress) != 22 || progress[21] != 22 {
		t.Fatalf("%d results, progress %v", len(rs), progress)
	}
	for i, r := range rs[:20] {
		if r.Outcome != Passed {
			t.Errorf("host %d (%s): %s %v %s\n%s", i, r.Addr, r.Outcome, r.Failed, r.Error, good[i].Logs())
		}
		if r.Report == nil || len(r.Report.Checks) == 0 {
			t.Errorf("host %d: no checks in the report", i)
		}
	}
	if r := rs[20]; r.Outcome != Failed || !contains(r.Failed, "other-ports-prohibited") {
		t.Errorf("the host with PermitOpen any: %s, failed %v, %s", r.Outcome, r.Failed, r.Error)
	}
	if r := rs[21]; r.Outcome != Unreachable || r.Reason != string(verify.Refused) || r.Hint == "" {
		t.Errorf("the closed port: %+v", r)
	}
	s := Summarize(rs)
	if s != (Summary{Hosts: 22, Passed: 20, Failed: 1, Unreachable: 1}) || fail.Code(s.Err()) != 1 {
		t.Errorf("summary %+v exit %d", s, fail.Code(s.Err()))
	}
	if s := Summarize(append(rs[:20:20], rs[21])); fail.Code(s.Err()) != 3 {
		t.Errorf("unreachable only: exit %d, want 3", fail.Code(s.Err()))
	}
}

func TestVerifyBadKeyFile(t *testing.T) {
	t.Parallel()
	hosts := readInventory(t, []string{"127.0.0.1:1 key=/nonexistent/key", "127.0.0.1:2 key=/nonexistent/key"})
	rs := Verify(context.Background(), hosts, Options{})
	for _, r := range rs {
		if r.Outcome != Errored || !strings.Contains(r.Error, "/nonexistent/key") {
			t.Errorf("%+v", r)
		}
	}
	if fail.Code(Summarize(rs).Err()) != 3 {
		t.Errorf("exit %d", fail.Code(Summarize(rs).Err()))
	}
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// BenchmarkFleet verifies one lab host, then 20 at once (--parallel 16 and
// 20), against the same 20 running sshds. The "ratio" metric is the
// 20-host wall time over one host's: sequentially it would be 20.
//
//	go test ./verify/fleet -run '^$' -bench Fleet -benchtime 5x
func BenchmarkFleet(b *testing.B) {
	echo := listenEcho(b)
	labs := startLabs(b, 20, echo, lab.Options{})
	var lines []string
	for _, s := range labs {
		lines = append(lines, inventoryLine(s))
	}
	hosts := readInventory(b, lines)
	base := verify.Options{Targets: []target.Target{echo}, Timeout: 30 * time.Second}
	run := func(b *testing.B, hs []Host, parallel int) time.Duration {
		start := time.Now()
		for b.Loop() {
			for _, r := range Verify(context.Background(), hs, Options{Base: base, Parallel: parallel}) {
				if r.Outcome != Passed {
					b.Fatalf("%s: %s %v %s", r.Addr, r.Outcome, r.Failed, r.Error)
				}
			}
		}
		return time.Since(start) / time.Duration(b.N)
	}
	var one time.Duration
	b.Run("hosts=1", func(b *testing.B) { one = run(b, hosts[:1], 1) })
	for _, p := range []int{16, 20} {
		b.Run(fmt.Sprintf("hosts=20/parallel=%d", p), func(b *testing.B) {
			d := run(b, hosts, p)
			if one > 0 {
				b.ReportMetric(float64(d)/float64(one), "x-one-host")
			}
		})
	}
}
