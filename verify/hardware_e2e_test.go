package verify_test

import (
	"context"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"

	"github.com/pfwdctl/pfwdctl/internal/ca"
	"github.com/pfwdctl/pfwdctl/internal/fail"
	"github.com/pfwdctl/pfwdctl/internal/run"
	"github.com/pfwdctl/pfwdctl/internal/sk"
	"github.com/pfwdctl/pfwdctl/internal/target"
	"github.com/pfwdctl/pfwdctl/internal/testenv"
	"github.com/pfwdctl/pfwdctl/render"
	"github.com/pfwdctl/pfwdctl/templates"
	"github.com/pfwdctl/pfwdctl/users/keyline"
	"github.com/pfwdctl/pfwdctl/verify"
	"github.com/pfwdctl/pfwdctl/verify/lab"
	"github.com/pfwdctl/pfwdctl/verify/lab/labtest"
)

// hwLab is one real sshd (as root) with three useradd accounts, each with
// its own Match block as apply renders it: fido takes hardware-backed keys
// only (apply --hardware-keys-only), pin takes them only with the token's
// PIN too (--require-verify), and plain is the friends' tunnel on plain
// keys. Each account's keys live in dir/ACCOUNT/authorized_keys.
type hwLab struct {
	srv              *lab.Server
	echo             *lab.Echo
	dir              string
	fido, pin, plain string
}

func newHWLab(t *testing.T) *hwLab {
	t.Helper()
	testenv.Root(t)
	useradd := testenv.Require(t, "useradd", "passwd")
	x := &hwLab{echo: labtest.Echo(t), dir: t.TempDir()}
	os.Chmod(filepath.Dir(x.dir), 0o755)
	os.Chmod(x.dir, 0o755)
	stamp := time.Now().UnixNano() % 1e6
	names := []*string{&x.fido, &x.pin, &x.plain}
	for i, n := range []string{"pfk", "pfv", "pfp"} {
		name := fmt.Sprintf("%s%d", n, stamp)
		if out, err := exec.Command(useradd, "-M", "-s", "/usr/sbin/nologin", name).CombinedOutput(); err != nil {
			t.Fatalf("useradd: %v %s", err, out)
		}
		t.Cleanup(func() { exec.Command("userdel", name).Run() })
		// "*": no password, but not locked for keys (SSHD-NOTES 6).
		exec.Command("usermod", "-p", "*", name).Run()
		*names[i] = name
		os.Mkdir(filepath.Join(x.dir, name), 0o755)
	}
	ts := []target.Target{x.echo.Target}
	var files []render.File
	for _, a := range []struct {
		user string
		hw   *render.HardwareKeys
	}{
		{x.fido, &render.HardwareKeys{Algorithms: keyline.HardwareKeyAlgorithms}},
		{x.pin, &render.HardwareKeys{Algorithms: keyline.HardwareKeyAlgorithms, RequireVerify: true}},
		{x.plain, nil},
	} {
		rendered, err := render.Render(render.Params{User: a.user, Targets: ts, Nologin: render.DefaultNologin, HardwareKeys: a.hw})
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range rendered {
			if f.Name == templates.ForwardFile(a.user) || (a.user == x.fido && f.Name == templates.Hardening) {
				files = append(files, f)
			}
		}
	}
	x.srv = labtest.New(t, lab.Options{User: x.fido, Targets: ts, DropIns: files,
		AuthorizedKeysFile: filepath.Join(x.dir, "%u", "authorized_keys"),
		Global:             []string{"AllowUsers " + x.pin + " " + x.plain}})
	return x
}

