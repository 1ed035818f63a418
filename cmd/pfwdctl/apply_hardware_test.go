package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/pfwdctl/pfwdctl/internal/sk"
	"github.com/pfwdctl/pfwdctl/internal/testenv"
	"github.com/pfwdctl/pfwdctl/render/rendertest"
)

// Issue 18 as an admin runs it on a --root tree with the real sshd -t/-T:
// apply --hardware-keys-only --require-verify puts the FIDO policy into
// pfwd's Match block only; add-key then refuses a plain key (or
// --allow-no-touch) for pfwd, exit 1 and nothing written, and takes a FIDO
// key with verify-required; the tunnel account on the same host still
// takes plain keys; list-keys and audit show the policy; a plain apply
// keeps it and --hardware-keys-only=false lifts it.
func TestApplyHardwareKeysOnlyPerAccount(t *testing.T) {
	sshd := testenv.Sshd(t)
	root := rendertest.New(t, rendertest.Tree{Files: map[string]string{
		"/etc/passwd": "root:x:0:0:root:/root:/bin/bash\nadmin:x:1000:1000:Admin,,,:/home/admin:/bin/bash\n" +
			"pfwd:x:999:999::/home/pfwd:/usr/sbin/nologin\ntunnel:x:998:998::/home/tunnel:/usr/sbin/nologin\n",
		"/etc/shadow": "root:*:19000:0:99999:7:::\nadmin:$y$j9T$abc$def:19000:0:99999:7:::\npfwd:*:19000:0:99999:7:::\ntunnel:*:19000:0:99999:7:::\n",
	}})
	os.MkdirAll(root.Path("/home/pfwd"), 0o755)
	os.MkdirAll(root.Path("/home/tunnel"), 0o755)
	exec := inTree(t, root)
	dir := t.TempDir()
	write := func(name string, pub ssh.PublicKey, comment string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pub)))+" "+comment+"\n"), 0o644)
		return p
	}
	tok, err := sk.New("", sk.UserPresence)
	if err != nil {
		t.Fatal(err)
	}
	tok2, _ := sk.New("ssh:work", sk.UserPresence)
	fido, fido2 := write("fido.pub", tok.PublicKey(), "yubikey"), write("fido2.pub", tok2.PublicKey(), "spare")
	plainKey, _, _, _, err := ssh.ParseAuthorizedKey([]byte(rendertest.AdminKey))
	if err != nil {
		t.Fatal(err)
	}
	plain := write("plain.pub", plainKey, "laptop")

	// A plain key installed before the policy: apply says it is refused now.
	os.MkdirAll(root.Path("/home/pfwd/.ssh"), 0o700)
	os.WriteFile(root.Path("/home/pfwd/.ssh/authorized_keys"), []byte(`restrict,port-forwarding,permitopen="127.0.0.1:8009" `+strings.TrimSpace(rendertest.AdminKey)+"\n"), 0o600)
	out, _ := exec(0, "apply", "--sshd", sshd, "--no-reload", "--hardware-keys-only", "--require-verify")
	if !strings.Contains(out, "1 plain key(s) of pfwd are refused by sshd") {
		t.Errorf("apply does not warn about the plain key:\n%s", out)
	}
	os.Remove(root.Path("/home/pfwd/.ssh/authorized_keys"))
	exec(0, "apply", "--sshd", sshd, "--no-reload", "--user", "tunnel")
	dropIn, _ := root.ReadFile("/etc/ssh/sshd_config.d/20-pfwd-only.conf")
	for _, want := range []string{"PubkeyAcceptedAlgorithms sk-ssh-ed25519@openssh.com,sk-ecdsa-sha2-nistp256@openssh.com\n",
		"PubkeyAuthOptions touch-required verify-required\n", "--hardware-keys-only --require-verify"} {
		if !strings.Contains(string(dropIn), want) {
			t.Errorf("pfwd's Match block lacks %q:\n%s", want, dropIn)
		}
	}
	if other, _ := root.ReadFile("/etc/ssh/sshd_config.d/20-tunnel-only.conf"); strings.Contains(string(other), "PubkeyAcceptedAlgorithms") {
		t.Errorf("the tunnel account got the FIDO policy too:\n%s", other)
	}

	// A plain key for pfwd: refused with what to do, nothing written.
	before := rendertest.Snapshot(t, root)
	_, stderr := exec(1, "add-key", plain, "--name", "laptop")
	if !strings.Contains(stderr, "takes hardware-backed (FIDO) keys only") || !strings.Contains(stderr, "hint: ask your friend for a hardware-backed key (ssh-keygen -t ed25519-sk") {
		t.Errorf("add-key plain for pfwd:\n%s", stderr)
	}
	_, stderr = exec(1, "add-key", fido, "--allow-no-touch")
	if !strings.Contains(stderr, "requires a touch") {
		t.Errorf("add-key --allow-no-touch for pfwd:\n%s", stderr)
	}
	rendertest.Unchanged(t, root, before)

	out, _ = exec(0, "add-key", fido, "--require-verify")
	if !strings.Contains(out, `permitopen="127.0.0.1:8009",verify-required sk-ssh-ed25519@openssh.com `) {
		t.Errorf("add-key --require-verify:\n%s", out)
	}
	// Added again without the flag, the key keeps verify-required.
	out, _ = exec(0, "add-key", fido)
	if !strings.Contains(out, "already installed") {
		t.Errorf("add-key again dropped verify-required:\n%s", out)
	}
	exec(0, "add-key", fido2)
	// A plain key for the tunnel account on the same host is fine, and
	// --require-verify on it is refused (FIDO keys only).
	exec(0, "add-key", plain, "--user", "tunnel")
	exec(2, "add-key", plain, "--user", "tunnel", "--require-verify")

	out, _ = exec(0, "list-keys")
	for _, want := range []string{"pfwd takes hardware-backed (FIDO) keys only, with a touch on the token and its PIN or biometric",
		"ed25519-sk 256 hardware-backed (ssh:, verify-required)", "ed25519-sk 256 hardware-backed (ssh:work)"} {
		if !strings.Contains(out, want) {
			t.Errorf("list-keys lacks %q:\n%s", want, out)
		}
	}
	out, _ = exec(0, "list-keys", "--json", "--user", "pfwd")
	var lk struct {
		HardwareKeysOnly bool `json:"hardware_keys_only"`
		Keys             []struct {
			HardwareBacked bool   `json:"hardware_backed"`
			Application    string `json:"application"`
		}
	}
	if err := json.Unmarshal([]byte(out), &lk); err != nil || !lk.HardwareKeysOnly || len(lk.Keys) != 2 || !lk.Keys[0].HardwareBacked || lk.Keys[1].Application != "ssh:work" {
		t.Errorf("list-keys --json: %v\n%s", err, out)
	}

	out, _ = exec(0, "audit", "--sshd", sshd)
	if !strings.Contains(out, "takes hardware-backed (FIDO) keys only") {
		t.Errorf("audit does not prove the policy:\n%s", out)
	}
	// A plain key slipped in by hand: a warning, and list-keys says so.
	ak := root.Path("/home/pfwd/.ssh/authorized_keys")
	data, _ := os.ReadFile(ak)
	os.WriteFile(ak, append(data, []byte(`restrict,port-forwarding,permitopen="127.0.0.1:8009" `+strings.TrimSpace(rendertest.AdminKey)+"\n")...), 0o600)
	out, _ = exec(0, "audit", "--sshd", sshd)
	if !strings.Contains(out, "key.not-hardware") {
		t.Errorf("audit does not flag the plain key:\n%s", out)
	}
	if out, _ = exec(0, "list-keys"); !strings.Contains(out, "sshd refuses it") {
		t.Errorf("list-keys does not flag the plain key:\n%s", out)
	}
	os.WriteFile(ak, data, 0o600)

	// A plain apply keeps the policy; =false lifts it.
	exec(0, "apply", "--sshd", sshd, "--no-reload")
	if now, _ := root.ReadFile("/etc/ssh/sshd_config.d/20-pfwd-only.conf"); !bytes.Equal(now, dropIn) {
		t.Errorf("apply without the flag changed the policy:\n%s", now)
	}
	exec(2, "apply", "--sshd", sshd, "--no-reload", "--user", "tunnel", "--require-verify")
	exec(0, "apply", "--sshd", sshd, "--no-reload", "--hardware-keys-only=false")
	if now, _ := root.ReadFile("/etc/ssh/sshd_config.d/20-pfwd-only.conf"); strings.Contains(string(now), "PubkeyAcceptedAlgorithms") {
		t.Errorf("--hardware-keys-only=false kept the policy:\n%s", now)
	}
	exec(0, "add-key", plain, "--name", "laptop")
}
