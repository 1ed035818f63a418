package render_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/pfwdctl/pfwdctl/internal/run"
	"github.com/pfwdctl/pfwdctl/render"
	"github.com/pfwdctl/pfwdctl/render/rendertest"
)

// A stale pid file whose pid now belongs to another program: that program
// must not get SIGHUP (which would end it); sshd counts as not running.
func TestReloadPidReusedByAnotherProgram(t *testing.T) {
	sleep := exec.Command("sleep", "60")
	if err := sleep.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sleep.Process.Kill(); sleep.Wait() })
	sysDir, initDir := fakeSystem(t, false)
	pidFile := filepath.Join(t.TempDir(), "sshd.pid")
	os.WriteFile(pidFile, []byte(fmt.Sprintf("%d\n", sleep.Process.Pid)), 0o644)
	var signalled []int
	kill := func(pid int, _ syscall.Signal) error { signalled = append(signalled, pid); return nil }
	res, err := render.Reloader{Runner: &run.Stub{T: t}, Kill: kill, SystemdDir: sysDir, InitDir: initDir, PidFiles: []string{pidFile}}.Reload(context.Background())
	if err != nil || res.Method != render.ReloadNotFound || len(signalled) != 0 {
		t.Fatalf("%+v %v; signalled %v", res, err, signalled)
	}
}

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
