package audit

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// docs/audit.md lists every finding audit can report: a new check without
// its row (what it means, the fix) fails here.
func TestDocsListEveryFinding(t *testing.T) {
	doc, err := os.ReadFile("../../docs/audit.md")
	if err != nil {
		t.Fatal(err)
	}
	srcs, _ := filepath.Glob("*.go")
	re := regexp.MustCompile(`ID: +"([a-z0-9-]+\.[a-z0-9.-]*[a-z0-9])"`)
	n := 0
	for _, f := range srcs {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range re.FindAllStringSubmatch(string(data), -1) {
			n++
			if !strings.Contains(string(doc), "`"+m[1]+"`") {
				t.Errorf("%s reports %s, which docs/audit.md does not list", f, m[1])
			}
		}
	}
	if n < 30 {
		t.Fatalf("found only %d finding IDs: the pattern no longer matches the code", n)
	}
}
