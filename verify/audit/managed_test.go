package audit

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/pfwdctl/pfwdctl/internal/hostfs"
	"github.com/pfwdctl/pfwdctl/internal/run"
	"github.com/pfwdctl/pfwdctl/internal/testenv"
	"github.com/pfwdctl/pfwdctl/render"
)

// managedTree is a host where pfwdctl apply put its units into Debian's
// stock sshd_config as managed blocks (the mode OpenSSH 8.0 and 8.2 need),
// with the pfwd account and one key; edit changes sshd_config after.
func managedTree(t *testing.T, p render.Params, edit func(main string) string) hostfs.Root {
	t.Helper()
	root := tree(t, p, nil, nil)
	for name := range mustRender(t) {
		if err := os.Remove(root.Path(dropDir + name)); err != nil {
			t.Fatal(err)
		}
	}
	a := render.Applier{Root: root, Runner: run.Exec{}, SshdBin: testenv.Sshd(t), Getenv: func(string) string { return "" }, Mode: render.ModeManaged}
	if _, err := a.Apply(context.Background(), render.ApplyOptions{Params: p, NoReload: true}); err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		main := root.Path(mainConf)
		data, _ := os.ReadFile(main)
		if err := os.WriteFile(main, []byte(edit(string(data))), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// Audit understands the managed-block mode: the units are judged in
// sshd_config at their lines, and sabotage there is named like in a
// drop-in.
func TestManagedBlocksAudit(t *testing.T) {
	t.Parallel()
	p := render.DefaultParams()
	good := audit(t, managedTree(t, p, nil), p)
	if !good.Passed || good.InstallMode != render.ModeManaged {
		t.Fatalf("managed blocks as installed (mode %q):\n%s", good.InstallMode, dump(good))
	}
	lineOf := func(main, text string) int {
		for i, l := range strings.Split(main, "\n") {
			if strings.TrimSpace(l) == text {
				return i + 1
			}
		}
		return 0
	}
	for _, c := range []struct {
		name, id string
		edit     func(string) string
		// line is the text of the line the finding must point at.
		line string
	}{
		{name: "edited inside the managed Match block", id: "dropin.edited",
			edit: func(m string) string {
				return strings.Replace(m, "    PermitOpen 127.0.0.1:8009", "    PermitOpen any", 1)
			}, line: "PermitOpen any"},
		{name: "a line above the managed baseline", id: "include.order",
			edit: func(m string) string { return "PasswordAuthentication yes\n" + m }, line: "PasswordAuthentication yes"},
		{name: "an admin's Match block above pfwdctl's", id: "match.override",
			edit: func(m string) string {
				return strings.Replace(m, "# BEGIN pfwdctl 20-pfwd-only.conf", "Match User pfwd\n    AllowTcpForwarding yes\n# BEGIN pfwdctl 20-pfwd-only.conf", 1)
			}, line: "AllowTcpForwarding yes"},
		{name: "the Match block removed", id: "dropin.missing",
			edit: func(m string) string { i := strings.Index(m, "# BEGIN pfwdctl 20-pfwd-only.conf"); return m[:i] }},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			root := managedTree(t, p, c.edit)
			rep := audit(t, root, p)
			if rep.Passed {
				t.Fatalf("passed:\n%s", dump(rep))
			}
			data, _ := os.ReadFile(root.Path(mainConf))
			want := mainConf
			if c.line != "" {
				want = fmt.Sprintf("%s:%d", mainConf, lineOf(string(data), c.line))
			}
			found := false
			for _, f := range rep.Findings {
				if f.ID == c.id && f.At() == want {
					found = true
				}
			}
			if !found {
				t.Errorf("no %s at %s:\n%s", c.id, want, dump(rep))
			}
		})
	}
}
