package sshd

import (
	"strings"

	"github.com/pfwdctl/pfwdctl/internal/hostfs"
)

// Service is what an admin types on this host to reload sshd, see whether
// it runs, and read its log: hints name these, so a host without systemd
// is never told to run systemctl or journalctl.
type Service struct {
	Reload string
	Status string
	Log    string
}

// AnyService is for a host pfwdctl cannot look at (verify of a remote
// server): both forms.
var AnyService = Service{
	Reload: "systemctl reload ssh, or service ssh reload without systemd",
	Status: "systemctl status ssh, or service ssh status without systemd",
	Log:    "journalctl -u ssh, or /var/log/auth.log without systemd",
}

// HostService says how the host under root runs sshd, by the signs Reload
// and Detect read (SSHD-NOTES 9): systemd (booted with it:
// /run/systemd/system; the unit ssh, or sshd where only sshd.service is
// installed, as on RHEL), a SysV init script (/etc/init.d/ssh or sshd), or
// neither: a signal to the pid in sshd's pid file.
func HostService(root hostfs.Root) Service {
	return Reloader{Root: root}.Service()
}

// Service is HostService with the Reloader's own places (SystemdDir,
// InitDir), so its hints follow what it detects.
func (r Reloader) Service() Service {
	if isDir(r.Root.Path(or(r.SystemdDir, "/run/systemd/system"))) {
		unit := "ssh"
		if !r.unitInstalled("ssh.service") && r.unitInstalled("sshd.service") {
			unit = "sshd"
		}
		return Service{Reload: "systemctl reload " + unit, Status: "systemctl status " + unit, Log: "journalctl -u " + unit}
	}
	for _, svc := range []string{"ssh", "sshd"} {
		if fileExists(r.Root.Path(or(r.InitDir, "/etc/init.d") + "/" + svc)) {
			return Service{Reload: "service " + svc + " reload", Status: "service " + svc + " status", Log: r.syslogFiles()}
		}
	}
	return Service{Reload: "kill -HUP $(cat /run/sshd.pid)", Status: "pgrep -a sshd", Log: r.syslogFiles()}
}

// syslogFiles is where sshd's messages are on a host without systemd:
// the syslog files that exist (Debian's auth.log, RHEL's secure), else
// said plainly. Hints quote it after a colon or inside parentheses of
// their own, so it names no file that is not there and opens none.
func (r Reloader) syslogFiles() string {
	var have []string
	for _, f := range []string{"/var/log/auth.log", "/var/log/secure"} {
		if fileExists(r.Root.Path(f)) {
			have = append(have, f)
		}
	}
	if len(have) > 0 {
		return strings.Join(have, " or ")
	}
	return "sshd logs to syslog, and this host has no /var/log/auth.log or /var/log/secure: look where its syslog daemon writes the auth facility"
}

func (r Reloader) unitInstalled(unit string) bool {
	for _, d := range []string{"/etc/systemd/system", "/lib/systemd/system", "/usr/lib/systemd/system"} {
		if fileExists(r.Root.Path(d + "/" + unit)) {
			return true
		}
	}
	return false
}
