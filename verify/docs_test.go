package verify_test

import (
	"os"
	"strings"
	"testing"

	"github.com/pfwdctl/pfwdctl/verify"
)

// TestDocsListEveryCheck keeps docs/verify.md in step with the check
// registry: every check in verify.CheckNames has a row in the table of
// checks that says what it tries, what it proves and what it cannot prove;
// no row names a check that does not exist; and the --self and --sweep
// extras each say what they prove and what they cannot.
func TestDocsListEveryCheck(t *testing.T) {
	data, err := os.ReadFile("../docs/verify.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(data)
	const header = "| check | what it tries | what it proves | what it cannot prove | when it fails |"
	if !strings.Contains(doc, header) {
		t.Fatalf("docs/verify.md lost its table of checks (header %q)", header)
	}
	rows := map[string][]string{}
	for _, l := range strings.Split(doc, "\n") {
		if !strings.HasPrefix(l, "| `") {
			continue
		}
		cells := strings.Split(strings.Trim(l, "| "), " | ")
		name := strings.Trim(cells[0], "`")
		rows[name] = cells
	}
	known := map[string]bool{}
	for _, name := range verify.CheckNames() {
		known[name] = true
		cells, ok := rows[name]
		switch {
		case !ok:
			t.Errorf("docs/verify.md has no row for the check %s", name)
		case len(cells) != 5:
			t.Errorf("docs/verify.md: the row of %s has %d cells, want 5 (%q)", name, len(cells), cells)
		default:
			for i, what := range []string{"what it tries", "what it proves", "what it cannot prove", "when it fails"} {
				if strings.TrimSpace(cells[i+1]) == "" {
					t.Errorf("docs/verify.md: %s does not say %s", name, what)
				}
			}
		}
	}
	for name := range rows {
		if !known[name] {
			t.Errorf("docs/verify.md has a row for %s, which is no check (verify.CheckNames)", name)
		}
	}
	for _, extra := range []string{"### `--self`", "### `--sweep`"} {
		i := strings.Index(doc, extra)
		if i < 0 {
			t.Errorf("docs/verify.md has no section %s", extra)
			continue
		}
		section := doc[i:]
		if j := strings.Index(section[len(extra):], "\n#"); j >= 0 {
			section = section[:len(extra)+j]
		}
		for _, want := range []string{"What it proves:", "What it cannot prove:"} {
			if !strings.Contains(section, want) {
				t.Errorf("docs/verify.md: section %s does not say %q", extra, want)
			}
		}
	}
}
