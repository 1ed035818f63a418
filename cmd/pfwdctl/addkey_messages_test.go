package main

import (
	"os"
	osexec "os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pfwdctl/pfwdctl/internal/testenv"
	"github.com/pfwdctl/pfwdctl/render/rendertest"
)

// A first-time user's mistakes get messages that lead somewhere: no
// argument says what to give; a name changed to fit is said, since names
// are how keys are revoked.
func TestAddKeyMessages(t *testing.T) {
	env, out, errb := testEnv()
	if code := Main([]string{"add-key"}, env); code != 2 || !strings.Contains(errb.String(), "pfwdctl add-key friend.pub") || strings.Contains(errb.String(), "accepts 1 arg") {
		t.Fatalf("no argument: exit %d\n%s%s", code, out, errb)
	}

	sshd := testenv.Sshd(t)
	root := rendertest.New(t, rendertest.Tree{})
	env, _, errb = testEnv()
	if code := Main([]string{"--root", root.Dir(), "apply", "--sshd", sshd}, env); code != 0 {
		t.Fatalf("apply: %s", errb)
	}
	os.MkdirAll(root.Path("/home/pfwd/.ssh"), 0o700)
	pub := filepath.Join(t.TempDir(), "friend.pub")
	first := agreeKey(t, "friend")
	os.WriteFile(pub, []byte(first+"\n"), 0o644)
	env, out, errb = testEnv()
	if code := Main([]string{"--root", root.Dir(), "add-key", pub, "--name", "bob laptop!"}, env); code != 0 {
		t.Fatalf("add-key: exit %d\n%s%s", code, out, errb)
	}
	if !strings.Contains(errb.String(), `pfwdctl: note: --name "bob laptop!" is stored as "bob-laptop"`) {
		t.Fatalf("the changed name is not said on stderr:\n%s", errb)
	}

	// A second key under that name is refused (exit 1, nothing written),
	// with a hint naming --replace; with --replace it takes the name.
	pub2 := filepath.Join(t.TempDir(), "laptop2.pub")
	os.WriteFile(pub2, []byte(agreeKey(t, "friend2")+"\n"), 0o644)
	ak := root.Path("/home/pfwd/.ssh/authorized_keys")
	before, _ := os.ReadFile(ak)
	env, out, errb = testEnv()
	if code := Main([]string{"--root", root.Dir(), "add-key", pub2, "--name", "bob-laptop"}, env); code != 1 ||
		!strings.Contains(errb.String(), `already has a key named "bob-laptop"`) || !strings.Contains(errb.String(), "pfwdctl: hint: give this key another --name, or replace the other key with --replace") {
		t.Fatalf("name in use: exit %d\n%s%s", code, out, errb)
	}
	if after, _ := os.ReadFile(ak); string(after) != string(before) {
		t.Fatalf("refused, yet written:\n%s", after)
	}
	env, out, errb = testEnv()
	if code := Main([]string{"--root", root.Dir(), "add-key", pub2, "--name", "bob-laptop", "--replace"}, env); code != 0 ||
		!strings.Contains(out.String(), "removed the key SHA256:") {
		t.Fatalf("--replace: exit %d\n%s%s", code, out, errb)
	}
	if after, _ := os.ReadFile(ak); strings.Count(string(after), " bob-laptop\n") != 1 || strings.Contains(string(after), strings.Fields(first)[1]) {
		t.Fatalf("after --replace:\n%s", after)
	}
}

// Adding a key that is already installed keeps its name unless --name
// renames it, and a rename is said: names are how keys are revoked.
func TestAddKeyAgainKeepsOrSaysTheName(t *testing.T) {
	sshd := testenv.Sshd(t)
	root := rendertest.New(t, rendertest.Tree{})
	exec := inTree(t, root)
	exec(0, "apply", "--sshd", sshd, "--no-reload")
	os.MkdirAll(root.Path("/home/pfwd/.ssh"), 0o700)
	pub := filepath.Join(t.TempDir(), "alice.pub")
	os.WriteFile(pub, []byte(rendertest.AdminKey), 0o644) // comment admin@laptop
	exec(0, "add-key", "--name", "alice", pub)
	if out, _ := exec(0, "add-key", pub); !strings.Contains(out, "key alice ") {
		t.Errorf("add-key again without --name did not keep the name alice:\n%s", out)
	}
	exec(0, "revoke", "alice")
	exec(0, "add-key", "--name", "alice", pub)
	if out, errb := exec(0, "add-key", "--name", "bob", pub); !strings.Contains(out+errb, `renamed from "alice" to "bob"`) {
		t.Errorf("a rename was not said:\n%s%s", out, errb)
	}
	exec(0, "revoke", "bob")
}

// An expiry already past is refused before anything is written: sshd
// would refuse the key from the start.
func TestAddKeyRefusesAPastExpiry(t *testing.T) {
	root := rendertest.New(t, rendertest.Tree{})
	exec := inTree(t, root)
	pub := filepath.Join(t.TempDir(), "k.pub")
	os.WriteFile(pub, []byte(rendertest.AdminKey), 0o644)
	if _, errb := exec(2, "add-key", "--expires", "2020-01-01", "--target", "127.0.0.1:8009", pub); !strings.Contains(errb, "already past") {
		t.Errorf("a past --expires: %s", errb)
	}
	if _, err := root.ReadFile("/home/pfwd/.ssh/authorized_keys"); err == nil {
		t.Error("a keys file was written")
	}
}

// add-key - on a terminal says what it waits for; piped, it says nothing.
func TestAddKeyStdinPromptsOnlyOnATerminal(t *testing.T) {
	for _, tty := range []bool{true, false} {
		env, _, errb := testEnv()
		env.IO.In = strings.NewReader("not a key\n")
		env.IO.InTTY = tty
		Main([]string{"--root", t.TempDir(), "add-key", "-"}, env)
		if got := strings.Contains(errb.String(), "paste the public key"); got != tty {
			t.Errorf("terminal %v: prompt shown %v\n%s", tty, got, errb)
		}
	}
}

// friend on a tree without /etc/hostname uses the placeholder HOST and
// says it is one, instead of calling it this machine's name.
func TestFriendSaysHostIsAPlaceholder(t *testing.T) {
	sshd := testenv.Sshd(t)
	root := rendertest.New(t, rendertest.Tree{})
	exec := inTree(t, root)
	exec(0, "apply", "--sshd", sshd, "--no-reload")
	os.MkdirAll(root.Path("/home/pfwd/.ssh"), 0o700)
	pub := filepath.Join(t.TempDir(), "k.pub")
	os.WriteFile(pub, []byte(agreeKey(t, "alice")+"\n"), 0o644)
	exec(0, "add-key", "--name", "alice", pub)
	hk := root.Path("/etc/ssh/ssh_host_ed25519_key")
	if err := osexec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", hk).Run(); err != nil {
		t.Fatal(err)
	}
	out, _ := exec(0, "friend", "alice", "--sshd", sshd)
	if !strings.Contains(out, "HOST below is a placeholder") || strings.Contains(out, "this machine's name") {
		t.Errorf("friend without a host name:\n%s", out)
	}
	os.WriteFile(root.Path("/etc/hostname"), []byte("gw.example.org\n"), 0o644)
	if out, _ := exec(0, "friend", "alice", "--sshd", sshd); !strings.Contains(out, "this machine's name, gw.example.org") {
		t.Errorf("friend with a host name:\n%s", out)
	}
}
