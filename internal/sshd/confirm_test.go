package sshd_test

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

	"github.com/pfwdctl/pfwdctl/internal/fail"
	"github.com/pfwdctl/pfwdctl/internal/run"
	"github.com/pfwdctl/pfwdctl/internal/sshd"
	"github.com/pfwdctl/pfwdctl/internal/testenv"
)

// daemon is a real sshd a test started on loopback.
type daemon struct {
	cfg, pidFile, log, addr string
	pid                     int
}

// runSshd starts a real sshd in the foreground (-D, so its pid is the
// listener's) on a free loopback port, from dir/name. pidFile false:
// "PidFile none", as an sshd whose pid file is gone.
func runSshd(t *testing.T, dir, name string, pidFile bool) daemon {
	t.Helper()
	bin := testenv.Sshd(t)
	os.Chmod(dir, 0o755)
	key := filepath.Join(dir, "hostkey")
	if _, err := os.Stat(key); err != nil {
		if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key).CombinedOutput(); err != nil {
			t.Fatalf("ssh-keygen: %v %s", err, out)
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	d := daemon{cfg: filepath.Join(dir, name), pidFile: "none", log: filepath.Join(dir, name+".log"), addr: fmt.Sprintf("127.0.0.1:%d", port)}
	if pidFile {
		d.pidFile = filepath.Join(dir, name+".pid")
	}
	os.WriteFile(d.cfg, []byte(fmt.Sprintf("Port %d\nListenAddress 127.0.0.1\nHostKey %s\nPidFile %s\nUsePAM no\nLogLevel VERBOSE\n", port, key, d.pidFile)), 0o644)
	cmd := exec.Command(bin, "-D", "-f", d.cfg, "-E", d.log)
	if err := cmd.Start(); err != nil {
		t.Fatalf("start sshd: %v", err)
	}
	d.pid = cmd.Process.Pid
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for i := 0; ; i++ {
		if c, err := net.Dial("tcp", d.addr); err == nil {
			c.Close()
			break
		}
		if i == 100 {
			data, _ := os.ReadFile(d.log)
			t.Fatalf("sshd does not listen on %s:\n%s", d.addr, data)
		}
		time.Sleep(20 * time.Millisecond)
	}
	for i := 0; pidFile; i++ {
		if data, err := os.ReadFile(d.pidFile); err == nil && strings.TrimSpace(string(data)) == fmt.Sprint(d.pid) {
			break
		}
		if i == 100 {
			t.Fatal("sshd wrote no pid file")
		}
		time.Sleep(20 * time.Millisecond)
	}
	return d
}

// hupped reports whether d logged a SIGHUP.
func (d daemon) hupped() bool {
	data, _ := os.ReadFile(d.log)
	return strings.Contains(string(data), "Received SIGHUP")
}

// reloaderFor reloads as a host whose main config is cfg, asking sshd -T
// about cfg (its listen address) and probing root.
func reloaderFor(t *testing.T, cfg string, pidFiles []string, initScripts ...string) sshd.Reloader {
	sysDir, initDir := fakeSystem(t, false, initScripts...)
	b := sshd.Binary{Bin: testenv.Sshd(t), Runner: run.Exec{}, Config: cfg}
	return sshd.Reloader{Runner: run.Exec{}, Wait: time.Second, SystemdDir: sysDir, InitDir: initDir, PidFiles: pidFiles,
		Config: cfg, Effective: b.Effective, ProbeUsers: []string{"root"}}
}

// mustNotConfirm checks a reload (and apply's up-to-date check) that
// could not be tied to the daemon on the port: exit 3, never "reloaded",
// never "not running", and the error names what was found.
func mustNotConfirm(t *testing.T, r sshd.Reloader, want ...string) {
	t.Helper()
	res, err := r.Reload(context.Background())
	if err == nil || fail.Code(err) != 3 || res.Reloaded || res.Proof != "" || res.Method == sshd.ReloadNotFound {
		t.Fatalf("reload: %+v %v", res, err)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error does not say %q: %v", w, err)
		}
	}
	if err := r.Check(context.Background()); err == nil || fail.Code(err) != 3 || !strings.Contains(err.Error(), want[0]) {
		t.Errorf("Check: %v", err)
	}
}

