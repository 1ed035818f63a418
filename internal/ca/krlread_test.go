package ca_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/pfwdctl/pfwdctl/internal/ca"
	"github.com/pfwdctl/pfwdctl/internal/run"
)

func needKeygen(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("ssh-keygen"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("ssh-keygen missing in CI")
		}
		t.Skip("no ssh-keygen")
	}
}

func keygen(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("ssh-keygen", args...).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen %v: %v\n%s", args, err, out)
	}
}

// queried asks OpenSSH's own checker (ssh-keygen -Q) whether the KRL
// revokes a key or certificate file: exit status 0 means not revoked.
func queried(t *testing.T, krl, file string) bool {
	t.Helper()
	out, err := exec.Command("ssh-keygen", "-Q", "-f", krl, file).CombinedOutput()
	var ee *exec.ExitError
	if errors.As(err, &ee) && strings.Contains(string(out), "REVOKED") {
		return true
	}
	if err != nil {
		t.Fatalf("ssh-keygen -Q %s: %v\n%s", file, err, out)
	}
	return false
}

func pubOf(t *testing.T, path string) ssh.PublicKey {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pub, _, _, _, err := ssh.ParseAuthorizedKey(data)
	if err != nil {
		t.Fatal(err)
	}
	return pub
}

// The reader agrees with OpenSSH's own ssh-keygen -Q on every certificate
// and key of a KRL that ssh-keygen wrote with each kind of entry: single
// serials, a range, serials dense enough to be stored as a bitmap, key ids
// (under the CA and for any CA), an explicit key and a SHA256 hash.
func TestKRLReaderAgreesWithSSHKeygen(t *testing.T) {
	needKeygen(t)
	dir := t.TempDir()
	p := func(n string) string { return filepath.Join(dir, n) }
	keygen(t, "-q", "-t", "ed25519", "-N", "", "-C", "ca", "-f", p("ca"))
	keygen(t, "-q", "-t", "ed25519", "-N", "", "-C", "other-ca", "-f", p("other"))
	keygen(t, "-q", "-t", "ed25519", "-N", "", "-C", "user", "-f", p("user"))
	keygen(t, "-q", "-t", "ed25519", "-N", "", "-C", "plain1", "-f", p("plain1"))
	keygen(t, "-q", "-t", "ed25519", "-N", "", "-C", "plain2", "-f", p("plain2"))
	keygen(t, "-q", "-t", "ed25519", "-N", "", "-C", "plain3", "-f", p("plain3"))
	fp3, err := exec.Command("ssh-keygen", "-lf", p("plain3.pub")).Output()
	if err != nil {
		t.Fatal(err)
	}
	var spec strings.Builder
	spec.WriteString("serial: 5\nserial: 10-20\nid: alice\n")
	for s := 100; s < 160; s += 2 { // dense: ssh-keygen stores a bitmap
		fmt.Fprintf(&spec, "serial: %d\n", s)
	}
	os.WriteFile(p("spec"), []byte(spec.String()), 0o600)
	keygen(t, "-q", "-k", "-f", p("krl"), "-s", p("ca.pub"), p("spec"))
	// An explicit key and a hash, added with -u.
	os.WriteFile(p("spec2"), []byte("key: "+strings.TrimSpace(string(mustRead(t, p("plain1.pub"))))+"\nhash: "+strings.Fields(string(fp3))[1]+"\n"), 0o600)
	keygen(t, "-q", "-k", "-u", "-f", p("krl"), p("spec2"))

	// A section for any CA (an empty ca_key) revoking the id "everywhere",
	// which ssh-keygen's spec cannot write: appended by hand.
	data := append(mustRead(t, p("krl")), anyCASection("everywhere")...)
	os.WriteFile(p("krl"), data, 0o600)
	k, err := ca.ParseKRL(data)
	if err != nil {
		t.Fatal(err)
	}
	type certCase struct {
		signer string
		serial uint64
		id     string
	}
	var cases []certCase
	for _, s := range []uint64{0, 1, 4, 5, 6, 9, 10, 15, 20, 21, 99, 100, 101, 102, 130, 158, 159, 160, 161, 1 << 40} {
		cases = append(cases, certCase{"ca", s, "bob"}, certCase{"other", s, "bob"})
	}
	cases = append(cases, certCase{"ca", 3, "alice"}, certCase{"other", 3, "alice"}, certCase{"ca", 3, "everywhere"}, certCase{"other", 3, "everywhere"},
		certCase{"ca", 0, "alice"}, certCase{"ca", 3, "alice2"})
	revokedSome, keptSome := false, false
	for i, c := range cases {
		name := fmt.Sprintf("cert%d", i)
		os.WriteFile(p(name+".pub"), mustRead(t, p("user.pub")), 0o644)
		keygen(t, "-q", "-s", p(c.signer), "-I", c.id, "-n", "pfwd", "-z", fmt.Sprint(c.serial), p(name+".pub"))
		certFile := p(name + "-cert.pub")
		cert := pubOf(t, certFile).(*ssh.Certificate)
		want := queried(t, p("krl"), certFile)
		if got := k.CertRevoked(cert); got != want {
			t.Errorf("%s serial %d id %q: reader says revoked=%v, ssh-keygen -Q says %v", c.signer, c.serial, c.id, got, want)
		}
		revokedSome, keptSome = revokedSome || want, keptSome || !want
	}
	if !revokedSome || !keptSome {
		t.Fatalf("the cases should hold both revoked and valid certificates (revoked %v, valid %v)", revokedSome, keptSome)
	}
	for _, f := range []string{"plain1.pub", "plain2.pub", "plain3.pub", "user.pub"} {
		want := queried(t, p("krl"), p(f))
		if got := k.KeyRevoked(pubOf(t, p(f))); got != want {
			t.Errorf("%s: reader says revoked=%v, ssh-keygen -Q says %v", f, got, want)
		}
	}
	if !k.KeyRevoked(pubOf(t, p("plain1.pub"))) || !k.KeyRevoked(pubOf(t, p("plain3.pub"))) {
		t.Error("the explicit key and the hashed key should read as revoked")
	}
	caKey := pubOf(t, p("ca.pub"))
	if !k.SerialRevoked(caKey, 15) || k.SerialRevoked(caKey, 0) || !k.IDRevoked(caKey, "alice") || k.IDRevoked(pubOf(t, p("other.pub")), "alice") {
		t.Error("serial and id lookups disagree with the spec written")
	}
}

