package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/pfwdctl/pfwdctl/internal/golden"
	"github.com/pfwdctl/pfwdctl/internal/run"
	"github.com/pfwdctl/pfwdctl/internal/target"
	"github.com/pfwdctl/pfwdctl/internal/testenv"
	"github.com/pfwdctl/pfwdctl/verify"
	"github.com/pfwdctl/pfwdctl/verify/fleet"
	"github.com/pfwdctl/pfwdctl/verify/lab"
)

// runPfwdctl runs Main with buffers, as a user would run the binary
// (stdout piped: no progress bar, no colour).
func runPfwdctl(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	env := &Env{IO: IO{In: strings.NewReader(""), Out: &out, Err: &errb}, Runner: run.Exec{},
		Getenv: func(k string) string {
			if k == "NO_COLOR" {
				return "1"
			}
			return ""
		}, Now: time.Now}
	code = Main(args, env)
	return out.String(), errb.String(), code
}

func hasVerifyCmd(t *testing.T) {
	t.Helper()
	for _, c := range NewRootCmd(&Globals{Env: manEnv()}).Commands() {
		if c.Name() == "verify" {
			return
		}
	}
	t.Fatal("no verify command: verify --inventory hooks into cmd/pfwdctl/verify.go")
}

// fleetLabs starts n lab sshds at once; edit, when set, breaks the last one.
func fleetLabs(t *testing.T, n int, echo target.Target, broken *lab.Options) []*lab.Server {
	t.Helper()
	sshd := testenv.Sshd(t)
	labs := make([]*lab.Server, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range labs {
		o := lab.Options{}
		if broken != nil && i == n-1 {
			o = *broken
		}
		o.Sshd, o.Targets = sshd, []target.Target{echo}
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
			t.Cleanup(func() { s.Close() })
		}
		if errs[i] != nil {
			t.Fatalf("lab %d: %v", i, errs[i])
		}
	}
	return labs
}

func writeInventory(t *testing.T, labs []*lab.Server, extra ...string) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("# lab fleet\n")
	for _, s := range labs {
		fmt.Fprintf(&b, "%s user=%s key=%s host-key=%s\n", s.Addr, s.User, s.ClientKeyFile, ssh.FingerprintSHA256(s.HostKey))
	}
	for _, e := range extra {
		b.WriteString(e + "\n")
	}
	p := filepath.Join(t.TempDir(), "hosts.txt")
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestVerifyInventory runs pfwdctl verify --inventory against 21 real lab
// sshds at once (20 right, the last with PermitOpen any and a key without
// options) plus a port where nothing listens.
func TestVerifyInventory(t *testing.T) {
	hasVerifyCmd(t)
	echo, err := lab.ListenEcho()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { echo.Close() })
	labs := fleetLabs(t, 21, echo.Target, &lab.Options{BareKey: true, Edit: lab.ReplaceLine("20-pfwd-only.conf", "PermitOpen", "PermitOpen any")})
	good, bad := labs[:20], labs[20]
	closed := fmt.Sprintf("127.0.0.1:1 user=%s key=%s host-key=%s", good[0].User, good[0].ClientKeyFile, ssh.FingerprintSHA256(good[0].HostKey))
	target := "--target=" + echo.Target.String()

	t.Run("all_good_exit_0", func(t *testing.T) {
		out, errOut, code := runPfwdctl(t, "verify", "--inventory", writeInventory(t, good), target, "--parallel", "8")
		if code != 0 {
			t.Fatalf("exit %d\n%s%s", code, out, errOut)
		}
		if !strings.Contains(out, "20 hosts: 20 passed, 0 failed, 0 unreachable") || strings.Count(out, "✓ pass") != 20 {
			t.Errorf("table:\n%s", out)
		}
		if errOut != "" {
			t.Errorf("stderr not empty when piped: %q", errOut)
		}
	})

	t.Run("failing_host_exit_1", func(t *testing.T) {
		inv := writeInventory(t, append(append([]*lab.Server{}, good...), bad), closed)
		out, errOut, code := runPfwdctl(t, "verify", "--inventory", inv, target)
		t.Logf("verify --inventory:\n%s%s", out, errOut)
		if code != 1 {
			t.Fatalf("exit %d, want 1\n%s%s", code, out, errOut)
		}
		if !strings.Contains(out, "22 hosts: 20 passed, 1 failed, 1 unreachable") ||
			!strings.Contains(out, "✗ fail") || !strings.Contains(out, "other-ports-prohibited") ||
			!strings.Contains(out, "✗ unreachable") {
			t.Errorf("table:\n%s", out)
		}
		if !strings.Contains(errOut, "pfwdctl: error: 1 of 22 hosts failed a check") || !strings.Contains(errOut, "pfwdctl: hint: ") {
			t.Errorf("stderr: %q", errOut)
		}

		out, _, code = runPfwdctl(t, "--json", "verify", "--inventory", inv, target)
		var doc struct {
			Hosts, Passed, Failed, Unreachable int
			ExitCode                           int `json:"exit_code"`
			Results                            []struct {
				Name, Addr, Outcome, Reason string
				Failed                      []string
				Report                      *struct{ Checks []json.RawMessage }
			}
		}
		if err := json.Unmarshal([]byte(out), &doc); err != nil {
			t.Fatalf("--json is not one JSON document: %v\n%s", err, out)
		}
		if code != 1 || doc.ExitCode != 1 || doc.Hosts != 22 || doc.Passed != 20 || doc.Failed != 1 || doc.Unreachable != 1 || len(doc.Results) != 22 {
			t.Errorf("exit %d, doc %+v", code, doc)
		}
		if r := doc.Results[21]; r.Outcome != "unreachable" || r.Reason != "refused" {
			t.Errorf("closed port: %+v", r)
		}
		if r := doc.Results[0]; r.Outcome != "pass" || r.Report == nil || len(r.Report.Checks) == 0 {
			t.Errorf("first host: %+v", r)
		}
	})

	t.Run("unreachable_only_exit_3", func(t *testing.T) {
		out, errOut, code := runPfwdctl(t, "verify", "--inventory", writeInventory(t, good[:2], closed), target)
		if code != 3 || !strings.Contains(errOut, "1 of 3 hosts could not be verified") {
			t.Errorf("exit %d\n%s%s", code, out, errOut)
		}
	})
}

