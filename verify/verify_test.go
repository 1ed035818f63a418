package verify_test

import (
	"context"
	"crypto/ed25519"
	"errors"
	"net"
	"os"
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
	if c.Name != verify.CheckShell || c.Status != verify.Fail || c.Detail != "the sftp subsystem answered" {
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
	mute, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mute.Close() })
	go func() {
		for {
			c, err := mute.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
		}
	}()
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
			o.Port = mute.Addr().(*net.TCPAddr).Port
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
