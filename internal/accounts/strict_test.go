package accounts

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pfwdctl/pfwdctl/internal/hostfs"
)

// StrictNode is sshd's StrictModes rule, shared by add-key and the lockout
// guard: owner root or the account (or, under a --root tree, the user who
// built it), and no group or world write bit.
func TestStrictNode(t *testing.T) {
	dir := t.TempDir()
	root := hostfs.MustRoot(dir)
	a := Account{Name: "alice", UID: 4242}
	cases := []struct {
		name string
		mode os.FileMode
		want string
	}{
		{"good_0700", 0o700, ""},
		{"good_0755", 0o755, ""},
		{"fail_group_writable_0775", 0o775, "group- or world-writable"},
		{"fail_world_writable_0757", 0o757, "group- or world-writable"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := filepath.Join(dir, c.name)
			if err := os.Mkdir(p, c.mode); err != nil {
				t.Fatal(err)
			}
			os.Chmod(p, c.mode) // past the umask
			fi, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			err = StrictNode(root, "/"+c.name, fi, a)
			switch {
			case c.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
				t.Fatalf("err = %v, want %q", err, c.want)
			}
		})
	}
	if !StrictOwnerOK(root, 0, a) || !StrictOwnerOK(root, 4242, a) || StrictOwnerOK(hostfs.MustRoot("/"), 4343, a) {
		t.Error("owner rule: root and the account only")
	}
}
