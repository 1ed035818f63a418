package sshd_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pfwdctl/pfwdctl/internal/fail"
	"github.com/pfwdctl/pfwdctl/internal/hostfs"
	"github.com/pfwdctl/pfwdctl/internal/run"
	"github.com/pfwdctl/pfwdctl/internal/sshd"
	"github.com/pfwdctl/pfwdctl/internal/testenv"
)

// fakeSystem is a directory standing in for /run/systemd/system and
// /etc/init.d, so each reload branch can be driven without touching the host.
func fakeSystem(t *testing.T, systemd bool, initScripts ...string) (sysDir, initDir string) {
	d := t.TempDir()
	sysDir, initDir = filepath.Join(d, "systemd"), filepath.Join(d, "init.d")
	if systemd {
		os.MkdirAll(sysDir, 0o755)
	}
	os.MkdirAll(initDir, 0o755)
	for _, s := range initScripts {
		os.WriteFile(filepath.Join(initDir, s), []byte("#!/bin/sh\n"), 0o755)
	}
	return sysDir, initDir
}

// hupRunner answers like the stub, and on "systemctl reload" also does
// what systemd's ExecReload does: SIGHUP to the main PID.
type hupRunner struct {
	*run.Stub
	pid int
}

func (h hupRunner) Run(ctx context.Context, name string, args ...string) ([]byte, []byte, error) {
	out, errOut, err := h.Stub.Run(ctx, name, args...)
	if err == nil && name == "systemctl" && len(args) > 0 && args[0] == "reload" && h.pid > 0 {
		syscall.Kill(h.pid, syscall.SIGHUP)
	}
	return out, errOut, err
}

func TestReloadSystemd(t *testing.T) {
	fails := run.ErrExit
	pidFile, _ := startSshd(t)
	pid := readPid(t, pidFile)
	mainPID := fmt.Sprint(pid)
	cases := []struct {
		name   string
		stub   func(s *run.Stub)
		hup    bool // systemctl reload really reloads
		method string
		detail string
	}{
		{"debian_ssh_service", func(s *run.Stub) {
			s.Expect("systemctl is-active --quiet ssh.socket", "", "", fails).
				Expect("systemctl is-active --quiet ssh.service", "", "", nil).
				Expect("systemctl show --property MainPID --value ssh.service", mainPID+"\n", "", nil).
				Expect("systemctl reload ssh.service", "", "", nil)
		}, true, sshd.ReloadSystemd, "reloaded with: systemctl reload ssh.service"},
		{"rhel_sshd_service", func(s *run.Stub) {
			s.Expect("systemctl is-active --quiet ssh.socket", "", "", fails).
				Expect("systemctl is-active --quiet ssh.service", "", "", fails).
				Expect("systemctl is-active --quiet sshd.service", "", "", nil).
				Expect("systemctl show --property MainPID --value sshd.service", mainPID+"\n", "", nil).
				Expect("systemctl reload sshd.service", "", "", nil)
		}, true, sshd.ReloadSystemd, "reloaded with: systemctl reload sshd.service"},
		// systemctl says yes, the daemon did nothing: SIGHUP, then seen.
		{"reload_without_effect", func(s *run.Stub) {
			s.Expect("systemctl is-active --quiet ssh.socket", "", "", fails).
				Expect("systemctl is-active --quiet ssh.service", "", "", nil).
				Expect("systemctl show --property MainPID --value ssh.service", mainPID+"\n", "", nil).
				Expect("systemctl reload ssh.service", "", "", nil)
		}, false, sshd.ReloadSignal, "did not re-read its config; sent SIGHUP"},
		{"ubuntu_socket_activated", func(s *run.Stub) {
			s.Expect("systemctl is-active --quiet ssh.socket", "", "", nil).
				Expect("systemctl is-active --quiet ssh.service", "", "", fails).
				Expect("systemctl is-active --quiet sshd.service", "", "", fails)
		}, false, sshd.ReloadSocket, "no reload needed"},
		{"not_running", func(s *run.Stub) {
			s.Expect("systemctl is-active --quiet ssh.socket", "", "", fails).
				Expect("systemctl is-active --quiet ssh.service", "", "", fails).
				Expect("systemctl is-active --quiet sshd.service", "", "", fails)
		}, false, sshd.ReloadNotFound, "sshd is not running"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sysDir, initDir := fakeSystem(t, true)
			s := &run.Stub{T: t}
			c.stub(s)
			h := hupRunner{Stub: s}
			if c.hup {
				h.pid = pid
			}
			r := sshd.Reloader{Runner: h, Wait: time.Second, SystemdDir: sysDir, InitDir: initDir, PidFiles: []string{}, Config: configOf(pidFile)}
			res, err := r.Reload(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			s.Done()
			if res.Method != c.method || !strings.Contains(res.Detail, c.detail) {
				t.Fatalf("got %+v, want method %s detail ~%q", res, c.method, c.detail)
			}
			if (c.method == sshd.ReloadSystemd || c.method == sshd.ReloadSignal) && (!res.Reloaded || !strings.Contains(res.Proof, "re-executed")) {
				t.Fatalf("reload not confirmed: %+v", res)
			}
		})
	}
}

