package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/pfwdctl/pfwdctl/internal/ca"
	"github.com/pfwdctl/pfwdctl/internal/hostfs"
	"github.com/pfwdctl/pfwdctl/internal/run"
	"github.com/pfwdctl/pfwdctl/internal/target"
	"github.com/pfwdctl/pfwdctl/users/keyline"
	"github.com/pfwdctl/pfwdctl/verify/lab"
	"github.com/pfwdctl/pfwdctl/verify/lab/labtest"
)

// The whole certificate path through the CLI against a real sshd: ca init,
// ca sign writes FRIEND-cert.pub that logs in and tunnels, ca revoke
// --serial refuses the next login, ca list says so.
func TestCaSignLogsInAndRevokeRefuses(t *testing.T) {
	root := hostfs.MustRoot(t.TempDir())
	exec := inTree(t, root)
	keys := t.TempDir()
	os.Chmod(filepath.Dir(keys), 0o755)
	os.Chmod(keys, 0o755)

	exec(0, "ca", "init", "--out", keys, "--no-passphrase")
	if _, errb := exec(2, "ca", "init", "--out", keys, "--no-passphrase"); !strings.Contains(errb, "already exists") {
		t.Errorf("ca init twice: %s", errb)
	}
	if _, errb := exec(2, "ca", "init", "--out", t.TempDir()); !strings.Contains(errb, ca.KeyName) && !strings.Contains(errb, caPassphraseEnv) {
		t.Errorf("ca init without a terminal or %s: %s", caPassphraseEnv, errb)
	}
	caPriv, caPub := filepath.Join(keys, ca.KeyName), filepath.Join(keys, ca.KeyName+".pub")

	echo := labtest.Echo(t)
	user, err := lab.DefaultUser()
	if err != nil {
		t.Fatal(err)
	}
	// The files apply --ca installs, at their host paths under the tree.
	etc := root.Path("/etc/ssh")
	os.MkdirAll(etc, 0o755)
	os.Chmod(root.Dir(), 0o755)
	os.Chmod(filepath.Dir(root.Dir()), 0o755)
	for _, d := range []string{root.Path("/etc")} {
		os.Chmod(d, 0o755)
	}
	data, _ := os.ReadFile(caPub)
	os.WriteFile(root.Path(ca.TrustedCAPath(user)), data, 0o644)
	prefix, _ := keyline.Prefix(keyline.Options{Targets: []string{echo.Target.String()}})
	os.WriteFile(root.Path(ca.PrincipalsPath(user)), []byte(prefix+" "+user+"\n"), 0o644)
	if err := ca.NewKRL(context.Background(), run.Exec{}, root.Path(ca.KRLPath(user))); err != nil {
		t.Fatal(err)
	}
	srv := labtest.New(t, lab.Options{User: user, Targets: []target.Target{echo.Target},
		Edit: lab.ReplaceLine("", "X11Forwarding", "X11Forwarding no\n"+
			"    TrustedUserCAKeys "+root.Path(ca.TrustedCAPath(user))+"\n"+
			"    AuthorizedPrincipalsFile "+root.Path(ca.PrincipalsPath(user))+"\n"+
			"    RevokedKeys "+root.Path(ca.KRLPath(user)))})

	friend := labtest.Signer(t)
	pubFile := filepath.Join(keys, "friend.pub")
	os.WriteFile(pubFile, ssh.MarshalAuthorizedKey(friend.PublicKey()), 0o644)
	out, _ := exec(0, "ca", "sign", pubFile, "--ca", caPriv, "--name", "alice", "--for", "8h", "--user", user, "--target", echo.Target.String(), "--host", "example.org")
	want := "ssh -N -L " + strings.TrimPrefix(echo.Target.String(), "127.0.0.1:") + ":" + echo.Target.String() + " -i friend -o CertificateFile=friend-cert.pub -o ExitOnForwardFailure=yes"
	if !strings.Contains(out, want) || !strings.Contains(out, user+"@example.org") || !strings.Contains(out, "serial 1") {
		t.Errorf("ca sign output lacks %q:\n%s", want, out)
	}
	certData, err := os.ReadFile(filepath.Join(keys, "friend-cert.pub"))
	if err != nil {
		t.Fatal(err)
	}
	pub, _, _, _, err := ssh.ParseAuthorizedKey(certData)
	if err != nil {
		t.Fatal(err)
	}
	cert := pub.(*ssh.Certificate)
	if err := ca.Check(cert); err != nil || cert.ValidPrincipals[0] != user || cert.KeyId != "alice" {
		t.Errorf("certificate: %v %+v", err, cert)
	}
	signer, _ := ssh.NewCertSigner(cert, friend)
	if err := labtest.Login(srv, signer, echo); err != nil {
		t.Fatalf("good_cli_cert: %v", err)
	}
	if out, _ := exec(0, "ca", "list"); !strings.Contains(out, "alice") || !strings.Contains(out, "valid") {
		t.Errorf("ca list before revoke:\n%s", out)
	}
	// A second certificate gets the next serial.
	if out, _ := exec(0, "ca", "sign", pubFile, "--ca", caPriv, "--name", "alice", "--for", "1h", "--user", user, "--target", echo.Target.String()); !strings.Contains(out, "serial 2") {
		t.Errorf("second certificate:\n%s", out)
	}
	exec(0, "ca", "revoke", "--serial", "1", "--user", user)
	if err := labtest.Login(srv, signer, echo); err == nil {
		t.Error("fail_revoked: serial 1 logged in after ca revoke")
	}
	out, _ = exec(0, "ca", "list", "--user", user)
	if !strings.Contains(out, "revoked") {
		t.Errorf("ca list after revoke:\n%s", out)
	}
	exec(2, "ca", "revoke", "--user", user)
	exec(2, "ca", "sign", pubFile, "--name", "x", "--for", "1h", "--user", user)
	exec(2, "ca", "sign", pubFile, "--ca", caPriv, "--name", "x", "--for", "9999h", "--user", user)
}

