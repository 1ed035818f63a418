package main

import (
	"github.com/spf13/cobra"

	"github.com/pfwdctl/pfwdctl/internal/ui"
	"github.com/pfwdctl/pfwdctl/render"
	"github.com/pfwdctl/pfwdctl/users"
)

type revokeOpts struct {
	user      string
	all, kill bool
	sshdFlags
	log string
}

func newRevokeCmd(g *Globals) *cobra.Command {
	o := &revokeOpts{}
	c := &cobra.Command{
		Use:   "revoke FINGERPRINT|NAME",
		Short: "Remove a key from the account's authorized_keys",
		Long: `revoke removes the key with that SHA256 fingerprint (with or without the
SHA256: prefix) or that name, atomically, keeping every other line. A name
that matches several keys is refused unless --all; a key that is not there
exits 1. Removing a key does not end tunnels already open with it: revoke
says how many sessions the account has open, and --kill-sessions ends the
ones of the removed key (sshd's log says which key each session logged in
with; pfwdctl sessions shows the same), leaving other friends' tunnels up.`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageErr("name the key by its fingerprint or name, e.g. pfwdctl revoke SHA256:abc… or pfwdctl revoke alice (pfwdctl list-keys shows both)",
					"revoke takes exactly one key, got %d arguments", len(args))
			}
			return nil
		},
		RunE: func(c *cobra.Command, args []string) error {
			h := o.host(g)
			h.Attribute = logAttribute(g, o.log)
			res, err := h.Revoke(c.Context(), users.RevokeRequest{User: o.user, Key: args[0], All: o.all, KillSessions: o.kill})
			if err != nil {
				return err
			}
			return printRemove(g, res, "revoked")
		},
	}
	c.Flags().StringVar(&o.user, "user", render.DefaultUser, "the port-forward-only `account`")
	c.Flags().BoolVar(&o.all, "all", false, "revoke every key with that name")
	c.Flags().BoolVar(&o.kill, "kill-sessions", false, "also end the open sessions of the removed key(s): sshd's log (LogLevel VERBOSE) names each session's key, so other keys' sessions stay up; a session whose key the log does not name is ended too")
	c.Flags().StringVar(&o.log, "log", "", "sshd's log `FILE` that ties sessions to keys (default: the journal, /var/log/auth.log or /var/log/secure)")
	o.sshdFlags.add(c)
	return c
}

func printRemove(g *Globals, res users.RemoveResult, verb string) error {
	if g.JSON {
		return g.PrintJSON(res)
	}
	st := g.Styles()
	if len(res.Removed) == 0 {
		g.Printf("%s nothing to %s in %s\n", st.OK("✓"), map[string]string{"revoked": "revoke", "pruned": "prune"}[verb], ui.Escape(res.Path))
	}
	for _, r := range res.Removed {
		g.Printf("%s %s key %s (%s) of %s\n", st.OK("✓"), verb, ui.Escape(nameOr(r.Name)), r.Fingerprint, ui.Escape(res.Account))
	}
	printSessionsEnded(g, res.Account, res.SessionsEnded, "the removed key(s)")
	printWarnings(g, res.Warnings)
	return nil
}

// printSessionsEnded says what became of the account's open sessions once
// whose keys left it (revoke, prune, rotate).
func printSessionsEnded(g *Globals, account string, res users.SessionsEnded, whose string) {
	st := g.Styles()
	switch {
	case !res.SessionsKnown:
		g.Printf("%s\n", st.Dim("open sessions: not counted (--root names a tree)"))
	case res.Killed > 0 || len(res.Kept) > 0:
		g.Printf("%s ended %d open session(s) of %s of %s\n", st.OK("✓"), res.Killed, whose, ui.Escape(account))
		if res.Unattributed > 0 {
			g.Printf("%s %d of them could not be tied to a key (sshd's log does not name it: LogLevel VERBOSE?) and were ended to be safe\n", st.Warn("!"), res.Unattributed)
		}
		for _, k := range res.Kept {
			g.Printf("  kept: session %d of key %s from %s\n", k.PID, k.Fingerprint, ui.Escape(k.Addr))
		}
	case len(res.Sessions) > 0:
		g.Printf("%s %s has %d open session(s); removing a key does not end them: pass --kill-sessions to end them\n", st.Warn("!"), account, len(res.Sessions))
	default:
		g.Printf("%s has no open sessions\n", account)
	}
}

func nameOr(s string) string {
	if s == "" {
		return "(unnamed)"
	}
	return s
}
