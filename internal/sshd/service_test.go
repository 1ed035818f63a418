package sshd_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pfwdctl/pfwdctl/internal/fail"
	"github.com/pfwdctl/pfwdctl/internal/hostfs"
	"github.com/pfwdctl/pfwdctl/internal/run"
	"github.com/pfwdctl/pfwdctl/internal/sshd"
)

// noLog is Service.Log on a host without systemd and without a syslog file.
const noLog = "sshd logs to syslog, and this host has no /var/log/auth.log or /var/log/secure: look where its syslog daemon writes the auth facility"

// TestHostService: hints name the host's own service manager, and only
// logs that exist.
func TestHostService(t *testing.T) {
	for _, c := range []struct {
		name  string
		files []string // dirs end in /
		want  sshd.Service
	}{
		{"good_debian_systemd", []string{"/run/systemd/system/", "/lib/systemd/system/ssh.service"},
			sshd.Service{Reload: "systemctl reload ssh", Status: "systemctl status ssh", Log: "journalctl -u ssh"}},
		{"good_rhel_systemd", []string{"/run/systemd/system/", "/usr/lib/systemd/system/sshd.service"},
			sshd.Service{Reload: "systemctl reload sshd", Status: "systemctl status sshd", Log: "journalctl -u sshd"}},
		{"good_sysv", []string{"/etc/init.d/ssh", "/var/log/auth.log"},
			sshd.Service{Reload: "service ssh reload", Status: "service ssh status", Log: "/var/log/auth.log"}},
		{"good_sysv_rhel", []string{"/etc/init.d/sshd", "/var/log/secure"},
			sshd.Service{Reload: "service sshd reload", Status: "service sshd status", Log: "/var/log/secure"}},
		{"good_no_manager", []string{"/var/log/auth.log"},
			sshd.Service{Reload: "kill -HUP $(cat /run/sshd.pid)", Status: "pgrep -a sshd", Log: "/var/log/auth.log"}},
		// No systemd and no syslog file: no file that is not there is
		// named (the hint once sent admins to a missing auth.log).
		{"good_no_manager_no_log", nil,
			sshd.Service{Reload: "kill -HUP $(cat /run/sshd.pid)", Status: "pgrep -a sshd", Log: noLog}},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			for _, f := range c.files {
				p := filepath.Join(dir, f)
				if strings.HasSuffix(f, "/") {
					os.MkdirAll(p, 0o755)
					continue
				}
				os.MkdirAll(filepath.Dir(p), 0o755)
				os.WriteFile(p, nil, 0o755)
			}
			if got := sshd.HostService(hostfs.MustRoot(dir)); got != c.want {
				t.Fatalf("got %+v, want %+v", got, c.want)
			}
		})
	}
}

// TestReloadFailureHintWithoutSystemd: a failed init-script reload on a
// host without systemd told the admin to run systemctl.
func TestReloadFailureHintWithoutSystemd(t *testing.T) {
	pidFile, _ := startSshd(t)
	sysDir, initDir := fakeSystem(t, false, "ssh")
	s := (&run.Stub{T: t}).Expect(filepath.Join(initDir, "ssh")+" reload", "", "reload failed", run.ErrExit)
	_, err := sshd.Reloader{Runner: s, SystemdDir: sysDir, InitDir: initDir, PidFiles: []string{pidFile}, Config: configOf(pidFile)}.Reload(context.Background())
	hint := fail.HintOf(err)
	if err == nil || !strings.Contains(hint, "service ssh reload") || strings.Contains(hint, "systemctl") || strings.Contains(hint, "journalctl") {
		t.Fatalf("err = %v\nhint = %s", err, hint)
	}
}
