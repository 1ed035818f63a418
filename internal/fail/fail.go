// Package fail carries the two things a pfwdctl error owes the admin beyond
// its message: what to do next (the hint) and which exit code it means. The
// table from kinds to exit codes lives here and only here; docs/exit-codes.md
// documents it.
package fail

import (
	"errors"
	"fmt"
)

// Kind classifies an error for the exit code.
type Kind int

const (
	// Failed: a check failed, a finding, or a change refused for safety (exit 1).
	Failed Kind = iota + 1
	// Usage: bad flags or bad input such as an invalid key or target (exit 2).
	Usage
	// Unavailable: could not connect, run a needed program, or take the lock (exit 3).
	Unavailable
	// Interrupted: Ctrl-C or SIGTERM cancelled the run (exit 130),
	// whatever error that caused.
	Interrupted
)

// Exit codes, documented in docs/exit-codes.md.
const (
	ExitOK          = 0
	ExitFailed      = 1
	ExitUsage       = 2
	ExitUnavailable = 3
	ExitInterrupted = 130
)

// Codes is the exit status table as the manual pages print it
// (docs/exit-codes.md says the same in more words).
var Codes = []struct {
	Code    int
	Meaning string
}{
	{ExitOK, "success: applied, up to date, or every check passed"},
	{ExitFailed, "a check failed, a finding, or a change refused for safety (nothing written)"},
	{ExitUsage, "bad flags or bad input, or a command that needs root run as another user"},
	{ExitUnavailable, "could not connect, run a needed program, take the lock, or confirm a reload"},
	{ExitInterrupted, "interrupted (Ctrl-C, SIGTERM)"},
}

// Error is an error with a kind and a next step.
type Error struct {
	Kind Kind
	Msg  string
	Hint string
	Err  error
}

func (e *Error) Error() string {
	if e.Msg == "" && e.Err != nil {
		return e.Err.Error()
	}
	if e.Err != nil {
		return e.Msg + ": " + e.Err.Error()
	}
	return e.Msg
}

func (e *Error) Unwrap() error { return e.Err }

// New returns an error of kind k with a hint.
func New(k Kind, hint, format string, args ...any) *Error {
	return &Error{Kind: k, Msg: fmt.Sprintf(format, args...), Hint: hint}
}

// Wrap attaches a kind and hint to err.
func Wrap(k Kind, err error, hint, format string, args ...any) *Error {
	return &Error{Kind: k, Msg: fmt.Sprintf(format, args...), Hint: hint, Err: err}
}

// KindOf is the kind Code decides by: err's outermost pfwdctl error's, or
// Failed. A caller that adds context keeps an inner "could not run"
// (Unavailable) with Wrap(KindOf(err), err, ...).
func KindOf(err error) Kind {
	var fe *Error
	if errors.As(err, &fe) {
		return fe.Kind
	}
	return Failed
}

// HintOf returns the first hint found along err's chain.
func HintOf(err error) string {
	for err != nil {
		var fe *Error
		if !errors.As(err, &fe) {
			return ""
		}
		if fe.Hint != "" {
			return fe.Hint
		}
		err = fe.Err
	}
	return ""
}

// Code maps an error to pfwdctl's exit code.
func Code(err error) int {
	if err == nil {
		return ExitOK
	}
	var fe *Error
	if errors.As(err, &fe) {
		switch fe.Kind {
		case Usage:
			return ExitUsage
		case Unavailable:
			return ExitUnavailable
		case Interrupted:
			return ExitInterrupted
		}
	}
	return ExitFailed
}
