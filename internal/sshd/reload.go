package sshd

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

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
// Reloaded is true only when the daemon was seen to re-read it (see
// Confirmed), never because a command exited 0.
type ReloadResult struct {
	Method   string `json:"method"`
	Reloaded bool   `json:"reloaded"`
	Detail   string `json:"detail"`
	// Pid is the listening sshd the reload was aimed at; 0: none found.
	Pid int `json:"pid,omitempty"`
	// Proof says how the reload was seen: new listening sockets of the
	// daemon (it re-executes on SIGHUP), and what a probe of each address
	// it listens on answered.
	Proof string `json:"proof,omitempty"`
	// Served is the probe of the running daemon after the reload.
	Served []Served `json:"served,omitempty"`
}

// Reloader makes the running sshd read its config again, the way the host
// runs it (SSHD-NOTES 9): systemd's ssh.service (Debian/Ubuntu) or
// sshd.service (RHEL); nothing for a socket-activated ssh.socket, whose new
// connections read the config; the SysV init script; else SIGHUP to the
// PID in sshd's pid file. Then it confirms (SSHD-NOTES 11): a zero exit
// proves nothing (Debian's init script exits 0 and does nothing when
// /etc/ssh/sshd_not_to_be_run exists), so the daemon must show new
// listening sockets; when the service manager's reload did not make it
// re-execute, the daemon gets SIGHUP directly. With Effective set, every
// address it listens on is then asked what it serves.
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
	// Wait bounds how long the reload may take to show; 0: ReexecWait.
	Wait time.Duration
	// Effective is Binary.Effective for the config just installed; with
	// ProbeUsers it makes the reload check what the daemon serves.
	Effective  func(context.Context, string) (map[string][]string, error)
	ProbeUsers []string
	// Config is the host path of the main config the new files belong
	// to; empty: DefaultConfig. The daemon must run it (its -f, or none
	// for the default), or its reload would not read them.
	Config string
}

// Reload reloads sshd and confirms it, or says why it could not.
func (r Reloader) Reload(ctx context.Context) (ReloadResult, error) {
	if !r.Root.IsHost() {
		return ReloadResult{Method: ReloadNone, Detail: "not reloading: --root names a tree, not the running system"}, nil
	}
	if isDir(r.Root.Path(or(r.SystemdDir, "/run/systemd/system"))) {
		res, err := r.systemd(ctx)
		if err != nil || res.Method != ReloadSocket {
			return res, err
		}
		// Socket activation: each connection starts an sshd that reads
		// the files; what it serves is the proof.
		return r.probe(ctx, res)
	}
	pid, from, alive := r.livePid()
	if !alive {
		return r.notRunning(ctx, ReloadSignal, ReloadResult{Method: ReloadNotFound, Detail: "sshd is not running; it reads the new config when it starts"}, "")
	}
	for _, svc := range []string{"ssh", "sshd"} {
		script := or(r.InitDir, "/etc/init.d") + "/" + svc
		if fileExists(r.Root.Path(script)) {
			// The script itself, as "service" runs it: the same on every
			// SysV host, and a test can point InitDir at its own.
			return r.confirm(ctx, ReloadSysV, pid, from, r.Root.Path(script), "reload")
		}
	}
	return r.confirm(ctx, ReloadSignal, pid, from)
}

