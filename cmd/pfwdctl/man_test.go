package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	udiff "github.com/aymanbagabas/go-udiff"
	"github.com/spf13/cobra"

	"github.com/pfwdctl/pfwdctl/internal/golden"
)

// TestManPages keeps docs/man/ equal to what the command tree generates.
// `make man` (go test -run TestManPages -update) rewrites it.
func TestManPages(t *testing.T) {
	dir := filepath.Join("..", "..", "docs", "man")
	if golden.Updating() {
		if err := genManPages(dir); err != nil {
			t.Fatal(err)
		}
		return
	}
	tmp := t.TempDir()
	if err := genManPages(tmp); err != nil {
		t.Fatal(err)
	}
	want := readPages(t, tmp)
	got := readPages(t, dir)
	for name, w := range want {
		g, ok := got[name]
		if !ok {
			t.Errorf("docs/man/%s is missing: run make man and commit docs/man", name)
			continue
		}
		if g != w {
			t.Errorf("docs/man/%s is stale: run make man and commit docs/man\n%s", name, udiff.Unified("docs/man/"+name, "generated", g, w))
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("docs/man/%s belongs to no command: run make man and commit docs/man", name)
		}
	}
}

// TestManPagesReproducible: two runs give the same bytes (fixed date, no
// machine-specific defaults).
func TestManPagesReproducible(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	if err := genManPages(a); err != nil {
		t.Fatal(err)
	}
	if err := genManPages(b); err != nil {
		t.Fatal(err)
	}
	pa, pb := readPages(t, a), readPages(t, b)
	if len(pa) < 3 {
		t.Fatalf("only %d pages generated", len(pa))
	}
	for n := range pa {
		if pa[n] != pb[n] {
			t.Errorf("%s differs between two runs", n)
		}
	}
}

func readPages(t *testing.T, dir string) map[string]string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.1"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out[filepath.Base(f)] = string(data)
	}
	return out
}

// Every page has the sections a man page reader expects, and points at the
// OpenSSH pages whose rules pfwdctl applies.
func TestManPageSections(t *testing.T) {
	pages, _ := filepath.Glob("../../docs/man/*.1")
	if len(pages) == 0 {
		t.Fatal("no man pages")
	}
	for _, p := range pages {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{".SH EXIT STATUS", ".SH FILES", ".SH ENVIRONMENT", "sshd_config(5)", "ssh-keygen(1)", "\\fB130\\fP"} {
			if !strings.Contains(string(data), want) {
				t.Errorf("%s lacks %q", filepath.Base(p), want)
			}
		}
	}
	for _, p := range []string{"apply", "add-key", "audit", "verify"} {
		data, _ := os.ReadFile("../../docs/man/pfwdctl-" + p + ".1")
		if !strings.Contains(string(data), ".SH EXAMPLES\n") {
			t.Errorf("pfwdctl-%s.1 has no EXAMPLES section", p)
		}
	}
}

// Every command's --help and man page has EXAMPLES (one source for both,
// examples.go or the command's own Example): issue 15 found 17 pages
// without.
func TestEveryCommandHasExamples(t *testing.T) {
	env, _, _ := testEnv()
	root := NewRootCmd(&Globals{Env: env})
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Hidden || c.Name() == "help" || c.Name() == "__complete" || c.Name() == "__completeNoDesc" {
			return
		}
		if strings.TrimSpace(c.Example) == "" {
			t.Errorf("%s has no examples (add them to examples.go)", c.CommandPath())
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
}
