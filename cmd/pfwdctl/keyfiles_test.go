package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pfwdctl/pfwdctl/internal/testenv"
	"github.com/pfwdctl/pfwdctl/render/rendertest"
)

// TestKeysInEveryFileSshdReads is issue 12 item 1: Debian's sshd reads
// .ssh/authorized_keys and .ssh/authorized_keys2 (sshd -T, the real
// binary, says so for the tree). A copy in authorized_keys2 is listed and
// flagged, revoked with the others and moved by add-key; with an
// AuthorizedKeysFile outside the home add-key writes there instead of
// "adding" a key sshd never reads, and with none it refuses.
func TestKeysInEveryFileSshdReads(t *testing.T) {
	testenv.Sshd(t)
	root := rendertest.New(t, rendertest.Tree{})
	exec := func(want int, args ...string) string {
		t.Helper()
		out, errb := inTree(t, root)(want, args...)
		return out + errb
	}
	os.MkdirAll(root.Path("/home/pfwd/.ssh"), 0o700)
	line := agreeKey(t, "bob")
	keys2 := root.Path("/home/pfwd/.ssh/authorized_keys2")
	os.WriteFile(keys2, []byte(line+"\n"), 0o600)

	out := exec(1, "list-keys")
	if !strings.Contains(out, "/home/pfwd/.ssh/authorized_keys2 line 1") || !strings.Contains(out, "UNRESTRICTED") {
		t.Errorf("list-keys misses the copy in authorized_keys2:\n%s", out)
	}
	// add-key moves it into the file pfwdctl writes, restricted.
	pub := filepath.Join(t.TempDir(), "bob.pub")
	os.WriteFile(pub, []byte(line+"\n"), 0o644)
	exec(0, "add-key", "--target", "127.0.0.1:8009", pub)
	if data, _ := os.ReadFile(keys2); strings.TrimSpace(string(data)) != "" {
		t.Errorf("the bare copy stayed in authorized_keys2:\n%s", data)
	}
	exec(0, "list-keys")
	// A new bare copy there is revoked with the restricted line.
	os.WriteFile(keys2, []byte(line+"\n"), 0o600)
	exec(0, "revoke", "bob")
	for _, p := range []string{keys2, root.Path("/home/pfwd/.ssh/authorized_keys")} {
		if data, _ := os.ReadFile(p); strings.Contains(string(data), "ssh-") {
			t.Errorf("revoke left the key in %s:\n%s", p, data)
		}
	}
	if out := exec(0, "list-keys"); !strings.Contains(out, "no keys") {
		t.Errorf("list-keys after revoke:\n%s", out)
	}

	// sshd reads another file first: add-key writes there (root's, 0644),
	// not to ~/.ssh/authorized_keys, and list-keys and revoke follow.
	cfg := root.Path("/etc/ssh/sshd_config")
	data, _ := os.ReadFile(cfg)
	os.WriteFile(cfg, append(data, "AuthorizedKeysFile /etc/ssh/authorized_keys/%u\n"...), 0o644)
	out = exec(0, "add-key", "--target", "127.0.0.1:8009", pub)
	if !strings.Contains(out, "for pfwd in /etc/ssh/authorized_keys/pfwd") {
		t.Errorf("add-key does not say where it wrote:\n%s", out)
	}
	fi, err := os.Stat(root.Path("/etc/ssh/authorized_keys/pfwd"))
	if err != nil || fi.Mode() != 0o644 {
		t.Fatalf("the file sshd reads: %v %v", fi, err)
	}
	if out := exec(0, "list-keys"); !strings.Contains(out, "bob") {
		t.Errorf("list-keys does not show the key sshd reads:\n%s", out)
	}
	exec(0, "revoke", "bob")
	if data, _ := os.ReadFile(root.Path("/etc/ssh/authorized_keys/pfwd")); strings.Contains(string(data), "ssh-") {
		t.Errorf("revoke left the key:\n%s", data)
	}

	// sshd's StrictModes checks every directory up to /: below a
	// group-writable /srv it would ignore the file, so add-key does not
	// write it there and call it added.
	os.MkdirAll(root.Path("/srv"), 0o775)
	os.Chmod(root.Path("/srv"), 0o775)
	os.WriteFile(cfg, append(data, "AuthorizedKeysFile /srv/keys/%u\n"...), 0o644)
	snap := rendertest.Snapshot(t, root)
	if out := exec(1, "add-key", "--target", "127.0.0.1:8009", pub); !strings.Contains(out, "/srv") {
		t.Errorf("add-key below a group-writable directory:\n%s", out)
	}
	rendertest.Unchanged(t, root, snap)

	// A file that does not depend on the account (no %u, %U or %h) is
	// read for every account: add-key refuses to write a forward-only key
	// there, since it would let its holder in as any of them.
	os.WriteFile(cfg, append(data, "AuthorizedKeysFile /etc/ssh/shared_keys\n"...), 0o644)
	before := rendertest.Snapshot(t, root)
	if out := exec(1, "add-key", "--target", "127.0.0.1:8009", pub); !strings.Contains(out, "every account") {
		t.Errorf("add-key into a shared key file:\n%s", out)
	}
	rendertest.Unchanged(t, root, before)

	// A copy in a file in the home outside ~/.ssh, which pfwdctl does not
	// rewrite: revoke and prune refuse and change no byte anywhere.
	os.WriteFile(cfg, append(data, "AuthorizedKeysFile .ssh/authorized_keys %h/keys_extra\n"...), 0o644)
	exec(0, "add-key", "--target", "127.0.0.1:8009", pub)
	os.WriteFile(root.Path("/home/pfwd/keys_extra"), []byte(line+"\n"), 0o600)
	before = rendertest.Snapshot(t, root)
	if out := exec(1, "revoke", "bob"); !strings.Contains(out, "keys_extra") {
		t.Errorf("revoke does not name the file it cannot rewrite:\n%s", out)
	}
	rendertest.Unchanged(t, root, before)
	os.Remove(root.Path("/home/pfwd/keys_extra"))
	exec(0, "revoke", "bob")

	// sshd reads no file: add-key says so and writes nothing.
	os.WriteFile(cfg, []byte("AuthorizedKeysFile none\n"+string(data)), 0o644)
	before = rendertest.Snapshot(t, root)
	out = exec(1, "add-key", "--target", "127.0.0.1:8009", pub)
	if !strings.Contains(out, "AuthorizedKeysFile none") {
		t.Errorf("add-key does not say sshd reads no file:\n%s", out)
	}
	rendertest.Unchanged(t, root, before)
}
