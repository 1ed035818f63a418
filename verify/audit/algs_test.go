package audit

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/pfwdctl/pfwdctl/internal/testenv"
)

// Every algorithm the installed OpenSSH knows (ssh -Q) is judged by what
// it is, never as unknown: a Debian or Ubuntu default must not be flagged
// for its name (test-compat asks every release the same).
func TestEveryAlgorithmOfThisOpenSSHIsKnown(t *testing.T) {
	ssh := testenv.Require(t, "ssh", "openssh-client")
	for _, q := range []string{"kex", "cipher", "mac", "HostKeyAlgorithms"} {
		out, err := exec.Command(ssh, "-Q", q).Output()
		if err != nil {
			t.Fatalf("ssh -Q %s: %v", q, err)
		}
		for _, name := range strings.Fields(string(out)) {
			if !AlgorithmKnown(name) {
				t.Errorf("ssh -Q %s lists %s, which audit would call unknown", q, name)
			}
		}
	}
}

// Aliases are one algorithm: the policy's spelling and sshd's other one
// are not "outside the policy", and a post-quantum method on under its
// other name is not "off".
func TestAlgorithmAliases(t *testing.T) {
	for _, c := range []struct {
		list []string
		alg  string
	}{
		{[]string{"sntrup761x25519-sha512"}, "sntrup761x25519-sha512@openssh.com"},
		{[]string{"sntrup761x25519-sha512@openssh.com"}, "sntrup761x25519-sha512"},
		{[]string{"curve25519-sha256@libssh.org"}, "curve25519-sha256"},
	} {
		if !containsAlg(c.list, c.alg) {
			t.Errorf("%v does not count as %s", c.list, c.alg)
		}
	}
	if containsAlg([]string{"curve25519-sha256"}, "sntrup761x25519-sha512") {
		t.Error("different algorithms folded together")
	}
	if why := whyNot("kexalgorithms", "made-up-kex@example.com"); !strings.Contains(why, "unknown") {
		t.Errorf("an unknown name is judged %q", why)
	}
}
