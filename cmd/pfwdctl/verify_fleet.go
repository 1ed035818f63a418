package main

import (
	"fmt"
	"os"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/charmbracelet/bubbles/progress"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/crypto/ssh"
	"golang.org/x/term"

	"github.com/pfwdctl/pfwdctl/internal/fail"
	"github.com/pfwdctl/pfwdctl/render"
	"github.com/pfwdctl/pfwdctl/verify"
	"github.com/pfwdctl/pfwdctl/verify/fleet"
)

// verify_fleet.go adds --inventory and --parallel to the verify command
// (verify.go) from outside it, as a treeHook: with --inventory, verify runs
// against every host of the file at once; without it, verify.go's own RunE
// runs untouched. The per-host flags (--port, --user, --key, --target,
// --known-hosts, --host-key, --insecure-ignore-host-key, --timeout, --socket,
// --strict) are read
// by name and are the fleet-wide defaults an inventory line overrides.
func init() { treeHooks = append(treeHooks, addFleetFlags) }

type fleetOpts struct {
	inventory string
	parallel  int
}

func addFleetFlags(root *cobra.Command, g *Globals) {
	var v *cobra.Command
	for _, c := range root.Commands() {
		if c.Name() == "verify" {
			v = c
		}
	}
	if v == nil {
		return
	}
	o := &fleetOpts{}
	f := v.Flags()
	f.StringVar(&o.inventory, "inventory", "", "verify every host listed in `FILE` (host[:port] [user=] [key=] [host-key=] per line, or an Ansible INI inventory)")
	f.IntVar(&o.parallel, "parallel", fleet.DefaultParallel, "with --inventory: verify at most `N` hosts at once")
	single := v.RunE
	if single == nil && v.Run != nil {
		run := v.Run
		single = func(c *cobra.Command, args []string) error { run(c, args); return nil }
		v.Run = nil
	}
	v.RunE = func(c *cobra.Command, args []string) error {
		if o.inventory == "" {
			if c.Flags().Changed("parallel") {
				return usageErr("add --inventory FILE", "--parallel only applies with --inventory")
			}
			return single(c, args)
		}
		return fleetRun(c, g, o)
	}
	v.Example = strings.TrimLeft(v.Example+"\n  # every host of an inventory, 16 at a time; exit 1 if any fails, 3 if any is unreachable\n  pfwdctl verify --inventory hosts.txt --key ~/.ssh/pfwd_verify", "\n")
}

func fleetRun(c *cobra.Command, g *Globals, o *fleetOpts) error {
	fl := c.Flags()
	for _, name := range []string{"host", "self"} {
		if fl.Changed(name) {
			return usageErr("list the hosts in the inventory file, or drop --inventory", "--%s and --inventory exclude each other", name)
		}
	}
	if o.parallel < 1 {
		return usageErr("pass --parallel 1 or more", "--parallel %d: must be at least 1", o.parallel)
	}
	hosts, err := fleet.ReadFile(o.inventory)
	if err != nil {
		return fail.Wrap(fail.Usage, err, "fix the inventory: one host[:port] [user=NAME] [key=FILE] [host-key=SHA256:...] per line", "read inventory")
	}
	if len(hosts) == 0 {
		return usageErr("list one host per line", "inventory %s lists no hosts", o.inventory)
	}
	base, closeAuth, err := fleetBase(c, g)
	if err != nil {
		return err
	}
	defer closeAuth()

	start := g.Now()
	bar := newFleetProgress(g, len(hosts))
	results := fleet.Verify(c.Context(), hosts, fleet.Options{
		Base:       base,
		Parallel:   o.parallel,
		Passphrase: passphraseFunc(g),
		Done:       func(done, total int, _ fleet.HostResult) { bar.update(done) },
		Strict:     flagString(fl.Lookup("strict")) == "true",
	})
	bar.finish()
	sum := fleet.Summarize(results)
	verdict := sum.Err()
	if g.JSON {
		if err := g.PrintJSON(struct {
			fleet.Summary
			ExitCode   int                `json:"exit_code"`
			DurationMS float64            `json:"duration_ms"`
			Hosts      []fleet.HostResult `json:"results"`
		}{sum, fail.Code(verdict), float64(g.Now().Sub(start).Microseconds()) / 1000, results}); err != nil {
			return err
		}
	} else {
		printFleet(g, results, sum, g.Now().Sub(start))
	}
	return verdict
}

// fleetBase reads verify's own flags by name into the fleet-wide defaults.
func fleetBase(c *cobra.Command, g *Globals) (verify.Options, func(), error) {
	fl := c.Flags()
	str := func(name string) string {
		if f := fl.Lookup(name); f != nil {
			return f.Value.String()
		}
		return ""
	}
	o := verify.Options{User: str("user"), Sockets: stringList(fl.Lookup("socket"))}
	if o.User != "" {
		if err := render.ValidateUser(o.User); err != nil {
			return o, func() {}, err
		}
	}
	if f := fl.Lookup("port"); f != nil && f.Changed {
		fmt.Sscan(f.Value.String(), &o.Port)
		if o.Port < 1 || o.Port > 65535 {
			return o, func() {}, usageErr("pass a port from 1 to 65535", "invalid --port %s", f.Value)
		}
	}
	if f := fl.Lookup("timeout"); f != nil {
		if d, err := time.ParseDuration(f.Value.String()); err == nil {
			if d <= 0 {
				return o, func() {}, usageErr("pass a positive duration such as 10s", "invalid --timeout %s", d)
			}
			o.Timeout = d
		}
	}
	if ts := stringList(fl.Lookup("target")); len(ts) > 0 {
		targets, err := render.ParseTargets(ts)
		if err != nil {
			return o, func() {}, err
		}
		o.Targets = targets
	}
	o.HostKey = verify.HostKeyPolicy{Fingerprint: str("host-key"), KnownHosts: str("known-hosts"), Insecure: str("insecure-ignore-host-key") == "true"}
	if o.HostKey.Fingerprint != "" || o.HostKey.Insecure {
		o.HostKey.KnownHosts = "" // the default path must not conflict with an explicit choice
	}
	closer := func() {}
	if key := str("key"); key != "" {
		s, err := verify.KeyFile(key, passphraseFunc(g))
		if err != nil {
			return o, closer, err
		}
		o.Auth = []ssh.AuthMethod{ssh.PublicKeys(s)}
	} else if sock := g.Getenv("SSH_AUTH_SOCK"); sock != "" {
		m, cl, err := verify.Agent(sock)
		if err != nil {
			return o, closer, err
		}
		o.Auth, closer = []ssh.AuthMethod{m}, func() { cl.Close() }
	}
	return o, closer, nil
}

