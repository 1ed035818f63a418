package verify_test

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/pfwdctl/pfwdctl/internal/fail"
	"github.com/pfwdctl/pfwdctl/internal/target"
	"github.com/pfwdctl/pfwdctl/verify"
	"github.com/pfwdctl/pfwdctl/verify/lab"
	"github.com/pfwdctl/pfwdctl/verify/lab/labtest"
)

// against starts a lab with an echo target and returns Options for it.
func against(t *testing.T, o lab.Options) (*lab.Server, verify.Options) {
	t.Helper()
	return againstTB(t, o)
}

func againstTB(t testing.TB, o lab.Options) (*lab.Server, verify.Options) {
	t.Helper()
	echo := labtest.Echo(t)
	if o.Targets == nil {
		o.Targets = []target.Target{echo.Target}
	}
	s := labtest.New(t, o)
	vo := s.VerifyOptions()
	vo.Timeout = 20 * time.Second
	return s, vo
}

func TestGoodConfigPassesEveryCheck(t *testing.T) {
	t.Parallel()
	s, o := against(t, lab.Options{})
	rep, err := verify.Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range rep.Checks {
		t.Logf("%-24s %-4s %s (%s)", c.Name, c.Status, c.Detail, c.Duration)
		if c.Status != verify.Pass {
			t.Errorf("%s: %s: %s", c.Name, c.Status, c.Detail)
		}
	}
	if !rep.Passed || rep.HostKey != ssh.FingerprintSHA256(s.HostKey) {
		t.Errorf("passed=%v host key %s", rep.Passed, rep.HostKey)
	}
	if strings.Join(rep.AuthMethods, ",") != "publickey" {
		t.Errorf("auth methods %v", rep.AuthMethods)
	}
}

// TestInternalSftpBypassesNologinShell: with a nologin shell, removing
// ForceCommand stops no shell or command, but internal-sftp runs inside
// sshd without the shell, and verify sees it answer.
func TestInternalSftpBypassesNologinShell(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("needs the lab to restrict nobody (root)")
	}
	_, o := against(t, lab.Options{User: "nobody", Sftp: "internal-sftp", Edit: lab.WithoutLine("20-pfwd-only.conf", "ForceCommand")})
	rep, err := verify.Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	c := rep.Checks[0]
	// (A probe still running when sftp answered stops there and adds
	// "the other probes stopped there".)
	if c.Name != verify.CheckShell || c.Status != verify.Fail || !strings.HasPrefix(c.Detail, "the sftp subsystem answered") || strings.Contains(c.Detail, "canary") || strings.Contains(c.Detail, "pty") {
		t.Errorf("want only sftp to get through, got %s %s: %s", c.Name, c.Status, c.Detail)
	}
}

func reasonOf(t *testing.T, err error) verify.Reason {
	t.Helper()
	var ce *verify.ConnectError
	if !errors.As(err, &ce) {
		t.Fatalf("want a *verify.ConnectError, got %T %v", err, err)
	}
	if fail.Code(err) != fail.ExitUnavailable {
		t.Errorf("exit code %d, want 3", fail.Code(err))
	}
	if fail.HintOf(err) == "" {
		t.Error("no hint")
	}
	return ce.Reason
}

// TestConnectErrors: nothing is checked, exit 3 with the reason.
func TestConnectErrors(t *testing.T) {
	t.Parallel()
	s, good := against(t, lab.Options{})
	other, err := ssh.NewSignerFromKey(ed25519.NewKeyFromSeed(make([]byte, 32)))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	wrongKH := filepath.Join(dir, "wrong_known_hosts")
	os.WriteFile(wrongKH, []byte(knownhosts.Line([]string{knownhosts.Normalize(s.Addr)}, other.PublicKey())+"\n"), 0o644)
	emptyKH := filepath.Join(dir, "empty_known_hosts")
	os.WriteFile(emptyKH, nil, 0o644)

	// A port that accepts and never speaks: the timeout.
	mutePort := labtest.Mute(t)
	closed, _ := net.Listen("tcp", "127.0.0.1:0")
	closedPort := closed.Addr().(*net.TCPAddr).Port
	closed.Close()

	cases := []struct {
		name string
		edit func(o *verify.Options)
		want verify.Reason
	}{
		{"wrong-host-key-known-hosts", func(o *verify.Options) { o.HostKey = verify.HostKeyPolicy{KnownHosts: wrongKH} }, verify.HostKeyMismatch},
		{"wrong-host-key-pinned", func(o *verify.Options) {
			o.HostKey = verify.HostKeyPolicy{Fingerprint: ssh.FingerprintSHA256(other.PublicKey())}
		}, verify.HostKeyMismatch},
		{"unknown-host", func(o *verify.Options) { o.HostKey = verify.HostKeyPolicy{KnownHosts: emptyKH} }, verify.HostKeyUnknown},
		{"wrong-user-key", func(o *verify.Options) { o.Auth = []ssh.AuthMethod{ssh.PublicKeys(other)} }, verify.AuthFailed},
		{"wrong-user", func(o *verify.Options) { o.User = "root" }, verify.AuthFailed},
		{"closed-port", func(o *verify.Options) { o.Port = closedPort }, verify.Refused},
		{"mute-port", func(o *verify.Options) {
			o.Port = mutePort
			o.Timeout = 300 * time.Millisecond
		}, verify.Timeout},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			o := good
			c.edit(&o)
			rep, err := verify.Run(context.Background(), o)
			if err == nil {
				t.Fatalf("connected: %+v", rep)
			}
			if got := reasonOf(t, err); got != c.want {
				t.Errorf("reason %q, want %q (%v)", got, c.want, err)
			}
		})
	}
	// The pinned right key and insecure mode both connect.
	for _, p := range []verify.HostKeyPolicy{{Fingerprint: ssh.FingerprintSHA256(s.HostKey)}, {Insecure: true}} {
		o := good
		o.HostKey = p
		if _, err := verify.Run(context.Background(), o); err != nil {
			t.Errorf("%+v: %v", p, err)
		}
	}
}

