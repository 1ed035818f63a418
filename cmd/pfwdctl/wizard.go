package main

import (
	"os"
	"strings"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/pfwdctl/pfwdctl/cmd/pfwdctl/wizard"
	"github.com/pfwdctl/pfwdctl/internal/fail"
	"github.com/pfwdctl/pfwdctl/internal/sshd"
)

func init() { register("wizard", newWizardCmd) }

type wizardOpts struct {
	dryRun     bool
	sshdConfig string
	sshdBin    string
	host       string
	port       int
}

func newWizardCmd(g *Globals) *cobra.Command {
	o := &wizardOpts{}
	c := &cobra.Command{
		Use:   "wizard",
		Short: "Walk through the whole hardening in a terminal UI",
		Long: `wizard walks a first-time admin through the seed guide in one sitting:
host check, account and targets, a friend's key, a review of every change
as a diff, apply (render, sshd -t, account, keys, reload, with rollback),
proof with verify --self, and the exact command your friend runs.

It is a front end over the same library calls as apply, user create,
add-key and verify --self; nothing changes before you confirm the Review
screen, and ctrl+c before that quits without changes. The TUI draws on
stderr; the final summary is printed on stdout. It needs a terminal: in
scripts use the plain commands.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error { return wizardRun(c, g, o) },
	}
	f := c.Flags()
	f.BoolVar(&o.dryRun, "dry-run", false, "stop at the Review screen: show the diff and write nothing")
	f.StringVar(&o.sshdConfig, "sshd-config", sshd.DefaultConfig, "the main sshd config `PATH` (under --root)")
	f.StringVar(&o.sshdBin, "sshd", "", "the sshd binary to validate with (default: found in /usr/sbin)")
	f.IntVar(&o.port, "port", 0, "the local sshd's `PORT` for the Prove step (default: the port sshd -T names)")
	f.StringVar(&o.host, "host", "", "the `NAME` your friend uses to reach this host (default: the hostname)")
	return c
}

func isTerminal(w any) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func wizardRun(c *cobra.Command, g *Globals, o *wizardOpts) error {
	if !g.IO.InTTY || !isTerminal(g.IO.Err) || g.JSON {
		return usageErr("in scripts use the plain commands: pfwdctl apply, pfwdctl user create, pfwdctl add-key, pfwdctl verify --self",
			"the wizard needs a terminal on stdin and stderr")
	}
	color := g.Getenv("NO_COLOR") == "" && g.Getenv("TERM") != "dumb"
	r := lipgloss.NewRenderer(g.IO.Err)
	if !color {
		r.SetColorProfile(termenv.Ascii)
		// Adaptive colours (bubbles' help) ask the renderer for the
		// background even when the profile is plain: answer for it, so
		// NO_COLOR never queries the terminal.
		r.SetHasDarkBackground(true)
	} else {
		// The one terminal query pfwdctl makes, and only here: the OSC 11
		// background-colour question must be answered before Bubble Tea
		// owns the terminal, or a render would wait for it (up to 5 s).
		// bubbletea's own init would do it for every command; that init
		// finds TERM=dumb (internal/termguard) and asks nothing.
		_ = r.HasDarkBackground()
	}
	lipgloss.SetDefaultRenderer(r)
	host := o.host
	if host == "" {
		host = hostName(g)
	}
	cfg := wizard.Config{
		Root: g.Root(), Runner: g.Runner, SshdConfig: o.sshdConfig, SshdBin: o.sshdBin,
		Getenv: g.Getenv, Now: g.Now, Hostname: host, DryRun: o.dryRun, Color: color, ProvePort: o.port,
		Overrides: auditOverrides(g, o.sshdConfig, o.sshdBin), Keys: keysFollow(g, o.sshdConfig),
	}
	m := wizard.New(c.Context(), cfg)
	p := tea.NewProgram(m, tea.WithInput(g.IO.In), tea.WithOutput(g.IO.Err), tea.WithAltScreen(), tea.WithContext(c.Context()))
	if _, err := p.Run(); err != nil {
		if c.Context().Err() != nil {
			return c.Context().Err()
		}
		return fail.Wrap(fail.Unavailable, err, "", "wizard")
	}
	out := m.Outcome()
	g.Printf("%s", out.Summary)
	if out.Failed {
		return fail.New(fail.Failed, "", "the wizard's apply failed; see the summary above")
	}
	if out.ProveFailed {
		return fail.New(fail.Failed, "run pfwdctl verify --self for the details", "the setup is applied, but verify --self did not pass")
	}
	return nil
}

// hostName is the name in the friend's command: the tree's /etc/hostname
// under --root, else this machine's.
func hostName(g *Globals) string {
	if data, err := g.Root().ReadFile("/etc/hostname"); err == nil {
		if h := strings.TrimSpace(string(data)); h != "" {
			return h
		}
	}
	if !g.Root().IsHost() {
		return "HOST"
	}
	h, err := os.Hostname()
	if err != nil {
		return "HOST"
	}
	return h
}
