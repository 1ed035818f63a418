package ca_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/pfwdctl/pfwdctl/internal/ca"
	"github.com/pfwdctl/pfwdctl/internal/run"
	"github.com/pfwdctl/pfwdctl/internal/target"
	"github.com/pfwdctl/pfwdctl/render"
	"github.com/pfwdctl/pfwdctl/users/keyline"
	"github.com/pfwdctl/pfwdctl/verify/lab"
	"github.com/pfwdctl/pfwdctl/verify/lab/labtest"
)

// caLab is a lab sshd whose Match block trusts a fresh pfwdctl CA, with the
// principals file and KRL as apply --ca writes them.
type caLab struct {
	srv        *lab.Server
	echo       *lab.Echo
	ca         ssh.Signer
	caPub, krl string
	principals string
}

func newCALab(t *testing.T, principalsLine func(prefix, user string) string, edits ...func([]render.File) []render.File) *caLab {
	t.Helper()
	dir := t.TempDir()
	priv, pub, err := ca.Init(dir, nil, "test-ca")
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ca.LoadSigner(priv, nil)
	if err != nil {
		t.Fatal(err)
	}
	x := &caLab{echo: labtest.Echo(t), ca: signer, caPub: pub,
		krl: filepath.Join(dir, "revoked.krl"), principals: filepath.Join(dir, "principals")}
	if err := ca.NewKRL(context.Background(), run.Exec{}, x.krl); err != nil {
		t.Fatal(err)
	}
	user, err := lab.DefaultUser()
	if err != nil {
		t.Fatal(err)
	}
	prefix, err := keyline.Prefix(keyline.Options{Targets: []string{x.echo.Target.String()}})
	if err != nil {
		t.Fatal(err)
	}
	if principalsLine == nil {
		// The line apply --ca writes.
		principalsLine = func(_, u string) string {
			l, err := render.PrincipalsLine(render.Params{User: u, Targets: []target.Target{x.echo.Target}})
			if err != nil {
				t.Fatal(err)
			}
			return strings.TrimSuffix(l, "\n")
		}
	}
	if err := os.WriteFile(x.principals, []byte(principalsLine(prefix, user)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// sshd reads these as root; unprivileged, as the lab user (the owner).
	// sshd opens the principals file as the account: t.TempDir's parent is 0700.
	os.Chmod(filepath.Dir(dir), 0o755)
	os.Chmod(dir, 0o755)
	// The Match block exactly as apply --ca renders it, with its host
	// paths pointed at this test's files.
	pubData, _ := os.ReadFile(pub)
	rca, err := render.ParseCA(pubData)
	if err != nil {
		t.Fatal(err)
	}
	files, err := render.Render(render.Params{User: user, Targets: []target.Target{x.echo.Target}, Nologin: render.DefaultNologin, CA: rca})
	if err != nil {
		t.Fatal(err)
	}
	for i, f := range files {
		d := strings.NewReplacer(ca.TrustedCAPath(user), pub, ca.PrincipalsPath(user), x.principals, ca.KRLPath(user), x.krl).Replace(string(f.Data))
		files[i].Data = []byte(d)
	}
	x.srv = labtest.New(t, lab.Options{User: user, Targets: []target.Target{x.echo.Target}, DropIns: files, Edit: lab.Chain(edits...)})
	if !strings.Contains(string(x.srv.DropIns[len(x.srv.DropIns)-1].Data), "TrustedUserCAKeys "+pub) {
		t.Fatalf("the rendered Match block does not trust the test CA:\n%s", x.srv.DropIns[len(x.srv.DropIns)-1].Data)
	}
	return x
}

func (x *caLab) request(serial uint64, now time.Time) ca.SignRequest {
	return ca.SignRequest{Principal: x.srv.User, KeyID: "alice", Serial: serial,
		ValidAfter: now.Add(-time.Minute), ValidBefore: now.Add(time.Hour), ForceCommand: render.DefaultNologin}
}

func certSigner(t *testing.T, cert *ssh.Certificate, key ssh.Signer) ssh.Signer {
	t.Helper()
	s, err := ssh.NewCertSigner(cert, key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSignedCertificateTunnelsAndOnlyIt(t *testing.T) {
	x := newCALab(t, nil)
	friend := labtest.Signer(t)
	now := time.Now()

	cert, err := ca.Sign(x.ca, friend.PublicKey(), x.request(1, now))
	if err != nil {
		t.Fatal(err)
	}
	if err := labtest.Login(x.srv, certSigner(t, cert, friend), x.echo); err != nil {
		t.Fatalf("good_cert: %v", err)
	}
	// The bare key, without its certificate, is not authorized.
	if err := labtest.Login(x.srv, friend, x.echo); err == nil {
		t.Error("fail_bare_key: the friend's key logged in without its certificate")
	}

	expired := x.request(2, now)
	expired.ValidAfter, expired.ValidBefore = now.Add(-2*time.Hour), now.Add(-time.Hour)
	cert2, err := ca.Sign(x.ca, friend.PublicKey(), expired)
	if err != nil {
		t.Fatal(err)
	}
	if err := labtest.Login(x.srv, certSigner(t, cert2, friend), x.echo); err == nil {
		t.Error("fail_expired: a certificate past its window logged in")
	}

	// The same certificate before and after its window ends: sshd
	// compares ValidBefore with its own clock at each login.
	short := x.request(6, now)
	// Five seconds: one login fits in it even on a loaded machine.
	short.ValidBefore = time.Now().Add(5 * time.Second).Truncate(time.Second).Add(time.Second)
	cert6, err := ca.Sign(x.ca, friend.PublicKey(), short)
	if err != nil {
		t.Fatal(err)
	}
	if err := labtest.Login(x.srv, certSigner(t, cert6, friend), x.echo); err != nil {
		t.Errorf("good_short_window: refused inside its window: %v", err)
	}
	time.Sleep(time.Until(short.ValidBefore) + 1100*time.Millisecond)
	if err := labtest.Login(x.srv, certSigner(t, cert6, friend), x.echo); err == nil {
		t.Error("fail_window_ended: the certificate logged in after its window ended")
	}

	other := x.request(3, now)
	other.Principal = "someoneelse"
	cert3, err := ca.Sign(x.ca, friend.PublicKey(), other)
	if err != nil {
		t.Fatal(err)
	}
	if err := labtest.Login(x.srv, certSigner(t, cert3, friend), x.echo); err == nil {
		t.Error("fail_other_principal: a certificate for another principal logged in")
	}

	otherCA, _, err := ca.Init(t.TempDir(), nil, "other")
	if err != nil {
		t.Fatal(err)
	}
	oca, _ := ca.LoadSigner(otherCA, nil)
	cert4, err := ca.Sign(oca, friend.PublicKey(), x.request(4, now))
	if err != nil {
		t.Fatal(err)
	}
	if err := labtest.Login(x.srv, certSigner(t, cert4, friend), x.echo); err == nil {
		t.Error("fail_other_ca: a certificate from another CA logged in")
	}

	// Revocation holds from the next login: sshd reads the KRL each time.
	if err := ca.Revoke(context.Background(), run.Exec{}, x.krl, x.caPub, ca.Revocation{Serial: 1}); err != nil {
		t.Fatal(err)
	}
	if err := labtest.Login(x.srv, certSigner(t, cert, friend), x.echo); err == nil {
		t.Error("fail_revoked_serial: a revoked certificate logged in")
	}
	cert5, err := ca.Sign(x.ca, friend.PublicKey(), x.request(5, now))
	if err != nil {
		t.Fatal(err)
	}
	if err := labtest.Login(x.srv, certSigner(t, cert5, friend), x.echo); err != nil {
		t.Errorf("good_other_serial: revoking serial 1 refused serial 5: %v", err)
	}
	if err := ca.Revoke(context.Background(), run.Exec{}, x.krl, x.caPub, ca.Revocation{ID: "alice"}); err != nil {
		t.Fatal(err)
	}
	if err := labtest.Login(x.srv, certSigner(t, cert5, friend), x.echo); err == nil {
		t.Error("fail_revoked_id: a certificate with a revoked key id logged in")
	}
}

// A certificate signed by hand with permit-pty (not by ca.Sign) is still
// refused a pty: the principals line's restrict holds even with the Match
// block's PermitTTY removed.
func TestHandSignedPtyCertificateGetsNoPty(t *testing.T) {
	x := newCALab(t, nil, lab.WithoutLine("", "PermitTTY"))
	friend := labtest.Signer(t)
	now := time.Now()
	cert := &ssh.Certificate{Key: friend.PublicKey(), Serial: 9, CertType: ssh.UserCert, KeyId: "byhand",
		ValidPrincipals: []string{x.srv.User}, ValidAfter: uint64(now.Add(-time.Minute).Unix()), ValidBefore: uint64(now.Add(time.Hour).Unix()),
		Permissions: ssh.Permissions{Extensions: map[string]string{"permit-pty": "", "permit-port-forwarding": ""}}}
	if err := cert.SignCert(randReader{}, x.ca); err != nil {
		t.Fatal(err)
	}
	cfg := x.srv.ClientConfig()
	cfg.Auth = []ssh.AuthMethod{ssh.PublicKeys(certSigner(t, cert, friend))}
	c, err := ssh.Dial("tcp", x.srv.Addr, cfg)
	if err != nil {
		t.Fatalf("the hand-signed certificate should log in (to be refused the pty): %v", err)
	}
	defer c.Close()
	s, err := c.NewSession()
	if err != nil {
		return // no session at all is also no pty
	}
	defer s.Close()
	if err := s.RequestPty("xterm", 24, 80, ssh.TerminalModes{}); err == nil {
		t.Error("fail_pty: a permit-pty certificate got a pty although the principals line says restrict")
	}
	// Without the prefix the pty is granted: the test above proves the line.
	y := newCALab(t, func(_, u string) string { return u }, lab.WithoutLine("", "PermitTTY"))
	cert.Key = friend.PublicKey()
	if err := cert.SignCert(randReader{}, y.ca); err != nil {
		t.Fatal(err)
	}
	cfg = y.srv.ClientConfig()
	cfg.Auth = []ssh.AuthMethod{ssh.PublicKeys(certSigner(t, cert, friend))}
	c2, err := ssh.Dial("tcp", y.srv.Addr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	s2, err := c2.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if err := s2.RequestPty("xterm", 24, 80, ssh.TerminalModes{}); err != nil {
		t.Errorf("control: without the restrict prefix the pty should be granted, so the test proves the prefix: %v", err)
	}
}

func TestSignRefuses(t *testing.T) {
	dir := t.TempDir()
	priv, _, err := ca.Init(dir, []byte("secret"), "c")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ca.LoadSigner(priv, nil); err != ca.ErrPassphrase {
		t.Errorf("fail_no_passphrase: %v", err)
	}
	if _, err := ca.LoadSigner(priv, []byte("wrong")); err == nil || !strings.Contains(err.Error(), "wrong passphrase") {
		t.Errorf("fail_wrong_passphrase: %v", err)
	}
	signer, err := ca.LoadSigner(priv, []byte("secret"))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := ca.Init(dir, nil, "c"); err == nil {
		t.Error("fail_init_twice: Init replaced an existing CA")
	}
	if fi, _ := os.Stat(priv); fi.Mode().Perm() != 0o600 {
		t.Errorf("CA private key mode %v", fi.Mode())
	}
	friend := labtest.Signer(t)
	now := time.Now()
	good := ca.SignRequest{Principal: "pfwd", KeyID: "alice", Serial: 1, ValidAfter: now, ValidBefore: now.Add(8 * time.Hour), ForceCommand: "/usr/sbin/nologin"}
	cert, err := ca.Sign(signer, friend.PublicKey(), good)
	if err != nil {
		t.Fatal(err)
	}
	if len(cert.Extensions) != 1 || len(cert.CriticalOptions) != 1 || cert.CriticalOptions["force-command"] != "/usr/sbin/nologin" {
		t.Errorf("good_minimal: %+v", cert.Permissions)
	}
	good.From = []string{"203.0.113.0/24"}
	if cert, err = ca.Sign(signer, friend.PublicKey(), good); err != nil || cert.CriticalOptions["source-address"] != "203.0.113.0/24" {
		t.Errorf("good_from: %v %+v", err, cert)
	}
	good.From = nil
	for name, mod := range map[string]func(*ca.SignRequest){
		"fail_no_window":     func(r *ca.SignRequest) { r.ValidBefore = time.Time{} },
		"fail_backwards":     func(r *ca.SignRequest) { r.ValidBefore = r.ValidAfter.Add(-time.Second) },
		"fail_too_long":      func(r *ca.SignRequest) { r.ValidBefore = r.ValidAfter.Add(365 * 24 * time.Hour) },
		"fail_no_force":      func(r *ca.SignRequest) { r.ForceCommand = "" },
		"fail_no_id":         func(r *ca.SignRequest) { r.KeyID = "" },
		"fail_bad_principal": func(r *ca.SignRequest) { r.Principal = "root,pfwd" },
		"fail_serial_zero":   func(r *ca.SignRequest) { r.Serial = 0 },
		"fail_bad_from":      func(r *ca.SignRequest) { r.From = []string{"10.0.0.1/8"} },
	} {
		r := good
		mod(&r)
		if _, err := ca.Sign(signer, friend.PublicKey(), r); err == nil {
			t.Errorf("%s: signed", name)
		}
	}
	// A certificate is not a key to sign.
	if _, err := ca.Sign(signer, cert, good); err == nil {
		t.Error("fail_cert_as_key: signed a certificate")
	}
	// What add-key refuses: a 1024-bit RSA key.
	weak, err := ssh.ParsePublicKey(mustRSA1024(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ca.Sign(signer, weak, good); err == nil {
		t.Error("fail_weak_rsa: signed")
	}
}

func TestSerialsNeverRepeat(t *testing.T) {
	p := filepath.Join(t.TempDir(), "sub", "serial")
	a, err := ca.NextSerial(p, 0)
	if err != nil || a != 1 {
		t.Fatalf("%d %v", a, err)
	}
	b, _ := ca.NextSerial(p, 0)
	c, _ := ca.NextSerial(p, 10) // the audit log knows a higher one
	os.Remove(p)
	d, _ := ca.NextSerial(p, c) // counter lost: the log still floors it
	if b != 2 || c != 11 || d != 12 {
		t.Errorf("serials %d %d %d %d", a, b, c, d)
	}
}