// Check finds the daemon a reload would be aimed at (systemd's MainPID or
// the pid file, as Reload does) and checks it serves the config on disk
// the way Reload's confirmation does, without reloading or signalling
// anything: it holds the listening sockets of the addresses sshd -T names
// and runs Config. The files being up to date says nothing about a daemon
// that is not the one the host reloads, or that runs another -f; apply
// asks this before it says "already up to date". Nil when nothing serves
// the addresses, or under --root.
func (r Reloader) Check(ctx context.Context) error {
	if !r.Root.IsHost() {
		return nil
	}
	pid, from := 0, ""
	if isDir(r.Root.Path(or(r.SystemdDir, "/run/systemd/system"))) {
		for _, unit := range []string{"ssh.service", "sshd.service"} {
			if _, _, err := r.Runner.Run(ctx, "systemctl", "is-active", "--quiet", unit); err != nil {
				continue
			}
			out, _, err := r.Runner.Run(ctx, "systemctl", "show", "--property", "MainPID", "--value", unit)
			if n, _ := strconv.Atoi(strings.TrimSpace(string(out))); err == nil && n > 1 {
				pid, from = n, "systemd's MainPID of "+unit
			}
			break
		}
		if pid == 0 {
			// Socket activation, or systemd names no PID: nothing to tie
			// the listeners to; the probe of what they serve decides.
			return nil
		}
	} else {
		pid, from, _ = r.livePid()
	}
	_, err := r.serving(ctx, ReloadResult{Pid: pid}, from)
	return err
}

// serving checks, before a reload aimed at pid (0: none found; from says
// where it came from), that pid is the daemon that serves the config on
// disk: every address sshd -T names that something listens on is held by
// pid alone, and pid runs Config. It returns the addresses pid holds, for
// the confirmation after the reload. Without Effective the addresses are
// unknown and only pid's -f is checked.
func (r Reloader) serving(ctx context.Context, res ReloadResult, from string) ([]string, error) {
	pid := res.Pid
	addrs, err := r.listenAddrs(ctx)
	if err != nil {
		return nil, r.unconfirmed(res, "cannot ask sshd -T which addresses it listens on: "+err.Error())
	}
	var held, foreign []string
	var others []Listener
	if len(addrs) > 0 {
		ls, err := Listeners(addrs)
		if err != nil {
			return nil, r.unconfirmed(res, "cannot tell which process listens on "+strings.Join(addrs, ", ")+": "+err.Error())
		}
		for _, a := range addrs {
			var who []string
			mine := false
			for _, l := range ls[a] {
				if l.Pid == pid {
					mine = true
					continue
				}
				who = append(who, l.String())
				others = append(others, l)
			}
			if len(who) > 0 {
				foreign = append(foreign, a+" is served by "+strings.Join(who, " and "))
			} else if mine {
				held = append(held, a)
			}
		}
	}
	me := procListener(pid)
	switch {
	case pid == 0 && len(foreign) == 0:
		return nil, nil
	case pid == 0:
		// from says why no daemon was found.
		none := or(from, fmt.Sprintf("no pid file names a running sshd (%s)", strings.Join(r.pidFiles(), ", ")))
		return nil, r.notServed(res, fmt.Sprintf("%s, but %s; nothing was reloaded", none, strings.Join(foreign, "; ")), others)
	case len(foreign) > 0:
		return nil, r.notServed(res, fmt.Sprintf("%s, not by %s that %s names; nothing was reloaded", strings.Join(foreign, "; "), me, from), others)
	case !me.RunsConfig(r.config()):
		who := fmt.Sprintf("%s, which %s names,", me, from)
		if len(held) > 0 {
			who = strings.Join(held, ", ") + " is served by " + me.String() + ", which"
		} else {
			who += " which"
		}
		return nil, r.notServed(res, fmt.Sprintf("%s does not read %s, the config pfwdctl changed: its reload would not read the new files; nothing was reloaded", who, r.config()), []Listener{me})
	}
	return held, nil
}

