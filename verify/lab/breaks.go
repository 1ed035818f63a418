package lab

import (
	"context"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/pfwdctl/pfwdctl/internal/fail"
	"github.com/pfwdctl/pfwdctl/internal/run"
	"github.com/pfwdctl/pfwdctl/internal/sshd"
	"github.com/pfwdctl/pfwdctl/internal/target"
	"github.com/pfwdctl/pfwdctl/render"
	"github.com/pfwdctl/pfwdctl/verify"
)

// forwardDropIn is the rendered drop-in with the account's Match block.
const forwardDropIn = "20-pfwd-only.conf"

// Break is one known misconfiguration a lab can start with (pfwdctl lab
// --break). Several combine: a break in one layer alone is usually held by
// the other, which is the point.
type Break struct {
	Name  string
	What  string
	apply func(o *Options, user string)
}

func edit(o *Options, e func([]render.File) []render.File) { o.Edit = Chain(o.Edit, e) }

var breaks = []Break{
	{"no-forcecommand", "ForceCommand removed from the Match block (the account's nologin shell, if it has one, is the last layer)",
		func(o *Options, _ string) { edit(o, WithoutLine(forwardDropIn, "ForceCommand")) }},
	{"internal-sftp", "Subsystem sftp internal-sftp, which runs inside sshd without the account's shell (caught together with no-forcecommand)",
		func(o *Options, _ string) { o.Sftp = "internal-sftp" }},
	{"permittty", "PermitTTY yes in the Match block (the key's restrict still refuses a pty)",
		func(o *Options, _ string) { edit(o, ReplaceLine(forwardDropIn, "PermitTTY", "PermitTTY yes")) }},
	{"permitopen-any", "PermitOpen any in the Match block (the key's permitopen still holds)",
		func(o *Options, _ string) { edit(o, ReplaceLine(forwardDropIn, "PermitOpen", "PermitOpen any")) }},
	{"allowtcpforwarding-yes", "AllowTcpForwarding yes in the Match block: remote forwards (ssh -R), which the key's port-forwarding allows",
		func(o *Options, _ string) {
			edit(o, ReplaceLine(forwardDropIn, "AllowTcpForwarding", "AllowTcpForwarding yes"))
		}},
	{"agent-forwarding", "AllowAgentForwarding yes in both drop-ins (the key's restrict still refuses)",
		func(o *Options, _ string) {
			edit(o, ReplaceLine("", "AllowAgentForwarding", "AllowAgentForwarding yes"))
		}},
	{"x11-forwarding", "X11Forwarding yes in both drop-ins (the key's restrict still refuses)",
		func(o *Options, _ string) { edit(o, ReplaceLine("", "X11Forwarding", "X11Forwarding yes")) }},
	{"password-auth", "PasswordAuthentication and KbdInteractiveAuthentication yes, AuthenticationMethods removed",
		func(o *Options, _ string) {
			edit(o, Chain(
				ReplaceLine("", "PasswordAuthentication", "PasswordAuthentication yes"),
				ReplaceLine("", "KbdInteractiveAuthentication", "KbdInteractiveAuthentication yes"),
				WithoutLine("", "AuthenticationMethods")))
		}},
	{"no-match-block", "20-pfwd-only.conf missing: the baseline's AllowTcpForwarding no then stops the tunnel itself",
		func(o *Options, _ string) { edit(o, Without(forwardDropIn)) }},
	{"early-dropin", "a 05-early.conf with its own Match block for the account (PermitOpen any, AllowTcpForwarding yes): the first matching block wins",
		func(o *Options, user string) {
			edit(o, func(fs []render.File) []render.File {
				return append(fs, render.File{Name: "05-early.conf", Data: []byte("Match User " + user + "\n    PermitOpen any\n    AllowTcpForwarding yes\nMatch all\n")})
			})
		}},
	{"key-bare", "the key installed without any prefix (the Match block still holds)",
		func(o *Options, _ string) { o.BareKey = true }},
	{"key-no-permitopen", "the key installed with restrict,port-forwarding but no permitopen",
		func(o *Options, _ string) { o.KeyOptions = "restrict,port-forwarding" }},
}

// Breaks are the misconfigurations a lab can start with, by name.
func Breaks() []Break {
	out := slices.Clone(breaks)
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func breakNames() []string {
	var names []string
	for _, b := range Breaks() {
		names = append(names, b.Name)
	}
	return names
}

// Session is pfwdctl lab: an echo service as the target and a lab sshd
// restricting DefaultUser, started with the named breaks.
type Session struct {
	Server *Server
	Echo   *Echo
	// Breaks says what each break applied does, in name order.
	Breaks []string
}

// Open starts a Session with the sshd binary sshdBin (empty: the one in
// PATH). An unknown break name is a usage error, before anything starts.
// Close it when done.
func Open(ctx context.Context, sshdBin string, names []string) (*Session, error) {
	return OpenWith(ctx, sshdBin, names, nil)
}

// OpenWith is Open with a last edit of the lab's Options (SelfRoot), made
// after the breaks.
func OpenWith(ctx context.Context, sshdBin string, names []string, edit func(*Options)) (*Session, error) {
	names = slices.Compact(slices.Sorted(slices.Values(names)))
	var chosen []Break
	for _, n := range names {
		i := slices.IndexFunc(breaks, func(b Break) bool { return b.Name == n })
		if i < 0 {
			return nil, fail.New(fail.Usage, "pick one of: "+strings.Join(breakNames(), ", "), "unknown --break %q", n)
		}
		chosen = append(chosen, breaks[i])
	}
	// The lab installs its drop-ins as apply would for this sshd: through
	// an Include, or as managed blocks in its sshd_config (Options.Mode);
	// an sshd pfwdctl cannot prove anything with is refused as apply does.
	if sshdBin != "" {
		if caps, err := (sshd.Binary{Bin: sshdBin, Runner: run.Exec{}}).Probe(ctx); err == nil && caps.Unsupported() != "" {
			return nil, fail.New(fail.Failed, "run the lab with OpenSSH "+sshd.Oldest.String()+" or later (docs/compatibility.md)", "the lab cannot run with %s: %s", sshdBin, caps.Unsupported())
		}
	}
	user, err := DefaultUser()
	if err != nil {
		return nil, err
	}
	echo, err := ListenEcho()
	if err != nil {
		return nil, err
	}
	o := Options{Sshd: sshdBin, User: user, Targets: []target.Target{echo.Target}}
	ss := &Session{Echo: echo}
	for _, b := range chosen {
		b.apply(&o, user)
		ss.Breaks = append(ss.Breaks, b.Name+": "+b.What)
	}
	if edit != nil {
		edit(&o)
	}
	if ss.Server, err = Start(ctx, o); err != nil {
		echo.Close()
		return nil, err
	}
	return ss, nil
}

// Verify runs verify against the session's sshd, bounded by timeout.
func (ss *Session) Verify(ctx context.Context, timeout time.Duration) (*verify.Report, error) {
	vo := ss.Server.VerifyOptions()
	vo.Timeout = timeout
	return verify.Run(ctx, vo)
}

// Close stops the sshd and the echo service and removes the lab's files.
func (ss *Session) Close() error {
	err := ss.Server.Close()
	ss.Echo.Close()
	return err
}
