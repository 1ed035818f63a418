// Package verify proves a port-forward-only account from the outside, as
// an SSH client (golang.org/x/crypto/ssh): it logs in once with the
// account's key and tries, concurrently over that one connection, every way
// out of the box the hardening is meant to close (shell, command, sftp, pty,
// other forward targets, remote and Unix-socket forwards, agent, X11, tun),
// plus the one thing that must work: a forward to each target. The server's
// list of authentication methods, read during that same login, proves that
// passwords are not offered.
//
// verify never changes the server: it needs no shell account and nothing
// installed there, every probe is closed as soon as it is answered, and it
// never sends a password. (Only a server that already fails a check may keep
// a trace of it, e.g. the socket a permitted streamlocal-forward bound.)
package verify

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/pfwdctl/pfwdctl/internal/accounts"
	"github.com/pfwdctl/pfwdctl/internal/fail"
	"github.com/pfwdctl/pfwdctl/internal/hostfs"
	"github.com/pfwdctl/pfwdctl/internal/sshd"
	"github.com/pfwdctl/pfwdctl/internal/target"
)

// DefaultTimeout bounds a whole run.
const DefaultTimeout = 10 * time.Second

// Options say where to connect and what the account should be allowed.
type Options struct {
	Host string
	Port int    // 0: 22
	User string // empty: accounts.DefaultUser
	// Targets are the host:port the account must reach; empty:
	// target.Default.
	Targets []target.Target
	// Auth are the client's methods (KeyFile, Agent, or ssh.PublicKeys).
	Auth []ssh.AuthMethod
	// HostKey decides which host key is accepted.
	HostKey HostKeyPolicy
	// Sockets are Unix sockets on the server to try direct-streamlocal
	// with; nil: DefaultSockets.
	Sockets []string
	// ListenDir is the server directory where the streamlocal-forward probe
	// asks to listen (a server that permits it creates a socket there);
	// empty: /tmp.
	ListenDir string
	// Timeout bounds the whole run, connection included; 0: DefaultTimeout.
	Timeout time.Duration
	// Destinations are more host:port forwards that must be refused, on
	// top of the samples other-ports-prohibited always tries. verify
	// --self passes every listening socket of the server (Listeners).
	Destinations []Destination
	// Listens are more remote (-R) listens that must be refused, on top
	// of port 0: verify --self passes the account's effective PermitListen.
	Listens []Destination
	// ListensFrom, when set, gives more such listens; remote-forward-
	// refused calls it (once) when it starts, so the connection does not
	// wait for it: verify --self reads PermitListen with sshd -T
	// meanwhile.
	ListensFrom func() []Destination
	// Sweep tries every TCP port 1-65535 on each target host and on its
	// other spelling (localhost / 127.0.0.1), instead of samples: a second
	// permitted port anywhere on those hosts is found (verify --sweep).
	Sweep bool
}

// Destination is one forward other-ports-prohibited tries, and why.
type Destination struct {
	Host string
	Port int
	Why  string
}

// Status is a check's outcome.
type Status string

const (
	Pass Status = "pass"
	Fail Status = "fail"
	// Warn: the rule is right but something else is off (e.g. the target
	// service does not answer).
	Warn Status = "warn"
	// Unknown: the check had not finished when the run was cut short
	// (--timeout, or an interrupt). A probe the server never answered
	// proves nothing either way: it is neither a pass nor a finding.
	Unknown Status = "unknown"
)

// Result is one check's outcome.
type Result struct {
	Name   string `json:"name"`
	Status Status `json:"status"`
	Detail string `json:"detail"`
	Proves string `json:"proves"`
	// Tried lists what a check tried when it tried many destinations
	// (other-ports-prohibited, streamlocal-refused), for --json.
	Tried []string `json:"tried,omitempty"`
	// TriedRanges is Tried in ranges (host:1-8008,8010-65535) when a
	// sweep tried too many destinations to list one by one.
	TriedRanges []string      `json:"tried_ranges,omitempty"`
	Hint        string        `json:"hint,omitempty"`
	Duration    time.Duration `json:"-"`
	// DurationMS is Duration for JSON.
	DurationMS float64 `json:"duration_ms"`
	// found: a Fail the server itself answered (something granted,
	// opened or offered), which stands even if the run is cut short
	// after it; not a probe that could not be made.
	found bool
}

