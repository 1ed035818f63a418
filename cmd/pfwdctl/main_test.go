package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/pfwdctl/pfwdctl/internal/golden"
	"github.com/pfwdctl/pfwdctl/internal/hostfs"
	"github.com/pfwdctl/pfwdctl/internal/testenv"
	"github.com/pfwdctl/pfwdctl/render/rendertest"
)

// TestMain lets testscript run this test binary as the real pfwdctl, so the
// .txtar scripts exercise exactly what users run: flags, exit codes, stdout
// and stderr, and the files left on disk.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"pfwdctl": func() { os.Exit(Main(os.Args[1:], SystemEnv())) },
	})
}

// TestScripts runs testdata/script/*.txtar. Each script starts in a fresh
// work dir ($WORK); $TREE is a stock Debian 12 host tree (sshd_config,
// passwd, an admin with a key) to pass as --root. Conditions: [sshd] is
// true when the real sshd is there (and CI=true makes a missing sshd fail
// here instead of skipping), [root] when running as root.
func TestScripts(t *testing.T) {
	sshd := testenv.Sshd(t)
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		RequireExplicitExec: true,
		UpdateScripts:       golden.Updating(),
		Setup: func(env *testscript.Env) error {
			tree := filepath.Join(env.WorkDir, "tree")
			if err := rendertest.Build(hostfs.MustRoot(tree), rendertest.Tree{}); err != nil {
				return err
			}
			env.Setenv("TREE", tree)
			env.Setenv("SSHD", sshd)
			env.Setenv("NO_COLOR", "")
			return nil
		},
		Condition: func(cond string) (bool, error) {
			switch cond {
			case "sshd":
				_, err := exec.LookPath(sshd)
				return err == nil, nil
			case "root":
				return os.Geteuid() == 0, nil
			}
			return false, nil
		},
	})
}
