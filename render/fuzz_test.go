package render

import (
	"strings"
	"testing"
)

// FuzzParseTarget: a target ends up in PermitOpen and in permitopen="...":
// what ParseTarget accepts must read back the same and hold nothing that
// ends a directive or a quoted option.
func FuzzParseTarget(f *testing.F) {
	f.Add("127.0.0.1:8009")
	f.Fuzz(func(t *testing.T, s string) {
		tg, err := ParseTarget(s)
		if err != nil {
			return
		}
		again, err := ParseTarget(tg.String())
		if err != nil || again != tg {
			t.Fatalf("ParseTarget(%q) = %v; again %v %v", s, tg, again, err)
		}
		if strings.ContainsAny(tg.String(), "\"',\\ \t\r\n") {
			t.Fatalf("ParseTarget(%q) let through %q", s, tg.String())
		}
	})
}
