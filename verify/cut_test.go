package verify_test

import (
	"context"
	"crypto/ed25519"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/pfwdctl/pfwdctl/internal/fail"
	"github.com/pfwdctl/pfwdctl/verify"
	"github.com/pfwdctl/pfwdctl/verify/lab"
	"github.com/pfwdctl/pfwdctl/verify/lab/labtest"
)

// cutGrace is how long a run may take past its deadline or interrupt to
// close its probes and report: on a shared two-core machine, not the
// seconds the old sweep took to drain 131,070 probes on a closed
// connection.
const cutGrace = 2500 * time.Millisecond

// TestCutShortIsNotAFinding: a --sweep against a correct server, cut
// short by --timeout or by an interrupt, reported its unanswered probes as
// findings ("✗ other-ports-prohibited … unexpected packet in response to
// channel open: <nil>; … 128106 permitted destinations", "✗
// remote-forward-refused not probed: tcpip-forward: EOF\ntcpip-forward:
// EOF…"), kept going for seconds after the cut, and called an interrupt a
// timeout (exit 3, not 130). The checks cut short are now Unknown (never
// Fail), the run ends promptly, and the reason follows the cause.
func TestCutShortIsNotAFinding(t *testing.T) {
	t.Parallel()
	_, good := against(t, lab.Options{})
	good.Sweep = true
	for _, c := range []struct {
		name     string
		timeout  time.Duration
		cancelAt time.Duration // 0: no interrupt
		reason   verify.Reason
		code     int
	}{
		{"timeout", 3 * time.Second, 0, verify.Timeout, fail.ExitUnavailable},
		{"interrupt", time.Minute, 3 * time.Second, verify.Interrupted, fail.ExitInterrupted},
	} {
		t.Run(c.name, func(t *testing.T) {
			o := good
			o.Timeout = c.timeout
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			cut := c.timeout
			if c.cancelAt > 0 {
				time.AfterFunc(c.cancelAt, cancel)
				cut = c.cancelAt
			}
			start := time.Now()
			rep, err := verify.Run(ctx, o)
			if took := time.Since(start); took > cut+cutGrace {
				t.Errorf("the run took %s after a cut at %s", took, cut)
			}
			var ce *verify.ConnectError
			if !errors.As(err, &ce) || ce.Reason != c.reason || fail.HintOf(err) == "" {
				t.Errorf("want reason %q with a hint, got %v", c.reason, err)
			}
			if code := fail.Code(err); code != c.code {
				t.Errorf("exit code %d, want %d", code, c.code)
			}
			if rep == nil {
				t.Fatal("no report")
			}
			for _, r := range rep.Checks {
				if r.Status == verify.Fail {
					t.Errorf("false finding from a probe cut short: %s: %s (hint %q)", r.Name, r.Detail, r.Hint)
				}
				if strings.Contains(r.Detail, "\n") || len(r.Detail) > 300 {
					t.Errorf("%s: detail of %d characters: %q", r.Name, len(r.Detail), r.Detail)
				}
			}
			// A sweep of 131,070 forwards takes more than 10 s.
			for _, name := range []string{verify.CheckOtherPorts, verify.CheckRemote} {
				r, _ := rep.Check(name)
				if r.Status != verify.Unknown || !strings.HasPrefix(r.Detail, "not finished") || strings.Contains(r.Hint, "PermitOpen") || strings.Contains(r.Hint, "AllowTcpForwarding") {
					t.Errorf("%s: %s %q (hint %q), want unknown: not finished", name, r.Status, r.Detail, r.Hint)
				}
			}
			if n := rep.Counts(); n.Unknown == 0 || n.Fail != 0 || rep.Passed {
				t.Errorf("counts %+v passed %v", n, rep.Passed)
			}
		})
	}
}

// TestCutShortKeepsFindings: a finding the server answered before the cut
// (a listen it granted) stands, Fail, with a note that there may be more.
func TestCutShortKeepsFindings(t *testing.T) {
	t.Parallel()
	_, o := against(t, lab.Options{Edit: lab.ReplaceLine(forward, "AllowTcpForwarding", "AllowTcpForwarding yes")})
	o.Sweep = true
	// Long enough for the login on a loaded machine, far too short for
	// 129,032 listens.
	o.Timeout = 5 * time.Second
	rep, err := verify.Run(context.Background(), o)
	if reasonOf(t, err) != verify.Timeout || rep == nil {
		t.Fatalf("want a timeout with a report, got %v", err)
	}
	r, _ := rep.Check(verify.CheckRemote)
	if r.Status != verify.Fail || !strings.Contains(r.Detail, "the server listened on") || !strings.Contains(r.Detail, "there may be more") {
		t.Fatalf("granted listens lost in the cut: %s %q", r.Status, r.Detail)
	}
}

// TestGrantedListensSummarised: remote-forward-refused against a server
// that grants -R repeated "the server listened on … (…; cancelled)" once
// per listen, nine times in one ~900-character line; each listen is named
// once, grouped by why it was asked for.
func TestGrantedListensSummarised(t *testing.T) {
	t.Parallel()
	_, o := against(t, lab.Options{Edit: lab.ReplaceLine(forward, "AllowTcpForwarding", "AllowTcpForwarding yes")})
	rep, err := verify.Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	r, _ := rep.Check(verify.CheckRemote)
	if r.Status != verify.Fail {
		t.Fatalf("remote forwards granted but %s: %s", r.Status, r.Detail)
	}
	for _, repeated := range []string{"the server listened", "cancelled", "any free port"} {
		if n := strings.Count(r.Detail, repeated); n != 1 {
			t.Errorf("%q %d times in %q", repeated, n, r.Detail)
		}
	}
	if len(r.Detail) > 400 {
		t.Errorf("detail of %d characters: %s", len(r.Detail), r.Detail)
	}
}

