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
	res, err := render.Reloader{Root: "/", Runner: &run.Stub{T: t}, Kill: kill, SystemdDir: sysDir, InitDir: initDir, PidFiles: []string{pidFile}}.Reload(context.Background())
	if err != nil || res.Method != render.ReloadNotFound || len(signalled) != 0 {
		t.Fatalf("%+v %v; signalled %v", res, err, signalled)
	}
}
