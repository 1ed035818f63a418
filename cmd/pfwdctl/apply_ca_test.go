package main

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/pfwdctl/pfwdctl/internal/ca"
	"github.com/pfwdctl/pfwdctl/internal/testenv"
	"github.com/pfwdctl/pfwdctl/render/rendertest"
)

// apply --ca installs the CA public key, the principals file with the key
// prefix and an empty KRL, and sshd -t accepts the Match block; a later
// apply without --ca keeps the CA, and never empties the KRL that ca
// revoke filled. The same in both install modes: the Match block in its
// drop-in, or between pfwdctl's markers at the end of sshd_config.
func TestApplyCAInstallsTheFilesAndKeepsTheKRL(t *testing.T) {
	for _, mode := range []struct{ name, block string }{
		{"drop-ins", "/etc/ssh/sshd_config.d/20-pfwd-only.conf"},
		{"managed-block", "/etc/ssh/sshd_config"},
	} {
		t.Run(mode.name, func(t *testing.T) { testApplyCA(t, mode.name, mode.block) })
	}
}

func testApplyCA(t *testing.T, mode, block string) {
	sshd := testenv.Sshd(t)
	root := rendertest.New(t, rendertest.Tree{})
	exec := inTree(t, root)
	keys := t.TempDir()
	exec(0, "ca", "init", "--out", keys, "--no-passphrase")
	caPub := filepath.Join(keys, ca.KeyName+".pub")

	out, _ := exec(0, "apply", "--sshd", sshd, "--no-reload", "--ca", caPub, "--install-mode", mode)
	for _, p := range []string{ca.TrustedCAPath("pfwd"), ca.PrincipalsPath("pfwd"), ca.KRLPath("pfwd")} {
		if !strings.Contains(out, p) {
			t.Errorf("apply output does not name %s:\n%s", p, out)
		}
	}
	want, _ := os.ReadFile(caPub)
	if got, _ := root.ReadFile(ca.TrustedCAPath("pfwd")); !bytes.Equal(bytes.Fields(got)[1], bytes.Fields(want)[1]) {
		t.Errorf("trusted CA file %q, want the key of %q", got, want)
	}
	if got, _ := root.ReadFile(ca.PrincipalsPath("pfwd")); string(got) != `restrict,port-forwarding,permitopen="127.0.0.1:8009" pfwd`+"\n" {
		t.Errorf("principals file %q", got)
	}
	krl, err := root.ReadFile(ca.KRLPath("pfwd"))
	if err != nil || !bytes.HasPrefix(krl, []byte("SSHKRL")) {
		t.Fatalf("KRL %q %v", krl, err)
	}
	dropIn, _ := root.ReadFile(block)
	if !strings.Contains(string(dropIn), "TrustedUserCAKeys "+ca.TrustedCAPath("pfwd")) {
		t.Errorf("Match block without the CA:\n%s", dropIn)
	}

	// ca revoke fills the KRL; apply (without --ca) keeps CA and KRL.
	exec(0, "ca", "revoke", "--serial", "7")
	revoked, _ := root.ReadFile(ca.KRLPath("pfwd"))
	if bytes.Equal(revoked, krl) {
		t.Fatal("ca revoke did not change the KRL")
	}
	exec(0, "apply", "--sshd", sshd, "--no-reload")
	if now, _ := root.ReadFile(ca.KRLPath("pfwd")); !bytes.Equal(now, revoked) {
		t.Error("apply rewrote the revocation list: a revoked certificate would log in again")
	}
	if now, _ := root.ReadFile(block); !bytes.Equal(now, dropIn) {
		t.Errorf("apply without --ca dropped the CA:\n%s", now)
	}

	// audit accepts pfwdctl's own CA setup, and fails it once the
	// principals line loses its prefix.
	if out, _ := exec(0, "audit", "--sshd", sshd); !strings.Contains(out, "pfwdctl's CA") {
		t.Errorf("audit does not say the CA setup is pfwdctl's:\n%s", out)
	}
	// A throwaway CA line a killed verify --self --certificate left:
	// audit fails it, and a plain apply rewrites the file without it.
	caFile, _ := root.ReadFile(ca.TrustedCAPath("pfwd"))
	_, throwaway, _ := ed25519.GenerateKey(rand.Reader)
	tk, _ := ssh.NewPublicKey(throwaway.Public())
	left := append(append([]byte{}, caFile...), []byte(strings.TrimSpace(string(ssh.MarshalAuthorizedKey(tk)))+" "+ca.ThrowawayComment+"\n")...)
	os.WriteFile(root.Path(ca.TrustedCAPath("pfwd")), left, 0o666)
	if out, _ := exec(1, "audit", "--sshd", sshd); !strings.Contains(out, "throwaway CA") {
		t.Errorf("audit passed a leftover throwaway CA line:\n%s", out)
	}
	exec(0, "apply", "--sshd", sshd, "--no-reload")
	if now, _ := root.ReadFile(ca.TrustedCAPath("pfwd")); !bytes.Equal(now, caFile) {
		t.Errorf("apply did not rewrite the CA file without the throwaway line:\n%s", now)
	}
	if fi, _ := root.Stat(ca.TrustedCAPath("pfwd")); fi.Mode().Perm() != 0o644 {
		t.Errorf("CA file mode %v after apply", fi.Mode())
	}
	exec(0, "audit", "--sshd", sshd)

	os.WriteFile(root.Path(ca.PrincipalsPath("pfwd")), []byte("pfwd\n"), 0o644)
	if out, _ := exec(1, "audit", "--sshd", sshd); !strings.Contains(out, "principals-pfwd line 1 names principal") {
		t.Errorf("audit passed a principals line without the prefix:\n%s", out)
	}
	os.WriteFile(root.Path(ca.PrincipalsPath("pfwd")), []byte(`restrict,port-forwarding,permitopen="127.0.0.1:22" pfwd`+"\n"), 0o644)
	exec(1, "audit", "--sshd", sshd)
	os.WriteFile(root.Path(ca.PrincipalsPath("pfwd")), []byte(`restrict,port-forwarding,permitopen="127.0.0.1:8009",pty pfwd`+"\n"), 0o644)
	exec(1, "audit", "--sshd", sshd)
}

