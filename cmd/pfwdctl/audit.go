package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/pfwdctl/pfwdctl/internal/accounts"
	"github.com/pfwdctl/pfwdctl/internal/fail"
	"github.com/pfwdctl/pfwdctl/internal/sshd"
	"github.com/pfwdctl/pfwdctl/internal/ui"
	"github.com/pfwdctl/pfwdctl/verify/audit"
)

func init() { register("audit", newAuditCmd) }

type auditOpts struct {
	paramFlags
	otherUser  string
	layers     bool
	sshdConfig string
	sshdBin    string
}

func newAuditCmd(g *Globals) *cobra.Command {
	o := &auditOpts{}
	c := &cobra.Command{
		Use:   "audit",
		Short: "Prove the host is hardened as sshd really reads it (changes nothing)",
		Long: `audit asks the real sshd for its effective configuration (sshd -T, globally
and for the forward account and an ordinary account), compares every directive
of the hardening baseline and of the Match User block with what pfwdctl
renders, and names the file and line that set each value that differs. It also
checks the Include order, lines caught in a trailing Match block, earlier Match
blocks, DisableForwarding, the account's lock and shell, StrictModes, every key
line, other key sources, and the key exchange, ciphers, MACs and host keys
against a public crypto policy (docs/crypto-policy.md).

--layers also starts two throwaway sshds on 127.0.0.1 with the drop-ins as
installed, one without the Match User block and one with the key options
stripped, and proves that each restriction layer holds on its own.

Findings are grouped by severity; exit 1 when anything fails. audit never
changes the host. Every finding and its fix: docs/audit.md.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error { return auditRun(c, g, o) },
	}
	o.register(c)
	f := c.Flags()
	f.StringVar(&o.otherUser, "other-user", "", "an ordinary `account` whose effective config is checked too (default: the first account with a login shell)")
	f.BoolVar(&o.layers, "layers", false, "prove each restriction layer alone with two lab sshds on 127.0.0.1")
	f.StringVar(&o.sshdConfig, "sshd-config", sshd.DefaultConfig, "the main sshd config `PATH` (under --root)")
	f.StringVar(&o.sshdBin, "sshd", "", "the sshd binary to ask (default: found in /usr/sbin)")
	return c
}

func auditRun(c *cobra.Command, g *Globals, o *auditOpts) error {
	p, err := o.params()
	if err != nil {
		return err
	}
	if o.otherUser != "" {
		if err := accounts.ValidateName(o.otherUser); err != nil && o.otherUser != "root" {
			return err
		}
	}
	names, err := forwardAccounts(c, g, p.User, o.sshdConfig)
	if err != nil {
		return err
	}
	if len(names) > 1 && len(o.targets) > 0 {
		return usageErr("add --user NAME to say whose targets these are", "this host has %d forward accounts (%s); --target needs --user", len(names), strings.Join(names, ", "))
	}
	var reps []*audit.Report
	fails := 0
	for _, name := range names {
		p.User = name
		rep, err := audit.Run(c.Context(), audit.Options{
			Root: g.Root(), Runner: g.Runner, SshdConfig: o.sshdConfig, SshdBin: o.sshdBin,
			Params: p, TargetsGiven: len(o.targets) > 0, OtherUser: o.otherUser, Layers: o.layers, Now: g.Now,
			// Only the running host has a daemon to ask; a tree's ListenAddress
			// may name the host's own sshd, which serves another config.
			Live: g.Root().IsHost(),
		})
		if err != nil {
			return err
		}
		reps = append(reps, rep)
		fails += rep.Counts().Fail
	}
	if g.JSON {
		// One account: its report, as always; several: one per account.
		var doc any = reps
		if len(reps) == 1 {
			doc = reps[0]
		}
		if err := g.PrintJSON(doc); err != nil {
			return err
		}
	} else {
		for i, rep := range reps {
			if i > 0 {
				g.Printf("\n")
			}
			printAudit(g, rep)
		}
	}
	if fails > 0 {
		return fail.New(fail.Failed, "fix each failed finding as its fix says (docs/audit.md explains them), then run pfwdctl audit again",
			"audit found %d failed check%s", fails, auditPlural(fails))
	}
	return nil
}

func auditPlural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

func printAudit(g *Globals, rep *audit.Report) {
	st := g.Styles()
	g.Printf("%s %s → %s (OpenSSH %s, %s; ordinary account %s)\n", st.Bold("pfwdctl audit:"), ui.Escape(rep.User),
		ui.Escape(strings.Join(rep.Targets, " ")), ui.Escape(rep.SshdVersion), ui.Escape(rep.SshdConfig), ui.Escape(rep.OtherUser))
	groups := []struct {
		sev   audit.Severity
		head  string
		mark  string
		style func(string) string
	}{
		{audit.Fail, "FAIL", "✗", st.Fail},
		{audit.Warn, "WARN", "!", st.Warn},
		{audit.OK, "OK", "✓", st.OK},
	}
	for _, grp := range groups {
		fs := rep.BySeverity(grp.sev)
		if len(fs) == 0 {
			continue
		}
		g.Printf("\n%s\n", grp.style(fmt.Sprintf("%s (%d)", grp.head, len(fs))))
		for _, f := range fs {
			g.Printf("  %s %s %s\n", grp.style(grp.mark), ui.Escape(f.Title), st.Dim("["+f.ID+"]"))
			if f.Severity == audit.OK {
				continue
			}
			if at := f.At(); at != "" {
				g.Printf("      at   %s\n", ui.Escape(at))
			}
			if f.Detail != "" {
				g.Printf("      why  %s\n", ui.Escape(f.Detail))
			}
			if f.Fix != "" {
				lines := strings.Split(f.Fix, "\n")
				g.Printf("      fix  %s\n", ui.Escape(lines[0]))
				for _, l := range lines[1:] {
					g.Printf("           %s\n", st.Bold(ui.Escape(l)))
				}
			}
		}
	}
	if rep.Layers != nil {
		g.Printf("\n%s\n", st.Bold("Layers"))
		for _, l := range rep.Layers.Layers {
			mark, verdict := st.OK("✓"), "alone holds"
			switch {
			case l.Unproven:
				mark, verdict = st.Fail("?"), "NOT TESTED: "+ui.Escape(l.Detail)
			case !l.Holds:
				mark, verdict = st.Fail("✗"), "alone does NOT hold"
			}
			g.Printf("  %s %s %s\n", mark, l.Name, verdict)
		}
	}
	n := rep.Counts()
	fails, warns, oks := n.Fail, n.Warn, n.Pass
	g.Printf("\n%d failed, %d warning%s, %d ok\n", fails, warns, auditPlural(warns), oks)
}