// keys installs lines (keyline.Build with the targets and opts) for user.
func (x *hwLab) keys(t *testing.T, user string, keys ...keyWith) {
	t.Helper()
	var b strings.Builder
	for _, k := range keys {
		line, err := keyline.Build(keyline.FromPublicKey(k.pub, "k"), keyline.Options{Targets: []string{x.echo.Target.String()}, VerifyRequired: k.verify})
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString(line + "\n")
	}
	if err := os.WriteFile(filepath.Join(x.dir, user, "authorized_keys"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

type keyWith struct {
	pub    ssh.PublicKey
	verify bool // verify-required on the line
}

// login logs in as user with signer and echoes through a forward.
func (x *hwLab) login(user string, signer ssh.Signer) error {
	cfg := x.srv.ClientConfig()
	cfg.User = user
	cfg.Auth = []ssh.AuthMethod{ssh.PublicKeys(signer)}
	c, err := ssh.Dial("tcp", x.srv.Addr, cfg)
	if err != nil {
		return err
	}
	defer c.Close()
	ch, err := c.Dial("tcp", x.echo.Addr)
	if err != nil {
		return fmt.Errorf("forward: %w", err)
	}
	defer ch.Close()
	ch.Write([]byte("ping\n"))
	buf := make([]byte, 5)
	if _, err := ch.Read(buf); err != nil || string(buf) != "ping\n" {
		return fmt.Errorf("echo through the tunnel: %q %v", buf, err)
	}
	return nil
}

func newSK(t *testing.T, flags byte) *sk.Authenticator {
	t.Helper()
	a, err := sk.New("", flags)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// Issue 18 against the real sshd, with the software authenticator: a FIDO
// key with the presence bit logs in and tunnels, without it is refused;
// verify-required (as a key option and as PubkeyAuthOptions) refuses a
// signature without the verification bit and takes one with it; a plain
// key is refused for the hardware-keys-only account and accepted for the
// plain account on the same sshd.
func TestHardwareKeysAgainstRealSshd(t *testing.T) {
	x := newHWLab(t)
	mustLogin := func(name, user string, s ssh.Signer) {
		t.Helper()
		if err := x.login(user, s); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	mustRefuse := func(name, user string, s ssh.Signer) {
		t.Helper()
		if err := x.login(user, s); err == nil {
			t.Errorf("%s: logged in", name)
		} else if !strings.Contains(err.Error(), "unable to authenticate") {
			t.Errorf("%s: want an authentication failure, got %v", name, err)
		}
	}

	// --hardware-keys-only: a touch at every login.
	tok := newSK(t, sk.UserPresence)
	plainKey := labtest.Signer(t)
	x.keys(t, x.fido, keyWith{pub: tok.PublicKey()}, keyWith{pub: plainKey.PublicKey()})
	mustLogin("good_presence", x.fido, tok)
	tok.SetFlags(0)
	mustRefuse("fail_no_presence", x.fido, tok)
	tok.SetFlags(sk.UserVerification)
	mustRefuse("fail_verification_without_presence", x.fido, tok)
	mustRefuse("fail_plain_key_in_hardware_account", x.fido, plainKey)

	// add-key --require-verify: verify-required on the line.
	tok.SetFlags(sk.UserPresence)
	x.keys(t, x.fido, keyWith{pub: tok.PublicKey(), verify: true})
	mustRefuse("fail_key_option_verify_without_uv", x.fido, tok)
	tok.SetFlags(sk.UserPresence | sk.UserVerification)
	mustLogin("good_key_option_verify_with_uv", x.fido, tok)

	// apply --require-verify: PubkeyAuthOptions verify-required, whatever
	// the line says.
	pinTok := newSK(t, sk.UserPresence)
	x.keys(t, x.pin, keyWith{pub: pinTok.PublicKey()})
	mustRefuse("fail_pubkeyauthoptions_verify_without_uv", x.pin, pinTok)
	pinTok.SetFlags(sk.UserPresence | sk.UserVerification)
	mustLogin("good_pubkeyauthoptions_verify_with_uv", x.pin, pinTok)

	// The friends' tunnel on the same sshd stays on plain keys, and takes
	// FIDO keys too.
	x.keys(t, x.plain, keyWith{pub: plainKey.PublicKey()}, keyWith{pub: pinTok.PublicKey()})
	mustLogin("good_plain_key_in_plain_account", x.plain, plainKey)
	mustLogin("good_fido_key_in_plain_account", x.plain, pinTok)
}

// softAgent is an ssh-agent holding the software authenticator, as
// ssh-agent holds a token's key handle: verify logs in through it the way
// it logs in with a hardware key a friend loaded with ssh-add.
type softAgent struct{ s ssh.Signer }

func (a softAgent) List() ([]*agent.Key, error) {
	pub := a.s.PublicKey()
	return []*agent.Key{{Format: pub.Type(), Blob: pub.Marshal(), Comment: "software FIDO"}}, nil
}

func (a softAgent) Sign(key ssh.PublicKey, data []byte) (*ssh.Signature, error) {
	if string(key.Marshal()) != string(a.s.PublicKey().Marshal()) {
		return nil, errors.New("no such key")
	}
	return a.s.Sign(rand.Reader, data)
}
func (softAgent) Add(agent.AddedKey) error         { return errors.New("read-only") }
func (softAgent) Remove(ssh.PublicKey) error       { return errors.New("read-only") }
func (softAgent) RemoveAll() error                 { return errors.New("read-only") }
func (softAgent) Lock([]byte) error                { return errors.New("read-only") }
func (softAgent) Unlock([]byte) error              { return errors.New("read-only") }
func (a softAgent) Signers() ([]ssh.Signer, error) { return []ssh.Signer{a.s}, nil }

// verify with a FIDO key in the ssh-agent: the whole run passes against
// the hardware-keys-only account with verify-required, the signature's
// flags and counter surviving the agent protocol.
func TestVerifyThroughAgentWithHardwareKey(t *testing.T) {
	x := newHWLab(t)
	tok := newSK(t, sk.UserPresence|sk.UserVerification)
	x.keys(t, x.pin, keyWith{pub: tok.PublicKey()})
	auth, closer, err := verify.Agent(labtest.Agent(t, softAgent{tok}))
	if err != nil {
		t.Fatal(err)
	}
	defer closer.Close()
	o := x.srv.VerifyOptions()
	o.User, o.Auth = x.pin, []ssh.AuthMethod{auth}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rep, err := verify.Run(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Passed {
		for _, c := range rep.Checks {
			if c.Status != verify.Pass {
				t.Errorf("%s %s: %s", c.Status, c.Name, c.Detail)
			}
		}
	}
	// Without the PIN bit the same agent key is refused: exit 3, auth failed.
	tok.SetFlags(sk.UserPresence)
	_, err = verify.Run(ctx, o)
	var ce *verify.ConnectError
	if !errors.As(err, &ce) || ce.Reason != verify.AuthFailed {
		t.Errorf("without user verification: %v, want auth failed", err)
	}
}

// A FIDO private key file (a key handle) given to --key: a usage error that
// says to load it into ssh-agent, not "unhandled key type".
func TestKeyFileRefusesAHardwareKeyHandle(t *testing.T) {
	tok := newSK(t, sk.UserPresence)
	// openssh-key-v1 as ssh-keygen -t ed25519-sk writes it: the public key
	// in clear, then the (here unencrypted) private section.
	body := append([]byte("openssh-key-v1\x00"), ssh.Marshal(struct {
		Cipher, KDF, KDFOpts string
		N                    uint32
		Pub, Priv            []byte
	}{"none", "none", "", 1, tok.PublicKey().Marshal(), []byte("handle")})...)
	path := filepath.Join(t.TempDir(), "id_ed25519_sk")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "OPENSSH PRIVATE KEY", Bytes: body}), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := verify.KeyFile(path, nil)
	if err == nil || !strings.Contains(err.Error(), "hardware-backed") || fail.Code(err) != fail.ExitUsage || !strings.Contains(fail.HintOf(err), "ssh-add") {
		t.Fatalf("KeyFile: %v (hint %q)", err, fail.HintOf(err))
	}
}

// apply --ca --hardware-keys-only: a certificate pfwdctl's CA signed for a
// FIDO key logs in (the -cert-v01 forms are accepted) and tunnels, while
// a certificate for a plain key from the same CA is refused.
func TestHardwareKeysWithCertificates(t *testing.T) {
	testenv.Root(t)
	dir := t.TempDir()
	os.Chmod(filepath.Dir(dir), 0o755)
	os.Chmod(dir, 0o755)
	priv, pub, err := ca.Init(dir, nil, "test-ca")
	if err != nil {
		t.Fatal(err)
	}
	caSigner, err := ca.LoadSigner(priv, nil)
	if err != nil {
		t.Fatal(err)
	}
	krl, principals := filepath.Join(dir, "revoked.krl"), filepath.Join(dir, "principals")
	if err := ca.NewKRL(context.Background(), run.Exec{}, krl); err != nil {
		t.Fatal(err)
	}
	user, err := lab.DefaultUser()
	if err != nil {
		t.Fatal(err)
	}
	echo := labtest.Echo(t)
	ts := []target.Target{echo.Target}
	p := render.Params{User: user, Targets: ts, Nologin: render.DefaultNologin,
		HardwareKeys: &render.HardwareKeys{Algorithms: append(append([]string{}, keyline.HardwareKeyAlgorithms...), keyline.HardwareCertAlgorithms...)}}
	line, err := render.PrincipalsLine(p)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(principals, []byte(line), 0o644)
	pubData, _ := os.ReadFile(pub)
	if p.CA, err = render.ParseCA(pubData); err != nil {
		t.Fatal(err)
	}
	files, err := render.Render(p)
	if err != nil {
		t.Fatal(err)
	}
	for i, f := range files {
		files[i].Data = []byte(strings.NewReplacer(ca.TrustedCAPath(user), pub, ca.PrincipalsPath(user), principals, ca.KRLPath(user), krl).Replace(string(f.Data)))
	}
	s := labtest.New(t, lab.Options{User: user, Targets: ts, DropIns: files, AuthorizedKeys: []byte{}})
	now := time.Now()
	req := func(serial uint64) ca.SignRequest {
		return ca.SignRequest{Principal: user, KeyID: "alice", Serial: serial, ValidAfter: now.Add(-time.Minute), ValidBefore: now.Add(time.Hour), ForceCommand: render.DefaultNologin}
	}
	tok := newSK(t, sk.UserPresence)
	cert, err := ca.Sign(caSigner, tok.PublicKey(), req(1))
	if err != nil {
		t.Fatal(err)
	}
	cs, err := ssh.NewCertSigner(cert, tok)
	if err != nil {
		t.Fatal(err)
	}
	if err := labtest.Login(s, cs, echo); err != nil {
		t.Errorf("good_fido_certificate: %v", err)
	}
	plain := labtest.Signer(t)
	cert2, _ := ca.Sign(caSigner, plain.PublicKey(), req(2))
	cs2, _ := ssh.NewCertSigner(cert2, plain)
	if err := labtest.Login(s, cs2, echo); err == nil {
		t.Error("fail_plain_certificate: a certificate for a plain key logged in")
	}
}
