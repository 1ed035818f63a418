// Package termguard keeps pfwdctl's start-up from querying the terminal.
//
// bubbletea v1 has an init function that calls lipgloss.HasDarkBackground,
// which writes OSC 11 and a cursor-position query to any terminal on
// stdout and waits up to 5 s for an answer. Every command links bubbletea
// (for the wizard), so every command paid that wait on a pty that does not
// answer, even for --version or a usage error, even with NO_COLOR.
//
// termenv never queries when TERM is "dumb". This package sets TERM=dumb
// in its own init and Restore puts the real value back as main's first
// act, so bubbletea's init finds a terminal that cannot be asked. It runs
// before bubbletea's init because it imports only syscall: Go initialises
// packages in import-path order among those whose imports are done (the
// spec's "Package initialization"), so it goes before package os, and so
// before termenv, lipgloss and bubbletea, which all need os. The pty test
// in cmd/pfwdctl (TestNoTerminalQueries) fails if that ever changes.
//
// It must never import anything but syscall, and never change TERM for
// longer than package initialisation: sshd, ssh-keygen and the wizard see
// the real value. Only the wizard queries the terminal, on purpose.
package termguard

import "syscall"

var (
	term, hadTerm = syscall.Getenv("TERM")
)

func init() {
	syscall.Setenv("TERM", "dumb")
}

// Restore puts TERM back as it was before pfwdctl started.
func Restore() {
	if hadTerm {
		syscall.Setenv("TERM", term)
	} else {
		syscall.Unsetenv("TERM")
	}
}
