package render_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pfwdctl/pfwdctl/internal/hostfs"
	"github.com/pfwdctl/pfwdctl/internal/run"
	"github.com/pfwdctl/pfwdctl/internal/testenv"
	"github.com/pfwdctl/pfwdctl/render"
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

func TestReloadSystemd(t *testing.T) {
	fails := run.ErrExit
	cases := []struct {
		name   string
		stub   func(s *run.Stub)
		method string
		detail string
	}{
		{"debian_ssh_service", func(s *run.Stub) {
			s.Expect("systemctl is-active --quiet ssh.socket", "", "", fails).
				Expect("systemctl is-active --quiet ssh.service", "", "", nil).
				Expect("systemctl reload ssh.service", "", "", nil)
		}, render.ReloadSystemd, "systemctl reload ssh.service"},
		{"rhel_sshd_service", func(s *run.Stub) {
			s.Expect("systemctl is-active --quiet ssh.socket", "", "", fails).
				Expect("systemctl is-active --quiet ssh.service", "", "", fails).
				Expect("systemctl is-active --quiet sshd.service", "", "", nil).
				Expect("systemctl reload sshd.service", "", "", nil)
		}, render.ReloadSystemd, "systemctl reload sshd.service"},
		{"ubuntu_socket_activated", func(s *run.Stub) {
			s.Expect("systemctl is-active --quiet ssh.socket", "", "", nil).
				Expect("systemctl is-active --quiet ssh.service", "", "", fails).
				Expect("systemctl is-active --quiet sshd.service", "", "", fails)
		}, render.ReloadSocket, "no reload needed"},
		{"not_running", func(s *run.Stub) {
			s.Expect("systemctl is-active --quiet ssh.socket", "", "", fails).
				Expect("systemctl is-active --quiet ssh.service", "", "", fails).
				Expect("systemctl is-active --quiet sshd.service", "", "", fails)
		}, render.ReloadNotFound, "sshd is not running"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sysDir, initDir := fakeSystem(t, true)
			s := &run.Stub{T: t}
			c.stub(s)
			r := render.Reloader{Runner: s, SystemdDir: sysDir, InitDir: initDir, PidFiles: []string{}}
			res, err := r.Reload(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			s.Done()
			if res.Method != c.method || !strings.Contains(res.Detail, c.detail) {
				t.Fatalf("got %+v, want method %s detail ~%q", res, c.method, c.detail)
			}
		})
	}
}

func TestReloadFailureKeepsConfigAndSaysSo(t *testing.T) {
	sysDir, initDir := fakeSystem(t, true)
	s := (&run.Stub{T: t}).
		Expect("systemctl is-active --quiet ssh.socket", "", "", run.ErrExit).
		Expect("systemctl is-active --quiet ssh.service", "", "", nil).
		Expect("systemctl reload ssh.service", "", "Job for ssh.service failed", run.ErrExit)
	_, err := render.Reloader{Runner: s, SystemdDir: sysDir, InitDir: initDir}.Reload(context.Background())
	if err == nil || !strings.Contains(err.Error(), "Job for ssh.service failed") {
		t.Fatalf("err = %v", err)
	}
}

func TestReloadUnderRootDoesNothing(t *testing.T) {
	s := &run.Stub{T: t}
	res, err := render.Reloader{Root: hostfs.MustRoot(t.TempDir()), Runner: s}.Reload(context.Background())
	if err != nil || res.Method != render.ReloadNone || res.Reloaded {
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
	res, err := render.Reloader{Runner: &run.Stub{T: t}, SystemdDir: sysDir, InitDir: initDir, PidFiles: []string{pidFile}}.Reload(context.Background())
	if err != nil || res.Method != render.ReloadSignal || !res.Reloaded {
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

// SysV hosts reload through "service ssh reload" while sshd runs.
func TestReloadSysV(t *testing.T) {
	pidFile, _ := startSshd(t)
	sysDir, initDir := fakeSystem(t, false, "ssh")
	s := (&run.Stub{T: t}).Expect("service ssh reload", "", "", nil)
	res, err := render.Reloader{Runner: s, SystemdDir: sysDir, InitDir: initDir, PidFiles: []string{pidFile}}.Reload(context.Background())
	if err != nil || res.Method != render.ReloadSysV {
		t.Fatalf("%+v %v", res, err)
	}
	s.Done()
}

func TestReloadStalePidFile(t *testing.T) {
	sysDir, initDir := fakeSystem(t, false, "ssh")
	pidFile := filepath.Join(t.TempDir(), "sshd.pid")
	os.WriteFile(pidFile, []byte("999999\n"), 0o644)
	res, err := render.Reloader{Runner: &run.Stub{T: t}, SystemdDir: sysDir, InitDir: initDir, PidFiles: []string{pidFile}}.Reload(context.Background())
	if err != nil || res.Method != render.ReloadNotFound || !strings.Contains(res.Detail, "not running") {
		t.Fatalf("%+v %v", res, err)
	}
}
