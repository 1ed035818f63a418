package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/pfwdctl/pfwdctl/internal/fail"
	"github.com/pfwdctl/pfwdctl/internal/sshd"
	"github.com/pfwdctl/pfwdctl/internal/ui"
	"github.com/pfwdctl/pfwdctl/render"
	"github.com/pfwdctl/pfwdctl/verify"
	"github.com/pfwdctl/pfwdctl/verify/fleet"
	"github.com/pfwdctl/pfwdctl/verify/self"
)

type verifyOpts struct {
	host, user, key     string
	cert                string
	port                int
	targets             []string
	knownHosts, hostKey string
	insecure, strict    bool
	acceptNew           bool
	timeout             time.Duration
	sockets             []string
	self                bool
	certificate         bool
	sweep               bool
	// --inventory (verify_fleet.go prints it)
	inventory string
	parallel  int
}

// The library calls verify makes, one per path; tests replace them to see
// what each path was handed.
var (
	verifyHost      = verify.RunSettings
	verifySelf      = self.Run
	verifyInventory = fleet.VerifyInventory
)

// sweepTimeout bounds a --sweep run when --timeout is not given.
const sweepTimeout = 2 * time.Minute

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
  pfwdctl verify --self
  # every host of an inventory, up to 256 at a time; exit 1 if any fails, 3 if any is unreachable
  pfwdctl verify --inventory hosts.txt --key ~/.ssh/pfwd_verify`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error { return verifyRun(c, g, o) },
	}
	f := c.Flags()
	f.StringVar(&o.host, "host", "", "the server to verify (`HOST` name or address)")
	f.IntVar(&o.port, "port", 0, "the server's SSH `PORT` (default 22; with --self, the port the local sshd listens on, from sshd -T)")
	f.StringVar(&o.user, "user", render.DefaultUser, "the forward-only `account`")
	f.StringVar(&o.key, "key", "", "the account's private key `FILE` (default: the keys of the ssh-agent at SSH_AUTH_SOCK)")
	f.StringVar(&o.cert, "cert", "", "log in with the certificate `FILE` (KEY-cert.pub from pfwdctl ca sign) for --key, as ssh -o CertificateFile does")
	f.StringArrayVar(&o.targets, "target", nil, "a `host:port` the account must reach (repeatable; default "+render.DefaultTarget+")")
	f.StringVar(&o.knownHosts, "known-hosts", "", "trust the host keys in `FILE` (default ~/.ssh/known_hosts)")
	f.StringVar(&o.hostKey, "host-key", "", "trust only the host key with this `SHA256:...` fingerprint")
	f.BoolVar(&o.insecure, "insecure-ignore-host-key", false, "accept any host key (throwaway test VMs only)")
	f.BoolVar(&o.acceptNew, "accept-new", false, "record the host key of a host known_hosts does not list yet, then trust it (like ssh -o StrictHostKeyChecking=accept-new); a changed key is still refused")
	f.DurationVar(&o.timeout, "timeout", verify.DefaultTimeout, "bound the whole run, connection included")
	f.BoolVar(&o.strict, "strict", false, "treat warnings (a target permitted but not answering) as failures")
	f.StringArrayVar(&o.sockets, "socket", nil, "a Unix socket `PATH` on the server to try direct-streamlocal with (repeatable; default: dbus, journald, /dev/log)")
	f.BoolVar(&o.sweep, "sweep", false, "try a forward to every TCP port 1-65535 of each target host (and its other spelling), not samples: any second permitted port is found; slower, and sshd logs each refusal (see docs/verify.md)")
	f.BoolVar(&o.self, "self", false, "as root on the server: install a throwaway key for the account for a few minutes, verify over the local sshd, remove the key")
	f.BoolVar(&o.certificate, "certificate", false, "with --self: prove the certificate path (apply --ca) instead of the key path: the throwaway key logs in with a certificate from a throwaway CA trusted for the run (the real CA key stays off the server)")
	f.StringVar(&o.inventory, "inventory", "", "verify every host listed in `FILE` (host[:port] [user=] [key=] [host-key=] per line, or an Ansible INI inventory)")
	f.IntVar(&o.parallel, "parallel", fleet.DefaultParallel, "with --inventory: verify at most `N` hosts at once")
	return c
}

// settings is the flags as verify.Settings: the same for one host, --self
// and --inventory (whose lines override them per host).
func (o *verifyOpts) settings(g *Globals) verify.Settings {
	return verify.Settings{
		Host: o.host, Port: o.port, User: o.user, Targets: o.targets,
		Key: o.key, Cert: o.cert, AgentSock: g.Getenv("SSH_AUTH_SOCK"), Passphrase: passphraseFunc(g),
		KnownHosts: o.knownHosts, HostKey: o.hostKey, Insecure: o.insecure, AcceptNew: o.acceptNew,
		Timeout: o.timeout, Sockets: o.sockets, Sweep: o.sweep,
	}
}

func verifyRun(c *cobra.Command, g *Globals, o *verifyOpts) error {
	if o.sweep && !c.Flags().Changed("timeout") {
		// 131,070 forwards take seconds, not the default's few.
		o.timeout = sweepTimeout
	}
	switch {
	case c.Flags().Changed("port") && o.port == 0:
		// 0 is the flag's "not given" (22, or sshd -T's port for --self).
		return usageErr("pass a port from 1 to 65535", "invalid --port 0")
	case o.inventory != "":
		if o.self {
			return usageErr("list the hosts in the inventory file, or drop --inventory", "--self and --inventory exclude each other")
		}
		return fleetRun(c, g, o)
	case c.Flags().Changed("parallel"):
		return usageErr("add --inventory FILE", "--parallel only applies with --inventory")
	case o.certificate && !o.self:
		return usageErr("add --self (on the server, as root), or give --key KEY --cert KEY-cert.pub", "--certificate only applies with --self")
	case o.self:
		return verifySelfAll(c, g, o)
	}
	rep, err := verifyHost(c.Context(), o.settings(g))
	return reportVerify(g, rep, err, o.strict, "")
}

// verifyJSON is verify's --json document; on exit 3 only the error part.
type verifyJSON struct {
	*verify.Report
	ExitCode int    `json:"exit_code"`
	Error    string `json:"error,omitempty"`
	Reason   string `json:"reason,omitempty"`
	Hint     string `json:"hint,omitempty"`
}

// reportVerify prints a verify run from another machine (text or JSON)
// and returns the error that gives the exit code. note, when set, is
// printed above the table.
func reportVerify(g *Globals, rep *verify.Report, runErr error, strict bool, note string) error {
	return reportVerifyOn(g, rep, runErr, strict, note, false)
}

// reportVerifyOn is reportVerify; onServer says the run was made on the
// server itself (--self), where pfwdctl audit runs as it is.
func reportVerifyOn(g *Globals, rep *verify.Report, runErr error, strict bool, note string, onServer bool) error {
	err := runErr
	if err == nil {
		audit := "run pfwdctl audit on the server to see the layers"
		if onServer {
			audit = "run pfwdctl audit to see the layers"
		}
		if bad := rep.Failed(); len(bad) > 0 {
			err = fail.New(fail.Failed, "each failed check above says what to fix; "+audit,
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
	fmt.Fprintf(w, "%s %s@%s  %s\n", st.Bold("verify"), ui.Escape(rep.User), ui.Escape(hostPort(rep.Host, rep.Port)), st.Dim("host key "+ui.Escape(hk)))
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
		case verify.Unknown:
			// Not finished: neither a pass nor a finding.
			mark = st.Warn("?")
		default:
			mark = st.Warn("!")
		}
		fmt.Fprintf(w, "  %s %-*s  %s  %s\n", mark, width, c.Name, st.Dim(fmt.Sprintf("%*s", durWidth, fmtDuration(c.Duration))), ui.Escape(c.Detail))
		if c.Status != verify.Pass && c.Hint != "" {
			fmt.Fprintf(w, "%s%s\n", indent, st.Dim("→ "+ui.Escape(c.Hint)))
		}
	}
	n := rep.Counts()
	pass, failed, warn := n.Pass, n.Fail, n.Warn
	summary := fmt.Sprintf("%d checks: %d passed, %d failed, %d warnings", len(rep.Checks), pass, failed, warn)
	if n.Unknown > 0 {
		summary += fmt.Sprintf(", %d not finished", n.Unknown)
	}
	switch {
	case failed > 0:
		summary = st.Fail(summary)
	case warn > 0 || n.Unknown > 0:
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

// verifySelfAll runs --self for the account --user names, or for every
// forward account installed (each with its own throwaway key and its own
// targets). With --json and several accounts the output is an array of
// the one-account documents.
func verifySelfAll(c *cobra.Command, g *Globals, o *verifyOpts) error {
	names, err := forwardAccounts(c, g, o.user, sshd.DefaultConfig)
	if err != nil {
		return err
	}
	if len(names) == 1 {
		o.user = names[0]
		return verifySelfRun(c, g, o)
	}
	if len(o.targets) > 0 {
		return usageErr("add --user NAME to say whose targets these are", "this host has %d forward accounts (%s); --target needs --user", len(names), strings.Join(names, ", "))
	}
	var docs []json.RawMessage
	var first error
	out := g.IO.Out
	for i, name := range names {
		one := *o
		one.user = name
		var buf bytes.Buffer
		if g.JSON {
			g.IO.Out = &buf
		} else if i > 0 {
			g.Printf("\n")
		}
		err := verifySelfRun(c, g, &one)
		g.IO.Out = out
		if g.JSON && buf.Len() > 0 {
			docs = append(docs, json.RawMessage(bytes.TrimSpace(buf.Bytes())))
		}
		if err != nil && (first == nil || fail.Code(err) > fail.Code(first)) {
			first = err
		}
	}
	if g.JSON {
		if err := g.PrintJSON(docs); err != nil {
			return err
		}
	}
	return first
}

// verifySelfRun is --self (verify/self): a throwaway key, verify over the
// local sshd, the key removed whatever happens.
func verifySelfRun(c *cobra.Command, g *Globals, o *verifyOpts) error {
	res, runErr := verifySelf(c.Context(), self.Options{Settings: o.settings(g), Root: g.Root(), Runner: g.Runner, Getenv: g.Getenv, Now: g.Now, Certificate: o.certificate})
	// A throwaway key (or CA) left installed is a failure of the run
	// whatever the checks said: the exit code must not be 0.
	withLeftover := func(err error) error {
		if res.Leftover == nil {
			return err
		}
		if err == nil {
			return res.Leftover
		}
		fmt.Fprintf(g.IO.Err, "pfwdctl: error: %s\n", ui.EscapeText(res.Leftover.Error()))
		fmt.Fprintf(g.IO.Err, "pfwdctl: hint: %s\n", ui.EscapeText(fail.HintOf(res.Leftover)))
		return err
	}
	if !res.Installed && res.Report == nil {
		return withLeftover(reportVerifyOn(g, nil, runErr, o.strict, "", true))
	}
	removed := "removed after the run"
	if res.Leftover != nil {
		removed = "NOT removed (see the error below)"
	}
	what := "throwaway key"
	if res.Hardware {
		// The account takes FIDO keys only: the proof used a software
		// authenticator that claims a touch and a PIN (internal/sk).
		what = "throwaway software FIDO key (touch and PIN claimed by pfwdctl, no token)"
	}
	note := fmt.Sprintf("%s %s %s installed for %s (expiry-time %s), %s\n",
		g.Styles().Bold("self:"), what, res.Fingerprint, res.User, res.Expiry.Local().Format("2006-01-02 15:04"), removed)
	if res.CA != "" {
		note = fmt.Sprintf("%s throwaway CA %s trusted for %s next to its own, %s; it signed a certificate (key id %s, valid until %s) for the %s %s\n",
			g.Styles().Bold("self:"), res.CA, res.User, removed, self.CertKeyID, res.Expiry.Local().Format("2006-01-02 15:04"), what, res.Fingerprint)
	}
	return withLeftover(reportVerifyOn(g, res.Report, runErr, o.strict, note, true))
}
