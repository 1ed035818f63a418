// Package self is verify --self: as root on the server, prove the
// forward-only account without the friend's key. It installs a throwaway
// key for the account (with the standard restrictions and an expiry-time a
// few minutes ahead), runs verify over the local sshd, and removes the key
// whatever happens: error, failed check, cancelled context, SIGHUP.
//
// It is the one place outside users that changes an account's keys on its
// own, and it must never leave the key behind without saying so (Result.
// Leftover), nor trust a host key it did not read from the server's own
// /etc/ssh. Both the verify command and the wizard's Prove step call it.
package self

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/pfwdctl/pfwdctl/internal/auditlog"
	"github.com/pfwdctl/pfwdctl/internal/ca"
	"github.com/pfwdctl/pfwdctl/internal/fail"
	"github.com/pfwdctl/pfwdctl/internal/hostfs"
	"github.com/pfwdctl/pfwdctl/internal/run"
	"github.com/pfwdctl/pfwdctl/internal/sk"
	"github.com/pfwdctl/pfwdctl/internal/sshd"
	"github.com/pfwdctl/pfwdctl/internal/target"
	"github.com/pfwdctl/pfwdctl/users"
	"github.com/pfwdctl/pfwdctl/verify"
)

// KeyLifetime is how long the throwaway key would stay valid if pfwdctl
// were killed before it could remove it: sshd refuses it after that
// (expiry-time).
const KeyLifetime = 5 * time.Minute

// DefaultHost is where the local sshd is reached.
const DefaultHost = "127.0.0.1"

// Options are one --self run.
type Options struct {
	// Settings are verify's, as for any host (Settings.Options). Host
	// empty: DefaultHost. Key must be empty and AgentSock is ignored: the
	// throwaway key is the only one used. Without a host key policy the
	// server's own /etc/ssh/ssh_host_*_key.pub (under Root) are trusted.
	Settings verify.Settings
	Root     hostfs.Root
	Runner   run.Runner
	Getenv   func(string) string
	Now      func() time.Time // nil: time.Now
	// Certificate proves the certificate path (apply --ca) instead of
	// the key path: the throwaway key logs in with a certificate that a
	// throwaway CA, trusted for the run next to the real one, signs
	// (ca.TrustThrowaway). The CA private key never has to be on the
	// server for the proof.
	Certificate bool
}

// Result is what --self did besides verify's report.
type Result struct {
	Report *verify.Report
	User   string
	// Fingerprint and Expiry are the throwaway key's; Installed says
	// whether it was installed at all.
	Fingerprint string
	Expiry      time.Time
	Installed   bool
	// CA is the throwaway CA's fingerprint with Options.Certificate (the
	// key then logs in with a certificate it signed, valid until Expiry).
	CA string
	// Hardware is set when the account takes hardware-backed keys only
	// and the throwaway key was a software FIDO one (internal/sk).
	Hardware bool
	// Leftover is set when the key could not be removed afterwards; its
	// hint says how to remove it by hand (sshd refuses it after Expiry).
	Leftover error
}

