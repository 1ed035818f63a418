package render_test

import (
	"context"
	"os"
	"testing"

	"github.com/pfwdctl/pfwdctl/render"
	"github.com/pfwdctl/pfwdctl/render/rendertest"
)

// A refused apply leaves the tree as it found it: also the sshd_config.d
// directory it had to create, not only the files.
func TestApplyRollbackRemovesTheDirItCreated(t *testing.T) {
	t.Parallel()
	root := rendertest.New(t, rendertest.Tree{SshdConfig: []byte("Include /etc/ssh/sshd_config.d/*.conf\nBogus yes\n")})
	dir := root.Path("/etc/ssh/sshd_config.d")
	if err := os.Remove(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := applier(t, root).Apply(context.Background(), render.ApplyOptions{Params: render.DefaultParams()}); err == nil {
		t.Fatal("sshd -t accepted Bogus")
	}
	if _, err := os.Lstat(dir); !os.IsNotExist(err) {
		t.Fatalf("rollback left %s behind (%v)", dir, err)
	}
}