// R1: the pid file names a second sshd (one started without its own
// PidFile), not the one serving the config's ListenAddress. The old code
// ran the reload against the decoy and said "confirmed", because the real
// daemon, never reloaded, offered the same methods.
func TestReloadPidFileNamesAnotherSshd(t *testing.T) {
	dir := t.TempDir()
	main := runSshd(t, dir, "sshd_config", true)
	decoy := runSshd(t, dir, "decoy_config", true)
	// The init script reloads whatever the pid file names, as Debian's.
	r := reloaderFor(t, main.cfg, []string{decoy.pidFile})
	os.WriteFile(filepath.Join(r.InitDir, "ssh"), []byte("#!/bin/sh\n[ \"$1\" = reload ] && kill -HUP $(cat "+decoy.pidFile+")\n"), 0o755)
	mustNotConfirm(t, r, fmt.Sprintf("%s is served by sshd (pid %d, -f %s)", main.addr, main.pid, main.cfg),
		fmt.Sprintf("not by sshd (pid %d, -f %s) that %s names", decoy.pid, decoy.cfg, decoy.pidFile))
	_, err := r.Reload(context.Background())
	if hint := fail.HintOf(err); !strings.Contains(hint, fmt.Sprintf("kill -HUP %d", main.pid)) {
		t.Errorf("hint: %s", hint)
	}
	time.Sleep(100 * time.Millisecond)
	if main.hupped() || decoy.hupped() {
		t.Errorf("a daemon was signalled: main %v, decoy %v", main.hupped(), decoy.hupped())
	}
}

// R2: the daemon runs another -f (a file without the drop-ins' Include):
// its reload never reads the files pfwdctl wrote. The old code sent it
// SIGHUP and said "confirmed" (same methods), then "already up to date".
func TestReloadDaemonRunsAnotherConfig(t *testing.T) {
	dir := t.TempDir()
	d := runSshd(t, dir, "sshd_config.local", true)
	mainCfg := filepath.Join(dir, "sshd_config")
	data, _ := os.ReadFile(d.cfg)
	os.WriteFile(mainCfg, append([]byte("# the host's main config, which pfwdctl changed\n"), data...), 0o644)
	r := reloaderFor(t, mainCfg, []string{d.pidFile})
	mustNotConfirm(t, r, fmt.Sprintf("%s is served by sshd (pid %d, -f %s), which does not read %s", d.addr, d.pid, d.cfg, mainCfg))
	if d.hupped() {
		t.Error("the daemon of another config was signalled")
	}
}

// R3: sshd runs without a pid file (PidFile none, or removed). The old
// code said "sshd is not running" and exited 0 while it served the port.
func TestReloadListenerWithoutPidFile(t *testing.T) {
	dir := t.TempDir()
	d := runSshd(t, dir, "sshd_config", false)
	r := reloaderFor(t, d.cfg, []string{filepath.Join(dir, "sshd.pid")})
	mustNotConfirm(t, r, fmt.Sprintf("but %s is served by sshd (pid %d, -f %s)", d.addr, d.pid, d.cfg), "no pid file names a running sshd")
	_, err := r.Reload(context.Background())
	if hint := fail.HintOf(err); !strings.Contains(hint, fmt.Sprintf("kill -HUP %d", d.pid)) {
		t.Errorf("hint: %s", hint)
	}
	// systemd with no sshd unit active: the same, not "not running".
	sysDir := t.TempDir()
	r.SystemdDir = sysDir
	r.Runner = (&run.Stub{T: t}).
		Expect("systemctl is-active --quiet ssh.socket", "", "", run.ErrExit).
		Expect("systemctl is-active --quiet ssh.service", "", "", run.ErrExit).
		Expect("systemctl is-active --quiet sshd.service", "", "", run.ErrExit)
	res, err := r.Reload(context.Background())
	if err == nil || fail.Code(err) != 3 || !strings.Contains(err.Error(), "neither ssh.service, sshd.service nor ssh.socket is active, but "+d.addr) {
		t.Fatalf("systemd: %+v %v", res, err)
	}
	if d.hupped() {
		t.Error("signalled")
	}
}