// Run is verify --self. The error is verify's (or why it could not run);
// a key that could not be removed is Result.Leftover, reported on its own.
func Run(parent context.Context, o Options) (res Result, err error) {
	now := o.Now
	if now == nil {
		now = time.Now
	}
	s := o.Settings
	res.User = s.User
	if o.Root.IsHost() && hostfs.Euid() != 0 {
		return res, fail.New(fail.Usage, "run it as root on the server: sudo pfwdctl verify --self", "--self installs a key for the account and needs root")
	}
	if s.Key != "" {
		return res, fail.New(fail.Usage, "drop --key: --self makes its own throwaway key", "--self and --key exclude each other")
	}
	s.AgentSock = ""
	if s.Host == "" {
		s.Host = DefaultHost
	}
	// SIGHUP (the admin's terminal closing) must also reach the cleanup;
	// the command already turns SIGINT and SIGTERM into a cancelled parent.
	// Not under nohup: Notify would undo the ignoring the admin asked for.
	ctx, stop := context.WithCancel(parent)
	if !signal.Ignored(syscall.SIGHUP) {
		ctx, stop = signal.NotifyContext(parent, syscall.SIGHUP)
	}
	defer stop()

	auto := s.Port == 0
	vo, _, err := s.Options()
	if err != nil {
		return res, err
	}
	if auto {
		// Where the local sshd really listens (sshd -T), not port 22 by
		// assumption: a host on 2222 would otherwise fail with "refused".
		host, port, err := localListener(ctx, o)
		if err != nil {
			return res, err
		}
		s.Port, vo.Port = port, port
		if s.Host == DefaultHost {
			s.Host, vo.Host = host, host
		}
	}
	h := users.Host{Root: o.Root, Runner: o.Runner, Getenv: o.Getenv, Now: now}
	signer, hw, err := throwawaySigner(h, s.User)
	if err != nil {
		return res, err
	}
	res.Hardware = hw
	// The targets add-key will write (the installed Match block's, or
	// --target), known before it runs: verify needs them up front.
	targets, err := h.ResolveTargets(s.User, s.Targets)
	if err != nil {
		return res, err
	}
	if vo.Targets, err = target.ParseList(targets); err != nil {
		return res, err
	}
	// --self must take no longer than one ssh login, so what does not
	// depend on the key overlaps its installation (add-key runs sshd -T
	// and reads the file back): PermitListen (an sshd -T of its own) is
	// read meanwhile, and verify connects meanwhile too (TCP, sshd's
	// re-exec, key exchange); only its public key login waits for the key,
	// and only remote-forward-refused for PermitListen.
	type addResult struct {
		fingerprint string
		installed   bool
		remove      func() error
		hint        string // how to remove it by hand
		err         error
	}
	addDone := make(chan addResult, 1)
	res.Expiry = now().Add(KeyLifetime)
	name := "pfwdctl-verify-self-" + now().UTC().Format("20060102T150405Z")
	var login ssh.Signer = signer
	if o.Certificate {
		var caFP string
		if login, caFP, err = throwawayCert(signer, s.User, now(), res.Expiry); err != nil {
			return res, err
		}
		res.CA = caFP
	}
	go func() {
		if o.Certificate {
			undo, err := ca.TrustThrowaway(o.Root, auditlog.Log{Root: o.Root, Now: now, Getenv: o.Getenv}, s.User, login.PublicKey().(*ssh.Certificate).SignatureKey)
			addDone <- addResult{fingerprint: ssh.FingerprintSHA256(signer.PublicKey()), installed: undo != nil, remove: undo, err: err,
				hint: "remove the line ending in " + ca.ThrowawayComment + " from " + ca.TrustedCAPath(s.User) + ", or run pfwdctl apply, which rewrites the file with the account's CA alone (its certificate expires at " + res.Expiry.Local().Format("15:04:05") + " anyway)"}
			return
		}
		added, err := h.AddKey(ctx, users.AddKeyRequest{User: s.User, Key: users.FromSigner(signer, name), Targets: targets, Expiry: res.Expiry})
		addDone <- addResult{fingerprint: added.Fingerprint, installed: added.Changed, err: err,
			remove: func() error { return removeKey(h, s.User, added.Fingerprint) },
			hint:   "remove it with: pfwdctl revoke --user " + s.User + " " + added.Fingerprint + " (sshd refuses it after " + res.Expiry.Local().Format("15:04:05") + " anyway)"}
	}()
	var add *addResult
	waitAdd := func() *addResult {
		if add == nil {
			a := <-addDone
			add = &a
			// The channel is read once; the login's callback and the
			// end of Run both come here.
		}
		return add
	}
	var addMu sync.Mutex
	installed := func() ([]ssh.Signer, error) {
		addMu.Lock()
		defer addMu.Unlock()
		if a := waitAdd(); a.err != nil {
			return nil, a.err
		}
		return []ssh.Signer{login}, nil
	}
	defer func() {
		addMu.Lock()
		a := waitAdd()
		addMu.Unlock()
		res.Fingerprint = a.fingerprint
		if !a.installed {
			return
		}
		res.Installed = true
		// Not ctx: it may be the cancelled one.
		if rerr := a.remove(); rerr != nil {
			what := "the throwaway key " + a.fingerprint + " is still installed"
			if o.Certificate {
				what = "the throwaway CA " + res.CA + " may still be trusted"
			}
			res.Leftover = fail.Wrap(fail.Failed, rerr, a.hint, "%s for %s", what, s.User)
		}
	}()
	listens := make(chan []verify.Destination, 1)
	go func() { listens <- permitListens(ctx, o, s.User) }()
	vo.Auth = []ssh.AuthMethod{ssh.PublicKeysCallback(installed)}
	// The complete local proof: every listener on this host, not samples.
	vo.Destinations = Listeners("/proc/net", vo.Targets)
	if s.Sockets == nil {
		if socks := UnixListeners("/proc/net"); len(socks) > 0 {
			vo.Sockets = socks
		}
	}
	if !s.Insecure && s.HostKey == "" && s.KnownHosts == "" {
		// The server's own public host keys: nothing to trust on first use.
		kh, cleanup, err := localKnownHosts(o.Root, s.Host, s.Port)
		if err != nil {
			return res, err
		}
		defer cleanup()
		vo.HostKey.KnownHosts = kh
		vo.HostKey.KnownHostsFrom = o.Root.Path("/etc/ssh/ssh_host_*_key.pub")
	}
	if vo.ListenDir == "" {
		// The streamlocal-forward probe asks sshd to listen on a socket; a
		// server that permits it creates the file, and does not remove it
		// when the forward is cancelled. Here the server is this machine:
		// give the probe a directory of its own, as open as /tmp (sticky,
		// world-writable, so the account may create the socket and the
		// check stays honest), and remove it with whatever sshd left.
		dir, err := os.MkdirTemp("", "pfwdctl-verify-")
		if err != nil {
			return res, err
		}
		defer os.RemoveAll(dir)
		if err := os.Chmod(dir, 0o1777); err != nil {
			return res, err
		}
		vo.ListenDir = dir
	}
	vo.ListensFrom = sync.OnceValue(func() []verify.Destination { return <-listens })
	res.Report, err = verify.Run(ctx, vo)
	addMu.Lock()
	a := waitAdd()
	addMu.Unlock()
	if a.err != nil {
		// Nothing was proven: the key could not be installed.
		res.Report = nil
		return res, a.err
	}
	if ctx.Err() != nil && parent.Err() == nil {
		err = fail.New(fail.Unavailable, "", "interrupted (SIGHUP)")
	}
	var ce *verify.ConnectError
	var fe *fail.Error
	if errors.As(err, &ce) && ce.Reason == verify.AuthFailed && errors.As(err, &fe) {
		// There is no --key to check here: sshd refused the key --self
		// installed itself, so the account's own setup is why.
		what := "the throwaway key pfwdctl installed for " + s.User + ": run pfwdctl audit (it shows whether sshd reads the account's keys file: AuthorizedKeysFile, StrictModes, AuthenticationMethods, a locked account)"
		if o.Certificate {
			what = "the certificate from the throwaway CA pfwdctl trusted for " + s.User + ": run pfwdctl audit (it shows TrustedUserCAKeys, AuthorizedPrincipalsFile and the principals the account accepts)"
		}
		fe.Hint = "sshd refused " + what + ", and read sshd's log: " + sshd.HostService(o.Root).Log
	}
	return res, err
}

