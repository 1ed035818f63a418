package main

import (
	"github.com/spf13/cobra"

	"github.com/pfwdctl/pfwdctl/render"
	"github.com/pfwdctl/pfwdctl/users"
)

func init() { register("prune", newPruneCmd) }

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
		Long: `prune removes every key of the account whose expiry-time is in the past
(sshd already refuses them; prune keeps the file tidy and the audit log
honest). Nothing to prune is not an error. Like revoke, it reports the
account's open sessions and ends them with --kill-sessions.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			h := o.host(g)
			h.Attribute = logAttribute(g, o.log)
			res, err := h.Prune(c.Context(), users.PruneRequest{User: o.user, KillSessions: o.kill})
			if err != nil {
				return err
			}
			return printRemove(g, res, "pruned")
		},
	}
	c.Flags().StringVar(&o.user, "user", render.DefaultUser, "the port-forward-only `account`")
	c.Flags().BoolVar(&o.kill, "kill-sessions", false, "also end the open sessions of the removed key(s): sshd's log (LogLevel VERBOSE) names each session's key, so other keys' sessions stay up; a session whose key the log does not name is ended too")
	c.Flags().StringVar(&o.log, "log", "", "sshd's log `FILE` that ties sessions to keys (default: the journal, /var/log/auth.log or /var/log/secure)")
	o.sshdFlags.add(c)
	return c
}