func flagString(f *pflag.Flag) string {
	if f == nil {
		return ""
	}
	return f.Value.String()
}

func stringList(f *pflag.Flag) []string {
	if f == nil {
		return nil
	}
	if sv, ok := f.Value.(pflag.SliceValue); ok {
		return sv.GetSlice()
	}
	if s := f.Value.String(); s != "" {
		return []string{s}
	}
	return nil
}

// passphraseFunc reads an encrypted key's passphrase from
// PFWDCTL_KEY_PASSPHRASE, or asks on the terminal.
func passphraseFunc(g *Globals) func() ([]byte, error) {
	return func() ([]byte, error) {
		if p := g.Getenv("PFWDCTL_KEY_PASSPHRASE"); p != "" {
			return []byte(p), nil
		}
		in, ok := g.IO.In.(*os.File)
		if !ok || !g.IO.InTTY {
			return nil, fail.New(fail.Usage, "set PFWDCTL_KEY_PASSPHRASE, or run on a terminal", "the key is encrypted and there is no terminal to ask for its passphrase")
		}
		fmt.Fprint(g.IO.Err, "passphrase for the key: ")
		p, err := term.ReadPassword(int(in.Fd()))
		fmt.Fprintln(g.IO.Err)
		return p, err
	}
}

func printFleet(g *Globals, rs []fleet.HostResult, sum fleet.Summary, took time.Duration) {
	st := g.Styles()
	type row struct {
		cells [5]string
		style func(string) string
	}
	rows := []row{{cells: [5]string{"HOST", "ADDRESS", "USER", "RESULT", "DETAIL"}, style: func(s string) string { return s }}}
	for _, r := range rs {
		var mark, detail string
		style := st.Fail
		switch r.Outcome {
		case fleet.Passed:
			mark, style = "✓ pass", st.OK
			if r.Report != nil {
				detail = fmt.Sprintf("%d checks passed", len(r.Report.Checks))
			}
			if len(r.Warned) > 0 {
				mark, style = "! pass", st.Warn
				detail = "warnings: " + strings.Join(r.Warned, ", ")
			}
		case fleet.Failed:
			mark = "✗ fail"
			detail = "failed: " + strings.Join(append(append([]string{}, r.Failed...), r.Warned...), ", ")
		case fleet.Unreachable:
			mark, detail = "✗ unreachable", r.Reason
		default:
			mark, detail = "✗ error", r.Error
		}
		rows = append(rows, row{cells: [5]string{r.Name, r.Addr, r.User, mark, detail}, style: style})
	}
	// Pad by the plain text's width, then colour only the result cell:
	// a tabwriter would count the colour codes as text.
	var width [4]int
	for _, r := range rows {
		for i := range width {
			width[i] = max(width[i], utf8.RuneCountInString(r.cells[i]))
		}
	}
	for _, r := range rows {
		var b strings.Builder
		for i, c := range r.cells[:4] {
			cell := c + strings.Repeat(" ", width[i]-utf8.RuneCountInString(c))
			if i == 3 {
				cell = r.style(c) + strings.Repeat(" ", width[i]-utf8.RuneCountInString(c))
			}
			b.WriteString(cell + "  ")
		}
		b.WriteString(r.cells[4])
		g.Printf("%s\n", strings.TrimRight(b.String(), " "))
	}
	g.Printf("%d hosts: %d passed, %d failed, %d unreachable", sum.Hosts, sum.Passed, sum.Failed, sum.Unreachable)
	if sum.Errors == 1 {
		g.Printf(", 1 error")
	} else if sum.Errors > 1 {
		g.Printf(", %d errors", sum.Errors)
	}
	g.Printf(" (%s)\n", took.Round(time.Millisecond))
}

// fleetProgress draws a bubbles progress bar on stderr while hosts finish,
// only when stderr is a terminal: piped or in CI, stderr stays clean.
type fleetProgress struct {
	g     *Globals
	bar   progress.Model
	total int
	on    bool
}

func newFleetProgress(g *Globals, total int) *fleetProgress {
	p := &fleetProgress{g: g, total: total, bar: progress.New(progress.WithDefaultGradient(), progress.WithWidth(40))}
	if f, ok := g.IO.Err.(*os.File); ok && term.IsTerminal(int(f.Fd())) && g.Getenv("TERM") != "dumb" {
		p.on = true
		p.update(0)
	}
	return p
}

func (p *fleetProgress) update(done int) {
	if !p.on {
		return
	}
	fmt.Fprintf(p.g.IO.Err, "\r%s %d/%d hosts", p.bar.ViewAs(float64(done)/float64(p.total)), done, p.total)
}

func (p *fleetProgress) finish() {
	if p.on {
		fmt.Fprint(p.g.IO.Err, "\r\x1b[2K") // clear the bar's line
	}
}
