package audit

import (
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/pfwdctl/pfwdctl/internal/sshd"
	"github.com/pfwdctl/pfwdctl/internal/testenv"
	"github.com/pfwdctl/pfwdctl/render"
	"github.com/pfwdctl/pfwdctl/verify/lab"
	"github.com/pfwdctl/pfwdctl/verify/lab/labtest"
)

// sshAuditFails runs Debian's ssh-audit against a lab sshd and returns its
// [fail] lines.
func sshAuditFails(t *testing.T, s *lab.Server) []string {
	t.Helper()
	bin := testenv.Require(t, "ssh-audit", "ssh-audit")
	// -n: no colours; ssh-audit exits non-zero when it has findings, so
	// only its output is judged.
	out, _ := exec.Command(bin, "-n", "-p", strconv.Itoa(s.Port), "127.0.0.1").CombinedOutput()
	if !strings.Contains(string(out), "(gen) banner: SSH-2.0-OpenSSH") {
		t.Fatalf("ssh-audit did not reach the lab sshd:\n%s", out)
	}
	var fails []string
	for _, l := range strings.Split(string(out), "\n") {
		if strings.Contains(l, "[fail]") {
			fails = append(fails, strings.TrimSpace(l))
		}
	}
	return fails
}

// Held against a peer: the crypto drop-in that apply --crypto installs
// leaves ssh-audit nothing to fail, while the seed guide's config alone
// (OpenSSH's default algorithms) does not.
func TestSSHAuditAgainstCryptoDropIn(t *testing.T) {
	t.Parallel()
	sshdBin := testenv.Sshd(t)
	user, err := lab.DefaultUser()
	if err != nil {
		t.Fatal(err)
	}
	p := render.DefaultParams()
	p.User = user
	c := probedPolicy(t)
	p.Crypto = &c
	files, err := render.Render(p)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("seed guide config alone", func(t *testing.T) {
		t.Parallel()
		fails := sshAuditFails(t, labtest.New(t, lab.Options{Sshd: sshdBin}))
		if len(fails) == 0 {
			t.Fatal("ssh-audit found nothing to fail in OpenSSH's default algorithms: the peer check proves nothing")
		}
		t.Logf("ssh-audit [fail] lines with the seed guide's config: %d\n%s", len(fails), strings.Join(fails, "\n"))
	})
	t.Run("with the crypto drop-in", func(t *testing.T) {
		t.Parallel()
		if fails := sshAuditFails(t, labtest.New(t, lab.Options{Sshd: sshdBin, DropIns: files})); len(fails) > 0 {
			t.Fatalf("ssh-audit fails the crypto drop-in:\n%s", strings.Join(fails, "\n"))
		}
	})
}

// render refuses algorithm names that could smuggle config.
func TestCryptoRefusesInjection(t *testing.T) {
	p := render.DefaultParams()
	c := CryptoPolicy(sshd.Version{Major: 9, Minor: 2})
	c.Ciphers = append(c.Ciphers, "aes128-ctr\nPermitRootLogin yes")
	p.Crypto = &c
	if _, err := render.Render(p); err == nil {
		t.Fatal("render accepted a newline in an algorithm name")
	}
}
