package render_test

import (
	"context"
	"crypto/ed25519"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/pfwdctl/pfwdctl/internal/golden"
	"github.com/pfwdctl/pfwdctl/internal/run"
	"github.com/pfwdctl/pfwdctl/internal/sshd"
	"github.com/pfwdctl/pfwdctl/internal/testenv"
	"github.com/pfwdctl/pfwdctl/render"
	"github.com/pfwdctl/pfwdctl/render/rendertest"
	"github.com/pfwdctl/pfwdctl/templates"
	"github.com/pfwdctl/pfwdctl/users/keyline"
)

// The Match block with --hardware-keys-only, with and without
// --require-verify: golden/render/hardware-keys*. The other files are the
// default's, byte for byte.
func TestRenderGoldenHardwareKeys(t *testing.T) {
	// A CA key from a fixed seed, so the fingerprint comment is stable.
	caPub, err := ssh.NewPublicKey(ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize)).Public())
	if err != nil {
		t.Fatal(err)
	}
	fixedCA, err := render.ParseCA(ssh.MarshalAuthorizedKey(caPub))
	if err != nil {
		t.Fatal(err)
	}
	withCerts := append(append([]string{}, keyline.HardwareKeyAlgorithms...), keyline.HardwareCertAlgorithms...)
	for _, c := range []struct {
		dir    string
		verify bool
		ca     *render.CA
		algs   []string
	}{{"hardware-keys", false, nil, keyline.HardwareKeyAlgorithms}, {"hardware-keys-verify", true, nil, keyline.HardwareKeyAlgorithms},
		{"hardware-keys-ca", true, fixedCA, withCerts}} {
		p := render.DefaultParams()
		p.CA = c.ca
		p.HardwareKeys = &render.HardwareKeys{Algorithms: c.algs, RequireVerify: c.verify}
		files, err := render.Render(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			if f.Name != templates.ForwardFile(p.User) {
				continue
			}
			golden.Check(t, filepath.Join("render", c.dir, f.Name), f.Data)
			// Inside the block: before the Match all that ends it.
			if i, j := strings.Index(string(f.Data), "PubkeyAcceptedAlgorithms"), strings.Index(string(f.Data), "Match all"); i < 0 || i > j {
				t.Errorf("%s: the lines are outside the Match block:\n%s", c.dir, f.Data)
			}
		}
	}
}

func TestHardwareKeysRefusesAPlainAlgorithm(t *testing.T) {
	p := render.DefaultParams()
	for name, algs := range map[string][]string{
		"fail_plain": {"sk-ssh-ed25519@openssh.com", "ssh-ed25519"},
		"fail_empty": nil,
		"fail_comma": {"sk-ssh-ed25519@openssh.com,ssh-ed25519"},
	} {
		p.HardwareKeys = &render.HardwareKeys{Algorithms: algs}
		if _, err := render.Render(p); err == nil {
			t.Errorf("%s: rendered", name)
		}
	}
}

// apply --hardware-keys-only on a tree: sshd -T for the account says FIDO
// keys only (and verify-required), another account keeps sshd's default
// list, and InstalledHardwareKeys reads the policy back from the block.
func TestApplyHardwareKeysPerAccount(t *testing.T) {
	t.Parallel()
	root := rendertest.New(t, rendertest.Tree{})
	a := applier(t, root)
	bin := sshd.Binary{Bin: testenv.Sshd(t), Runner: run.Exec{}, Root: root}
	hw, err := render.ProbeHardwareKeys(context.Background(), bin, true, true)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(hw.Algorithms, ",") != strings.Join(append(keyline.HardwareKeyAlgorithms, keyline.HardwareCertAlgorithms...), ",") {
		t.Fatalf("probed %v", hw.Algorithms)
	}
	hw, _ = render.ProbeHardwareKeys(context.Background(), bin, false, true)
	p := render.DefaultParams()
	p.HardwareKeys = hw
	if _, err := apply(t, a, p, render.ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	other, _ := render.NewParams("tunnel", nil)
	if _, err := apply(t, a, other, render.ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	eff, err := bin.Effective(context.Background(), sshd.ConnSpec("pfwd"))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(eff["pubkeyacceptedalgorithms"], ","); got != "sk-ssh-ed25519@openssh.com,sk-ecdsa-sha2-nistp256@openssh.com" {
		t.Errorf("pfwd: pubkeyacceptedalgorithms %q", got)
	}
	if got := strings.Join(eff["pubkeyauthoptions"], ","); got != "touch-required verify-required" {
		t.Errorf("pfwd: pubkeyauthoptions %q", got)
	}
	eff, _ = bin.Effective(context.Background(), sshd.ConnSpec("tunnel"))
	if got := strings.Join(eff["pubkeyacceptedalgorithms"], ","); !strings.Contains(got, "ssh-ed25519,") {
		t.Errorf("tunnel: pubkeyacceptedalgorithms %q, want sshd's default", got)
	}
	got, err := render.InstalledHardwareKeys(root, sshd.DefaultConfig, "pfwd")
	if err != nil || got == nil || !got.RequireVerify || len(got.Algorithms) != 2 {
		t.Fatalf("InstalledHardwareKeys(pfwd) = %+v, %v", got, err)
	}
	if got, err := render.InstalledHardwareKeys(root, sshd.DefaultConfig, "tunnel"); got != nil || err != nil {
		t.Fatalf("InstalledHardwareKeys(tunnel) = %+v, %v", got, err)
	}
}
