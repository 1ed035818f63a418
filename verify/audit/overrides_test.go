package audit

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/pfwdctl/pfwdctl/internal/hostfs"
	"github.com/pfwdctl/pfwdctl/internal/run"
	"github.com/pfwdctl/pfwdctl/internal/testenv"
	"github.com/pfwdctl/pfwdctl/render"
	"github.com/pfwdctl/pfwdctl/render/rendertest"
)

// plannedTree is a host where apply is about to write the rendered drop-ins:
// they are in the returned overlay, not on disk. files edit the tree as in
// tree ("" deletes).
func plannedTree(t *testing.T, p render.Params, files map[string]string) (hostfs.Root, map[string][]byte) {
	t.Helper()
	rendered, err := render.Render(p)
	if err != nil {
		t.Fatal(err)
	}
	all := map[string]string{}
	overlay := map[string][]byte{}
	for _, f := range rendered {
		all[dropDir+f.Name] = ""
		overlay[dropDir+f.Name] = f.Data
	}
	for k, v := range files {
		all[k] = v
	}
	return tree(t, p, all, nil), overlay
}

func overrides(t *testing.T, root hostfs.Root, p render.Params, overlay map[string][]byte) []Finding {
	t.Helper()
	before := rendertest.Snapshot(t, root)
	got, err := Overrides(context.Background(), Options{Root: root, Runner: run.Exec{}, SshdBin: testenv.Sshd(t), Params: p, Overlay: overlay})
	if err != nil {
		t.Fatal(err)
	}
	rendertest.Unchanged(t, root, before)
	return got
}

func dumpFindings(fs []Finding) string {
	var b strings.Builder
	for _, f := range fs {
		b.WriteString("  " + string(f.Severity) + " " + f.String() + "\n")
	}
	return b.String()
}

// Overrides judges the configuration as it will be once apply writes the
// plan: each line that would beat a rendered directive is named with its
// file:line and fix, though the drop-ins are not on disk yet.
func TestOverridesOfAPlan(t *testing.T) {
	t.Parallel()
	stock := stockLines()
	var includeAtBottom []string
	include := ""
	for _, l := range stock {
		if strings.HasPrefix(l, "Include ") {
			include = l
			continue
		}
		includeAtBottom = append(includeAtBottom, l)
	}
	includeAtBottom = append(append([]string{"PasswordAuthentication yes"}, includeAtBottom...), include)
	x11 := 0
	for i, l := range includeAtBottom {
		if l == "X11Forwarding yes" {
			x11 = i + 1
		}
	}
	if include == "" || x11 == 0 {
		t.Fatal("the stock sshd_config changed: no Include or X11Forwarding yes line")
	}
	type want struct{ id, at, fix string }
	tests := []struct {
		name  string
		files map[string]string
		want  []want
	}{
		{name: "line above an Include moved to the bottom",
			files: map[string]string{mainConf: strings.Join(includeAtBottom, "\n") + "\n"},
			want: []want{
				{"include.order", mainConf + ":1", "delete line 1 of " + mainConf},
				{"include.order", mainConf + ":" + itoa(x11), "delete line " + itoa(x11) + " of " + mainConf},
			}},
		{name: "05- drop-in re-enables passwords",
			files: map[string]string{dropDir + "05-early.conf": "PasswordAuthentication yes\n"},
			want:  []want{{"dropin.earlier", dropDir + "05-early.conf:1", "delete PasswordAuthentication at " + dropDir + "05-early.conf:1"}}},
		{name: "05- drop-in with a Match User pfwd block opens every target",
			files: map[string]string{dropDir + "05-early.conf": "Match User pfwd\n    PermitOpen any\n"},
			want: []want{
				{"match.override", dropDir + "05-early.conf:2", "delete PermitOpen at " + dropDir + "05-early.conf:2"},
				{"match.earlier", dropDir + "05-early.conf:1", "narrow it"},
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := render.DefaultParams()
			root, overlay := plannedTree(t, p, tc.files)
			got := overrides(t, root, p, overlay)
			if failed(got) == 0 {
				t.Fatalf("no failure:\n%s", dumpFindings(got))
			}
			for _, w := range tc.want {
				found := false
				for _, f := range got {
					if f.ID == w.id && f.At() == w.at && strings.Contains(f.Fix, w.fix) {
						found = true
						if s := f.String(); !strings.HasPrefix(s, w.at+": ") || !strings.Contains(s, "fix: "+w.fix) || strings.Contains(s, "\n") {
							t.Errorf("String() = %q", s)
						}
					}
				}
				if !found {
					t.Errorf("want %s at %s with fix %q; got:\n%s", w.id, w.at, w.fix, dumpFindings(got))
				}
			}
		})
	}
}

// With nothing overriding the plan, Overrides finds nothing, whether the
// drop-in directory exists or not, and whatever stale drop-in the plan
// replaces: the staged view, not the disk, is judged.
func TestOverridesCleanPlan(t *testing.T) {
	t.Parallel()
	p := render.DefaultParams()
	for name, files := range map[string]map[string]string{
		"drop-ins planned":            nil,
		"stale drop-in replaced":      {dropDir + "10-hardening.conf": "PasswordAuthentication yes\nPermitRootLogin yes\n"},
		"later cloud-init drop-in":    {dropDir + "50-cloud-init.conf": "PasswordAuthentication yes\n"},
		"unrelated Match for another": {mainConf: string(rendertest.StockSshdConfig) + "Match User backup\n    ForceCommand internal-sftp\n"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			root, overlay := plannedTree(t, p, files)
			if got := overrides(t, root, p, overlay); len(got) > 0 {
				t.Errorf("clean plan has findings:\n%s", dumpFindings(got))
			}
		})
	}
	t.Run("no drop-in directory yet", func(t *testing.T) {
		t.Parallel()
		root, overlay := plannedTree(t, p, nil)
		if err := removeAll(root.Path(dropDir)); err != nil {
			t.Fatal(err)
		}
		if got := overrides(t, root, p, overlay); len(got) > 0 {
			t.Errorf("clean plan has findings:\n%s", dumpFindings(got))
		}
	})
}

// Without the overlay the same tree fails: the plan is what made it clean,
// so the overlay is really read.
func TestOverridesWithoutPlanSeesDisk(t *testing.T) {
	t.Parallel()
	p := render.DefaultParams()
	root, _ := plannedTree(t, p, nil)
	got := overrides(t, root, p, nil)
	if failed(got) == 0 || !hasFinding(got, "effective.unset") {
		t.Fatalf("the drop-ins are not on disk, yet:\n%s", dumpFindings(got))
	}
}

func failed(fs []Finding) int {
	n := 0
	for _, f := range fs {
		if f.Severity == Fail {
			n++
		}
	}
	return n
}

func hasFinding(fs []Finding, id string) bool {
	for _, f := range fs {
		if f.ID == id {
			return true
		}
	}
	return false
}

func itoa(n int) string { return strconv.Itoa(n) }

func removeAll(p string) error { return os.RemoveAll(p) }
