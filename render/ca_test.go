package render

import (
	"crypto/ed25519"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/pfwdctl/pfwdctl/internal/golden"
	"github.com/pfwdctl/pfwdctl/templates"
)

// fixedCA is a CA key from a fixed seed, so the golden file's fingerprint
// comment is stable.
func fixedCA(t *testing.T) *CA {
	t.Helper()
	priv := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
	pub, err := ssh.NewPublicKey(priv.Public())
	if err != nil {
		t.Fatal(err)
	}
	c, err := ParseCA(ssh.MarshalAuthorizedKey(pub))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// The Match block with --ca: golden/render/ca. Without --ca the block is
// the default golden file's, byte for byte (TestRenderGolden).
func TestRenderGoldenCA(t *testing.T) {
	p := DefaultParams()
	p.CA = fixedCA(t)
	files, err := Render(p)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if f.Name == templates.ForwardFile(p.User) {
			golden.Check(t, filepath.Join("render", "ca", f.Name), f.Data)
			if !hasCALines(f.Data) {
				t.Error("no TrustedUserCAKeys in the Match block")
			}
			// Inside the block: before the Match all that ends it.
			if i, j := strings.Index(string(f.Data), "TrustedUserCAKeys"), strings.Index(string(f.Data), "Match all"); i < 0 || i > j {
				t.Errorf("CA lines outside the Match block:\n%s", f.Data)
			}
		}
	}
	p.CA = nil
	files, _ = Render(p)
	for _, f := range files {
		if hasCALines(f.Data) {
			t.Errorf("%s trusts a CA without --ca", f.Name)
		}
	}
}

func TestPrincipalsLineCarriesThePrefix(t *testing.T) {
	line, err := PrincipalsLine(DefaultParams())
	if err != nil {
		t.Fatal(err)
	}
	if line != `restrict,port-forwarding,permitopen="127.0.0.1:8009" pfwd`+"\n" {
		t.Errorf("principals line %q", line)
	}
}

func TestParseCARefusesACertificateOrPrivateKey(t *testing.T) {
	for name, in := range map[string]string{
		"fail_private": "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjE\n",
		"fail_empty":   "",
		"fail_two":     "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDt6Y1J8mJ/2g7qXr1kqjK8m0mF1h1Wj7R4n8b9c3mNq a\nssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDt6Y1J8mJ/2g7qXr1kqjK8m0mF1h1Wj7R4n8b9c3mNq b\n",
	} {
		if _, err := ParseCA([]byte(in)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
