package render_test

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/pfwdctl/pfwdctl/internal/run"
	"github.com/pfwdctl/pfwdctl/internal/sshd"
	"github.com/pfwdctl/pfwdctl/internal/testenv"
	"github.com/pfwdctl/pfwdctl/render"
	"github.com/pfwdctl/pfwdctl/render/rendertest"
)

// A line the admin appended below pfwdctl's managed blocks (global there:
// the last block ends with "Match all") stays global after remove, even
// when the config ended in a Match block of its own before apply: sshd -T
// for another user still has it, and the sftp block keeps its own lines.
func TestRemoveKeepsAppendedLinesGlobal(t *testing.T) {
	t.Parallel()
	a, _ := managedApplier(t, "PasswordAuthentication yes\nMatch User sftp\n    ForceCommand internal-sftp\n")
	if _, err := apply(t, a, render.DefaultParams(), render.ApplyOptions{NoReload: true}); err != nil {
		t.Fatal(err)
	}
	main := a.Root.Path("/etc/ssh/sshd_config")
	data, _ := os.ReadFile(main)
	os.WriteFile(main, append(data, "AllowUsers admin pfwd\n"...), 0o644)
	if _, err := a.Remove(context.Background(), render.RemoveOptions{NoReload: true}); err != nil {
		t.Fatal(err)
	}
	after, _ := os.ReadFile(main)
	if strings.Contains(string(after), "pfwdctl 20-pfwd-only") {
		t.Fatalf("the block is still there:\n%s", after)
	}
	bin := sshd.Binary{Bin: testenv.Sshd(t), Runner: run.Exec{}, Root: a.Root}
	eff, err := bin.Effective(context.Background(), sshd.ConnSpec("admin"))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(eff["allowusers"], " "); got != "admin pfwd" {
		t.Errorf("after remove, AllowUsers for admin = %q, want %q (the line fell into the sftp block):\n%s", got, "admin pfwd", after)
	}
	eff, _ = bin.Effective(context.Background(), sshd.ConnSpec("sftp"))
	if got := strings.Join(eff["forcecommand"], " "); got != "internal-sftp" {
		t.Errorf("sftp's block lost its ForceCommand: %q", got)
	}
}

// Removing the Include line apply added stops sshd reading the other files
// in the drop-in directory: remove names them.
func TestRemoveNamesFilesNoLongerRead(t *testing.T) {
	t.Parallel()
	root := rendertest.New(t, rendertest.Tree{SshdConfig: []byte("PasswordAuthentication yes\n")})
	a := applier(t, root)
	if _, err := apply(t, a, render.DefaultParams(), render.ApplyOptions{NoReload: true}); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(root.Path("/etc/ssh/sshd_config.d/60-admin.conf"), []byte("AllowUsers admin\n"), 0o644)
	res, err := a.Remove(context.Background(), render.RemoveOptions{NoReload: true})
	if err != nil {
		t.Fatal(err)
	}
	if w := strings.Join(res.Warnings, "\n"); !strings.Contains(w, "/etc/ssh/sshd_config.d/60-admin.conf") || strings.Contains(w, "20-pfwd-only") {
		t.Errorf("warnings %q, want 60-admin.conf named (and not pfwdctl's own files)", w)
	}
}
