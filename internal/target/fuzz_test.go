package target

import (
	"strings"
	"testing"
)

// FuzzParseTarget: a target ends up in PermitOpen and in permitopen="...":
// what Parse accepts must read back the same and hold nothing that
// ends a directive or a quoted option.
func FuzzParseTarget(f *testing.F) {
	f.Add("127.0.0.1:8009")
	f.Fuzz(func(t *testing.T, s string) {
		tg, err := Parse(s)
		if err != nil {
			return
		}
		again, err := Parse(tg.String())
		if err != nil || again != tg {
			t.Fatalf("Parse(%q) = %v; again %v %v", s, tg, again, err)
		}
		if strings.ContainsAny(tg.String(), "\"',\\ \t\r\n") {
			t.Fatalf("Parse(%q) let through %q", s, tg.String())
		}
	})
}
