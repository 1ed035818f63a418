package render_test

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/pfwdctl/pfwdctl/internal/fail"
	"github.com/pfwdctl/pfwdctl/internal/hostfs"
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

// Rollback undoes an Apply that sshd -t accepted (the wizard's account or
// key step failed afterwards): the files come back byte-for-byte and the
// sshd_config.d it created goes, as when sshd -t refuses. Under a held
// lock it restores nothing and says so: the old wizard copy restored
// without the lock.
func TestRollbackAfterApply(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		tree    rendertest.Tree
		noDir   bool
		lockErr bool
	}{
		{name: "good_restores_the_files", tree: rendertest.Tree{Files: map[string]string{"/etc/ssh/sshd_config.d/10-hardening.conf": "# older\n"}}},
		{name: "good_removes_the_dir_it_created", noDir: true},
		{name: "fail_lock_held_restores_nothing", lockErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			root := rendertest.New(t, tc.tree)
			if tc.noDir {
				if err := os.Remove(root.Path("/etc/ssh/sshd_config.d")); err != nil {
					t.Fatal(err)
				}
			}
			before := rendertest.Snapshot(t, root)
			a := applier(t, root)
			a.LockWait = 100 * time.Millisecond
			res, err := a.Apply(context.Background(), render.ApplyOptions{Params: render.DefaultParams(), NoReload: true})
			if err != nil || !res.Validated {
				t.Fatalf("%+v %v", res, err)
			}
			after := rendertest.Snapshot(t, root)
			if tc.lockErr {
				unlock, err := root.Lock(time.Second)
				if err != nil {
					t.Fatal(err)
				}
				defer unlock()
				if err := a.Rollback(res); !errors.Is(err, hostfs.ErrLocked) || fail.Code(err) != fail.ExitUnavailable {
					t.Fatalf("err = %v, want ErrLocked with exit 3", err)
				}
				rendertest.Unchanged(t, root, after)
				return
			}
			if err := a.Rollback(res); err != nil {
				t.Fatal(err)
			}
			rendertest.Unchanged(t, root, before)
			if _, err := os.Lstat(root.Path("/etc/ssh/sshd_config.d")); tc.noDir != os.IsNotExist(err) {
				t.Fatalf("sshd_config.d after rollback: %v", err)
			}
			if err := a.Rollback(render.ApplyResult{}); err != nil {
				t.Fatalf("nothing installed: %v", err)
			}
		})
	}
}
