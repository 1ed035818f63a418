// Package ui styles pfwdctl's terminal output: lipgloss colours on a
// terminal, plain text when piped or when NO_COLOR is set, so scripts and
// golden files see the same bytes on every machine. It also escapes text
// from outside before it is printed (Escape).
//
// It never queries the terminal (no OSC 11 background question, no cursor
// report): the caller decides colour from NO_COLOR, TERM and isatty, and a
// terminal that does not answer must not stall a command. Only the wizard
// asks the terminal anything (cmd/pfwdctl/wizard.go).
package ui

import (
	"io"

	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"
)

// Styles renders the few kinds of text pfwdctl prints.
type Styles struct {
	Color bool
	ok    lipgloss.Style
	fail  lipgloss.Style
	warn  lipgloss.Style
	dim   lipgloss.Style
	bold  lipgloss.Style
	add   lipgloss.Style
	del   lipgloss.Style
}

// New returns styles; color false makes every method the identity.
func New(color bool) Styles {
	// A renderer of its own over nothing: lipgloss's default one looks at
	// os.Stdout, and nil would mean os.Stdout too. The profile and the
	// background are set, never detected, so no style can ever make it
	// query the terminal (an AdaptiveColor would ask for the background).
	r := lipgloss.NewRenderer(io.Discard)
	r.SetHasDarkBackground(true)
	if color {
		r.SetColorProfile(termenv.ANSI256)
	} else {
		r.SetColorProfile(termenv.Ascii)
	}
	return Styles{
		Color: color,
		ok:    r.NewStyle().Foreground(lipgloss.Color("2")),
		fail:  r.NewStyle().Foreground(lipgloss.Color("1")).Bold(true),
		warn:  r.NewStyle().Foreground(lipgloss.Color("3")),
		dim:   r.NewStyle().Faint(true),
		bold:  r.NewStyle().Bold(true),
		add:   r.NewStyle().Foreground(lipgloss.Color("2")),
		del:   r.NewStyle().Foreground(lipgloss.Color("1")),
	}
}

func (s Styles) apply(st lipgloss.Style, t string) string {
	if !s.Color {
		return t
	}
	return st.Render(t)
}

// OK, Fail, Warn, Dim and Bold style one piece of text.
func (s Styles) OK(t string) string   { return s.apply(s.ok, t) }
func (s Styles) Fail(t string) string { return s.apply(s.fail, t) }
func (s Styles) Warn(t string) string { return s.apply(s.warn, t) }
func (s Styles) Dim(t string) string  { return s.apply(s.dim, t) }
func (s Styles) Bold(t string) string { return s.apply(s.bold, t) }

// Diff colours a unified diff line by line.
func (s Styles) Diff(d string) string {
	if !s.Color || d == "" {
		return d
	}
	var out []byte
	start := 0
	for i := 0; i <= len(d); i++ {
		if i < len(d) && d[i] != '\n' {
			continue
		}
		line := d[start:i]
		switch {
		case len(line) > 0 && (line[0] == '+' || line[0] == '-') && (len(line) < 3 || line[:3] != "+++" && line[:3] != "---"):
			if line[0] == '+' {
				line = s.add.Render(line)
			} else {
				line = s.del.Render(line)
			}
		case len(line) > 1 && line[:2] == "@@":
			line = s.dim.Render(line)
		}
		out = append(out, line...)
		if i < len(d) {
			out = append(out, '\n')
		}
		start = i + 1
	}
	return string(out)
}
