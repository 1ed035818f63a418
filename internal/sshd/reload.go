package sshd

import (
	"context"
	"fmt"
	"os"
	"strings"
	"syscall"

	"github.com/pfwdctl/pfwdctl/internal/fail"
	"github.com/pfwdctl/pfwdctl/internal/hostfs"
	"github.com/pfwdctl/pfwdctl/internal/run"
)

// Reload methods, as reported to the admin and in --json.
const (
	ReloadSystemd  = "systemd"
	ReloadSocket   = "socket"
	ReloadSysV     = "sysv"
	ReloadSignal   = "sighup"
	ReloadNone     = "none"
	ReloadSkipped  = "skipped"
	ReloadNotFound = "not-running"
)

// ReloadResult says what was done to make sshd read the new config.
type ReloadResult struct {
	Method   string `json:"method"`
	Reloaded bool   `json:"reloaded"`
	Detail   string `json:"detail"`
}

// Reloader makes the running sshd read its config again, the way the host
// runs it (SSHD-NOTES 9): systemd's ssh.service (Debian/Ubuntu) or
// sshd.service (RHEL); nothing for a socket-activated ssh.socket, whose new
// connections read the config; SysV "service ssh reload"; else SIGHUP to the
// PID in sshd's pid file.
type Reloader struct {
	Root   hostfs.Root
	Runner run.Runner
	// Kill sends a signal; nil means syscall.Kill.
	Kill func(pid int, sig syscall.Signal) error
	// Where to look; empty means the host's real places. Tests point them
	// at a temp dir to drive each branch with a real sshd.
	SystemdDir string   // default /run/systemd/system (present when booted with systemd)
	InitDir    string   // default /etc/init.d
	PidFiles   []string // default PidFiles
}

// Reload reloads sshd, or says why it did not.
func (r Reloader) Reload(ctx context.Context) (ReloadResult, error) {
	if !r.Root.IsHost() {
		return ReloadResult{Method: ReloadNone, Detail: "not reloading: --root names a tree, not the running system"}, nil
	}
	if isDir(r.Root.Path(or(r.SystemdDir, "/run/systemd/system"))) {
		return r.systemd(ctx)
	}
	pid, alive := r.livePid()
	if !alive {
		return ReloadResult{Method: ReloadNotFound, Detail: "sshd is not running; it reads the new config when it starts"}, nil
	}
	for _, svc := range []string{"ssh", "sshd"} {
		if fileExists(r.Root.Path(or(r.InitDir, "/etc/init.d") + "/" + svc)) {
			if _, stderr, err := r.Runner.Run(ctx, "service", svc, "reload"); err != nil {
				return ReloadResult{Method: ReloadSysV}, reloadFailed(run.Line("service", svc, "reload"), stderr, err)
			}
			return ReloadResult{Method: ReloadSysV, Reloaded: true, Detail: "reloaded with: service " + svc + " reload"}, nil
		}
	}
	kill := r.Kill
	if kill == nil {
		kill = syscall.Kill
	}
	if err := kill(pid, syscall.SIGHUP); err != nil {
		return ReloadResult{Method: ReloadSignal}, reloadFailed(fmt.Sprintf("kill -HUP %d", pid), nil, err)
	}
	return ReloadResult{Method: ReloadSignal, Reloaded: true, Detail: fmt.Sprintf("sent SIGHUP to sshd (pid %d)", pid)}, nil
}

func (r Reloader) systemd(ctx context.Context) (ReloadResult, error) {
	active := func(unit string) bool {
		_, _, err := r.Runner.Run(ctx, "systemctl", "is-active", "--quiet", unit)
		return err == nil
	}
	socket := active("ssh.socket")
	for _, unit := range []string{"ssh.service", "sshd.service"} {
		if !active(unit) {
			continue
		}
		if _, stderr, err := r.Runner.Run(ctx, "systemctl", "reload", unit); err != nil {
			return ReloadResult{Method: ReloadSystemd}, reloadFailed("systemctl reload "+unit, stderr, err)
		}
		return ReloadResult{Method: ReloadSystemd, Reloaded: true, Detail: "reloaded with: systemctl reload " + unit}, nil
	}
	if socket {
		return ReloadResult{Method: ReloadSocket, Detail: "ssh.socket starts sshd per connection; new connections read the new config, no reload needed"}, nil
	}
	return ReloadResult{Method: ReloadNotFound, Detail: "sshd is not running (neither ssh.service, sshd.service nor ssh.socket is active); it reads the new config when it starts"}, nil
}

func reloadFailed(cmd string, stderr []byte, err error) error {
	msg := strings.TrimSpace(string(stderr))
	if msg != "" {
		err = fmt.Errorf("%w: %s", err, msg)
	}
	return fail.Wrap(fail.Unavailable, err,
		"the new config passed sshd -t and is installed; reload sshd by hand (e.g. systemctl reload ssh) and check with: pfwdctl verify --self",
		"%s failed", cmd)
}

func (r Reloader) livePid() (int, bool) {
	files := r.PidFiles
	if files == nil {
		files = PidFiles
	}
	return RunningPid(r.Root, files)
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// Detect says how sshd is run here, by the same tests Reload uses, without
// reloading or signalling anything (the wizard's host check shows it
// before any change). Reloaded is always false.
func (r Reloader) Detect(ctx context.Context) ReloadResult {
	if !r.Root.IsHost() {
		return ReloadResult{Method: ReloadNone, Detail: "--root names a tree, not the running system: nothing to reload"}
	}
	if isDir(r.Root.Path(or(r.SystemdDir, "/run/systemd/system"))) {
		active := func(unit string) bool {
			_, _, err := r.Runner.Run(ctx, "systemctl", "is-active", "--quiet", unit)
			return err == nil
		}
		for _, unit := range []string{"ssh.service", "sshd.service"} {
			if active(unit) {
				return ReloadResult{Method: ReloadSystemd, Detail: "systemd runs " + unit + " (reload: systemctl reload " + unit + ")"}
			}
		}
		if active("ssh.socket") {
			return ReloadResult{Method: ReloadSocket, Detail: "systemd starts sshd per connection from ssh.socket (no reload needed)"}
		}
		return ReloadResult{Method: ReloadNotFound, Detail: "systemd, but neither ssh.service, sshd.service nor ssh.socket is active"}
	}
	pid, alive := r.livePid()
	if !alive {
		return ReloadResult{Method: ReloadNotFound, Detail: "sshd is not running (no live PID in its pid file)"}
	}
	for _, svc := range []string{"ssh", "sshd"} {
		if fileExists(r.Root.Path(or(r.InitDir, "/etc/init.d") + "/" + svc)) {
			return ReloadResult{Method: ReloadSysV, Detail: fmt.Sprintf("SysV init script /etc/init.d/%s (pid %d)", svc, pid)}
		}
	}
	return ReloadResult{Method: ReloadSignal, Detail: fmt.Sprintf("sshd runs as pid %d without a service manager (reload: SIGHUP)", pid)}
}
