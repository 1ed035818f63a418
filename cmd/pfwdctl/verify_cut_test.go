package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/pfwdctl/pfwdctl/internal/fail"
	"github.com/pfwdctl/pfwdctl/internal/run"
	"github.com/pfwdctl/pfwdctl/verify/lab"
)

// TestVerifyCLIInterruptedSweep: SIGINT during verify --sweep against a
// correct server printed ✗ for the checks it cut short (with "limit
// PermitOpen" as the fix), ran seconds more, said "timeout … raise
// --timeout", and exited 130 while --json said "exit_code": 3, "reason":
// "timeout". Now the checks cut short are "?" (not finished), the run
// stops at once, and the text, --json and the exit code all say
// interrupted. A deadline (--timeout) says timeout, with exit 3 in both.
func TestVerifyCLIInterruptedSweep(t *testing.T) {
	t.Parallel()
	s := labWithEcho(t, lab.Options{})
	base := verifyArgs(s, "--key", s.ClientKeyFile, "--known-hosts", s.KnownHostsFile, "--sweep")
	cli := func(ctx context.Context, args ...string) (string, string, int) {
		var out, errb bytes.Buffer
		e := &Env{IO: IO{In: strings.NewReader(""), Out: &out, Err: &errb}, Runner: run.Exec{},
			Getenv: func(string) string { return "" }, Now: time.Now}
		code := mainContext(ctx, args, e)
		return out.String(), errb.String(), code
	}
	for _, c := range []struct {
		name      string
		args      []string
		interrupt bool
		code      int
		reason    string
		stderr    string
	}{
		{"interrupt", nil, true, fail.ExitInterrupted, "interrupted", "pfwdctl: interrupted"},
		{"timeout", []string{"--timeout", "3s"}, false, fail.ExitUnavailable, "timeout", "raise --timeout"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			for _, asJSON := range []bool{false, true} {
				ctx, cancel := context.WithCancel(context.Background())
				if c.interrupt {
					time.AfterFunc(3*time.Second, cancel)
				}
				args := append(append([]string(nil), base...), c.args...)
				if asJSON {
					args = append([]string{"--json"}, args...)
				}
				start := time.Now()
				out, stderr, code := cli(ctx, args...)
				took := time.Since(start)
				cancel()
				if code != c.code {
					t.Fatalf("json %v: exit %d, want %d\n%s%s", asJSON, code, c.code, out, stderr)
				}
				if took > 3*time.Second+cutGrace {
					t.Errorf("json %v: the run took %s for a cut at 3s", asJSON, took)
				}
				if !strings.Contains(stderr, c.stderr) || c.interrupt && strings.Contains(stderr, "timeout") {
					t.Errorf("json %v: stderr:\n%s", asJSON, stderr)
				}
				if !asJSON {
					if strings.Contains(out, "✗") || strings.Contains(out, "PermitOpen") || !strings.Contains(out, "? other-ports-prohibited") || !strings.Contains(out, "not finished") {
						t.Errorf("report:\n%s", out)
					}
					continue
				}
				d := parseDoc(t, out)
				if d.ExitCode != code || d.Reason != c.reason || d.Passed {
					t.Errorf("--json says exit_code %d reason %q, the process exits %d (%s)", d.ExitCode, d.Reason, code, c.reason)
				}
				for _, ch := range d.Checks {
					if ch.Status == "fail" {
						t.Errorf("false finding: %s: %s", ch.Name, ch.Detail)
					}
				}
			}
		})
	}
}

// cutGrace is how long a run may take past its cut to close its probes
// and report, on a shared two-core machine.
const cutGrace = 2500 * time.Millisecond

// TestVerifyCLIMissingKnownHosts: a known_hosts file that does not exist
// stopped verify at "read known hosts …: no such file or directory"
// (exit 2, no fingerprint); an empty file gave the fingerprint and the line
// to add (exit 3). Both now give the latter, and --accept-new creates the
// file.
func TestVerifyCLIMissingKnownHosts(t *testing.T) {
	t.Parallel()
	s := labWithEcho(t, lab.Options{})
	kh := filepath.Join(t.TempDir(), ".ssh", "known_hosts")
	args := verifyArgs(s, "--key", s.ClientKeyFile, "--known-hosts", kh)
	out, stderr, code := runCLI(t, nil, args...)
	if code != 3 || !strings.Contains(stderr, "host key unknown") || !strings.Contains(stderr, ssh.FingerprintSHA256(s.HostKey)) ||
		!strings.Contains(stderr, "ssh-ed25519 AAAA") || strings.Contains(stderr, "no such file") {
		t.Fatalf("exit %d\n%s%s", code, out, stderr)
	}
	if _, stderr, code := runCLI(t, nil, append(args, "--accept-new")...); code != 0 {
		t.Fatalf("--accept-new: exit %d\n%s", code, stderr)
	}
	if fi, err := os.Stat(kh); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("known_hosts after --accept-new: %v %v", fi, err)
	}
}

// TestVerifySelfHints: --self said "check --user and --key" when sshd
// refused its login (it has no --key: it installed its own), and "run
// pfwdctl audit on the server" when a check failed (it runs on the
// server).
func TestVerifySelfHints(t *testing.T) {
	t.Parallel()
	user, err := lab.DefaultUser()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name      string
		o         lab.Options
		code      int
		want, not []string
	}{
		{"auth-fails", lab.Options{Global: []string{"DenyUsers " + user}}, 3,
			[]string{"auth failed", "sshd refused the throwaway key pfwdctl installed for " + user, "run pfwdctl audit"},
			[]string{"--key", "--user", "on the server"}},
		{"check-fails", lab.Options{Edit: lab.ReplaceLine("20-pfwd-only.conf", "AllowTcpForwarding", "AllowTcpForwarding yes")}, 1,
			[]string{"remote-forward-refused", "run pfwdctl audit to see the layers"},
			[]string{"on the server"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			s, tree := selfTree(t, c.o)
			out, stderr, code := runCLI(t, nil, "--root", tree, "verify", "--self", "--user", s.User, "--port", strconv.Itoa(s.Port), "--socket", s.Socket)
			if code != c.code {
				t.Fatalf("exit %d, want %d\n%s%s\n%s", code, c.code, out, stderr, s.Logs())
			}
			for _, w := range c.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr)
				}
			}
			for _, w := range c.not {
				if strings.Contains(stderr, w) {
					t.Errorf("stderr says %q:\n%s", w, stderr)
				}
			}
		})
	}
}