// Malformed KRLs are errors, never an empty list (which would read as
// "nothing revoked" and hide a broken file).
func TestKRLReaderRefusesMalformed(t *testing.T) {
	needKeygen(t)
	dir := t.TempDir()
	keygen(t, "-q", "-t", "ed25519", "-N", "", "-f", filepath.Join(dir, "ca"))
	os.WriteFile(filepath.Join(dir, "spec"), []byte("serial: 7\nid: x\n"), 0o600)
	keygen(t, "-q", "-k", "-f", filepath.Join(dir, "krl"), "-s", filepath.Join(dir, "ca.pub"), filepath.Join(dir, "spec"))
	good := mustRead(t, filepath.Join(dir, "krl"))
	if _, err := ca.ParseKRL(good); err != nil {
		t.Fatal(err)
	}
	for n := 0; n < len(good); n++ {
		if _, err := ca.ParseKRL(good[:n]); err == nil && n != len(good) {
			// A cut between sections is still a valid (shorter) KRL;
			// anything else must be refused.
			if n < 8+4+8+8+8+4+4 {
				t.Errorf("a KRL cut to %d bytes parsed", n)
			}
		}
	}
	for _, bad := range [][]byte{nil, []byte("SSHKRL\n"), []byte("hello world"), append(append([]byte{}, good...), 9, 0, 0, 0, 0)} {
		if _, err := ca.ParseKRL(bad); err == nil {
			t.Errorf("%q parsed as a KRL", bad)
		}
	}
}

