package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/pfwdctl/pfwdctl/internal/fail"
	"github.com/pfwdctl/pfwdctl/internal/hostfs"
	"github.com/pfwdctl/pfwdctl/render"
	"github.com/pfwdctl/pfwdctl/users"
	"github.com/pfwdctl/pfwdctl/verify"
)

func init() { commands = append(commands, newVerifyCmd) }

type verifyOpts struct {
	host, user, key     string
	port                int
	targets             []string
	knownHosts, hostKey string
	insecure, strict    bool
	timeout             time.Duration
	sockets             []string
	self                bool
}

func newVerifyCmd(g *Globals) *cobra.Command {
	o := &verifyOpts{}
	c := &cobra.Command{
		Use:   "verify",
		Short: "Prove the forward-only account from outside, as an SSH client",
		Long: `verify logs in as the account once, with its key, and tries every way out of
the box at the same time over that one connection: a shell, a command, sftp
and a terminal; forwards to anything but the targets (the server's own SSH
port, another port, the target under another name); remote and Unix-socket
forwards, agent, X11 and tun; and whether the server offers passwords. It
also checks that each target can be reached. It never changes the server.

Exit codes: 0 every check passed (warnings allowed unless --strict),
1 a check failed, 2 usage, 3 could not connect or authenticate (the reason
is one of: refused, timeout, host key mismatch, host key unknown, auth
failed, unreachable, handshake failed).

The key is --key FILE (an encrypted key asks for its passphrase on a
terminal, or reads PFWDCTL_KEY_PASSPHRASE), or else the ssh-agent at
SSH_AUTH_SOCK. The host key must be known: ~/.ssh/known_hosts or
--known-hosts FILE, a pinned --host-key SHA256:..., or for throwaway test
VMs only --insecure-ignore-host-key.`,
		Example: `  # from your laptop, with the friend's key
  pfwdctl verify --host gw.example.org --key ~/.ssh/pfwd_key
  # in CI against a test VM, machine-readable
  pfwdctl verify --host 10.0.0.5 --key id_ci --host-key SHA256:abc... --json
  # on the server, as root, with a throwaway key (no friend needed)
  pfwdctl verify --self`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error { return verifyRun(c, g, o) },
	}
	f := c.Flags()
	f.StringVar(&o.host, "host", "", "the server to verify (`HOST` name or address)")
	f.IntVar(&o.port, "port", 22, "the server's SSH `PORT`")
	f.StringVar(&o.user, "user", render.DefaultUser, "the forward-only `account`")
	f.StringVar(&o.key, "key", "", "the account's private key `FILE` (default: the keys of the ssh-agent at SSH_AUTH_SOCK)")
	f.StringArrayVar(&o.targets, "target", nil, "a `host:port` the account must reach (repeatable; default "+render.DefaultTarget+")")
	f.StringVar(&o.knownHosts, "known-hosts", "", "trust the host keys in `FILE` (default ~/.ssh/known_hosts)")
	f.StringVar(&o.hostKey, "host-key", "", "trust only the host key with this `SHA256:...` fingerprint")
	f.BoolVar(&o.insecure, "insecure-ignore-host-key", false, "accept any host key (throwaway test VMs only)")
	f.DurationVar(&o.timeout, "timeout", verify.DefaultTimeout, "bound the whole run, connection included")
	f.BoolVar(&o.strict, "strict", false, "treat warnings (a target permitted but not answering) as failures")
	f.StringArrayVar(&o.sockets, "socket", nil, "a Unix socket `PATH` on the server to try direct-streamlocal with (repeatable; default: dbus, journald, /dev/log)")
	f.BoolVar(&o.self, "self", false, "as root on the server: install a throwaway key for the account for a few minutes, verify over the local sshd, remove the key")
	return c
}

func verifyRun(c *cobra.Command, g *Globals, o *verifyOpts) error {
	if o.self {
		return verifySelfRun(c, g, o)
	}
	if o.host == "" {
		return usageErr("pass --host HOST (or --self on the server itself)", "no server to verify")
	}
	vo, closeAuth, err := o.options(g, true)
	if err != nil {
		return err
	}
	defer closeAuth()
	if len(vo.Auth) == 0 {
		return usageErr("pass --key FILE, or run an ssh-agent (SSH_AUTH_SOCK) holding the key", "no key to log in with")
	}
	rep, err := verify.Run(c.Context(), vo)
	return reportVerify(g, rep, err, o.strict, "")
}

