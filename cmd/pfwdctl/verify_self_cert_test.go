package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"maps"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/pfwdctl/pfwdctl/internal/ca"
	"github.com/pfwdctl/pfwdctl/internal/hostfs"
	"github.com/pfwdctl/pfwdctl/internal/run"
	"github.com/pfwdctl/pfwdctl/render/rendertest"
	"github.com/pfwdctl/pfwdctl/users/keyline"
	"github.com/pfwdctl/pfwdctl/verify/lab"
)

// verify --self --certificate proves the certificate path against the
// real sshd without the CA private key: a throwaway CA is trusted next to
// the real one for the run, its certificate for a throwaway key logs in
// (sshd logs the certificate's key id) and every check passes, and the
// trusted CA file is byte for byte as before afterwards, with both
// changes in the audit log. A principals file that does not name the
// account fails the login (exit 3) and still restores the file; an
// account without apply --ca's files is refused before anything is
// written; --certificate without --self is a usage error.
func TestVerifySelfCertificate(t *testing.T) {
	t.Parallel()
	user, err := lab.DefaultUser()
	if err != nil {
		t.Fatal(err)
	}
	caLines := func(tree string) lab.Options {
		return lab.Options{Edit: lab.ReplaceLine("", "X11Forwarding", "X11Forwarding no\n"+
			"    TrustedUserCAKeys "+filepath.Join(tree, ca.TrustedCAPath(user))+"\n"+
			"    AuthorizedPrincipalsFile "+filepath.Join(tree, ca.PrincipalsPath(user))+"\n"+
			"    RevokedKeys "+filepath.Join(tree, ca.KRLPath(user)))}
	}
	setup := func(t *testing.T, principal func(prefix string) string) (*lab.Server, string, []byte) {
		s, tree := selfTreeFor(t, caLines)
		_, realCA, _ := ed25519.GenerateKey(rand.Reader)
		caSigner, _ := ssh.NewSignerFromKey(realCA)
		caFile := ssh.MarshalAuthorizedKey(caSigner.PublicKey())
		os.WriteFile(filepath.Join(tree, ca.TrustedCAPath(user)), caFile, 0o644)
		prefix, _ := keyline.Prefix(keyline.Options{Targets: []string{s.Targets[0].String()}})
		os.WriteFile(filepath.Join(tree, ca.PrincipalsPath(user)), []byte(principal(prefix)), 0o644)
		if err := ca.NewKRL(context.Background(), run.Exec{}, filepath.Join(tree, ca.KRLPath(user))); err != nil {
			t.Fatal(err)
		}
		return s, tree, caFile
	}
	args := func(s *lab.Server, tree string, more ...string) []string {
		return append([]string{"--root", tree, "verify", "--self", "--user", s.User, "--port", strconv.Itoa(s.Port), "--socket", s.Socket}, more...)
	}

	t.Run("good", func(t *testing.T) {
		t.Parallel()
		s, tree, caFile := setup(t, func(prefix string) string { return prefix + " " + user + "\n" })
		out, stderr, code := runCLI(t, nil, args(s, tree, "--certificate")...)
		if code != 0 {
			t.Fatalf("exit %d\n%s%s\n%s", code, out, stderr, s.Logs())
		}
		if !strings.Contains(out, "self: throwaway CA SHA256:") || !strings.Contains(out, "9 checks:") {
			t.Errorf("report:\n%s", out)
		}
		if !strings.Contains(s.Logs(), "ID pfwdctl-verify-self (serial 1)") {
			t.Errorf("sshd did not log a certificate login:\n%s", s.Logs())
		}
		if now, _ := os.ReadFile(filepath.Join(tree, ca.TrustedCAPath(user))); string(now) != string(caFile) {
			t.Errorf("trusted CA file after the run:\n%s\nwant:\n%s", now, caFile)
		}
		if fi, err := os.Stat(filepath.Join(tree, ca.TrustedCAPath(user))); err != nil || fi.Mode().Perm() != 0o644 || fi.Sys().(*syscall.Stat_t).Uid != 0 && os.Geteuid() == 0 {
			t.Errorf("trusted CA file after the run: %v %v", fi.Mode(), err)
		}
		if k := selfKeys(t, tree, s.User); k != "" {
			t.Errorf("--certificate wrote authorized_keys:\n%s", k)
		}
		audit, _ := os.ReadFile(filepath.Join(tree, "var/log/pfwdctl/audit.jsonl"))
		if !strings.Contains(string(audit), `"`+ca.ActionTrustThrowaway+`"`) || !strings.Contains(string(audit), `"`+ca.ActionUntrustThrowaway+`"`) {
			t.Errorf("audit log lacks the trust and its removal:\n%s", audit)
		}
	})
	t.Run("principal-not-listed", func(t *testing.T) {
		t.Parallel()
		s, tree, caFile := setup(t, func(prefix string) string { return prefix + " someoneelse\n" })
		out, stderr, code := runCLI(t, nil, args(s, tree, "--certificate")...)
		if code != 3 || !strings.Contains(out+stderr, "auth") {
			t.Fatalf("exit %d, want 3 (auth failed)\n%s%s", code, out, stderr)
		}
		// --self has no --key to check: the hint is about its certificate.
		if !strings.Contains(stderr, "sshd refused the certificate from the throwaway CA") || strings.Contains(stderr, "--key") {
			t.Errorf("hint:\n%s", stderr)
		}
		if now, _ := os.ReadFile(filepath.Join(tree, ca.TrustedCAPath(user))); string(now) != string(caFile) {
			t.Errorf("trusted CA file after a failed run:\n%s", now)
		}
	})
	t.Run("no-ca-setup", func(t *testing.T) {
		t.Parallel()
		s, tree := selfTree(t, lab.Options{})
		before := rendertest.Snapshot(t, hostfs.MustRoot(tree))
		out, stderr, code := runCLI(t, nil, args(s, tree, "--certificate")...)
		if code != 2 || !strings.Contains(stderr, "trusts no certificate authority") || !strings.Contains(stderr, "apply --ca") {
			t.Fatalf("exit %d, want 2\n%s%s", code, out, stderr)
		}
		if after := rendertest.Snapshot(t, hostfs.MustRoot(tree)); !maps.Equal(after, before) {
			t.Errorf("the tree changed:\nbefore %v\nafter  %v", before, after)
		}
	})
	t.Run("without-self", func(t *testing.T) {
		t.Parallel()
		if _, stderr, code := runCLI(t, nil, "verify", "--certificate", "--host", "127.0.0.1"); code != 2 || !strings.Contains(stderr, "--certificate only applies with --self") {
			t.Errorf("exit %d: %s", code, stderr)
		}
	})
}