// fakeKeygen answers ssh-keygen -k -u with success and does nothing, as a
// broken wrapper or a replaced ssh-keygen might; everything else runs.
type fakeKeygen struct{ run.Exec }

func (f fakeKeygen) Run(ctx context.Context, name string, args ...string) ([]byte, []byte, error) {
	if name == "ssh-keygen" && len(args) > 2 && args[1] == "-k" && args[2] == "-u" {
		return nil, nil, nil
	}
	return f.Exec.Run(ctx, name, args...)
}

// Revoke's success rests on the KRL read back: an ssh-keygen that exits 0
// without writing the revocation is a failure that says NOT revoked, for a
// serial, an id and a certificate file alike.
func TestRevokeReadsTheKRLBack(t *testing.T) {
	needKeygen(t)
	dir := t.TempDir()
	p := func(n string) string { return filepath.Join(dir, n) }
	keygen(t, "-q", "-t", "ed25519", "-N", "", "-f", p("ca"))
	keygen(t, "-q", "-t", "ed25519", "-N", "", "-f", p("user"))
	keygen(t, "-q", "-s", p("ca"), "-I", "bob", "-n", "pfwd", "-z", "42", p("user.pub"))
	ctx := context.Background()
	for _, rev := range []ca.Revocation{{Serial: 7}, {ID: "alice"}, {Cert: p("user-cert.pub")}} {
		krl := p(fmt.Sprintf("krl-%v-%s", rev.Serial, rev.ID))
		if err := ca.NewKRL(ctx, run.Exec{}, krl); err != nil {
			t.Fatal(err)
		}
		before := mustRead(t, krl)
		err := ca.Revoke(ctx, fakeKeygen{}, krl, p("ca.pub"), rev)
		if err == nil || !strings.Contains(err.Error(), "NOT revoked") {
			t.Errorf("%+v: a revocation ssh-keygen never wrote was reported as %v", rev, err)
		}
		if string(mustRead(t, krl)) != string(before) {
			t.Errorf("%+v: the KRL changed", rev)
		}
		if err := ca.Revoke(ctx, run.Exec{}, krl, p("ca.pub"), rev); err != nil {
			t.Errorf("%+v: the real revocation failed: %v", rev, err)
		}
	}
	// A KRL that is not one (sshd would refuse every key) is said so.
	os.WriteFile(p("broken.krl"), []byte("not a krl"), 0o600)
	if err := ca.Revoke(ctx, fakeKeygen{}, p("broken.krl"), p("ca.pub"), ca.Revocation{Serial: 3}); err == nil || !strings.Contains(err.Error(), "not a valid OpenSSH KRL") {
		t.Errorf("a broken KRL: %v", err)
	}
}

// anyCASection is a KRL certificates section with an empty CA key (any
// CA) revoking the key ids.
func anyCASection(ids ...string) []byte {
	var sub []byte
	for _, id := range ids {
		sub = append(sub, ssh.Marshal(struct{ S string }{id})...)
	}
	body := ssh.Marshal(struct{ CA, Reserved string }{})
	body = append(body, 0x23)
	body = append(body, ssh.Marshal(struct{ S []byte }{sub})...)
	return append([]byte{1}, ssh.Marshal(struct{ S []byte }{body})...)
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// FuzzParseKRL: any bytes parse or fail cleanly, never panic.
func FuzzParseKRL(f *testing.F) {
	f.Add([]byte("SSHKRL\n\x00\x00\x00\x00\x01"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		k, err := ca.ParseKRL(data)
		if err == nil && k == nil {
			t.Fatal("nil KRL without an error")
		}
		if err == nil {
			pub, _ := ssh.ParsePublicKey(mustKeyBlob())
			k.SerialRevoked(pub, 12345)
			k.IDRevoked(pub, "x")
			k.KeyRevoked(pub)
		}
	})
}

func mustKeyBlob() []byte {
	// An ed25519 public key blob: its 32 bytes need not be a real point.
	return append([]byte("\x00\x00\x00\x0bssh-ed25519\x00\x00\x00\x20"), make([]byte, 32)...)
}