// TestMissingKnownHostsIsEmpty: without ~/.ssh/known_hosts (root on a
// fresh box) verify stopped at "read known hosts …: no such file or
// directory" (exit 2) without the server's fingerprint. A missing file is
// an empty one, as for ssh: the key is unknown and shown, and --accept-new
// creates the file (0600) and its directory (0700).
func TestMissingKnownHostsIsEmpty(t *testing.T) {
	t.Parallel()
	s, o := against(t, lab.Options{})
	home := t.TempDir()
	kh := filepath.Join(home, ".ssh", "known_hosts")

	o.HostKey = verify.HostKeyPolicy{KnownHosts: kh}
	_, err := verify.Run(context.Background(), o)
	if got := reasonOf(t, err); got != verify.HostKeyUnknown {
		t.Fatalf("reason %q, want host key unknown (%v)", got, err)
	}
	if code := fail.Code(err); code != fail.ExitUnavailable {
		t.Errorf("exit code %d, want 3", code)
	}
	hint := fail.HintOf(err)
	for _, want := range []string{ssh.FingerprintSHA256(s.HostKey), "ssh-ed25519 AAAA", kh + " does not exist yet", "--accept-new"} {
		if !strings.Contains(hint, want) {
			t.Errorf("hint lacks %q:\n%s", want, hint)
		}
	}
	if _, err := os.Stat(filepath.Dir(kh)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a run without --accept-new created %s: %v", filepath.Dir(kh), err)
	}

	o.HostKey = verify.HostKeyPolicy{KnownHosts: kh, AcceptNew: true}
	if _, err := verify.Run(context.Background(), o); err != nil {
		t.Fatalf("--accept-new without the file: %v", err)
	}
	fi, err := os.Stat(kh)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("known_hosts after --accept-new: %v %v", fi, err)
	}
	if di, err := os.Stat(filepath.Dir(kh)); err != nil || di.Mode().Perm() != 0o700 {
		t.Fatalf("~/.ssh after --accept-new: %v %v", di, err)
	}
	data, _ := os.ReadFile(kh)
	if want := knownhosts.Line([]string{knownhosts.Normalize(s.Addr)}, s.HostKey) + "\n"; string(data) != want {
		t.Errorf("known_hosts:\n%s\nwant:\n%s", data, want)
	}
	o.HostKey = verify.HostKeyPolicy{KnownHosts: kh}
	if _, err := verify.Run(context.Background(), o); err != nil {
		t.Errorf("the recorded key is not trusted: %v", err)
	}
}

// TestHostKeyHintFollowsItsSource: a wrong --host-key pin was told to
// "update known_hosts (ssh-keygen -R HOST)", a file it never used. The
// hint follows where the expected key came from.
func TestHostKeyHintFollowsItsSource(t *testing.T) {
	t.Parallel()
	s, o := against(t, lab.Options{})
	other, _ := ssh.NewSignerFromKey(ed25519.NewKeyFromSeed(make([]byte, 32)))
	kh := filepath.Join(t.TempDir(), "known_hosts")
	os.WriteFile(kh, []byte(knownhosts.Line([]string{knownhosts.Normalize(s.Addr)}, other.PublicKey())+"\n"), 0o600)
	for _, c := range []struct {
		name          string
		policy        verify.HostKeyPolicy
		want, notWant []string
	}{
		{"pinned", verify.HostKeyPolicy{Fingerprint: ssh.FingerprintSHA256(other.PublicKey())},
			[]string{"pinned --host-key " + ssh.FingerprintSHA256(other.PublicKey()), "pin the right one with --host-key", ssh.FingerprintSHA256(s.HostKey)},
			[]string{"known_hosts", "ssh-keygen -R"}},
		{"known-hosts", verify.HostKeyPolicy{KnownHosts: kh},
			[]string{"ssh-keygen -R '" + knownhosts.Normalize(s.Addr) + "' -f " + kh, "add to " + kh, ssh.FingerprintSHA256(s.HostKey)},
			[]string{"--host-key"}},
		{"own-keys", verify.HostKeyPolicy{KnownHosts: kh, KnownHostsFrom: "/etc/ssh/ssh_host_*_key.pub"},
			[]string{"not among /etc/ssh/ssh_host_*_key.pub", "restart sshd", ssh.FingerprintSHA256(s.HostKey)},
			[]string{"known_hosts", "ssh-keygen -R", "--host-key"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			o := o
			o.HostKey = c.policy
			_, err := verify.Run(context.Background(), o)
			if got := reasonOf(t, err); got != verify.HostKeyMismatch {
				t.Fatalf("reason %q (%v)", got, err)
			}
			hint := fail.HintOf(err)
			for _, w := range c.want {
				if !strings.Contains(hint, w) {
					t.Errorf("hint lacks %q:\n%s", w, hint)
				}
			}
			for _, w := range c.notWant {
				if strings.Contains(hint, w) {
					t.Errorf("hint names %q:\n%s", w, hint)
				}
			}
		})
	}
}

// TestInterruptWhileConnecting: an interrupt before the login finished was
// reported as a timeout (exit 3); it is interrupted (exit 130) too.
func TestInterruptWhileConnecting(t *testing.T) {
	t.Parallel()
	_, o := against(t, lab.Options{})
	mutePort := labtest.Mute(t)
	o.Port = mutePort
	o.Timeout = time.Minute
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(300*time.Millisecond, cancel)
	_, err := verify.Run(ctx, o)
	var ce *verify.ConnectError
	if !errors.As(err, &ce) || ce.Reason != verify.Interrupted || fail.Code(err) != fail.ExitInterrupted {
		t.Fatalf("want interrupted (exit 130), got %v (exit %d)", err, fail.Code(err))
	}
}