// notServed is the error for a daemon that cannot be tied to the config
// pfwdctl changed (exit 3, as an unconfirmed reload): what to do depends
// on what was found.
func (r Reloader) notServed(res ReloadResult, why string, found []Listener) error {
	hint := "the new config passed sshd -t and is installed, but the sshd that serves the listen addresses has not read it: "
	var hup []string
	notSshd, otherConfig := false, false
	for _, l := range found {
		switch {
		case l.Comm != "sshd":
			notSshd = true
		case !l.RunsConfig(r.config()):
			otherConfig = true
		default:
			hup = append(hup, fmt.Sprintf("kill -HUP %d", l.Pid))
		}
	}
	switch {
	case notSshd:
		hint += "stop the program that holds sshd's port (ss -tlnp shows it), restart sshd, then check with: pfwdctl audit"
	case otherConfig:
		hint += fmt.Sprintf("restart that sshd with -f %s (or without -f for the default), or manage the file it runs with pfwdctl apply --sshd-config FILE; then check with: pfwdctl audit", r.config())
	case len(hup) > 0:
		hint += "reload it by hand (" + strings.Join(hup, "; ") + "), make its pid file name it (PidFile, which the service's reload reads), then check with: pfwdctl audit"
	default:
		hint += "reload it by hand, then check with: pfwdctl audit"
	}
	return fail.New(fail.Unavailable, hint, "could not confirm that sshd reloaded: %s", why)
}

// notRunning returns res (sshd is not running) when nothing listens on
// the addresses sshd -T names; a daemon that does is not "not running".
// none says why no daemon was found ("": no live pid file); method is how
// the host reloads (a daemon found listening is not "not-running").
func (r Reloader) notRunning(ctx context.Context, method string, res ReloadResult, none string) (ReloadResult, error) {
	if _, err := r.serving(ctx, ReloadResult{Method: method}, none); err != nil {
		return ReloadResult{Method: method, Detail: "not reloaded: a process listens on the addresses sshd -T names, but nothing names it as the sshd to reload"}, err
	}
	return res, nil
}

// listenAddrs are the addresses sshd -T says the daemon listens on; none
// without Effective.
func (r Reloader) listenAddrs(ctx context.Context) ([]string, error) {
	if r.Effective == nil {
		return nil, nil
	}
	g, err := r.Effective(ctx, "")
	if err != nil {
		return nil, err
	}
	return ListenAddrs(g), nil
}

func (r Reloader) config() string {
	return or(r.Config, DefaultConfig)
}

