package users

import (
	"fmt"
	"reflect"
	"testing"
)

// Entries over a file read back gives what a fresh reading gives, whatever
// the change between the two readings (lines removed, replaced, added,
// reordered, or many removed in a row): a previous reading is reused for
// equal content only.
func TestEntriesReuseOnlyEqualLines(t *testing.T) {
	t.Parallel()
	var lines []string
	for i := range 40 {
		lines = append(lines, fmt.Sprintf(`restrict,port-forwarding ssh-ed25519 %s k%d`, newKey(t, "k").Base64(), i))
	}
	other := `restrict ssh-ed25519 ` + newKey(t, "x").Base64() + ` k3`
	edits := map[string]func([]string) []string{
		"same":          func(l []string) []string { return l },
		"one_removed":   func(l []string) []string { return append(append([]string{}, l[:5]...), l[6:]...) },
		"20_removed":    func(l []string) []string { return append(append([]string{}, l[:5]...), l[25:]...) },
		"one_replaced":  func(l []string) []string { c := append([]string{}, l...); c[3] = other; return c },
		"appended":      func(l []string) []string { return append(append([]string{}, l...), other) },
		"swapped":       func(l []string) []string { c := append([]string{}, l...); c[1], c[2] = c[2], c[1]; return c },
		"blank_comment": func(l []string) []string { return append([]string{"", "# c"}, l...) },
		"broken":        func(l []string) []string { c := append([]string{}, l...); c[7] = "ssh-ed25519 AAAA!!"; return c },
	}
	for name, edit := range edits {
		t.Run(name, func(t *testing.T) {
			before := &KeysFile{Lines: lines}
			before.Entries()
			after := edit(lines)
			again := &KeysFile{Lines: after, prev: before.entries}
			fresh := &KeysFile{Lines: after}
			got, want := again.Entries(), fresh.Entries()
			for i := range got {
				got[i].file, want[i].file = nil, nil
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("entries reusing the earlier reading differ from a fresh one:\n%v\n%v", got, want)
			}
		})
	}
}