func TestCaPassphraseFromEnvOnly(t *testing.T) {
	root := hostfs.MustRoot(t.TempDir())
	keys := t.TempDir()
	run := func(want int, env map[string]string, args ...string) string {
		t.Helper()
		e, out, errb := testEnv()
		e.Getenv = func(k string) string { return env[k] }
		if code := Main(append([]string{"--root", root.Dir()}, args...), e); code != want {
			t.Fatalf("%v: exit %d, want %d\n%s%s", args, code, want, out, errb)
		}
		return out.String() + errb.String()
	}
	pass := map[string]string{caPassphraseEnv: "correct horse"}
	run(0, pass, "ca", "init", "--out", keys)
	priv, _ := os.ReadFile(filepath.Join(keys, ca.KeyName))
	if _, err := ssh.ParsePrivateKey(priv); err == nil {
		t.Fatal("the CA key was written unencrypted")
	}
	friend := labtest.Signer(t)
	pubFile := filepath.Join(keys, "friend.pub")
	os.WriteFile(pubFile, ssh.MarshalAuthorizedKey(friend.PublicKey()), 0o644)
	if out := run(2, nil, "ca", "sign", pubFile, "--ca", filepath.Join(keys, ca.KeyName), "--name", "bob", "--for", "1h"); !strings.Contains(out, caPassphraseEnv) {
		t.Errorf("no passphrase: the hint should name %s:\n%s", caPassphraseEnv, out)
	}
	if _, err := os.Stat(filepath.Join(keys, "friend-cert.pub")); err == nil {
		t.Error("a certificate was written without the passphrase")
	}
	run(0, pass, "ca", "sign", pubFile, "--ca", filepath.Join(keys, ca.KeyName), "--name", "bob", "--for", "1h")
	if _, err := os.Stat(filepath.Join(keys, "friend-cert.pub")); err != nil {
		t.Error(err)
	}
}
