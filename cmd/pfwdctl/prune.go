package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/pfwdctl/pfwdctl/render"
	"github.com/pfwdctl/pfwdctl/users"
)

type pruneOpts struct {
	user string
	kill bool
	sshdFlags
	log string
}

func newPruneCmd(g *Globals) *cobra.Command {
	o := &pruneOpts{}
	c := &cobra.Command{
		Use:   "prune",
		Short: "Remove keys whose expiry-time has passed",
		Long: `prune removes every key whose expiry-time is in the past (sshd already
refuses them; prune keeps the file tidy and the audit log honest), in the
account --user names or, without --user, in every account pfwdctl installed
a Match drop-in for. Nothing to prune is not an error. Like revoke, it
reports the account's open sessions and ends them with --kill-sessions.

prune is the one command the pfwdctl-prune.timer (and the cron.d example)
runs: housekeeping added later happens inside prune, so the timer never
changes.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error { return pruneRun(c, g, o) },
	}
	c.Flags().StringVar(&o.user, "user", render.DefaultUser, "the port-forward-only `account`")
	c.Flags().BoolVar(&o.kill, "kill-sessions", false, "also end the open sessions of the removed key(s): sshd's log (LogLevel VERBOSE) names each session's key, so other keys' sessions stay up; a session whose key the log does not name is ended too")
	c.Flags().StringVar(&o.log, "log", "", "sshd's log `FILE` that ties sessions to keys (default: the journal, /var/log/auth.log or /var/log/secure)")
	o.sshdFlags.add(c)
	return c
}

// pruneSteps is housekeeping prune runs after the keys, in order (just-in-
// time access expiring stale requests: jit.go), so pfwdctl-prune.timer,
// the cron.d line and every script that runs `pfwdctl prune` pick a new
// one up with no change. A step's error sets the exit code after the keys
// were pruned and the other steps ran; under --json a step prints nothing
// on stdout (its effect goes to the audit log) so stdout stays one
// document. A literal, not appended from init: start-up allocates nothing
// for it (TestStartupInitsNothingHeavy).
var pruneSteps = []func(c *cobra.Command, g *Globals, kill bool) error{jitPruneStep}

// pruneRun prunes each account forwardAccounts names (the timer's run
// covers every forward account). One account's refusal keeps neither the
// others' expired keys nor the pruneSteps from running: it is reported
// and makes the exit code, after the rest were done.
func pruneRun(c *cobra.Command, g *Globals, o *pruneOpts) error {
	names, err := forwardAccounts(c, g, o.user, o.config)
	if err != nil {
		return err
	}
	h := o.host(g)
	h.Attribute = logAttribute(g, o.log)
	results := []users.RemoveResult{}
	var errs []error
	for _, name := range names {
		res, err := h.Prune(c.Context(), users.PruneRequest{User: name, KillSessions: o.kill})
		if err != nil {
			if len(names) > 1 {
				err = fmt.Errorf("%s: %w", name, err)
			}
			errs = append(errs, err)
			continue
		}
		results = append(results, res)
	}
	if g.JSON && len(names) > 1 {
		// One account: its result, as always; several: one per account.
		if err := g.PrintJSON(results); err != nil {
			return err
		}
	} else {
		for _, res := range results {
			if err := printRemove(g, res, "pruned"); err != nil {
				return err
			}
		}
	}
	for _, step := range pruneSteps {
		if err := step(c, g, o.kill); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) == 1 {
		return errs[0] // as it was: no joined wrapper around one error
	}
	return errors.Join(errs...)
}
