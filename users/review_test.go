package users

import (
	"os"
	"testing"
)

// A wildcard permitopen is unrestricted forwarding; list-keys must say so
// even when no Match block is installed to compare against.
func TestListKeysFlagsWildcardPermitopen(t *testing.T) {
	t.Parallel()
	h, root := tree(t, nil)
	os.Remove(root.Path(h.DropInPath()))
	k := newKey(t, "wild")
	os.MkdirAll(root.Path("/home/pfwd/.ssh"), 0o700)
	line := `restrict,port-forwarding,permitopen="*:*" ` + k.Type() + " " + k.Base64() + " wild\n"
	if err := os.WriteFile(root.Path("/home/pfwd/.ssh/authorized_keys"), []byte(line), 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := h.ListKeys("pfwd")
	if err != nil {
		t.Fatal(err)
	}
	if l.Unrestricted != 1 || len(l.Keys) != 1 || l.Keys[0].Restricted {
		t.Fatalf("permitopen=\"*:*\" listed as restricted: %+v", l)
	}
}
