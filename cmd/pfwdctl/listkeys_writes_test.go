package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pfwdctl/pfwdctl/render/rendertest"
	"github.com/pfwdctl/pfwdctl/users"
)

// writeCounter counts Write calls: each is one write(2) on a real stdout.
type writeCounter struct {
	strings.Builder
	writes int
}

func (w *writeCounter) Write(p []byte) (int, error) {
	w.writes++
	return w.Builder.Write(p)
}

// list-keys prints its table through a buffer: unbuffered, tabwriter made
// one write per cell, ~120,000 write(2) calls for 10,000 keys.
func TestListKeysTableIsBuffered(t *testing.T) {
	env, _, _ := testEnv()
	w := &writeCounter{}
	env.IO.Out = w
	res := users.ListResult{Account: "pfwd", Path: "/home/pfwd/.ssh/authorized_keys"}
	for i := 0; i < 1000; i++ {
		res.Keys = append(res.Keys, users.KeyInfo{Line: i + 1, Name: "k", Type: "ssh-ed25519", Bits: 256,
			Fingerprint: "SHA256:x", Targets: []string{"127.0.0.1:8009"}, Restricted: true})
	}
	printKeys(&Globals{Env: env}, res)
	if n := strings.Count(w.String(), "\n"); n < 1001 {
		t.Fatalf("printed %d lines, want the header and 1000 rows:\n%s", n, w.String())
	}
	if w.writes > 20 {
		t.Errorf("%d writes for a table of 1000 keys, want a handful (buffered)", w.writes)
	}
}

// A person's account (a login shell) is not a forward account: list-keys
// lists its keys with a note instead of failing them as UNRESTRICTED and
// advising revoke, and revoke refuses it, leaving the file byte for byte
// (it was the admin's only way in).
func TestPersonsKeysAreListedNotRevoked(t *testing.T) {
	root := rendertest.New(t, rendertest.Tree{})
	exec := inTree(t, root)
	before, _ := root.ReadFile("/home/admin/.ssh/authorized_keys")
	out, _ := exec(0, "list-keys", "--user", "admin")
	if !strings.Contains(out, "a person's account") || strings.Contains(out, "UNRESTRICTED") {
		t.Errorf("list-keys --user admin:\n%s", out)
	}
	_, errb := exec(1, "revoke", "--user", "admin", "admin@laptop")
	if !strings.Contains(errb, "person's account") {
		t.Errorf("revoke --user admin: %s", errb)
	}
	// Nor is a "forward-only" key added there: restrict does not stop a
	// command on an account with a shell.
	pub := filepath.Join(t.TempDir(), "friend.pub")
	os.WriteFile(pub, []byte(agreeKey(t, "friend")+"\n"), 0o644)
	if _, errb := exec(1, "add-key", "--user", "admin", "--target", "127.0.0.1:8009", pub); !strings.Contains(errb, "login shell") {
		t.Errorf("add-key --user admin: %s", errb)
	}
	if after, _ := root.ReadFile("/home/admin/.ssh/authorized_keys"); string(after) != string(before) {
		t.Errorf("the admin's keys changed: %q", after)
	}
}

// An empty shell field is /bin/sh to sshd: add-key refuses such an
// account like one with /bin/bash (it once passed as "no login").
func TestAddKeyRefusesAnEmptyShell(t *testing.T) {
	root := rendertest.New(t, rendertest.Tree{Files: map[string]string{
		"/etc/passwd": "root:x:0:0:root:/root:/bin/bash\npfwd:x:999:999::/home/pfwd:\n"}})
	exec := inTree(t, root)
	os.MkdirAll(root.Path("/home/pfwd/.ssh"), 0o700)
	pub := filepath.Join(t.TempDir(), "friend.pub")
	os.WriteFile(pub, []byte(agreeKey(t, "friend")+"\n"), 0o644)
	if _, errb := exec(1, "add-key", "--target", "127.0.0.1:8009", pub); !strings.Contains(errb, "login shell") {
		t.Errorf("add-key for an account with an empty shell: %s", errb)
	}
	if _, err := root.ReadFile("/home/pfwd/.ssh/authorized_keys"); err == nil {
		t.Error("a keys file was written")
	}
}