// A revoked certificate stays out only while sshd checks pfwdctl's KRL:
// audit fails ca.revocations when an earlier Match block's RevokedKeys
// wins for the account, or when the KRL is gone or not a KRL (sshd then
// refuses every key), and passes it again once that is undone.
func TestAuditCaRevocations(t *testing.T) {
	sshd := testenv.Sshd(t)
	root := rendertest.New(t, rendertest.Tree{})
	exec := inTree(t, root)
	keys := t.TempDir()
	exec(0, "ca", "init", "--out", keys, "--no-passphrase")
	exec(0, "apply", "--sshd", sshd, "--no-reload", "--ca", filepath.Join(keys, ca.KeyName+".pub"))
	exec(0, "ca", "revoke", "--serial", "7")
	out, _ := exec(0, "audit", "--sshd", sshd, "--json")
	if !strings.Contains(out, "pfwdctl's revocation list "+ca.KRLPath("pfwd")) {
		t.Errorf("audit does not say sshd checks pfwdctl's KRL:\n%s", out)
	}

	// An admin's drop-in sorted before pfwdctl's: its Match block's
	// RevokedKeys is the first value sshd obtains for pfwd.
	early := "/etc/ssh/sshd_config.d/05-local.conf"
	os.WriteFile(root.Path(early), []byte("Match User pfwd\n    RevokedKeys none\n"), 0o644)
	out, _ = exec(1, "audit", "--sshd", sshd)
	if !strings.Contains(out, "RevokedKeys none, not pfwdctl's revocation list") || !strings.Contains(out, "05-local.conf:2") {
		t.Errorf("audit passed a RevokedKeys that bypasses pfwdctl's KRL:\n%s", out)
	}
	os.Remove(root.Path(early))

	krl := root.Path(ca.KRLPath("pfwd"))
	good, _ := os.ReadFile(krl)
	os.WriteFile(krl, []byte("SSHKRL\n\x00garbage"), 0o644)
	if out, _ := exec(1, "audit", "--sshd", sshd); !strings.Contains(out, "cannot be used") {
		t.Errorf("audit passed a KRL that is not one:\n%s", out)
	}
	os.Remove(krl)
	if out, _ := exec(1, "audit", "--sshd", sshd); !strings.Contains(out, "cannot be used") {
		t.Errorf("audit passed a missing KRL:\n%s", out)
	}
	os.WriteFile(krl, good, 0o644)
	exec(0, "audit", "--sshd", sshd)
}