func TestVerifyInventoryUsage(t *testing.T) {
	hasVerifyCmd(t)
	t.Parallel()
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.txt")
	os.WriteFile(bad, []byte("web1\nweb2 hostkey=SHA256:x\n"), 0o644)
	empty := filepath.Join(dir, "empty.txt")
	os.WriteFile(empty, []byte("# nobody yet\n"), 0o644)
	good := filepath.Join(dir, "good.txt")
	os.WriteFile(good, []byte("web1\n"), 0o644)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"fail_bad_line", []string{"--inventory", bad}, `bad.txt:2: unknown key "hostkey"`},
		{"fail_missing_file", []string{"--inventory", filepath.Join(dir, "nope")}, "no such file"},
		{"fail_empty", []string{"--inventory", empty}, "lists no hosts"},
		{"fail_with_host", []string{"--inventory", good, "--host", "x"}, "--host and --inventory exclude each other"},
		{"fail_parallel_0", []string{"--inventory", good, "--parallel", "0"}, "--parallel 0: must be at least 1"},
		{"fail_parallel_alone", []string{"--host", "x", "--parallel", "4"}, "--parallel only applies with --inventory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := runPfwdctl(t, append([]string{"verify"}, tc.args...)...)
			if code != 2 || !strings.Contains(errOut, tc.want) || out != "" {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit 2 and %q", code, out, errOut, tc.want)
			}
		})
	}
}

// TestPrintFleet pins the table's layout with one host of each outcome.
func TestPrintFleet(t *testing.T) {
	rs := []fleet.HostResult{
		{Name: "web1", Addr: "192.0.2.1:22", User: "pfwd", Outcome: fleet.Passed, Report: &verify.Report{Checks: make([]verify.Result, 9)}},
		{Name: "web2", Addr: "192.0.2.2:2222", User: "pfwd", Outcome: fleet.Passed, Warned: []string{"tunnel-open"}, Report: &verify.Report{Checks: make([]verify.Result, 9)}},
		{Name: "db1", Addr: "192.0.2.3:22", User: "tunnel", Outcome: fleet.Failed, Failed: []string{"shell-blocked", "other-ports-prohibited"}},
		{Name: "[2001:db8::1]:22", Addr: "[2001:db8::1]:22", User: "pfwd", Outcome: fleet.Unreachable, Reason: "host key mismatch"},
		{Name: "edge", Addr: "edge:22", User: "pfwd", Outcome: fleet.Errored, Error: "read key /k/id: no such file or directory"},
	}
	var out bytes.Buffer
	g := &Globals{Env: &Env{IO: IO{Out: &out}, Getenv: func(string) string { return "" }}}
	printFleet(g, rs, fleet.Summarize(rs), 1234*time.Millisecond)
	golden.Check(t, "cmd/verify-fleet-table.txt", out.Bytes())
}
