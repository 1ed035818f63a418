package main

import (
	"context"
	"errors"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/pfwdctl/pfwdctl/internal/ca"
	"github.com/pfwdctl/pfwdctl/internal/fail"
	"github.com/pfwdctl/pfwdctl/internal/sshd"
	"github.com/pfwdctl/pfwdctl/internal/ui"
	"github.com/pfwdctl/pfwdctl/render"
	"github.com/pfwdctl/pfwdctl/templates"
	"github.com/pfwdctl/pfwdctl/verify/audit"
)

func init() { register("apply", newApplyCmd) }

type applyOpts struct {
	paramFlags
	dryRun, noReload, force bool
	crypto                  bool
	caPub                   string
	sshdConfig              string
	sshdBin                 string
	installMode             string
}

func newApplyCmd(g *Globals) *cobra.Command {
	o := &applyOpts{}
	c := &cobra.Command{
		Use:   "apply",
		Short: "Install the drop-ins, prove them with sshd -t, and reload sshd",
		Long: `apply renders the drop-ins, shows the unified diff, refuses if nobody
could log in by key afterwards, writes them atomically (adding the Include
line at the top of a main config that does not read sshd_config.d, or, where
this sshd cannot use drop-ins, OpenSSH 8.0 and 8.2/8.3, putting the same lines
into sshd_config itself as managed BEGIN/END blocks: --install-mode), runs sshd -t over the whole configuration
(restoring the previous files byte-for-byte if sshd rejects it) and reloads
sshd the way the host runs it. A second run changes nothing.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error { return applyRun(c, g, o) },
	}
	o.register(c)
	f := c.Flags()
	f.BoolVar(&o.dryRun, "dry-run", false, "show the diff and stop")
	f.BoolVar(&o.noReload, "no-reload", false, "install and validate, but do not reload sshd")
	f.BoolVar(&o.force, "force", false, "skip the lockout guard (only with console access)")
	f.BoolVar(&o.crypto, "crypto", false, "also install "+templates.Crypto+": key exchange, ciphers, MACs and host key algorithms from the crypto policy for this sshd's version (docs/crypto-policy.md)")
	f.StringVar(&o.sshdConfig, "sshd-config", sshd.DefaultConfig, "the main sshd config `PATH` (under --root)")
	f.StringVar(&o.sshdBin, "sshd", "", "the sshd binary to validate with (default: found in /usr/sbin)")
	f.StringVar(&o.caPub, "ca", "", "also trust certificates from this user CA (`CA.pub`, made by pfwdctl ca init) in the account's Match block, through a principals file with the key restrictions and a revocation list (docs/ca.md); without it, a CA installed before is kept")
	f.StringVar(&o.installMode, "install-mode", "auto", "where the lines go: drop-ins (files in sshd_config.d), managed-block (BEGIN/END blocks in sshd_config itself: the baseline at its top, Match blocks at its end; for OpenSSH 8.0 and 8.2/8.3), or auto (asks this sshd; docs/apply.md)")
	return c
}

func applyRun(c *cobra.Command, g *Globals, o *applyOpts) error {
	p, err := o.params()
	if err != nil {
		return err
	}
	mode, err := render.ParseMode(o.installMode)
	if err != nil {
		return err
	}
	if o.crypto {
		// The policy depends on what this sshd supports.
		b := sshd.Binary{Bin: o.sshdBin, Runner: g.Runner, Root: g.Root(), Config: o.sshdConfig}
		v, err := b.Version(c.Context())
		if err != nil {
			return err
		}
		pol := audit.ProbedCryptoPolicy(c.Context(), b, v)
		p.Crypto = &pol
	}
	if p.CA, err = applyCA(g, o.caPub, p.User); err != nil {
		return err
	}
	a := render.Applier{Root: g.Root(), Runner: g.Runner, SshdConfig: o.sshdConfig, SshdBin: o.sshdBin, Getenv: g.Getenv, Now: g.Now, Mode: mode,
		Overrides: auditOverrides(g, o.sshdConfig, o.sshdBin), Keys: keysFollow(g, o.sshdConfig)}
	res, err := a.Apply(c.Context(), render.ApplyOptions{Params: p, DryRun: o.dryRun, NoReload: o.noReload, Force: o.force, KeepTargets: len(o.targets) == 0})
	switch {
	case res.Files == nil:
	case err == nil || res.Validated || len(res.Overrides) > 0:
		if perr := printApply(g, res); perr != nil {
			return perr
		}
	case res.Changed && !g.JSON && errors.As(err, new(*sshd.ConfigError)):
		// The diff that sshd refused, and what became of it.
		g.Printf("%s", g.Styles().Diff(ui.EscapeText(res.Diff())))
		if res.DryRun {
			g.Printf("dry run: nothing written; sshd -t would reject this configuration\n")
		} else {
			g.Printf("rolled back: every file is as it was; nothing reloaded\n")
		}
	}
	return err
}

// keysFollow is users' Retarget for apply: the account's key lines follow
// its new targets under apply's lock.
func keysFollow(g *Globals, sshdConfig string) render.KeyFollow {
	return func(ctx context.Context, account string, from, to []string, dryRun bool) (render.KeyChange, error) {
		h := usersHost(g)
		h.SshdConfig, h.NoLock = sshdConfig, true
		r, err := h.Retarget(ctx, account, from, to, dryRun)
		return render.KeyChange{Path: r.Path, Changed: r.Changed, Kept: r.Kept, Undo: r.Undo}, err
	}
}

// auditOverrides is audit's effective-config comparison for apply: the
// lines of other files that win over the drop-ins, for the plan before it
// is written (dry run, guard) and for the files after.
func auditOverrides(g *Globals, sshdConfig, sshdBin string) render.OverrideCheck {
	return func(ctx context.Context, p render.Params, overlay map[string][]byte) (fails, warns []string, err error) {
		fs, err := audit.Overrides(ctx, audit.Options{Root: g.Root(), Runner: g.Runner, SshdConfig: sshdConfig, SshdBin: sshdBin,
			Params: p, Overlay: overlay, Now: g.Now})
		for _, f := range fs {
			if f.Severity == audit.Fail {
				fails = append(fails, ui.Escape(f.String()))
			} else {
				warns = append(warns, ui.Escape(f.String()))
			}
		}
		return fails, warns, err
	}
}

func printApply(g *Globals, res render.ApplyResult) error {
	if g.JSON {
		return g.PrintJSON(res)
	}
	st := g.Styles()
	if !res.Changed {
		if len(res.Overrides) > 0 {
			g.Printf("%s the drop-ins are up to date, but other lines win over them (below)\n", st.Warn("!"))
		} else if res.Reload == nil {
			g.Printf("%s already up to date: nothing to change\n", st.OK("✓"))
			return nil
		}
		// The files were right but the daemon served something else.
		g.Printf("%s the drop-ins are up to date, but the running sshd served an older configuration\n", st.Warn("!"))
		printReload(g, res.Reload)
		printWarnings(g, res.Warnings)
		return nil
	}
	// The diff shows the files as found, whatever bytes they hold.
	g.Printf("%s", st.Diff(ui.EscapeText(res.Diff())))
	g.Printf("install mode: %s (%s)\n", res.Mode, ui.Escape(res.ModeWhy))
	if res.DryRun {
		if k := res.Keys; k != nil && len(k.Changed) > 0 {
			g.Printf("dry run: %d key line(s) in %s would follow to %s\n", len(k.Changed), ui.Escape(k.Path), ui.Escape(strings.Join(res.Targets, " ")))
		}
		g.Printf("dry run: nothing written\n")
		return nil
	}
	for _, f := range res.Files {
		if f.Action != "unchanged" {
			g.Printf("%s %sd %s\n", st.OK("✓"), f.Action, ui.Escape(f.Path))
		}
	}
	g.Printf("%s sshd -t accepts the whole configuration\n", st.OK("✓"))
	if k := res.Keys; k != nil {
		if len(k.Changed) > 0 {
			g.Printf("%s %d key line(s) in %s now forward to %s, like the Match block\n", st.OK("✓"), len(k.Changed), ui.Escape(k.Path), ui.Escape(strings.Join(res.Targets, " ")))
		}
		for _, kept := range k.Kept {
			g.Printf("%s kept as written: %s\n", st.Warn("!"), ui.Escape(kept))
		}
	}
	if res.Reload != nil {
		printReload(g, res.Reload)
	}
	printWarnings(g, res.Warnings)
	return nil
}

// printReload says what was done to sshd and, when it was seen to work,
// how: a ✓ only for a reload the daemon itself confirmed.
func printReload(g *Globals, r *sshd.ReloadResult) {
	st := g.Styles()
	mark := st.OK("✓")
	if !r.Reloaded {
		mark = st.Warn("!")
	}
	if r.Detail != "" {
		g.Printf("%s %s\n", mark, ui.Escape(r.Detail))
	}
	if r.Proof != "" {
		g.Printf("  confirmed: %s\n", ui.Escape(r.Proof))
	}
}

// applyCA is --ca's CA, or the one installed before (a later apply without
// --ca must not silently stop trusting it), or nil.
func applyCA(g *Globals, file, user string) (*render.CA, error) {
	var data []byte
	var err error
	if file != "" {
		if data, err = os.ReadFile(file); err != nil {
			return nil, fail.Wrap(fail.Usage, err, "give the CA public key made by pfwdctl ca init", "read --ca")
		}
	} else if data, err = g.Root().ReadFile(ca.TrustedCAPath(user)); err != nil {
		return nil, nil
	}
	return render.ParseCA(data)
}