// reserved waits, after pid re-executed, until it holds the listening
// sockets of the addresses it held before (held) and of at least one
// address sshd -T names, and checks no other process took one. The
// returned text says what it holds, for the proof.
func (r Reloader) reserved(ctx context.Context, res ReloadResult, held []string, wait time.Duration) (string, error) {
	addrs, err := r.listenAddrs(ctx)
	if err != nil {
		return "", r.unconfirmed(res, "cannot ask sshd -T which addresses it listens on: "+err.Error())
	}
	if len(addrs) == 0 {
		return "", nil
	}
	deadline := time.Now().Add(wait)
	for {
		ls, err := Listeners(addrs)
		if err != nil {
			return "", r.unconfirmed(res, "cannot tell which process listens on "+strings.Join(addrs, ", ")+": "+err.Error())
		}
		var mine, foreign []string
		var others []Listener
		for _, a := range addrs {
			var who []string
			for _, l := range ls[a] {
				if l.Pid == res.Pid {
					mine = append(mine, a)
				} else {
					who = append(who, l.String())
					others = append(others, l)
				}
			}
			if len(who) > 0 {
				foreign = append(foreign, a+" is served by "+strings.Join(who, " and "))
			}
		}
		done := len(mine) > 0 && len(foreign) == 0
		for _, h := range held {
			done = done && slices.Contains(mine, h)
		}
		if done {
			return fmt.Sprintf("it holds the listening sockets of %s", strings.Join(mine, ", ")), nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			if len(foreign) > 0 {
				return "", r.notServed(res, fmt.Sprintf("sshd (pid %d) re-executed, but %s", res.Pid, strings.Join(foreign, "; ")), others)
			}
			return "", r.unconfirmed(res, fmt.Sprintf("sshd (pid %d) re-executed, but does not listen on %s as sshd -T says", res.Pid, strings.Join(addrs, ", ")))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (r Reloader) kill(pid int, sig syscall.Signal) error {
	if r.Kill != nil {
		return r.Kill(pid, sig)
	}
	return syscall.Kill(pid, sig)
}

// confirm runs the reload command (none: SIGHUP) aimed at pid and waits for
// the daemon to re-execute. A command that exits 0 without effect is
// followed by SIGHUP to pid; a daemon that still shows nothing is an error
// with the command to run by hand.
func (r Reloader) confirm(ctx context.Context, method string, pid int, from string, cmd ...string) (ReloadResult, error) {
	res := ReloadResult{Method: method, Pid: pid}
	// The pid systemd or a pid file names may not be the daemon on the
	// listen addresses (a second sshd wrote the pid file), or may run
	// another -f: its reload would prove nothing about what is served.
	held, err := r.serving(ctx, res, from)
	if err != nil {
		res.Detail = "not reloaded: the sshd that serves the listen addresses is not the one to reload with the new config"
		return res, err
	}
	before, berr := ListenSockets(pid)
	blind := berr != nil || len(before) == 0
	wait := r.Wait
	if wait == 0 {
		wait = ReexecWait
	}
	var did string
	if len(cmd) > 0 {
		line := run.Line(cmd[0], cmd[1:]...)
		if _, stderr, err := r.Runner.Run(ctx, cmd[0], cmd[1:]...); err != nil {
			return res, r.reloadFailed(line, stderr, err)
		}
		if blind {
			return res, r.unconfirmed(res, fmt.Sprintf("%s exited 0, but the listening sockets of sshd (pid %d) cannot be seen to confirm it", line, pid))
		}
		if AwaitReexec(ctx, pid, before, wait) {
			res.Detail = "reloaded with: " + line
			return r.reexecuted(ctx, res, held, wait)
		}
		did = line + " exited 0, but sshd (pid " + strconv.Itoa(pid) + ") did not re-read its config; "
	}
	if blind {
		return res, r.unconfirmed(res, fmt.Sprintf("the listening sockets of sshd (pid %d) cannot be seen to confirm a reload", pid))
	}
	if err := r.kill(pid, syscall.SIGHUP); err != nil {
		return res, r.reloadFailed(fmt.Sprintf("kill -HUP %d", pid), nil, err)
	}
	if !AwaitReexec(ctx, pid, before, wait) {
		return res, r.unconfirmed(res, did+fmt.Sprintf("sent SIGHUP to sshd (pid %d), but it did not re-execute within %s", pid, wait))
	}
	res.Method = ReloadSignal
	res.Detail = did + fmt.Sprintf("sent SIGHUP to sshd (pid %d)", pid)
	return r.reexecuted(ctx, res, held, wait)
}

// reexecuted confirms a reload pid was seen to re-execute for: it is
// still the one listening on the addresses sshd -T names, then the probe.
func (r Reloader) reexecuted(ctx context.Context, res ReloadResult, held []string, wait time.Duration) (ReloadResult, error) {
	holds, err := r.reserved(ctx, res, held, wait)
	if err != nil {
		return res, err
	}
	res.Reloaded = true
	res.Proof = fmt.Sprintf("sshd (pid %d) re-executed: it listens on new sockets", res.Pid)
	if holds != "" {
		res.Proof += "; " + holds
	}
	return r.probe(ctx, res)
}

// probe asks the running daemon what it serves, when Effective is set.
func (r Reloader) probe(ctx context.Context, res ReloadResult) (ReloadResult, error) {
	if r.Effective == nil || len(r.ProbeUsers) == 0 {
		return res, nil
	}
	served, err := ProbeServed(ctx, r.Effective, r.ProbeUsers)
	if err != nil {
		return res, r.unconfirmed(res, "cannot ask the running sshd what it serves: "+err.Error())
	}
	res.Served = served
	var bad, ok []string
	for _, s := range served {
		switch {
		case s.Mismatch != "":
			bad = append(bad, fmt.Sprintf("on %s for %s it %s", s.Addr, s.User, s.Mismatch))
		case s.Err == "":
			ok = append(ok, s.Addr+" for "+s.User)
		}
	}
	if len(bad) > 0 {
		return res, &fail.Error{Kind: fail.Failed,
			Msg:  "the running sshd does not serve the configuration on disk: " + strings.Join(bad, "; "),
			Hint: "another sshd may hold the port, or the daemon runs another config file (-f): check with ss -tlnp and ps -o args -C sshd, then pfwdctl audit"}
	}
	if len(ok) == 0 {
		if res.Method == ReloadSocket {
			res.Detail += "; nothing answered on the listen addresses to confirm it"
			return res, nil
		}
		return res, r.unconfirmed(res, "no address sshd listens on answered the probe")
	}
	if res.Method == ReloadSocket {
		res.Reloaded = true
	}
	p := fmt.Sprintf("it offers %s as sshd -T says (%s)", strings.Join(served[0].Offered, ","), strings.Join(ok, ", "))
	if res.Proof == "" {
		res.Proof = p
	} else {
		res.Proof += "; " + p
	}
	return res, nil
}

// unconfirmed is the error for a reload that may not have happened.
func (r Reloader) unconfirmed(res ReloadResult, why string) error {
	cmd := r.Service().Reload
	switch {
	case res.Method == ReloadSystemd:
		cmd = strings.Replace(cmd, " reload ", " restart ", 1)
	case res.Pid > 0:
		cmd = fmt.Sprintf("kill -HUP %d", res.Pid)
	}
	return fail.New(fail.Unavailable,
		"the new config passed sshd -t and is installed; reload sshd by hand ("+cmd+") and check with: pfwdctl audit",
		"could not confirm that sshd reloaded: %s", why)
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
		out, _, err := r.Runner.Run(ctx, "systemctl", "show", "--property", "MainPID", "--value", unit)
		pid, _ := strconv.Atoi(strings.TrimSpace(string(out)))
		if err != nil || pid <= 1 {
			res := ReloadResult{Method: ReloadSystemd}
			if _, stderr, err := r.Runner.Run(ctx, "systemctl", "reload", unit); err != nil {
				return res, r.reloadFailed("systemctl reload "+unit, stderr, err)
			}
			return res, r.unconfirmed(res, "systemctl reload "+unit+" exited 0, but systemd names no main PID to check")
		}
		return r.confirm(ctx, ReloadSystemd, pid, "systemd's MainPID of "+unit, "systemctl", "reload", unit)
	}
	if socket {
		return ReloadResult{Method: ReloadSocket, Detail: "ssh.socket starts sshd per connection; new connections read the new config, no reload needed"}, nil
	}
	return r.notRunning(ctx, ReloadSystemd, ReloadResult{Method: ReloadNotFound, Detail: "sshd is not running (neither ssh.service, sshd.service nor ssh.socket is active); it reads the new config when it starts"}, "neither ssh.service, sshd.service nor ssh.socket is active")
}

func (r Reloader) reloadFailed(cmd string, stderr []byte, err error) error {
	msg := strings.TrimSpace(string(stderr))
	if msg != "" {
		err = fmt.Errorf("%w: %s", err, msg)
	}
	svc := r.Service()
	return fail.Wrap(fail.Unavailable, err,
		"the new config passed sshd -t and is installed; reload sshd by hand ("+svc.Reload+"; why it failed: "+svc.Log+") and check with: pfwdctl verify --self",
		"%s failed", cmd)
}

// livePid is the sshd the first live pid file names, and that file.
func (r Reloader) livePid() (int, string, bool) {
	for _, f := range r.pidFiles() {
		if pid, ok := RunningPid(r.Root, []string{f}); ok {
			return pid, f, true
		}
	}
	return 0, "", false
}

func (r Reloader) pidFiles() []string {
	if r.PidFiles == nil {
		return PidFiles
	}
	return r.PidFiles
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
	pid, _, alive := r.livePid()
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
