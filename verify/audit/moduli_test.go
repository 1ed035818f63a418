package audit

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pfwdctl/pfwdctl/internal/run"
	"github.com/pfwdctl/pfwdctl/internal/sshd"
	"github.com/pfwdctl/pfwdctl/internal/testenv"
	"github.com/pfwdctl/pfwdctl/render"
	"github.com/pfwdctl/pfwdctl/render/rendertest"
)

// apply --crypto on an sshd that takes ModuliFile: group exchange comes
// back through pfwdctl's own moduli file holding only the host's primes of
// 3072 bits and more, the host keys are loaded Ed25519 first (no ECDSA),
// and audit finds nothing to say about the crypto. The real sshd -T shows
// both in effect.
func TestCryptoModuliAndHostKeyOrder(t *testing.T) {
	t.Parallel()
	bin := testenv.Sshd(t)
	moduli := "# Time Type Tests Tries Size Generator Modulus\n" +
		"20220714110357 2 6 100 2047 2 E98F\n" +
		"20220714110358 2 6 100 3071 5 C4A1\n" +
		"20220714110359 2 6 100 4095 2 D2B3\n"
	root := rendertest.New(t, rendertest.Tree{Files: map[string]string{
		"/etc/ssh/moduli":                 moduli,
		"/home/pfwd/.ssh/authorized_keys": goodKey,
	}})
	for _, typ := range []string{"rsa", "ecdsa", "ed25519"} {
		p := root.Path("/etc/ssh/ssh_host_" + typ + "_key")
		if out, err := exec.Command("ssh-keygen", "-q", "-t", typ, "-N", "", "-f", p).CombinedOutput(); err != nil {
			t.Fatalf("ssh-keygen: %v %s", err, out)
		}
	}
	b := sshd.Binary{Bin: bin, Runner: run.Exec{}, Root: root, Config: sshd.DefaultConfig}
	v, err := b.Version(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if b.Accepts(context.Background(), "ModuliFile=/etc/ssh/x") != nil {
		t.Skip("this sshd has no ModuliFile (before 9.x): test-compat covers it")
	}
	pol := ProbedCryptoPolicy(context.Background(), b, v)
	if pol.ModuliFile != "/etc/ssh/"+render.ModuliName || pol.KexAlgorithms[len(pol.KexAlgorithms)-1] != gexKex {
		t.Fatalf("policy: moduli %q kex %v", pol.ModuliFile, pol.KexAlgorithms)
	}
	want := []string{"/etc/ssh/ssh_host_ed25519_key", "/etc/ssh/ssh_host_rsa_key"}
	if strings.Join(pol.HostKeys, " ") != strings.Join(want, " ") {
		t.Errorf("host keys %v, want %v", pol.HostKeys, want)
	}
	p := render.DefaultParams()
	p.Crypto = &pol
	a := render.Applier{Root: root, Runner: run.Exec{}, SshdBin: bin, Getenv: func(string) string { return "" }}
	if _, err := a.Apply(context.Background(), render.ApplyOptions{Params: p, NoReload: true}); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(root.Path(pol.ModuliFile))
	if err != nil || strings.Contains(string(got), " 2047 ") || !strings.Contains(string(got), " 3071 ") || !strings.Contains(string(got), " 4095 ") {
		t.Errorf("pfwdctl.moduli = %q (%v), want only the primes of 3072 bits and more", got, err)
	}
	if fi, _ := os.Stat(root.Path(pol.ModuliFile)); fi.Mode().Perm() != 0o644 {
		t.Errorf("mode %v", fi.Mode())
	}
	eff, err := b.Effective(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(eff["modulifile"][0], render.ModuliName) || !strings.Contains(eff["kexalgorithms"][0], gexKex) {
		t.Errorf("sshd -T: modulifile %v kex %v", eff["modulifile"], eff["kexalgorithms"])
	}
	var keys []string
	for _, k := range eff["hostkey"] {
		keys = append(keys, filepath.Base(k))
	}
	if len(keys) < 2 || keys[0] != "ssh_host_ed25519_key" || keys[1] != "ssh_host_rsa_key" {
		t.Errorf("sshd -T hostkey order %v, want ed25519 first", keys)
	}
	rep := audit(t, root, render.DefaultParams())
	if !rep.Passed || len(rep.BySeverity(Warn)) > 0 {
		t.Fatalf("audit after apply --crypto:\n%s", dump(rep))
	}
	// A weak prime slipped into pfwdctl's file: group exchange is
	// outside the policy again.
	os.WriteFile(root.Path(pol.ModuliFile), []byte(string(got)+"20220714110357 2 6 100 2047 2 E98F\n"), 0o644)
	rep = audit(t, root, render.DefaultParams())
	if !hasID(rep, "crypto.kexalgorithms") {
		t.Errorf("a 2048-bit prime in the moduli file is not reported:\n%s", dump(rep))
	}
}
