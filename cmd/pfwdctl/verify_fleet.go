package main

import (
	"fmt"
	"os"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/charmbracelet/bubbles/progress"
	"github.com/muesli/termenv"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/pfwdctl/pfwdctl/internal/fail"
	"github.com/pfwdctl/pfwdctl/internal/ui"
	"github.com/pfwdctl/pfwdctl/verify/fleet"
)

// verify_fleet.go prints verify --inventory (the flags are verify.go's):
// fleet.VerifyInventory turns the same verify.Settings as a single host's
// run into the fleet-wide defaults an inventory line overrides.

func fleetRun(c *cobra.Command, g *Globals, o *verifyOpts) error {
	if c.Flags().Changed("host") {
		return usageErr("list the hosts in the inventory file, or drop --inventory", "--host and --inventory exclude each other")
	}
	start := g.Now()
	var bar *fleetProgress
	results, err := verifyInventory(c.Context(), fleet.Inventory{
		File: o.inventory, Settings: o.settings(g), Parallel: o.parallel, Strict: o.strict,
		Start: func(total int) { bar = newFleetProgress(g, total) },
		Done:  func(done, _ int, _ fleet.HostResult) { bar.update(done) },
	})
	if bar != nil {
		bar.finish()
	}
	if err != nil {
		return err
	}
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
		rows = append(rows, row{cells: [5]string{ui.Escape(r.Name), ui.Escape(r.Addr), ui.Escape(r.User), mark, ui.Escape(detail)}, style: style})
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
	opts := []progress.Option{progress.WithDefaultGradient(), progress.WithWidth(40)}
	if g.Getenv("NO_COLOR") != "" {
		opts = append(opts, progress.WithColorProfile(termenv.Ascii)) // a bar, but no colour
	}
	p := &fleetProgress{g: g, total: total, bar: progress.New(opts...)}
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
