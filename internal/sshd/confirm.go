package sshd

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ReexecWait bounds how long a reload may take to show: sshd re-executes
// within milliseconds of SIGHUP, and systemctl reload returns after its
// ExecReload ran; two seconds leave room for a loaded host.
const ReexecWait = 2 * time.Second

// AwaitReexec waits until pid listens on sockets other than before (see
// Reexecuted), for at most wait.
func AwaitReexec(ctx context.Context, pid int, before map[uint64]bool, wait time.Duration) bool {
	deadline := time.Now().Add(wait)
	for {
		if Reexecuted(pid, before) {
			return true
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ConnSpec is the sshd -T -C connection spec pfwdctl asks about: a login
// by user from this host over loopback, as the probes make it.
func ConnSpec(user string) string {
	// laddr and lport too: sshd refuses -C without them when a Match
	// LocalAddress or LocalPort block exists ("not in connection test
	// specification").
	return fmt.Sprintf("user=%s,host=%s,addr=%s,laddr=%s,lport=%s", user, ConnHost, ConnAddr, ConnAddr, ConnPort)
}

// The loopback connection ConnSpec describes; audit's own Match evaluation
// (which line wins) uses the same.
const (
	ConnHost = "localhost"
	ConnAddr = "127.0.0.1"
	ConnPort = "22"
)

// GlobalSpec is the connection sshd -T is asked about for the global view
// when it refuses to answer without one: a Match LocalPort (or, on 7.7 to
// 8.0, any Match User) block makes a plain sshd -T exit. No Match User
// block names this account, so it sees what an arbitrary connection gets.
const GlobalSpec = "user=pfwdctl-global-view,host=localhost,addr=127.0.0.1,laddr=127.0.0.1,lport=22"

// Served is one probe of the running daemon: what it offered user on addr
// and what the config on disk says it should offer.
type Served struct {
	Addr     string   `json:"addr"`
	User     string   `json:"user"`
	Offered  []string `json:"offered"`
	Expected []string `json:"expected"`
	Mismatch string   `json:"mismatch,omitempty"`
	Err      string   `json:"error,omitempty"`
}

// ProbeServed asks every address sshd listens on (from the global sshd -T)
// which methods it offers each of users, and compares the answer with the
// effective config for that user. effective is Sshd.Effective (injected so
// the caller's root, binary and runner are used). A daemon that serves the
// config on disk gives no Mismatch; one still running an older config, or
// a different sshd on the port, does.
func ProbeServed(ctx context.Context, effective func(context.Context, string) (map[string][]string, error), users []string) ([]Served, error) {
	global, err := effective(ctx, "")
	if err != nil {
		return nil, err
	}
	listens := ListenAddrs(global)
	if len(listens) == 0 {
		return nil, fmt.Errorf("sshd -T names no ListenAddress")
	}
	var out []Served
	for _, u := range users {
		eff, err := effective(ctx, ConnSpec(u))
		if err != nil {
			return nil, err
		}
		want := ExpectedMethods(eff)
		for _, l := range listens {
			addr, err := ProbeAddr(l)
			if err != nil {
				return nil, err
			}
			s := Served{Addr: addr, User: u, Expected: want}
			pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			got, err := ServedMethods(pctx, addr, u)
			cancel()
			if err != nil {
				s.Err = err.Error()
			} else {
				s.Offered = got
				s.Mismatch = MethodsMismatch(got, want)
			}
			out = append(out, s)
		}
	}
	return out, nil
}

// ListenAddrs are the ListenAddress values of a global sshd -T ("host:port").
func ListenAddrs(global map[string][]string) []string {
	for k, v := range global {
		if strings.EqualFold(k, "listenaddress") {
			return v
		}
	}
	return nil
}

// Listener is a process that holds the listening TCP socket of an address
// sshd -T names: the daemon a connection to that address really reaches,
// whatever a pid file or systemd says.
type Listener struct {
	Pid  int
	Comm string // /proc/PID/comm: "sshd" for OpenSSH's listener
	// Args is its command line as the process shows it now (see
	// ProcArgs); Config the -f it runs, "" when none was given.
	Args   []string
	Config string
}

// String names the process and the config it runs, for messages.
func (l Listener) String() string {
	switch {
	case l.Comm != "sshd":
		return fmt.Sprintf("%s (pid %d, not sshd)", or(l.Comm, "a process"), l.Pid)
	case l.Config == "":
		return fmt.Sprintf("sshd (pid %d, no -f: %s)", l.Pid, DefaultConfig)
	}
	return fmt.Sprintf("sshd (pid %d, -f %s)", l.Pid, l.Config)
}

// listenSock is one LISTEN entry of /proc/net/tcp or tcp6.
type listenSock struct {
	ip    net.IP
	port  int
	inode uint64
}

// listenSocks are the TCP sockets in the LISTEN state (0A) of
// /proc/net/tcp and tcp6: address, port and inode. An inode is kept even
// when its address does not parse (ip nil), so ListenSockets still sees it.
func listenSocks() []listenSock {
	var socks []listenSock
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(data), "\n")[1:] {
			// sl local rem st tx:rx tr:when retrnsmt uid timeout inode
			fs := strings.Fields(line)
			if len(fs) < 10 || fs[3] != "0A" {
				continue
			}
			n, err := strconv.ParseUint(fs[9], 10, 64)
			if err != nil || n == 0 {
				continue
			}
			sock := listenSock{inode: n}
			if a, p, ok := hexAddr(fs[1]); ok {
				sock.ip, sock.port = net.ParseIP(a), p
			}
			socks = append(socks, sock)
		}
	}
	return socks
}

// Listeners returns, for each address (a ListenAddress of sshd -T), the
// processes that hold a TCP socket listening on it: its own, or a wildcard
// of the port that also takes its connections (for a wildcard address, any
// socket of the port). The listening sockets come from /proc/net/tcp and
// tcp6 (state 0A), their holders from the socket:[inode] links in
// /proc/PID/fd. A forked child still holding its parent's socket is not
// counted: the parent is the listener. An address nothing listens on has
// no entry.
func Listeners(addrs []string) (map[string][]Listener, error) {
	socks := listenSocks()
	want := map[uint64][]string{} // inode -> the addresses it serves
	for _, addr := range addrs {
		h, ps, err := net.SplitHostPort(strings.Fields(addr + " ")[0])
		if err != nil {
			return nil, fmt.Errorf("listenaddress %q: %w", addr, err)
		}
		port, err := strconv.Atoi(ps)
		if err != nil {
			return nil, fmt.Errorf("listenaddress %q: %w", addr, err)
		}
		ip := net.ParseIP(h)
		if ip == nil {
			ip = net.IPv4zero
		}
		for _, s := range socks {
			if s.port == port && serves(s.ip, ip) {
				want[s.inode] = append(want[s.inode], addr)
			}
		}
	}
	out := map[string][]Listener{}
	if len(want) == 0 {
		return out, nil
	}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	holders := map[uint64][]Listener{}
	ppid := map[int]int{}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		fdDir := filepath.Join("/proc", e.Name(), "fd")
		fds, err := os.ReadDir(fdDir)
		if err != nil {
			continue
		}
		seen := map[uint64]bool{}
		for _, fd := range fds {
			l, err := os.Readlink(filepath.Join(fdDir, fd.Name()))
			if err != nil || !strings.HasPrefix(l, "socket:[") {
				continue
			}
			n, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimPrefix(l, "socket:["), "]"), 10, 64)
			if err != nil || want[n] == nil || seen[n] {
				continue
			}
			seen[n] = true
			holders[n] = append(holders[n], procListener(pid))
			if status, err := os.ReadFile(filepath.Join("/proc", e.Name(), "status")); err == nil {
				ppid[pid] = procPPID(status)
			}
		}
	}
	for n, hs := range holders {
		held := map[int]bool{}
		for _, h := range hs {
			held[h.Pid] = true
		}
		for _, h := range hs {
			if held[ppid[h.Pid]] {
				continue // a child between fork and closing the listeners
			}
			for _, addr := range want[n] {
				if !slices.ContainsFunc(out[addr], func(o Listener) bool { return o.Pid == h.Pid }) {
					out[addr] = append(out[addr], h)
				}
			}
		}
	}
	return out, nil
}

