package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
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

// exitcode N PROGRAM ARGS... runs PROGRAM like exec and checks that it
// exits with N: "! exec" only knows that it failed, and the exit codes are
// a promise (docs/exit-codes.md). Its stdout and stderr are checked with
// the usual stdout/stderr commands afterwards.
func exitcode(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: exitcode N program [args...]")
	}
	want, err := strconv.Atoi(args[0])
	if err != nil {
		ts.Fatalf("exitcode: %v", err)
	}
	got := 0
	if err := ts.Exec(args[1], args[2:]...); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			ts.Fatalf("exitcode: %v", err)
		}
		got = ee.ExitCode()
	}
	if got != want {
		ts.Fatalf("%s exited with %d, want %d", args[1], got, want)
	}
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
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"exitcode": exitcode,
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
