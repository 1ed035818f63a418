package main

import (
	"errors"

	"github.com/spf13/cobra"

	"github.com/pfwdctl/pfwdctl/internal/sshd"
	"github.com/pfwdctl/pfwdctl/internal/ui"
	"github.com/pfwdctl/pfwdctl/render"
	"github.com/pfwdctl/pfwdctl/users"
)

type removeOpts struct {
	dryRun, noReload    bool
	user                string
	deleteAccount, kill bool
	log                 string
	sshdFlags
}

func newRemoveCmd(g *Globals) *cobra.Command {
	o := &removeOpts{}
	c := &cobra.Command{
		Use:   "remove",
		Short: "Undo apply: take pfwdctl's drop-ins or managed blocks out, prove it with sshd -t, reload",
		Long: `remove undoes apply. pfwdctl's drop-ins (the files in sshd_config.d that
start with its header) are deleted, or, in the managed-block mode, its
BEGIN/END blocks are spliced out of sshd_config with every other byte kept;
the Include line apply put at the top of sshd_config goes too (kept, it
would make sshd read other files it did not read before apply). sshd -t
then checks what is left, a rejected configuration is put back byte for
byte, and sshd is reloaded and the reload confirmed, as apply does, under
the same lock and audit log. --dry-run shows the diff and writes nothing.

With --user NAME --delete-account, the forward-only account goes too,
after the configuration: its keys (each audit-logged as revoked), then the
account and its home (userdel -r). What goes is shown first. An account
with open sessions is refused unless --kill-sessions, which ends them.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error { return removeRun(c, g, o) },
	}
	f := c.Flags()
	f.BoolVar(&o.dryRun, "dry-run", false, "show what would go and stop")
	f.BoolVar(&o.noReload, "no-reload", false, "remove and validate, but do not reload sshd")
	f.StringVar(&o.user, "user", "", "with --delete-account: the forward-only `account` to delete")
	f.BoolVar(&o.deleteAccount, "delete-account", false, "also delete the --user account, its keys and its home (userdel -r)")
	f.BoolVar(&o.kill, "kill-sessions", false, "end the account's open sessions instead of refusing")
	f.StringVar(&o.log, "log", "", "sshd's log `FILE` that ties sessions to keys (default: the journal, /var/log/auth.log or /var/log/secure)")
	o.sshdFlags.add(c)
	return c
}

// removeResult is remove's --json report.
type removeResult struct {
	render.ApplyResult
	Account *users.DeleteResult `json:"account,omitempty"`
}

func removeRun(c *cobra.Command, g *Globals, o *removeOpts) error {
	if o.deleteAccount != (o.user != "") {
		return usageErr("pass both: pfwdctl remove --user NAME --delete-account", "--user and --delete-account go together")
	}
	if o.kill && !o.deleteAccount {
		return usageErr("--kill-sessions ends the sessions of the account --delete-account deletes; remove alone ends none", "--kill-sessions without --delete-account")
	}
	h := o.host(g)
	h.Attribute = logAttribute(g, o.log)
	var out removeResult
	forward := false // the account has pfwdctl's Match block
	if o.deleteAccount {
		// Refused before anything changes: the account's open sessions.
		if accs, err := render.InstalledAccounts(g.Root(), o.config); err == nil {
			for _, a := range accs {
				forward = forward || a.User == o.user
			}
		}
		plan, err := h.DeleteAccount(c.Context(), users.DeleteRequest{User: o.user, KillSessions: o.kill, DryRun: true, Forward: forward})
		if err != nil {
			return err
		}
		out.Account = &plan
		if !g.JSON {
			printDeletePlan(g, plan, o.dryRun)
		}
	}
	// The accounts whose Match blocks a plain remove takes away: they and
	// their keys stay, held then only by the keys' own options.
	var left []string
	if !o.deleteAccount {
		if accs, err := render.InstalledAccounts(g.Root(), o.config); err == nil {
			for _, acc := range accs {
				left = append(left, acc.User)
			}
		}
	}
	a := render.Applier{Root: g.Root(), Runner: g.Runner, SshdConfig: o.config, SshdBin: o.bin, Getenv: g.Getenv, Now: g.Now, AuditLog: g.AuditLog}
	// With --delete-account only that account's Match block goes: the
	// baseline and the other accounts' blocks stay.
	res, err := a.Remove(c.Context(), render.RemoveOptions{DryRun: o.dryRun, NoReload: o.noReload, Account: o.user})
	out.ApplyResult = res
	if err != nil {
		if !g.JSON && res.Changed && errors.As(err, new(*sshd.ConfigError)) {
			g.Printf("%s", g.Styles().Diff(ui.EscapeText(res.Diff())))
			if res.DryRun {
				g.Printf("dry run: nothing written; sshd -t would reject what is left\n")
			} else {
				g.Printf("rolled back: every file is as it was; nothing reloaded\n")
			}
		}
		return err
	}
	if !g.JSON {
		printRemoveConfig(g, res)
		if res.Changed {
			printLeftAccounts(g, h, left, res.DryRun)
		}
	}
	if o.deleteAccount && !o.dryRun {
		d, err := h.DeleteAccount(c.Context(), users.DeleteRequest{User: o.user, KillSessions: o.kill, Forward: forward})
		out.Account = &d
		if err != nil {
			return err
		}
		if !g.JSON {
			st := g.Styles()
			for _, k := range d.Keys {
				g.Printf("%s revoked key %s (%s)\n", st.OK("✓"), ui.Escape(nameOr(k.Name)), k.Fingerprint)
			}
			if d.Killed > 0 {
				g.Printf("%s ended %d open session(s) of %s\n", st.OK("✓"), d.Killed, ui.Escape(d.Account))
			}
			g.Printf("%s deleted the account %s and its home %s (%s)\n", st.OK("✓"), ui.Escape(d.Account), ui.Escape(d.Home), ui.Escape(d.Command))
			printWarnings(g, d.Warnings)
		}
	}
	if g.JSON {
		return g.PrintJSON(out)
	}
	return nil
}

func printDeletePlan(g *Globals, d users.DeleteResult, dryRun bool) {
	st := g.Styles()
	verb := "will go"
	if dryRun {
		verb = "would go"
	}
	g.Printf("%s (%s):\n", st.Bold("What "+verb+" with --delete-account"), ui.Escape(d.Command))
	g.Printf("  the account %s (uid %d) and its home %s\n", ui.Escape(d.Account), d.UID, ui.Escape(d.Home))
	for _, k := range d.Keys {
		g.Printf("  key %s (%s) in %s\n", ui.Escape(nameOr(k.Name)), k.Fingerprint, ui.Escape(k.File))
	}
	if len(d.Keys) == 0 {
		g.Printf("  no keys\n")
	}
	if len(d.Sessions) > 0 {
		g.Printf("  %d open session(s), ended first (--kill-sessions)\n", len(d.Sessions))
	}
}

func printRemoveConfig(g *Globals, res render.ApplyResult) {
	st := g.Styles()
	if !res.Changed {
		g.Printf("%s nothing of pfwdctl's is installed in the sshd configuration\n", st.OK("✓"))
		return
	}
	g.Printf("%s", st.Diff(ui.EscapeText(res.Diff())))
	g.Printf("install mode: %s (%s)\n", res.Mode, ui.Escape(res.ModeWhy))
	if res.DryRun {
		g.Printf("dry run: nothing written\n")
		printWarnings(g, res.Warnings)
		return
	}
	for _, f := range res.Files {
		if f.Action == "remove" {
			g.Printf("%s removed %s\n", st.OK("✓"), ui.Escape(f.Path))
		} else if f.Action != "unchanged" {
			g.Printf("%s %sd %s\n", st.OK("✓"), f.Action, ui.Escape(f.Path))
		}
	}
	g.Printf("%s sshd -t accepts what is left\n", st.OK("✓"))
	if res.Reload != nil {
		printReload(g, res.Reload)
	}
	printWarnings(g, res.Warnings)
}

// printLeftAccounts says which forward accounts a plain remove leaves, with
// their keys: without pfwdctl's Match block sshd's other settings apply to
// those keys (remote forwards, Unix sockets, a shell if the account has
// one), so an admin who meant "gone" must be told what is not.
func printLeftAccounts(g *Globals, h users.Host, accounts []string, dryRun bool) {
	st := g.Styles()
	verb := "stays"
	if dryRun {
		verb = "would stay"
	}
	for _, name := range accounts {
		res, err := h.ListKeys(name)
		if err != nil {
			g.Printf("%s the account %s %s; its keys could not be read (%s): pfwdctl remove --user %s --delete-account removes it with them\n",
				st.Warn("!"), ui.Escape(name), verb, ui.EscapeText(err.Error()), ui.Escape(name))
			continue
		}
		n := len(res.Keys)
		if n == 0 {
			g.Printf("%s the account %s %s (no keys; pfwdctl remove --user %s --delete-account removes it)\n", st.Dim("·"), ui.Escape(name), verb, ui.Escape(name))
			continue
		}
		g.Printf("%s the account %s %s with %d key(s): without pfwdctl's Match block only the keys' own options hold them (sshd's other settings, e.g. remote forwards or Unix sockets, now apply); to remove them too: pfwdctl remove --user %s --delete-account\n",
			st.Warn("!"), ui.Escape(name), verb, n, ui.Escape(name))
	}
}
