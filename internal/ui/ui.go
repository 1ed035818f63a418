// Package ui styles pfwdctl's terminal output: lipgloss colours on a
// terminal, plain text when piped or when NO_COLOR is set, so scripts and
// golden files see the same bytes on every machine.
package ui

import (
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
	r := lipgloss.NewRenderer(nil)
	if color {
		r.SetColorProfile(termenv.ANSI256)
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
