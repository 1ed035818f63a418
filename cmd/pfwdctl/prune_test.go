package main

import (
	"os"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/pfwdctl/pfwdctl/internal/fail"
	"github.com/pfwdctl/pfwdctl/internal/testenv"
	"github.com/pfwdctl/pfwdctl/render/rendertest"
)

// TestPruneSteps: housekeeping a feature registers in pruneSteps runs in
// every prune (what the timer and the cron line call), after the keys, and
// its error sets the exit code without stopping the other steps.
func TestPruneSteps(t *testing.T) {
	bin := testenv.Sshd(t)
	root := rendertest.New(t, rendertest.Tree{})
	if err := os.MkdirAll(root.Path("/home/pfwd/.ssh"), 0o700); err != nil {
		t.Fatal(err)
	}
	var ran []string
	saved := pruneSteps
	t.Cleanup(func() { pruneSteps = saved })
	pruneSteps = append(saved,
		func(_ *cobra.Command, g *Globals, kill bool) error {
			ran = append(ran, "expire-requests")
			if !kill {
				t.Errorf("step did not get --kill-sessions")
			}
			return fail.New(fail.Failed, "look at the requests", "a request could not be expired")
		},
		func(*cobra.Command, *Globals, bool) error { ran = append(ran, "next"); return nil })
	out, errOut := inTree(t, root)(1, "prune", "--sshd", bin, "--kill-sessions")
	if !strings.Contains(out, "nothing to prune") {
		t.Errorf("keys were not pruned before the steps:\n%s", out)
	}
	if strings.Join(ran, ",") != "expire-requests,next" {
		t.Errorf("steps ran: %v", ran)
	}
	if !strings.Contains(errOut, "a request could not be expired") || !strings.Contains(errOut, "look at the requests") {
		t.Errorf("the step's error and hint are not reported:\n%s", errOut)
	}
}