// Report is a whole run.
type Report struct {
	Host    string   `json:"host"`
	Port    int      `json:"port"`
	User    string   `json:"user"`
	Targets []string `json:"targets"`
	// HostKey is the server's host key fingerprint (SHA256:...).
	HostKey string `json:"host_key"`
	// Server is the server's SSH version banner.
	Server string `json:"server_version"`
	// AuthMethods is what the server offered before the login.
	AuthMethods []string      `json:"auth_methods"`
	Checks      []Result      `json:"checks"`
	Passed      bool          `json:"passed"`
	Duration    time.Duration `json:"-"`
	DurationMS  float64       `json:"duration_ms"`
}

// Tally is how many results of each kind a report holds. It is a struct,
// not three ints, so verify's checks and audit's findings are counted in
// one shape that no caller can read in the wrong order.
type Tally struct{ Pass, Fail, Warn, Unknown int }

// Counts tallies the checks.
func (r *Report) Counts() (t Tally) {
	for _, c := range r.Checks {
		switch c.Status {
		case Pass:
			t.Pass++
		case Fail:
			t.Fail++
		case Warn:
			t.Warn++
		case Unknown:
			t.Unknown++
		}
	}
	return
}

// Check is the result of the check named name, if it ran.
func (r *Report) Check(name string) (Result, bool) {
	for _, c := range r.Checks {
		if c.Name == name {
			return c, true
		}
	}
	return Result{}, false
}

// Failed lists the names of the failed checks.
func (r *Report) Failed() []string {
	var out []string
	for _, c := range r.Checks {
		if c.Status == Fail {
			out = append(out, c.Name)
		}
	}
	return out
}

// Reason says why no check could run (exit 3).
type Reason string

const (
	Refused         Reason = "refused"
	Timeout         Reason = "timeout"
	HostKeyMismatch Reason = "host key mismatch"
	HostKeyUnknown  Reason = "host key unknown"
	AuthFailed      Reason = "auth failed"
	Unreachable     Reason = "unreachable"
	HandshakeFailed Reason = "handshake failed"
	// Interrupted: the run was cancelled (Ctrl-C, SIGTERM) before its
	// checks finished (exit 130, not 3).
	Interrupted Reason = "interrupted"
)

// ConnectError is a run that never got to its checks, or lost the
// connection before they finished.
type ConnectError struct {
	Reason Reason
	Addr   string
	Err    error
}

func (e *ConnectError) Error() string {
	msg := "cannot verify " + e.Addr + ": " + string(e.Reason)
	if e.Err != nil {
		msg += " (" + e.Err.Error() + ")"
	}
	return msg
}

func (e *ConnectError) Unwrap() error { return e.Err }

func (e *ConnectError) hint() string {
	switch e.Reason {
	case Refused:
		return "nothing listens there: check --host and --port, and that sshd runs (" + serviceAt(e.Addr).Status + ")"
	case Timeout:
		return "the server did not answer in time: check the address and firewalls, or raise --timeout"
	case HostKeyMismatch:
		return "the server's host key is not the one you trust: if the server was reinstalled on purpose, update the key you trust for it; otherwise do not connect"
	case HostKeyUnknown:
		return "add the server's host key to known_hosts (compare its fingerprint out of band), or pin it with --host-key SHA256:..."
	case AuthFailed:
		return "the key was refused: check --user and --key, that the key is in the account's authorized_keys, and sshd's log on the server: " + serviceAt(e.Addr).Log
	case Interrupted:
		return "the run was interrupted before its checks finished: run it again and let it finish"
	case Unreachable:
		return "check --host: the name does not resolve or the network is unreachable"
	}
	return "check that the server is an SSH server and look at its log"
}

// serviceAt is how the server at addr runs sshd, for hints: this host's
// own service manager when addr is this host (--self, a loopback
// address), both forms for a server pfwdctl cannot look at.
func serviceAt(addr string) sshd.Service {
	host, _, _ := net.SplitHostPort(addr)
	if ip := net.ParseIP(host); host == "localhost" || ip != nil && ip.IsLoopback() {
		return sshd.HostService(hostfs.Root{})
	}
	return sshd.AnyService
}

func connErr(reason Reason, addr string, err error) error {
	ce := &ConnectError{Reason: reason, Addr: addr, Err: err}
	kind := fail.Unavailable
	if reason == Interrupted {
		kind = fail.Interrupted
	}
	return &fail.Error{Kind: kind, Err: ce, Hint: ce.hint()}
}

// refusedKey is a refused host key: its hint follows where the expected
// key came from (a pin, a known_hosts file, the server's own key files),
// then lists the keys the server offers.
func refusedKey(reason Reason, addr string, err error, hk hostKeyCheck, keys []ScannedKey) error {
	e := connErr(reason, addr, err)
	var fe *fail.Error
	if errors.As(e, &fe) {
		if h := hk.hint(reason, addr); h != "" {
			fe.Hint = h
		}
		if d := hk.keysHint(keys); d != "" {
			fe.Hint += "; " + d
		}
	}
	return e
}

