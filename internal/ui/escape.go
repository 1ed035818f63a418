package ui

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// Escape returns s with every character a terminal would act on, or that
// would break a one-line field, spelled as a Go escape: C0 and C1 controls
// (ESC as \x1b, BEL as \a, newline as \n, tab as \t), DEL, Unicode format
// characters such as the bidi override U+202E, and bytes that are not
// UTF-8 (\xff). Printable text, backslashes and quotes are left as they are,
// so an ordinary name or path reads the same. This is the spelling audit's
// findings use (fmt's %q, i.e. strconv), without the quotes.
//
// Every human-readable output calls it (or EscapeText) on text that came
// from outside: key comments and options, file names and contents, account
// fields, error messages quoting input. A key comment like
// "\x1b[8m" must not hide the UNRESTRICTED line printed after it. JSON
// output does not need it: encoding/json escapes control characters.
func Escape(s string) string {
	if clean(s, false) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			b.WriteString(`\x`)
			b.WriteString(strconv.FormatUint(uint64(s[i])|0x100, 16)[1:])
		case strconv.IsPrint(r):
			b.WriteString(s[i : i+n])
		default:
			q := strconv.QuoteRune(r) // '\x1b', '\a', '\u202e'
			b.WriteString(q[1 : len(q)-1])
		}
		i += n
	}
	return b.String()
}

// EscapeText is Escape for text of several lines (an error and its hint, a
// diff): newlines and tabs stay, every other character Escape spells out is
// spelled out.
func EscapeText(s string) string {
	if clean(s, true) {
		return s
	}
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		parts := strings.Split(l, "\t")
		for j, p := range parts {
			parts[j] = Escape(p)
		}
		lines[i] = strings.Join(parts, "\t")
	}
	return strings.Join(lines, "\n")
}

// clean reports whether s has nothing to escape (the common case, checked
// without allocating).
func clean(s string, text bool) bool {
	for _, r := range s {
		if text && (r == '\n' || r == '\t') {
			continue
		}
		if r == utf8.RuneError || !strconv.IsPrint(r) {
			return false
		}
	}
	return true
}
