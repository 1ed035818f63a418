package sshd

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/pfwdctl/pfwdctl/internal/hostfs"
)

// PidFiles are where sshd writes its PID on the distributions we know.
var PidFiles = []string{"/run/sshd.pid", "/var/run/sshd.pid"}

// RunningPid returns the PID of the listening sshd named by the first of
// the pid files (host paths under root) whose process is alive and is sshd.
func RunningPid(root hostfs.Root, pidFiles []string) (int, bool) {
	for _, f := range pidFiles {
		data, err := root.ReadFile(f)
		if err != nil {
			continue
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
		if err != nil || pid <= 1 {
			continue
		}
		// Signal 0 probes for the process without touching it.
		if err := syscall.Kill(pid, 0); err != nil && !errors.Is(err, syscall.EPERM) {
			continue
		}
		// A pid file left by an sshd that died can name a pid the kernel
		// has since given to another program, which SIGHUP would likely
		// kill. Where /proc tells, the process must be sshd (the listener
		// keeps that name in every release).
		if comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid)); err == nil && strings.TrimSpace(string(comm)) != "sshd" {
			continue
		}
		return pid, true
	}
	return 0, false
}

// Names are the process names (/proc/PID/comm) sshd runs under. Before
// OpenSSH 9.8 every process is "sshd"; from 9.8 each connection is served
// by "sshd-session", and 10.x adds "sshd-auth" for the pre-authentication
// part (SSHD-NOTES 15).
var Names = []string{"sshd", "sshd-session", "sshd-auth"}

// Process is one running sshd process.
type Process struct {
	PID     int
	UID     int    // real uid
	Command string // its command line, e.g. "sshd: pfwd@notty"
	// PPID is the parent: for an account's session process, the
	// connection's privileged monitor, the pid sshd logs the login under.
	PPID int
}

// Procs reads sshd's processes from a /proc tree.
type Procs struct {
	// Dir is "/proc" when empty; tests point it at a fake tree.
	Dir string
	// Kill sends a signal; nil means syscall.Kill.
	Kill func(pid int, sig syscall.Signal) error
}

func (p Procs) dir() string {
	if p.Dir == "" {
		return "/proc"
	}
	return p.Dir
}

// isSshd reports whether pid is (still) one of sshd's processes.
func (p Procs) isSshd(pid string) bool {
	comm, err := os.ReadFile(filepath.Join(p.dir(), pid, "comm"))
	return err == nil && slices.Contains(Names, strings.TrimSpace(string(comm)))
}

// OfUser lists the sshd processes whose real uid is uid. With privilege
// separation each authenticated connection has one such process running
// as the account ("sshd: pfwd@notty" for a tunnel).
func (p Procs) OfUser(uid int) ([]Process, error) {
	ents, err := os.ReadDir(p.dir())
	if err != nil {
		return nil, err
	}
	var out []Process
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || !p.isSshd(e.Name()) {
			continue
		}
		status, err := os.ReadFile(filepath.Join(p.dir(), e.Name(), "status"))
		if err != nil || procUID(status) != uid {
			continue
		}
		cmd, _ := os.ReadFile(filepath.Join(p.dir(), e.Name(), "cmdline"))
		out = append(out, Process{PID: pid, UID: uid, PPID: procPPID(status), Command: strings.TrimSpace(string(bytes.ReplaceAll(cmd, []byte{0}, []byte{' '})))})
	}
	return out, nil
}

// procPPID returns the parent pid from /proc/PID/status ("PPid: N").
func procPPID(status []byte) int {
	for _, l := range strings.Split(string(status), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "PPid:" {
			if n, err := strconv.Atoi(f[1]); err == nil {
				return n
			}
		}
	}
	return 0
}

// procUID returns the real uid from /proc/PID/status ("Uid: real eff ...").
func procUID(status []byte) int {
	for _, l := range strings.Split(string(status), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "Uid:" {
			if n, err := strconv.Atoi(f[1]); err == nil {
				return n
			}
		}
	}
	return -1
}

// ErrNotSshd is returned instead of signalling a process that is not sshd.
var ErrNotSshd = errors.New("not an sshd process")

// Terminate sends SIGTERM to one of sshd's processes (sshd then closes
// the connection and the client's tunnel ends). The name is checked again
// right before: the PID may have ended and been reused since it was listed.
func (p Procs) Terminate(pid int) error {
	if !p.isSshd(strconv.Itoa(pid)) {
		return fmt.Errorf("pid %d: %w", pid, ErrNotSshd)
	}
	kill := p.Kill
	if kill == nil {
		kill = syscall.Kill
	}
	return kill(pid, syscall.SIGTERM)
}

// Peers are the remote "addr:port" of every established TCP connection
// process pid holds (its sockets' entries in /proc/net/tcp and tcp6). A
// session process holds the client's connection, whose address and port
// sshd logs (so a session is tied to its log lines even where they carry
// no pid, as with sshd -E), and the forwards it opened for the client.
func (p Procs) Peers(pid int) []string {
	base := filepath.Join(p.dir(), strconv.Itoa(pid))
	fds, err := os.ReadDir(filepath.Join(base, "fd"))
	if err != nil {
		return nil
	}
	inodes := map[string]bool{}
	for _, fd := range fds {
		l, err := os.Readlink(filepath.Join(base, "fd", fd.Name()))
		if err == nil && strings.HasPrefix(l, "socket:[") {
			inodes[strings.TrimSuffix(strings.TrimPrefix(l, "socket:["), "]")] = true
		}
	}
	var out []string
	for _, table := range []string{"tcp", "tcp6"} {
		data, err := os.ReadFile(filepath.Join(base, "net", table))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(data), "\n")[1:] {
			f := strings.Fields(line)
			// sl local rem st ... inode (field 9); st 01 = ESTABLISHED
			if len(f) < 10 || f[3] != "01" || !inodes[f[9]] {
				continue
			}
			if a, pt, ok := hexAddr(f[2]); ok {
				out = append(out, net.JoinHostPort(a, strconv.Itoa(pt)))
			}
		}
	}
	return out
}

// hexAddr reads /proc/net/tcp's "0100007F:1F49" (or tcp6's 32 hex digits,
// four little-endian words) as an address and port.
func hexAddr(s string) (string, int, bool) {
	h, ps, ok := strings.Cut(s, ":")
	if !ok {
		return "", 0, false
	}
	port, err := strconv.ParseUint(ps, 16, 16)
	if err != nil {
		return "", 0, false
	}
	raw, err := hex.DecodeString(h)
	if err != nil || (len(raw) != 4 && len(raw) != 16) {
		return "", 0, false
	}
	ip := make(net.IP, len(raw))
	for i := 0; i < len(raw); i += 4 {
		ip[i], ip[i+1], ip[i+2], ip[i+3] = raw[i+3], raw[i+2], raw[i+1], raw[i]
	}
	if v4 := ip.To4(); v4 != nil {
		ip = v4
	}
	return ip.String(), int(port), true
}