// cutReason says why ctx ended: Run's own deadline (--timeout), or the
// caller's cancellation (an interrupt).
func cutReason(ctx context.Context) Reason {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return Timeout
	}
	return Interrupted
}

// Run connects, runs every check, and returns the report. A check that
// fails is in the report, not an error; the error is for a run that could
// not connect or authenticate (a *ConnectError inside a fail.Error).
func Run(ctx context.Context, o Options) (*Report, error) {
	start := time.Now()
	if o.Port == 0 {
		o.Port = 22
	}
	if o.User == "" {
		o.User = accounts.DefaultUser
	}
	if len(o.Targets) == 0 {
		t, _ := target.Parse(target.Default)
		o.Targets = []target.Target{t}
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultTimeout
	}
	if len(o.Auth) == 0 {
		return nil, fail.New(fail.Usage, "pass --key FILE, or run an ssh-agent (SSH_AUTH_SOCK) holding the key", "no key to log in with")
	}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	addr := net.JoinHostPort(o.Host, strconv.Itoa(o.Port))

	hk, err := o.HostKey.callback(addr)
	if err != nil {
		return nil, err
	}
	rep, err := run(ctx, o, addr, hk)
	var pm *pinnedMismatch
	if errors.As(err, &pm) && hk.algorithms == nil {
		// The pin may name another of the server's keys than the one
		// negotiated (admins copy the ed25519 fingerprint; ECDSA may be
		// preferred): any of its keys pins the server.
		keys := ScanHostKeys(ctx, addr)
		for _, k := range keys {
			if k.Fingerprint == o.HostKey.Fingerprint {
				hk.algorithms = k.algorithms
				rep, err = run(ctx, o, addr, hk)
				break
			}
		}
		if errors.As(err, &pm) {
			err = refusedKey(HostKeyMismatch, addr, fmt.Errorf("no host key of the server is the pinned %s", pm.want), hk, keys)
		}
	}
	if rep != nil {
		rep.Duration = time.Since(start)
		rep.DurationMS = ms(rep.Duration)
	}
	return rep, err
}