// TestHostKeyAnyOfTheServers: a server with an ECDSA and an ed25519 host key
// negotiates ECDSA with x/crypto's defaults; the ed25519 fingerprint that
// admins copy from ssh_host_ed25519_key.pub must still pin it.
func TestHostKeyAnyOfTheServers(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ecdsaKey := filepath.Join(dir, "ssh_host_ecdsa_key")
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ecdsa", "-N", "", "-f", ecdsaKey).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v %s", err, out)
	}
	s, o := against(t, lab.Options{Global: []string{"HostKey " + ecdsaKey}})
	ed := ssh.FingerprintSHA256(s.HostKey)
	o.HostKey = verify.HostKeyPolicy{Fingerprint: ed}
	rep, err := verify.Run(context.Background(), o)
	if err != nil {
		t.Fatalf("pinned ed25519 key refused: %v\n%s", err, fail.HintOf(err))
	}
	if rep.HostKey != ed || !rep.Passed {
		t.Fatalf("host key %s passed %v", rep.HostKey, rep.Passed)
	}
	pub, _ := os.ReadFile(ecdsaKey + ".pub")
	ek, _, _, _, err := ssh.ParseAuthorizedKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	o.HostKey = verify.HostKeyPolicy{Fingerprint: ssh.FingerprintSHA256(ek)}
	if _, err := verify.Run(context.Background(), o); err != nil {
		t.Fatalf("pinned ECDSA key refused: %v", err)
	}

	// Unknown host: the hint names every key and the known_hosts lines.
	kh := filepath.Join(dir, "known_hosts")
	os.WriteFile(kh, nil, 0o600)
	o.HostKey = verify.HostKeyPolicy{KnownHosts: kh}
	_, err = verify.Run(context.Background(), o)
	var ce *verify.ConnectError
	if !errors.As(err, &ce) || ce.Reason != verify.HostKeyUnknown {
		t.Fatalf("want host key unknown, got %v", err)
	}
	hint := fail.HintOf(err)
	for _, want := range []string{ed, ssh.FingerprintSHA256(ek), "ssh-ed25519 AAAA", "ecdsa-sha2-nistp256 AAAA"} {
		if !strings.Contains(hint, want) {
			t.Errorf("hint lacks %q:\n%s", want, hint)
		}
	}

	// --accept-new records the key once; later runs use the file.
	o.HostKey = verify.HostKeyPolicy{KnownHosts: kh, AcceptNew: true}
	if _, err := verify.Run(context.Background(), o); err != nil {
		t.Fatalf("accept-new: %v", err)
	}
	data, _ := os.ReadFile(kh)
	if n := strings.Count(string(data), "\n"); n != 1 {
		t.Fatalf("known_hosts after accept-new:\n%s", data)
	}
	o.HostKey = verify.HostKeyPolicy{KnownHosts: kh}
	if _, err := verify.Run(context.Background(), o); err != nil {
		t.Fatalf("recorded key not trusted: %v", err)
	}
	// A listed host with another key stays a mismatch under accept-new.
	other, _ := ssh.NewPublicKey(ed25519.PublicKey(make([]byte, ed25519.PublicKeySize)))
	os.WriteFile(kh, []byte(knownhosts.Line([]string{knownhosts.Normalize(s.Addr)}, other)+"\n"), 0o600)
	o.HostKey = verify.HostKeyPolicy{KnownHosts: kh, AcceptNew: true}
	if _, err := verify.Run(context.Background(), o); !errors.As(err, &ce) || ce.Reason != verify.HostKeyMismatch {
		t.Fatalf("accept-new over a changed key: %v", err)
	}
}

// TestSweepFindsASecondPermittedPort is issue 13: a second permitted port
// elsewhere on the target host (a database, a metrics endpoint), allowed
// by both the Match block and the key, is not among the samples
// other-ports-prohibited tries by default; verify --sweep tries every port
// of the target host and its other spelling and names it.
func TestSweepFindsASecondPermittedPort(t *testing.T) {
	t.Parallel()
	echo := labtest.Echo(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	second := l.Addr().(*net.TCPAddr).Port
	l.Close()
	extra := fmt.Sprintf("127.0.0.1:%d", second)
	_, vo := against(t, lab.Options{Targets: []target.Target{echo.Target},
		KeyOptions: fmt.Sprintf(`restrict,port-forwarding,permitopen="%s",permitopen="%s"`, echo.Target, extra),
		Edit:       lab.ReplaceLine(forward, "PermitOpen", "PermitOpen "+echo.Target.String()+" "+extra)})

	result := func(sweep bool) verify.Result {
		o := vo
		o.Sweep = sweep
		o.Timeout = 2 * time.Minute
		rep, err := verify.Run(context.Background(), o)
		if err != nil {
			t.Fatal(err)
		}
		c, ok := rep.Check(verify.CheckOtherPorts)
		if !ok {
			t.Fatal("no other-ports-prohibited result")
		}
		return c
	}
	if r := result(false); r.Status != verify.Pass {
		t.Logf("the samples found it anyway: %s", r.Detail)
	}
	r := result(true)
	if r.Status != verify.Fail || !strings.Contains(r.Detail, extra+" (sweep) is permitted") {
		t.Fatalf("--sweep missed the second permitted port %s: %s %s", extra, r.Status, r.Detail)
	}
}