// throwawaySigner is the key --self logs in with: an Ed25519 key, or, for
// an account that takes hardware-backed keys only (apply
// --hardware-keys-only), a software FIDO authenticator (internal/sk) that
// signs with the touch and PIN bits set, so the proof needs no token. Like
// the Ed25519 key it lives in memory for one run; it proves what sshd
// accepts, never that a person touched anything.
func throwawaySigner(h users.Host, user string) (ssh.Signer, bool, error) {
	pol, err := h.HardwareKeys(user)
	if err != nil {
		return nil, false, err
	}
	if pol != nil {
		a, err := sk.New(sk.Application, sk.UserPresence|sk.UserVerification)
		return a, true, err
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, false, err
	}
	signer, err := ssh.NewSignerFromKey(priv)
	return signer, false, err
}

func removeKey(h users.Host, user, fp string) error {
	ctx, cancel := context.WithTimeout(context.Background(), hostfs.LockWait)
	defer cancel()
	_, err := h.Revoke(ctx, users.RevokeRequest{User: user, Key: fp})
	return err
}

// localKnownHosts writes the server's own host keys (/etc/ssh/
// ssh_host_*_key.pub under root) into a temp known_hosts for host:port.
func localKnownHosts(root hostfs.Root, host string, port int) (string, func(), error) {
	pubs, _ := filepath.Glob(root.Path("/etc/ssh/ssh_host_*_key.pub"))
	var b strings.Builder
	addr := knownhosts.Normalize(net.JoinHostPort(host, strconv.Itoa(port)))
	for _, p := range pubs {
		data, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		if k, _, _, _, err := ssh.ParseAuthorizedKey(data); err == nil {
			b.WriteString(knownhosts.Line([]string{addr}, k) + "\n")
		}
	}
	if b.Len() == 0 {
		return "", func() {}, fail.New(fail.Usage, "pin the key with --host-key SHA256:... (ssh-keygen -lf the host key)",
			"no readable host key in %s", root.Path("/etc/ssh"))
	}
	f, err := os.CreateTemp("", "pfwdctl-self-known_hosts-")
	if err != nil {
		return "", func() {}, err
	}
	defer f.Close()
	if _, err := f.WriteString(b.String()); err != nil {
		os.Remove(f.Name())
		return "", func() {}, err
	}
	return f.Name(), func() { os.Remove(f.Name()) }, nil
}