// run is one connection and its checks, with the host key check hk.
func run(ctx context.Context, o Options, addr string, hk hostKeyCheck) (*Report, error) {
	rep := &Report{Host: o.Host, Port: o.Port, User: o.User}
	for _, t := range o.Targets {
		rep.Targets = append(rep.Targets, t.String())
	}

	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, classifyDial(ctx, addr, err)
	}
	// The deadline covers the whole run: closing the connection unblocks
	// every channel operation still waiting.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	defer conn.Close()

	var (
		mu         sync.Mutex // the host key callback runs on x/crypto's key exchange goroutine
		hostKeyErr error
		offered    []string
		probed     bool
	)
	cfg := &ssh.ClientConfig{
		User: o.User,
		Auth: o.Auth,
		HostKeyCallback: func(hostname string, remote net.Addr, key ssh.PublicKey) error {
			err := hk.check(hostname, remote, key)
			mu.Lock()
			defer mu.Unlock()
			rep.HostKey = ssh.FingerprintSHA256(key)
			hostKeyErr = err
			return err
		},
		HostKeyAlgorithms: hk.algorithms,
		// Called after the "none" attempt with the methods the server
		// offers this user: the password probe costs no extra login.
		AuthCallback: func(c *ssh.ClientAuthContext) (ssh.AuthMethod, error) {
			if !probed {
				probed = true
				offered = append([]string(nil), c.AllowedMethods...)
			}
			return nil, nil
		},
	}
	sc, chans, reqs, err := ssh.NewClientConn(quickAck(conn), addr, cfg)
	mu.Lock()
	defer mu.Unlock()
	if err != nil {
		switch {
		case hostKeyErr != nil:
			var reason Reason = HostKeyMismatch
			if isUnknownHost(hostKeyErr) {
				reason = HostKeyUnknown
			}
			var pm *pinnedMismatch
			if errors.As(hostKeyErr, &pm) && hk.algorithms == nil {
				// Run scans for the pinned key among the others.
				return nil, hostKeyErr
			}
			return nil, refusedKey(reason, addr, hostKeyErr, hk, ScanHostKeys(ctx, addr))
		case ctx.Err() != nil:
			return nil, connErr(cutReason(ctx), addr, ctx.Err())
		case probed:
			return nil, connErr(AuthFailed, addr, err)
		}
		return nil, connErr(HandshakeFailed, addr, err)
	}
	defer sc.Close()
	go ssh.DiscardRequests(reqs)
	go func() {
		// The server opens channels to us only for forwards it granted
		// (which are findings already): refuse them all.
		for ch := range chans {
			ch.Reject(ssh.Prohibited, "pfwdctl verify accepts no channels")
		}
	}()
	rep.Server = string(sc.ServerVersion())
	rep.AuthMethods = offered
	if rep.AuthMethods == nil {
		rep.AuthMethods = []string{}
	}

	env := &probeEnv{conn: sc, opts: o, token: token(), ctx: ctx, authProbed: probed, offered: offered}
	// A second connection for probes the first one cannot answer: sshd
	// limits sessions per connection (MaxSessions), so a session refused
	// on the busy first connection proves nothing until a fresh one, with
	// no other session open, is refused too.
	env.redial = func() (ssh.Conn, error) {
		c, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return nil, err
		}
		context.AfterFunc(ctx, func() { c.Close() })
		rc := &ssh.ClientConfig{User: o.User, Auth: o.Auth, HostKeyCallback: hk.check, HostKeyAlgorithms: hk.algorithms}
		sc, chans, reqs, err := ssh.NewClientConn(quickAck(c), addr, rc)
		if err != nil {
			c.Close()
			return nil, err
		}
		go ssh.DiscardRequests(reqs)
		go func() {
			for ch := range chans {
				ch.Reject(ssh.Prohibited, "pfwdctl verify accepts no channels")
			}
		}()
		return sc, nil
	}
	checks := allChecks()
	rep.Checks = make([]Result, len(checks))
	var wg sync.WaitGroup
	for i, c := range checks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t0 := time.Now()
			r := c.run(env)
			if ctx.Err() != nil {
				// Still running when the run was cut short: what it
				// saw may be the closed connection, not the server.
				r = unfinished(r, cutReason(ctx), o)
			}
			r.Name, r.Proves = c.name, c.proves
			if (r.Status == Fail || r.Status == Warn) && r.Hint == "" {
				r.Hint = c.hint
			}
			r.Duration = time.Since(t0)
			r.DurationMS = ms(r.Duration)
			rep.Checks[i] = r
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		// A probe cut short proves nothing either way; the findings
		// made before the cut are in the report all the same.
		reason := cutReason(ctx)
		n := rep.Counts().Unknown
		msg := fmt.Sprintf("%d of %d checks did not finish within --timeout %s", n, len(rep.Checks), o.Timeout)
		if reason == Interrupted {
			msg = fmt.Sprintf("%d of %d checks did not finish before the interrupt", n, len(rep.Checks))
		}
		err := connErr(reason, addr, errors.New(msg))
		var fe *fail.Error
		if reason == Timeout && errors.As(err, &fe) {
			fe.Hint = "raise --timeout: the checks marked ? were cut short, and a probe without an answer proves nothing either way" + sweepTakes(o)
		}
		return rep, err
	}
	failed := rep.Counts().Fail
	rep.Passed = failed == 0
	return rep, nil
}

// unfinished is the result of a check that had not returned when the run
// was cut short. A finding the server answered (something granted or
// opened) stands; anything else, a pass as much as a failure, may rest on
// a probe the closed connection answered, and is Unknown. A check that
// said itself how far it got (Unknown already) keeps its words.
func unfinished(r Result, why Reason, o Options) Result {
	cut := "the run was interrupted"
	hint := "run verify again and let it finish"
	if why == Timeout {
		cut = "the run reached --timeout " + o.Timeout.String()
		hint = "raise --timeout" + sweepTakes(o)
	}
	switch {
	case r.Status == Fail && r.found:
		r.Detail += "; " + cut + " before this check finished: there may be more"
		return r
	case r.Status != Unknown:
		r.Detail = "not finished: " + cut + " before the server answered every probe"
	}
	r.Status, r.Hint = Unknown, hint
	return r
}

// sweepTakes is how long a --sweep needs, for a hint to raise --timeout.
func sweepTakes(o Options) string {
	if o.Sweep {
		return " (--sweep takes about a minute)"
	}
	return ""
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func classifyDial(ctx context.Context, addr string, err error) error {
	var dnsErr *net.DNSError
	switch {
	case ctx.Err() != nil:
		return connErr(cutReason(ctx), addr, err)
	case isTimeout(err):
		return connErr(Timeout, addr, err)
	case errors.Is(err, syscall.ECONNREFUSED):
		return connErr(Refused, addr, err)
	case errors.As(err, &dnsErr), errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return connErr(Unreachable, addr, err)
	}
	return connErr(Unreachable, addr, err)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func token() string {
	b := make([]byte, 8)
	rand.Read(b)
	return hex.EncodeToString(b)
}