// systemd that names no main PID: the reload cannot be confirmed, and
// pfwdctl says so instead of claiming it.
func TestReloadSystemdNoMainPID(t *testing.T) {
	sysDir, initDir := fakeSystem(t, true)
	s := (&run.Stub{T: t}).
		Expect("systemctl is-active --quiet ssh.socket", "", "", run.ErrExit).
		Expect("systemctl is-active --quiet ssh.service", "", "", nil).
		Expect("systemctl show --property MainPID --value ssh.service", "0\n", "", nil).
		Expect("systemctl reload ssh.service", "", "", nil)
	res, err := sshd.Reloader{Runner: s, SystemdDir: sysDir, InitDir: initDir}.Reload(context.Background())
	if err == nil || res.Reloaded || fail.Code(err) != 3 || !strings.Contains(err.Error(), "could not confirm") {
		t.Fatalf("%+v %v", res, err)
	}
	s.Done()
}

func TestReloadFailureKeepsConfigAndSaysSo(t *testing.T) {
	sysDir, initDir := fakeSystem(t, true)
	s := (&run.Stub{T: t}).
		Expect("systemctl is-active --quiet ssh.socket", "", "", run.ErrExit).
		Expect("systemctl is-active --quiet ssh.service", "", "", nil).
		Expect("systemctl show --property MainPID --value ssh.service", "999999\n", "", nil).
		Expect("systemctl reload ssh.service", "", "Job for ssh.service failed", run.ErrExit)
	_, err := sshd.Reloader{Runner: s, SystemdDir: sysDir, InitDir: initDir}.Reload(context.Background())
	if err == nil || !strings.Contains(err.Error(), "Job for ssh.service failed") {
		t.Fatalf("err = %v", err)
	}
}

func TestReloadUnderRootDoesNothing(t *testing.T) {
	s := &run.Stub{T: t}
	res, err := sshd.Reloader{Root: hostfs.MustRoot(t.TempDir()), Runner: s}.Reload(context.Background())
	if err != nil || res.Method != sshd.ReloadNone || res.Reloaded {
		t.Fatalf("%+v %v", res, err)
	}
	s.Done()
}

