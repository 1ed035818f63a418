package main

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
)

// list-keys warns of a key that expires within 7 days (and says how to
// rotate it); --expiring lists only the keys that still work but expire
// within the window, with the exit code following the keys listed.
func TestListKeysExpiring(t *testing.T) {
	t.Parallel()
	root := keysTree(t)
	exec := inTree(t, root)
	dir := t.TempDir()
	exec(0, "add-key", "--name", "soon", "--expires", "3d", writePub(t, dir, 1))
	exec(0, "add-key", "--name", "later", "--expires", "20d", writePub(t, dir, 2))
	exec(0, "add-key", "--name", "forever", writePub(t, dir, 3))

	out, _ := exec(0, "list-keys")
	// The suggested command names the key by fingerprint: a name is free
	// text (a comment like $(touch /tmp/x) would run when pasted).
	if !regexp.MustCompile(`within 7 days: plan its rotation \(pfwdctl rotate --user pfwd SHA256:\S+ NEW\.pub\)`).MatchString(out) || strings.Count(out, "plan its rotation") != 1 {
		t.Errorf("list-keys:\n%s", out)
	}
	names := func(args ...string) string {
		t.Helper()
		out, _ := exec(0, append([]string{"list-keys", "--json"}, args...)...)
		var r struct{ Keys []struct{ Name string } }
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatal(err)
		}
		var n []string
		for _, k := range r.Keys {
			n = append(n, k.Name)
		}
		return strings.Join(n, ",")
	}
	if got := names("--expiring", "7d"); got != "soon" {
		t.Errorf("--expiring 7d: %s", got)
	}
	if got := names("--expiring", "4w"); got != "soon,later" {
		t.Errorf("--expiring 4w: %s", got)
	}
	if out, _ := exec(0, "list-keys", "--expiring", "1h"); !strings.Contains(out, "no key in") {
		t.Errorf("--expiring 1h:\n%s", out)
	}
	exec(2, "list-keys", "--expiring", "soon")
}