// serves reports whether a socket listening on sock takes connections for
// the ListenAddress ip: the same address, or a wildcard on either side
// (a v6 wildcard may be dual-stack and take IPv4 too).
func serves(sock, ip net.IP) bool {
	if sock.Equal(ip) {
		return true
	}
	v4 := func(i net.IP) bool { return i.To4() != nil }
	if sock.IsUnspecified() && (v4(sock) == v4(ip) || !v4(sock)) {
		return true
	}
	return ip.IsUnspecified() && v4(sock) == v4(ip)
}

func procListener(pid int) Listener {
	l := Listener{Pid: pid, Args: ProcArgs(pid)}
	if comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid)); err == nil {
		l.Comm = strings.TrimSpace(string(comm))
	}
	l.Config, _ = ConfigArg(l.Args)
	return l
}

// ProcArgs is the command line of pid as the process shows it. sshd's
// listener rewrites it (setproctitle) to one string, "sshd: /usr/sbin/sshd
// -f FILE [listener] 0 of 10-100 startups", which is split back into the
// words it was made of; before that it is the NUL-separated argv.
func ProcArgs(pid int) []string {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return nil
	}
	data = bytes.TrimRight(data, "\x00")
	if bytes.IndexByte(data, 0) >= 0 {
		return strings.Split(string(data), "\x00")
	}
	s := strings.TrimPrefix(string(data), "sshd: ")
	if i := strings.Index(s, " [listener]"); i >= 0 {
		s = s[:i]
	}
	return strings.Fields(s)
}

// ConfigArg returns the config file an sshd command line names with -f
// (the last one, as sshd's getopt loop keeps), parsing options as getopt
// does ("-f FILE", "-fFILE", "-Df FILE"); ok is false without -f.
func ConfigArg(args []string) (file string, ok bool) {
	const withArg = "CEbcfghkopu" // sshd.c's optstring letters that take one
	for i := 1; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			break
		}
		if len(a) < 2 || a[0] != '-' {
			continue
		}
		for j := 1; j < len(a); j++ {
			if !strings.ContainsRune(withArg, rune(a[j])) {
				continue
			}
			v := a[j+1:]
			if v == "" && i+1 < len(args) {
				i++
				v = args[i]
			}
			if a[j] == 'f' {
				file, ok = v, true
			}
			break
		}
	}
	return file, ok
}

// RunsConfig reports whether the sshd l reads config (a host path) when
// it (re)starts: its -f names that file, or it has none and config is
// DefaultConfig. A relative -f is taken from the process's working
// directory, where sshd re-executes on SIGHUP.
func (l Listener) RunsConfig(config string) bool {
	f := l.Config
	if f == "" {
		f = DefaultConfig
	} else if !filepath.IsAbs(f) {
		f = filepath.Join(fmt.Sprintf("/proc/%d/cwd", l.Pid), f)
	}
	if filepath.Clean(f) == filepath.Clean(config) {
		return true
	}
	a, err1 := os.Stat(f)
	b, err2 := os.Stat(config)
	return err1 == nil && err2 == nil && os.SameFile(a, b)
}