// startSshd runs a real sshd on loopback with its own pid file and log.
func startSshd(t *testing.T) (pidFile, logFile string) {
	t.Helper()
	bin := testenv.Sshd(t)
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	key := filepath.Join(dir, "hostkey")
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v %s", err, out)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	pidFile, logFile = filepath.Join(dir, "sshd.pid"), filepath.Join(dir, "sshd.log")
	cfg := filepath.Join(dir, "sshd_config")
	os.WriteFile(cfg, []byte(fmt.Sprintf("Port %d\nListenAddress 127.0.0.1\nHostKey %s\nPidFile %s\nUsePAM no\nLogLevel VERBOSE\n", port, key, pidFile)), 0o644)
	if out, err := exec.Command(bin, "-f", cfg, "-E", logFile).CombinedOutput(); err != nil {
		t.Fatalf("start sshd: %v %s", err, out)
	}
	var pid int
	for i := 0; i < 100; i++ {
		if data, err := os.ReadFile(pidFile); err == nil {
			if _, err := fmt.Sscan(string(data), &pid); err == nil {
				break
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	if pid == 0 {
		t.Fatal("sshd wrote no pid file")
	}
	t.Cleanup(func() { exec.Command("kill", fmt.Sprint(pid)).Run() })
	return pidFile, logFile
}

// Without systemd or an init script, apply sends SIGHUP to the PID in
// sshd's pid file: proven with a real sshd, which logs that it re-reads.
func TestReloadSighupRealSshd(t *testing.T) {
	pidFile, logFile := startSshd(t)
	sysDir, initDir := fakeSystem(t, false)
	res, err := sshd.Reloader{Runner: &run.Stub{T: t}, SystemdDir: sysDir, InitDir: initDir, PidFiles: []string{pidFile}, Config: configOf(pidFile)}.Reload(context.Background())
	if err != nil || res.Method != sshd.ReloadSignal || !res.Reloaded {
		t.Fatalf("%+v %v", res, err)
	}
	for i := 0; i < 100; i++ {
		if data, _ := os.ReadFile(logFile); strings.Contains(string(data), "Received SIGHUP; restarting.") {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	data, _ := os.ReadFile(logFile)
	t.Fatalf("sshd never logged the SIGHUP:\n%s", data)
}

// A SysV init script that exits 0 and does nothing (Debian's, when
// /etc/ssh/sshd_not_to_be_run exists): the old code printed "reloaded" while
// the daemon kept its old config. Now the daemon is seen not to re-execute,
// gets SIGHUP, and is seen to.
func TestReloadSysVScriptDoesNothing(t *testing.T) {
	pidFile, logFile := startSshd(t)
	sysDir, initDir := fakeSystem(t, false, "ssh")
	res, err := sshd.Reloader{Runner: run.Exec{}, Wait: time.Second, SystemdDir: sysDir, InitDir: initDir, PidFiles: []string{pidFile}, Config: configOf(pidFile)}.Reload(context.Background())
	if err != nil || !res.Reloaded || !strings.Contains(res.Detail, "exited 0, but sshd") || !strings.Contains(res.Detail, "sent SIGHUP") {
		t.Fatalf("%+v %v", res, err)
	}
	if data, _ := os.ReadFile(logFile); !strings.Contains(string(data), "Received SIGHUP; restarting.") {
		t.Fatalf("sshd never got the SIGHUP:\n%s", data)
	}
}

// An init script that does reload is confirmed as it is.
func TestReloadSysV(t *testing.T) {
	pidFile, _ := startSshd(t)
	sysDir, initDir := fakeSystem(t, false)
	os.WriteFile(filepath.Join(initDir, "ssh"), []byte("#!/bin/sh\n[ \"$1\" = reload ] && kill -HUP $(cat "+pidFile+")\n"), 0o755)
	res, err := sshd.Reloader{Runner: run.Exec{}, SystemdDir: sysDir, InitDir: initDir, PidFiles: []string{pidFile}, Config: configOf(pidFile)}.Reload(context.Background())
	if err != nil || res.Method != sshd.ReloadSysV || !res.Reloaded || !strings.Contains(res.Detail, "reloaded with: "+initDir+"/ssh reload") {
		t.Fatalf("%+v %v", res, err)
	}
}

// Nothing makes the daemon re-read its config (a SIGHUP that goes
// nowhere): an error with the command to run, never "reloaded".
func TestReloadUnconfirmed(t *testing.T) {
	pidFile, _ := startSshd(t)
	pid := readPid(t, pidFile)
	sysDir, initDir := fakeSystem(t, false, "ssh")
	lost := func(int, syscall.Signal) error { return nil }
	res, err := sshd.Reloader{Runner: run.Exec{}, Kill: lost, Wait: time.Second, SystemdDir: sysDir, InitDir: initDir, PidFiles: []string{pidFile}, Config: configOf(pidFile)}.Reload(context.Background())
	if err == nil || res.Reloaded || fail.Code(err) != 3 || !strings.Contains(fail.HintOf(err), fmt.Sprintf("kill -HUP %d", pid)) {
		t.Fatalf("%+v %v (hint %q)", res, err, fail.HintOf(err))
	}
}

// configOf is the config file startSshd ran the sshd of pidFile with.
func configOf(pidFile string) string {
	return filepath.Join(filepath.Dir(pidFile), "sshd_config")
}

func readPid(t *testing.T, pidFile string) int {
	t.Helper()
	var pid int
	data, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fmt.Sscan(string(data), &pid); err != nil {
		t.Fatal(err)
	}
	return pid
}

func TestReloadStalePidFile(t *testing.T) {
	sysDir, initDir := fakeSystem(t, false, "ssh")
	pidFile := filepath.Join(t.TempDir(), "sshd.pid")
	os.WriteFile(pidFile, []byte("999999\n"), 0o644)
	res, err := sshd.Reloader{Runner: &run.Stub{T: t}, SystemdDir: sysDir, InitDir: initDir, PidFiles: []string{pidFile}, Config: configOf(pidFile)}.Reload(context.Background())
	if err != nil || res.Method != sshd.ReloadNotFound || !strings.Contains(res.Detail, "not running") {
		t.Fatalf("%+v %v", res, err)
	}
}

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
	res, err := sshd.Reloader{Runner: &run.Stub{T: t}, Kill: kill, SystemdDir: sysDir, InitDir: initDir, PidFiles: []string{pidFile}}.Reload(context.Background())
	if err != nil || res.Method != sshd.ReloadNotFound || len(signalled) != 0 {
		t.Fatalf("%+v %v; signalled %v", res, err, signalled)
	}
}