// ListenAddr is one address the local sshd listens on, from sshd -T.
type ListenAddr struct {
	Listen string // as sshd -T names it: "0.0.0.0:2222", "[::]:22", "192.0.2.1:22"
	Dial   string // host:port this machine dials to reach it (a wildcard becomes loopback)
	Port   int
	// Loopback: reachable only from this machine (127.0.0.0/8, ::1).
	Loopback bool
}

// ListenAddrs are every address the local sshd listens on (sshd -T's
// ListenAddress, which names each Port on each address), in sshd's order.
// The wizard and --self ask them instead of assuming port 22.
func ListenAddrs(ctx context.Context, b sshd.Binary) ([]ListenAddr, error) {
	eff, err := b.Effective(ctx, "")
	if err != nil {
		return nil, fail.Wrap(fail.Unavailable, err, "pass --port PORT", "find the port the local sshd listens on")
	}
	var out []ListenAddr
	for _, l := range eff["listenaddress"] {
		a, err := sshd.ProbeAddr(l)
		if err != nil {
			continue
		}
		h, p, _ := net.SplitHostPort(a)
		port, err := strconv.Atoi(p)
		if err != nil {
			continue
		}
		listen := strings.Fields(l)[0]
		lh, _, _ := net.SplitHostPort(listen)
		ip := net.ParseIP(lh)
		out = append(out, ListenAddr{Listen: listen, Dial: net.JoinHostPort(h, p), Port: port, Loopback: ip != nil && ip.IsLoopback()})
	}
	if len(out) == 0 {
		return nil, fail.New(fail.Unavailable, "pass --port PORT", "sshd -T names no ListenAddress")
	}
	return out, nil
}

// PickListen is the address --self logs in on: loopback preferred (a
// wildcard's loopback counts), else the first.
func PickListen(ls []ListenAddr) ListenAddr {
	for _, l := range ls {
		if h, _, _ := net.SplitHostPort(l.Dial); h == "127.0.0.1" {
			return l
		}
	}
	return ls[0]
}

// localListener is the address --self dials (PickListen of ListenAddrs).
func localListener(ctx context.Context, o Options) (string, int, error) {
	ls, err := ListenAddrs(ctx, sshd.Binary{Root: o.Root, Runner: o.Runner})
	if err != nil {
		return "", 0, err
	}
	l := PickListen(ls)
	h, _, _ := net.SplitHostPort(l.Dial)
	return h, l.Port, nil
}

// permitListens are the remote-forward listens the account's effective
// PermitListen names by number: asking for port 0 alone would pass a
// server that refuses "any port" but listens on the ports it lists.
func permitListens(ctx context.Context, o Options, user string) []verify.Destination {
	eff, err := sshd.Binary{Root: o.Root, Runner: o.Runner}.Effective(ctx, sshd.ConnSpec(user))
	if err != nil {
		return nil
	}
	var out []verify.Destination
	for _, line := range eff["permitlisten"] {
		for _, v := range strings.Fields(line) {
			host, port, err := net.SplitHostPort(v)
			if err != nil {
				host, port = "", v
			}
			n, err := strconv.Atoi(port)
			if err != nil || n <= 0 || n > 65535 {
				continue // any, none, or port "*" (port 0 covers it)
			}
			// As written: sshd matches the host sent against it as a
			// pattern, and verify also asks under every other spelling.
			if host == "" || host == "*" {
				host = "localhost"
			}
			out = append(out, verify.Destination{Host: host, Port: n, Why: "named by PermitListen"})
		}
	}
	return out
}