// The daemon the pid file names serves the config's address and runs the
// config: confirmed, with the listener named in the proof; Check agrees.
func TestReloadConfirmsTheListener(t *testing.T) {
	d := runSshd(t, t.TempDir(), "sshd_config", true)
	r := reloaderFor(t, d.cfg, []string{d.pidFile})
	if err := r.Check(context.Background()); err != nil {
		t.Fatal(err)
	}
	res, err := r.Reload(context.Background())
	if err != nil || !res.Reloaded || res.Pid != d.pid || !strings.Contains(res.Proof, "it holds the listening sockets of "+d.addr) || !strings.Contains(res.Proof, "as sshd -T says") {
		t.Fatalf("%+v %v", res, err)
	}
	if !d.hupped() {
		t.Error("no SIGHUP")
	}
	// After a SIGHUP sshd's command line is rewritten again: still its -f.
	if err := r.Check(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// A reload that re-executes the daemon, while another process holds the
// address: not confirmed.
func TestReloadAnotherProcessHoldsTheAddress(t *testing.T) {
	d := runSshd(t, t.TempDir(), "sshd_config", true)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	cfg := d.cfg + ".two"
	data, _ := os.ReadFile(d.cfg)
	os.WriteFile(cfg, append(data, fmt.Sprintf("ListenAddress %s\n", l.Addr())...), 0o644)
	r := reloaderFor(t, cfg, []string{d.pidFile})
	r.Config = d.cfg
	res, err := r.Reload(context.Background())
	if err == nil || fail.Code(err) != 3 || res.Reloaded || !strings.Contains(err.Error(), fmt.Sprintf("%s is served by %s (pid %d, not sshd)", l.Addr(), "sshd.test", os.Getpid())) {
		t.Fatalf("%+v %v", res, err)
	}
}

func TestListeners(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	exact, wild, other := l.Addr().String(), fmt.Sprintf("0.0.0.0:%d", port), fmt.Sprintf("127.0.0.2:%d", port)
	ls, err := sshd.Listeners([]string{exact, wild, other})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []string{exact, wild} {
		if len(ls[a]) != 1 || ls[a][0].Pid != os.Getpid() {
			t.Errorf("%s: %+v", a, ls[a])
		}
	}
	if len(ls[other]) != 0 {
		t.Errorf("%s: %+v", other, ls[other])
	}
}

func TestConfigArg(t *testing.T) {
	cases := []struct {
		args []string
		want string
		ok   bool
	}{
		{[]string{"/usr/sbin/sshd", "-D"}, "", false},
		{[]string{"/usr/sbin/sshd", "-D", "-f", "/etc/ssh/x"}, "/etc/ssh/x", true},
		{[]string{"/usr/sbin/sshd", "-f/etc/ssh/x"}, "/etc/ssh/x", true},
		{[]string{"/usr/sbin/sshd", "-Df", "/etc/ssh/x", "-E", "-f"}, "/etc/ssh/x", true},
		{[]string{"/usr/sbin/sshd", "-o", "-f", "-f", "a", "-f", "b"}, "b", true},
	}
	for _, c := range cases {
		if got, ok := sshd.ConfigArg(c.args); got != c.want || ok != c.ok {
			t.Errorf("%q: %q %v", c.args, got, ok)
		}
	}
}