// options turns the flags into verify.Options (without the host).
func (o *verifyOpts) options(g *Globals, auth bool) (verify.Options, func(), error) {
	vo := verify.Options{Host: o.host, Port: o.port, User: o.user, Timeout: o.timeout, Sockets: o.sockets,
		HostKey: verify.HostKeyPolicy{KnownHosts: o.knownHosts, Fingerprint: o.hostKey, Insecure: o.insecure}}
	closer := func() {}
	if err := render.ValidateUser(o.user); err != nil {
		return vo, closer, err
	}
	if o.port < 1 || o.port > 65535 {
		return vo, closer, usageErr("pass a port from 1 to 65535", "invalid --port %d", o.port)
	}
	if o.timeout <= 0 {
		return vo, closer, usageErr("pass a positive duration such as 10s", "invalid --timeout %s", o.timeout)
	}
	if len(o.targets) > 0 {
		ts, err := render.ParseTargets(o.targets)
		if err != nil {
			return vo, closer, err
		}
		vo.Targets = ts
	}
	switch {
	case !auth:
	case o.key != "":
		s, err := verify.KeyFile(o.key, passphraseFunc(g))
		if err != nil {
			return vo, closer, err
		}
		vo.Auth = []ssh.AuthMethod{ssh.PublicKeys(s)}
	case g.Getenv("SSH_AUTH_SOCK") != "":
		m, cl, err := verify.Agent(g.Getenv("SSH_AUTH_SOCK"))
		if err != nil {
			return vo, closer, err
		}
		vo.Auth, closer = []ssh.AuthMethod{m}, func() { cl.Close() }
	}
	return vo, closer, nil
}

// verifyJSON is verify's --json document; on exit 3 only the error part.
type verifyJSON struct {
	*verify.Report
	ExitCode int    `json:"exit_code"`
	Error    string `json:"error,omitempty"`
	Reason   string `json:"reason,omitempty"`
	Hint     string `json:"hint,omitempty"`
}

// reportVerify prints a verify run (text or JSON) and returns the error
// that gives the exit code. note, when set, is printed above the table.
func reportVerify(g *Globals, rep *verify.Report, runErr error, strict bool, note string) error {
	err := runErr
	if err == nil {
		if bad := rep.Failed(); len(bad) > 0 {
			err = fail.New(fail.Failed, "each failed check above says what to fix; run pfwdctl audit on the server to see the layers",
				"%d of %d checks failed: %s", len(bad), len(rep.Checks), strings.Join(bad, ", "))
		} else if warn := rep.Counts().Warn; warn > 0 && strict {
			err = fail.New(fail.Failed, "see the warnings above", "%d checks warned and --strict is set", warn)
		}
	}
	if g.JSON {
		j := verifyJSON{Report: rep, ExitCode: fail.Code(err)}
		if runErr != nil {
			j.Error, j.Hint = runErr.Error(), fail.HintOf(runErr)
			var ce *verify.ConnectError
			if errors.As(runErr, &ce) {
				j.Reason = string(ce.Reason)
			}
		}
		if perr := g.PrintJSON(j); perr != nil {
			return perr
		}
		return err
	}
	if note != "" {
		g.Printf("%s\n", note)
	}
	if rep != nil {
		printReport(g.IO.Out, g, rep)
	}
	return err
}

// printReport is the table: one line per check with ✓ ✗ !, its detail,
// and under a failure or warning the hint.
func printReport(w io.Writer, g *Globals, rep *verify.Report) {
	st := g.Styles()
	hk := rep.HostKey
	if hk == "" {
		hk = "unknown"
	}
	fmt.Fprintf(w, "%s %s@%s  %s\n", st.Bold("verify"), rep.User, hostPort(rep.Host, rep.Port), st.Dim("host key "+hk))
	width := 0
	for _, c := range rep.Checks {
		width = max(width, len(c.Name))
	}
	indent := strings.Repeat(" ", 4+width+2+durWidth+2)
	for _, c := range rep.Checks {
		var mark string
		switch c.Status {
		case verify.Pass:
			mark = st.OK("✓")
		case verify.Fail:
			mark = st.Fail("✗")
		default:
			mark = st.Warn("!")
		}
		fmt.Fprintf(w, "  %s %-*s  %s  %s\n", mark, width, c.Name, st.Dim(fmt.Sprintf("%*s", durWidth, fmtDuration(c.Duration))), c.Detail)
		if c.Status != verify.Pass && c.Hint != "" {
			fmt.Fprintf(w, "%s%s\n", indent, st.Dim("→ "+c.Hint))
		}
	}
	n := rep.Counts()
	pass, failed, warn := n.Pass, n.Fail, n.Warn
	summary := fmt.Sprintf("%d checks: %d passed, %d failed, %d warnings", len(rep.Checks), pass, failed, warn)
	switch {
	case failed > 0:
		summary = st.Fail(summary)
	case warn > 0:
		summary = st.Warn(summary)
	default:
		summary = st.OK(summary)
	}
	fmt.Fprintf(w, "%s %s\n", summary, st.Dim("in "+fmtDuration(rep.Duration)))
}

