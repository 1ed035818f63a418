package ui

import "testing"

func TestEscape(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"bob@laptop", "bob@laptop"},
		{`C:\path "x"`, `C:\path "x"`},
		{"ünïcode ✓ 鍵", "ünïcode ✓ 鍵"},
		{"\x1b]0;owned\a\x1b[2J\x1b[1;32mALL KEYS RESTRICTED", `\x1b]0;owned\a\x1b[2J\x1b[1;32mALL KEYS RESTRICTED`},
		{"127.0.0.1:8009\x1b[8m", `127.0.0.1:8009\x1b[8m`},
		{"a\nb\tc\rd\x7f", `a\nb\tc\rd\x7f`},
		{"csi\u009b2J", `csi\u009b2J`},
		{"bidi\u202eevil", `bidi\u202eevil`},
		{"bad\xffutf8", `bad\xffutf8`},
		{"\x00", `\x00`},
	} {
		if got := Escape(c.in); got != c.want {
			t.Errorf("Escape(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestEscapeText(t *testing.T) {
	in := "line one\n\tindented \x1b[8mhidden\nlast\a"
	want := "line one\n\tindented \\x1b[8mhidden\nlast\\a"
	if got := EscapeText(in); got != want {
		t.Errorf("EscapeText = %q, want %q", got, want)
	}
}
