package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pfwdctl/pfwdctl/render/rendertest"
)

// docs/exit-codes.md: "sshd not installed" is 3 (could not run) for every
// command that asks sshd, not 1 for some: apply's drop-in probe wrapped
// the exec failure as a plain failure. add-key falls back to sshd's
// default keys file then, and says so instead of staying silent.
func TestNoSshdIsExit3Everywhere(t *testing.T) {
	root := rendertest.New(t, rendertest.Tree{})
	exec := inTree(t, root)
	missing := filepath.Join(t.TempDir(), "no-sshd")
	for _, args := range [][]string{
		{"apply", "--sshd", missing, "--no-reload"},
		{"apply", "--sshd", missing, "--dry-run"},
		{"audit", "--sshd", missing},
	} {
		exec(3, args...)
	}
	os.MkdirAll(root.Path("/home/pfwd/.ssh"), 0o700)
	pub := filepath.Join(t.TempDir(), "k.pub")
	os.WriteFile(pub, []byte(rendertest.AdminKey), 0o644)
	out, errb := exec(0, "add-key", "--sshd", missing, "--target", "127.0.0.1:8009", pub)
	if !strings.Contains(out+errb, "sshd could not be asked which files it reads") {
		t.Errorf("add-key without an sshd to ask said nothing about it:\n%s%s", out, errb)
	}
}
