package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/pfwdctl/pfwdctl/internal/testenv"
	"github.com/pfwdctl/pfwdctl/render/rendertest"
)

// TestRootIsAConfinement is issue 12 item 4 as reproduced: symlinks inside
// a --root tree pointing outside it (a home reached through TREE/x, a
// symlinked sshd_config.d, a symlinked /var/log) once made add-key, apply
// and the audit log write outside the tree. Now nothing outside changes.
func TestRootIsAConfinement(t *testing.T) {
	sshd := testenv.Sshd(t)
	root := rendertest.New(t, rendertest.Tree{})
	outHome, outDropIns, outLog := t.TempDir(), t.TempDir(), t.TempDir()
	// What a prefix-only --root would have written into.
	os.MkdirAll(filepath.Join(outHome, "home/sec005/.ssh"), 0o700)
	os.Symlink(outHome, root.Path("/x"))
	passwd, _ := os.ReadFile(root.Path("/etc/passwd"))
	os.WriteFile(root.Path("/etc/passwd"), append(passwd, "sec005:x:1500:1500::/x/home/sec005:/usr/sbin/nologin\n"...), 0o644)
	os.RemoveAll(root.Path("/etc/ssh/sshd_config.d"))
	os.Symlink(outDropIns, root.Path("/etc/ssh/sshd_config.d"))
	os.RemoveAll(root.Path("/var/log"))
	os.Symlink(outLog, root.Path("/var/log"))

	pub := filepath.Join(t.TempDir(), "k.pub")
	os.WriteFile(pub, []byte(agreeKey(t, "friend")+"\n"), 0o644)
	for _, args := range [][]string{
		{"add-key", "--user", "sec005", "--target", "127.0.0.1:8009", pub},
		{"apply", "--sshd", sshd, "--no-reload"},
		{"apply", "--sshd", sshd, "--no-reload", "--user", "sec005", "--target", "127.0.0.1:8010"},
	} {
		env, out, errb := testEnv()
		code := Main(append([]string{"--root", root.Dir()}, args...), env)
		t.Logf("%v: exit %d\n%s%s", args, code, out, errb)
	}
	for _, dir := range []string{outHome, outDropIns, outLog} {
		filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				t.Errorf("written outside the tree: %s", p)
			}
			return nil
		})
	}
	// The tree got them instead, where its own symlinks lead inside it.
	if _, err := os.Stat(root.Path(outDropIns + "/10-hardening.conf")); err != nil {
		t.Errorf("the drop-ins are not in the tree's %s: %v", outDropIns, err)
	}
}
