package audit

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/pfwdctl/pfwdctl/internal/hostfs"
	"github.com/pfwdctl/pfwdctl/internal/run"
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
	// Group exchange back over the host's primes of 3072 bits and more
	// (ModuliFile, where this sshd takes it): ssh-audit, which tries the
	// modulus sizes, still finds nothing to fail.
	t.Run("with the crypto drop-in and the filtered moduli", func(t *testing.T) {
		t.Parallel()
		data := strongModuli(hostfs.Root{}, "/etc/ssh")
		if data == nil || (sshd.Binary{Bin: sshdBin, Runner: run.Exec{}}).Accepts(context.Background(), "ModuliFile=/etc/ssh/moduli") != nil {
			t.Skip("no /etc/ssh/moduli or no ModuliFile in this sshd (test-compat covers other releases)")
		}
		mf := filepath.Join(t.TempDir(), render.ModuliName)
		if err := os.WriteFile(mf, data, 0o644); err != nil {
			t.Fatal(err)
		}
		os.Chmod(filepath.Dir(mf), 0o755)
		pm := p
		cm := c
		cm.ModuliFile, cm.Moduli, cm.HostKeys = mf, data, nil
		cm.KexAlgorithms = append(append([]string{}, cm.KexAlgorithms...), gexKex)
		pm.Crypto = &cm
		withGex, err := render.Render(pm)
		if err != nil {
			t.Fatal(err)
		}
		out := sshAuditFails(t, labtest.New(t, lab.Options{Sshd: sshdBin, DropIns: withGex}))
		if len(out) > 0 {
			t.Fatalf("ssh-audit fails group exchange over the filtered moduli:\n%s", strings.Join(out, "\n"))
		}
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