// durWidth fits "999.9ms".
const durWidth = 7

func hostPort(h string, p int) string {
	if strings.Contains(h, ":") {
		return fmt.Sprintf("[%s]:%d", h, p)
	}
	return fmt.Sprintf("%s:%d", h, p)
}

func fmtDuration(d time.Duration) string {
	switch {
	case d >= time.Second:
		return d.Round(10 * time.Millisecond).String()
	case d >= time.Millisecond:
		return d.Round(100 * time.Microsecond).String()
	}
	return d.Round(time.Microsecond).String()
}

// SelfKeyLifetime is how long the --self key would stay valid if pfwdctl
// were killed before it could remove it: sshd refuses it after that
// (expiry-time).
const SelfKeyLifetime = 5 * time.Minute

// verifySelfRun is --self: a throwaway key, installed with the standard
// prefix and an expiry-time, verify over the local sshd, and the key
// removed whatever happens (error, failed check, Ctrl-C, SIGTERM, SIGHUP).
func verifySelfRun(c *cobra.Command, g *Globals, o *verifyOpts) error {
	root := g.Root()
	if root.IsHost() && g.euid() != 0 {
		return fail.New(fail.Usage, "run it as root on the server: sudo pfwdctl verify --self", "--self installs a key for the account and needs root")
	}
	if o.key != "" {
		return usageErr("drop --key: --self makes its own throwaway key", "--self and --key exclude each other")
	}
	if o.host == "" {
		o.host = "127.0.0.1"
	}
	// SIGHUP (the admin's terminal closing) must also reach the cleanup;
	// Main already turns SIGINT and SIGTERM into a cancelled context.
	ctx, stop := signal.NotifyContext(c.Context(), syscall.SIGHUP)
	defer stop()

	vo, _, err := o.options(g, false)
	if err != nil {
		return err
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		return err
	}
	h := users.Host{Root: root, Runner: g.Runner, Getenv: g.Getenv, Now: g.Now}
	expiry := g.Now().Add(SelfKeyLifetime)
	name := "pfwdctl-verify-self-" + g.Now().UTC().Format("20060102T150405Z")
	added, err := h.AddKey(ctx, users.AddKeyRequest{User: o.user, Key: users.FromSigner(signer, name), Targets: o.targets, Expiry: expiry})
	if added.Changed {
		// Not ctx: it may be the cancelled one.
		defer func() {
			if rerr := removeSelfKey(h, o.user, added.Fingerprint); rerr != nil {
				fmt.Fprintf(g.IO.Err, "pfwdctl: error: the throwaway key %s is still installed for %s: %v\n", added.Fingerprint, o.user, rerr)
				fmt.Fprintf(g.IO.Err, "pfwdctl: hint: remove it with: pfwdctl revoke --user %s %s (sshd refuses it after %s anyway)\n",
					o.user, added.Fingerprint, expiry.Local().Format("15:04:05"))
			}
		}()
	}
	if err != nil {
		return err
	}
	vo.Auth = []ssh.AuthMethod{ssh.PublicKeys(signer)}
	if vo.Targets, err = render.ParseTargets(added.Targets); err != nil {
		return err
	}
	if !o.insecure && o.hostKey == "" && o.knownHosts == "" {
		// The server's own public host keys: nothing to trust on first use.
		kh, cleanup, err := localKnownHosts(root, o.host, o.port)
		if err != nil {
			return err
		}
		defer cleanup()
		vo.HostKey.KnownHosts = kh
	}
	rep, runErr := verify.Run(ctx, vo)
	note := fmt.Sprintf("%s throwaway key %s installed for %s (expiry-time %s), removed after the run\n",
		g.Styles().Bold("self:"), added.Fingerprint, o.user, expiry.Local().Format("2006-01-02 15:04"))
	if ctx.Err() != nil && c.Context().Err() == nil {
		runErr = fail.New(fail.Unavailable, "", "interrupted (SIGHUP)")
	}
	return reportVerify(g, rep, runErr, o.strict, note)
}

func removeSelfKey(h users.Host, user, fp string) error {
	ctx, cancel := context.WithTimeout(context.Background(), hostfs.LockWait)
	defer cancel()
	_, err := h.Revoke(ctx, users.RevokeRequest{User: user, Key: fp})
	return err
}

// localKnownHosts writes the server's own host keys (/etc/ssh/
// ssh_host_*_key.pub under --root) into a temp known_hosts for host:port.
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
