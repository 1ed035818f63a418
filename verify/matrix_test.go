package verify_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/pfwdctl/pfwdctl/internal/accounts"
	"github.com/pfwdctl/pfwdctl/internal/target"
	"github.com/pfwdctl/pfwdctl/internal/testenv"
	"github.com/pfwdctl/pfwdctl/render"
	"github.com/pfwdctl/pfwdctl/users/keyline"
	"github.com/pfwdctl/pfwdctl/verify"
	"github.com/pfwdctl/pfwdctl/verify/lab"
	"github.com/pfwdctl/pfwdctl/verify/lab/labtest"
)

const (
	forward = "20-pfwd-only.conf"
	harden  = "10-hardening.conf"
)

var (
	shellAcctOnce sync.Once
	shellAcct     string
)

// shellAccount is, as root, a throwaway account with a real shell (created
// with useradd, removed with userdel -r when the package's tests end), so
// the matrix can show what ForceCommand alone stops. Unprivileged, the lab
// restricts the running user, whose shell is usually real already.
func shellAccount(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		return ""
	}
	useradd := testenv.Require(t, "useradd", "passwd")
	shellAcctOnce.Do(func() {
		b := make([]byte, 3)
		rand.Read(b)
		name := "pft" + hex.EncodeToString(b)
		if out, err := exec.Command(useradd, "-m", "-s", "/bin/sh", name).CombinedOutput(); err != nil {
			t.Fatalf("useradd: %v: %s", err, out)
		}
		// useradd leaves "!" (locked), which sshd refuses with UsePAM no
		// even for keys; "*" is no password at all, as for the real pfwd.
		if out, err := exec.Command("usermod", "-p", "*", name).CombinedOutput(); err != nil {
			exec.Command("userdel", "-r", name).Run()
			t.Fatalf("usermod: %v: %s", err, out)
		}
		shellAcct = name
		cleanups = append(cleanups, func() { exec.Command("userdel", "-r", name).Run() })
	})
	if shellAcct == "" {
		t.Fatal("no shell account")
	}
	return shellAcct
}

var cleanups []func()

func TestMain(m *testing.M) {
	code := m.Run()
	for _, c := range cleanups {
		c()
	}
	os.Exit(code)
}

// TestBrokenConfigMatrix removes each restriction in turn (in the drop-in,
// in the key prefix, and in both) and checks that exactly the expected
// checks fail: where one layer still holds, nothing may fail.
func TestBrokenConfigMatrix(t *testing.T) {
	t.Parallel()
	acct := shellAccount(t)
	_, xauth := exec.LookPath("xauth")
	hasXauth := xauth == nil
	noPermitOpen := "restrict,port-forwarding"
	early := func(user string) func([]render.File) []render.File {
		return func(fs []render.File) []render.File {
			return append(fs, render.File{Name: "05-early.conf", Data: []byte("Match User " + user + "\n    PermitOpen any\n    AllowTcpForwarding yes\nMatch all\n")})
		}
	}
	type row struct {
		name string
		o    lab.Options
		// edit changes the drop-ins with what only the running row
		// knows: the account, the targets, a free port.
		edit func(x rowEnv) func([]render.File) []render.File
		// keyOptions, when set, is the key's prefix (lab.Options.KeyOptions).
		keyOptions func(x rowEnv) string
		// verify sets verify's options (Sweep, Listens, Timeout).
		verify func(x rowEnv, vo *verify.Options)
		// targets is how many targets (echo services) the account has; 0: one.
		targets int
		// want: checks that must fail; wantIfShell: also when the
		// account's login shell is a real one.
		want, wantIfShell []string
	}
	rows := []row{
		{name: "good"},
		{name: "key-bare", o: lab.Options{BareKey: true}},
		{name: "key-no-permitopen", o: lab.Options{KeyOptions: noPermitOpen}},
		{name: "dropin-no-forcecommand", o: lab.Options{Edit: lab.WithoutLine(forward, "ForceCommand")},
			wantIfShell: []string{verify.CheckShell}},
		{name: "dropin-no-forcecommand+key-bare", o: lab.Options{BareKey: true, Edit: lab.WithoutLine(forward, "ForceCommand")},
			wantIfShell: []string{verify.CheckShell}},
		{name: "dropin-no-forcecommand+internal-sftp", o: lab.Options{Sftp: "internal-sftp", Edit: lab.WithoutLine(forward, "ForceCommand")},
			want: []string{verify.CheckShell}},
		{name: "dropin-permittty", o: lab.Options{Edit: lab.ReplaceLine(forward, "PermitTTY", "PermitTTY yes")}},
		{name: "dropin-permittty+key-bare", o: lab.Options{BareKey: true, Edit: lab.ReplaceLine(forward, "PermitTTY", "PermitTTY yes")},
			want: []string{verify.CheckShell}},
		{name: "dropin-permitopen-any", o: lab.Options{Edit: lab.ReplaceLine(forward, "PermitOpen", "PermitOpen any")}},
		{name: "dropin-permitopen-any+key-no-permitopen", o: lab.Options{KeyOptions: noPermitOpen, Edit: lab.ReplaceLine(forward, "PermitOpen", "PermitOpen any")},
			want: []string{verify.CheckOtherPorts}},
		{name: "dropin-permitopen-any+key-bare", o: lab.Options{BareKey: true, Edit: lab.ReplaceLine(forward, "PermitOpen", "PermitOpen any")},
			want: []string{verify.CheckOtherPorts}},
		// The key's port-forwarding allows -R too: only the drop-in stops it.
		{name: "dropin-allowtcpforwarding-yes", o: lab.Options{Edit: lab.ReplaceLine(forward, "AllowTcpForwarding", "AllowTcpForwarding yes")},
			want: []string{verify.CheckRemote}},
		{name: "dropin-agent-yes", o: lab.Options{Edit: lab.Chain(lab.ReplaceLine("", "AllowAgentForwarding", "AllowAgentForwarding yes"))}},
		{name: "dropin-agent-yes+key-bare", o: lab.Options{BareKey: true, Edit: lab.ReplaceLine("", "AllowAgentForwarding", "AllowAgentForwarding yes")},
			want: []string{verify.CheckAgent}},
		{name: "dropin-x11-yes+key-bare", o: lab.Options{BareKey: true, Edit: lab.ReplaceLine("", "X11Forwarding", "X11Forwarding yes")},
			want: when(hasXauth, verify.CheckX11)},
		{name: "dropin-streamlocal-yes", o: lab.Options{Edit: lab.ReplaceLine("", "AllowStreamLocalForwarding", "AllowStreamLocalForwarding yes")}},
		// sshd also checks Unix socket forwards against PermitOpen (connect)
		// and AllowTcpForwarding's remote half (listen): both still hold.
		{name: "dropin-streamlocal-yes+key-bare", o: lab.Options{BareKey: true, Edit: lab.ReplaceLine("", "AllowStreamLocalForwarding", "AllowStreamLocalForwarding yes")}},
		{name: "dropin-streamlocal-yes+permitopen-any+key-bare", o: lab.Options{BareKey: true, Edit: lab.Chain(
			lab.ReplaceLine("", "AllowStreamLocalForwarding", "AllowStreamLocalForwarding yes"),
			lab.ReplaceLine(forward, "PermitOpen", "PermitOpen any"))},
			want: []string{verify.CheckStreamLocal, verify.CheckOtherPorts}},
		{name: "dropin-password-yes", o: lab.Options{Edit: lab.Chain(
			lab.ReplaceLine("", "PasswordAuthentication", "PasswordAuthentication yes"),
			lab.WithoutLine("", "AuthenticationMethods"))},
			want: []string{verify.CheckPassword}},
		// Every method but publickey is reported, not only passwords.
		{name: "hostbased-offered", o: lab.Options{Global: []string{"HostbasedAuthentication yes"}, Edit: lab.WithoutLine("", "AuthenticationMethods")},
			want: []string{verify.CheckPassword}},
		// Our Match block without its global baseline still holds.
		{name: "no-hardening-dropin", o: lab.Options{Edit: lab.Without(harden)}},
		// Without the Match block, the baseline's AllowTcpForwarding no
		// stops the tunnel itself.
		{name: "no-forward-dropin", o: lab.Options{Edit: lab.Without(forward)},
			want: []string{verify.CheckTunnel}, wantIfShell: []string{verify.CheckShell}},
		// An earlier drop-in's Match block wins over ours (first match wins).
		{name: "early-dropin-match+key-bare", o: lab.Options{BareKey: true}, edit: func(x rowEnv) func([]render.File) []render.File { return early(x.user) },
			want: []string{verify.CheckOtherPorts, verify.CheckRemote}},
		// The session limit refuses concurrent probes: a refused channel
		// proves nothing, so the probes must reach the shell anyway.
		{name: "maxsessions-1+no-forcecommand", o: lab.Options{Global: []string{"MaxSessions 1"}, Edit: lab.WithoutLine(forward, "ForceCommand")},
			wantIfShell: []string{verify.CheckShell}},
		{name: "maxsessions-2+no-forcecommand", o: lab.Options{Global: []string{"MaxSessions 2"}, Edit: lab.WithoutLine(forward, "ForceCommand")},
			wantIfShell: []string{verify.CheckShell}},
		{name: "maxsessions-1+agent-yes+key-bare", o: lab.Options{BareKey: true, Global: []string{"MaxSessions 1"}, Edit: lab.ReplaceLine("", "AllowAgentForwarding", "AllowAgentForwarding yes")},
			want: []string{verify.CheckAgent}},
		// A shell that takes 3.5 s to start (slow PAM session, motd, NFS
		// home) outlasts any fixed settle time: silence is not a pass.
		{name: "slow-shell", o: lab.Options{Edit: lab.ReplaceLine(forward, "ForceCommand", "ForceCommand sleep 3.5; exec /bin/sh")},
			wantIfShell: []string{verify.CheckShell}},
		// Correct variants that must pass.
		{name: "good-maxsessions-0", o: lab.Options{Global: []string{"MaxSessions 0"}}},
		{name: "good-maxsessions-0+no-forcecommand", o: lab.Options{Global: []string{"MaxSessions 0"}, Edit: lab.WithoutLine(forward, "ForceCommand")}},
		{name: "good-forcecommand-false", o: lab.Options{Edit: lab.ReplaceLine(forward, "ForceCommand", "ForceCommand /bin/false")}},
		{name: "no-dropins+key-bare", o: lab.Options{BareKey: true, DropIns: []render.File{}},
			want: []string{verify.CheckShell, verify.CheckOtherPorts, verify.CheckRemote, verify.CheckAgent, verify.CheckStreamLocal, verify.CheckPassword}},

		// Issue 13's second matrix: each a way out verify must catch.
		//
		// PermitListen names ports verify cannot guess: only the listen
		// sweep (every port 1024-65535 under ssh -R's default spelling,
		// localhost, and 127.0.0.1) finds them. A bare port allows
		// every spelling; 127.0.0.1:PORT only the request spelled so.
		{name: "permitlisten-port+allowtcpforwarding-yes+sweep",
			edit: func(x rowEnv) func([]render.File) []render.File {
				return allowListen(fmt.Sprint(x.port))
			}, verify: sweep,
			want: []string{verify.CheckRemote}},
		{name: "permitlisten-127.0.0.1-port+allowtcpforwarding-yes+sweep",
			edit: func(x rowEnv) func([]render.File) []render.File {
				return allowListen(fmt.Sprintf("127.0.0.1:%d", x.port))
			}, verify: sweep,
			want: []string{verify.CheckRemote}},
		// PermitOpen's port copied into PermitListen: while the service
		// runs sshd cannot bind 127.0.0.1 there, but it binds ::1, and
		// the account owns the port whenever the service is down. Found
		// without --sweep: the target's port is always asked for.
		{name: "permitlisten-target-port+allowtcpforwarding-yes",
			edit: func(x rowEnv) func([]render.File) []render.File {
				return allowListen(fmt.Sprint(x.targets[0].Port))
			},
			want: when(hasIPv6Loopback(), verify.CheckRemote)},
		// --self passes the account's effective PermitListen (read with
		// sshd -T): the same break is found without a sweep. It once
		// passed the port as 127.0.0.1, which "localhost:PORT" does not
		// match: every listen is now also asked for under each spelling.
		{name: "permitlisten-localhost-port+allowtcpforwarding-yes+self-listens",
			edit: func(x rowEnv) func([]render.File) []render.File {
				return allowListen(fmt.Sprintf("localhost:%d", x.port))
			},
			verify: func(x rowEnv, vo *verify.Options) {
				vo.ListensFrom = func() []verify.Destination {
					return []verify.Destination{{Host: "127.0.0.1", Port: x.port, Why: "named by PermitListen"}}
				}
			},
			want: []string{verify.CheckRemote}},
		// Unix socket listens with remote TCP forwards on: the key's
		// port-forwarding allows both, so only sshd's two keywords stop them.
		{name: "streamlocal-yes+allowtcpforwarding-yes", o: lab.Options{Edit: lab.Chain(
			lab.ReplaceLine("", "AllowStreamLocalForwarding", "AllowStreamLocalForwarding yes"),
			lab.ReplaceLine(forward, "AllowTcpForwarding", "AllowTcpForwarding yes"))},
			want: []string{verify.CheckStreamLocal, verify.CheckRemote}},
		// ForceCommand that runs what the client asked for: a wrapper
		// that is a shell for exec.
		{name: "forcecommand-original-command", o: lab.Options{Edit: lab.ReplaceLine(forward, "ForceCommand", `ForceCommand eval "$SSH_ORIGINAL_COMMAND"`)},
			wantIfShell: []string{verify.CheckShell}},
		// Found by an adversarial run, each once passed 9/9: a wrapper
		// that runs the command without a shell (quotes stay, so an
		// echo canary split by "" never showed); one that prints 70 KB
		// before running it (output past 64 KiB was not read); one that
		// runs it with its output sent elsewhere and exits 0 (an
		// accepted, silent, ended session was taken as proof).
		{name: "forcecommand-exec-original-command", o: lab.Options{Sftp: "none", Edit: lab.ReplaceLine(forward, "ForceCommand", `ForceCommand exec $SSH_ORIGINAL_COMMAND`)},
			wantIfShell: []string{verify.CheckShell}},
		{name: "forcecommand-long-banner-then-shell", o: lab.Options{Sftp: "none", Edit: lab.ReplaceLine(forward, "ForceCommand",
			`ForceCommand head -c 70000 /dev/zero | tr '\\0' '#'; echo; exec /bin/sh -c "${SSH_ORIGINAL_COMMAND:-exec /bin/sh}"`)},
			wantIfShell: []string{verify.CheckShell}},
		{name: "forcecommand-silent-exit-0", o: lab.Options{Sftp: "none", Edit: lab.ReplaceLine(forward, "ForceCommand",
			`ForceCommand /bin/sh -c "${SSH_ORIGINAL_COMMAND:-cat}" >/dev/null 2>&1; exit 0`)},
			wantIfShell: []string{verify.CheckShell}},
		// PermitOpen with wildcards, and the key without its permitopen.
		{name: "permitopen-wildcard-port+key-no-permitopen", o: lab.Options{KeyOptions: noPermitOpen},
			edit: func(x rowEnv) func([]render.File) []render.File {
				return lab.ReplaceLine(forward, "PermitOpen", "PermitOpen "+x.targets[0].Host+":*")
			},
			want: []string{verify.CheckOtherPorts}},
		{name: "permitopen-wildcard-host+key-no-permitopen", o: lab.Options{KeyOptions: noPermitOpen},
			edit: func(x rowEnv) func([]render.File) []render.File {
				return lab.ReplaceLine(forward, "PermitOpen", fmt.Sprintf("PermitOpen *:%d", x.targets[0].Port))
			},
			want: []string{verify.CheckOtherPorts}},
		// A second permitted port elsewhere on the target host: not
		// among the samples, found by the sweep.
		{name: "permitopen-second-port+key-no-permitopen+sweep", o: lab.Options{KeyOptions: noPermitOpen},
			edit: func(x rowEnv) func([]render.File) []render.File {
				return lab.ReplaceLine(forward, "PermitOpen", fmt.Sprintf("PermitOpen %s 127.0.0.1:%d", x.targets[0], x.port))
			}, verify: sweep,
			want: []string{verify.CheckOtherPorts}},
		// The target under its other name too (permitopen does no name
		// lookup, so localhost:PORT is a second, unmeant destination).
		{name: "permitopen-other-spelling+key-no-permitopen", o: lab.Options{KeyOptions: noPermitOpen},
			edit: func(x rowEnv) func([]render.File) []render.File {
				return lab.ReplaceLine(forward, "PermitOpen", fmt.Sprintf("PermitOpen %s localhost:%d", x.targets[0], x.targets[0].Port))
			},
			want: []string{verify.CheckOtherPorts}},
		// A key command is no ForceCommand: sshd runs it through the
		// login shell, and a shell command is a shell.
		{name: "key-command-sh+no-forcecommand", o: lab.Options{Edit: lab.WithoutLine(forward, "ForceCommand")},
			keyOptions:  func(x rowEnv) string { return standard(x) + `,command="/bin/sh"` },
			wantIfShell: []string{verify.CheckShell}},
		// ForceCommand itself runs a shell.
		{name: "forcecommand-sh", o: lab.Options{Edit: lab.ReplaceLine(forward, "ForceCommand", "ForceCommand /bin/sh")},
			wantIfShell: []string{verify.CheckShell}},
		// internal-sftp runs inside sshd: no login shell stops it.
		{name: "forcecommand-internal-sftp", o: lab.Options{Edit: lab.ReplaceLine(forward, "ForceCommand", "ForceCommand internal-sftp")},
			want: []string{verify.CheckShell}},
		// The key's pty option and PermitTTY yes: a terminal, whatever
		// the command.
		{name: "permittty-yes+key-pty+no-forcecommand", o: lab.Options{Edit: lab.Chain(
			lab.ReplaceLine(forward, "PermitTTY", "PermitTTY yes"), lab.WithoutLine(forward, "ForceCommand"))},
			keyOptions: func(x rowEnv) string { return standard(x) + ",pty" },
			want:       []string{verify.CheckShell}},
		// Agent and X11 allowed by the key after restrict, and by sshd.
		{name: "key-agent-forwarding+agent-yes", o: lab.Options{Edit: lab.ReplaceLine("", "AllowAgentForwarding", "AllowAgentForwarding yes")},
			keyOptions: func(x rowEnv) string { return standard(x) + ",agent-forwarding" },
			want:       []string{verify.CheckAgent}},
		{name: "key-x11-forwarding+x11-yes", o: lab.Options{Edit: lab.ReplaceLine("", "X11Forwarding", "X11Forwarding yes")},
			keyOptions: func(x rowEnv) string { return standard(x) + ",X11-forwarding" },
			want:       when(hasXauth, verify.CheckX11)},
		// Ways in that are not the key: each offered method is reported.
		{name: "kbdinteractive-yes+pam", o: lab.Options{UsePAM: os.Geteuid() == 0, Edit: lab.Chain(
			lab.ReplaceLine("", "KbdInteractiveAuthentication", "KbdInteractiveAuthentication yes"),
			lab.WithoutLine("", "ChallengeResponseAuthentication"),
			lab.WithoutLine("", "AuthenticationMethods"))},
			want: []string{verify.CheckPassword}},
		{name: "gssapi-yes", o: lab.Options{Global: []string{"GSSAPIAuthentication yes"}, Edit: lab.WithoutLine("", "AuthenticationMethods")},
			want: []string{verify.CheckPassword}},
		// An earlier Match block of another kind that applies to
		// loopback connections wins keyword by keyword (first value).
		{name: "early-match-address+allowtcpforwarding-yes",
			edit: func(rowEnv) func([]render.File) []render.File {
				return earlyBlock("Match Address 127.0.0.0/8", "PermitOpen any", "AllowTcpForwarding yes")
			},
			want: []string{verify.CheckRemote}},
		{name: "early-match-localaddress+permitopen-any+key-no-permitopen", o: lab.Options{KeyOptions: noPermitOpen},
			edit: func(rowEnv) func([]render.File) []render.File {
				return earlyBlock("Match LocalAddress 127.0.0.1", "PermitOpen any", "AllowTcpForwarding yes")
			},
			want: []string{verify.CheckOtherPorts, verify.CheckRemote}},
		// Its PermitTTY yes beats our block's PermitTTY no: with the
		// key's pty, a terminal, ForceCommand or not.
		{name: "early-match-host+permittty-yes+key-pty",
			edit: func(rowEnv) func([]render.File) []render.File {
				return earlyBlock("Match Host 127.0.0.1", "PermitTTY yes")
			},
			keyOptions: func(x rowEnv) string { return standard(x) + ",pty" },
			want:       []string{verify.CheckShell}},
		// The session limit combined with other breaks.
		{name: "maxsessions-1+forcecommand-internal-sftp", o: lab.Options{Global: []string{"MaxSessions 1"}, Edit: lab.ReplaceLine(forward, "ForceCommand", "ForceCommand internal-sftp")},
			want: []string{verify.CheckShell}},
		{name: "maxsessions-1+key-x11-forwarding+x11-yes", o: lab.Options{Global: []string{"MaxSessions 1"}, Edit: lab.ReplaceLine("", "X11Forwarding", "X11Forwarding yes")},
			keyOptions: func(x rowEnv) string { return standard(x) + ",X11-forwarding" },
			want:       when(hasXauth, verify.CheckX11)},
		{name: "maxsessions-1+slow-shell", o: lab.Options{Global: []string{"MaxSessions 1"}, Edit: lab.ReplaceLine(forward, "ForceCommand", "ForceCommand sleep 3.5; exec /bin/sh")},
			wantIfShell: []string{verify.CheckShell}},
		// Correct variants of the second matrix that must pass.
		{name: "good-two-targets", targets: 2},
		{name: "good-two-targets+sweep", targets: 2, verify: sweep},
		// A second PermitOpen inside our block loses: first value wins
		// (sshd_config(5)), and so does a second AllowTcpForwarding.
		{name: "good-shadowed-permitopen-any", o: lab.Options{BareKey: true, Edit: lab.Chain(
			appendAfter(forward, "PermitOpen", "PermitOpen any"),
			appendAfter(forward, "AllowTcpForwarding", "AllowTcpForwarding yes"))}},
		// A block for other addresses does not apply to loopback.
		{name: "good-early-match-other-address", o: lab.Options{BareKey: true},
			edit: func(rowEnv) func([]render.File) []render.File {
				return earlyBlock("Match Address 192.0.2.0/24", "PermitOpen any", "AllowTcpForwarding yes")
			}},
		// A key command with the nologin ForceCommand in place: the
		// ForceCommand wins over the key's command.
		{name: "good-key-command-sh", keyOptions: func(x rowEnv) string { return standard(x) + `,command="/bin/sh"` }},
	}
	broken := 0
	for _, r := range rows {
		if !strings.HasPrefix(r.name, "good") {
			broken++
		}
	}
	// Ten from the first matrix, twelve more from issue 13's.
	if broken < 22 {
		t.Fatalf("the matrix needs at least 22 broken configurations, has %d", broken)
	}
	for _, r := range rows {
		t.Run(r.name, func(t *testing.T) {
			t.Parallel()
			o := r.o
			o.User = acct
			x := rowEnv{user: acct, port: freePort(t)}
			if x.user == "" {
				x.user, _ = lab.DefaultUser()
			}
			for range max(r.targets, 1) {
				x.targets = append(x.targets, labtest.Echo(t).Target)
			}
			o.Targets = x.targets
			if r.edit != nil {
				o.Edit = lab.Chain(o.Edit, r.edit(x))
			}
			if r.keyOptions != nil {
				o.KeyOptions = r.keyOptions(x)
			}
			s, vo := against(t, o)
			if r.verify != nil {
				r.verify(x, &vo)
			}
			rep, err := verify.Run(context.Background(), vo)
			if err != nil {
				t.Fatal(err)
			}
			want := slices.Clone(r.want)
			if !accounts.NoLoginShell(s.Shell()) {
				want = append(want, r.wantIfShell...)
			}
			var got []string
			for _, c := range rep.Checks {
				if c.Status == verify.Fail {
					got = append(got, c.Name)
				}
				if c.Status != verify.Pass {
					t.Logf("%s: %s: %s", c.Name, c.Status, c.Detail)
				}
			}
			slices.Sort(got)
			slices.Sort(want)
			want = slices.Compact(want)
			if strings.Join(got, ",") != strings.Join(want, ",") {
				t.Errorf("failed checks %v, want %v (account %s, shell %s)", got, want, s.User, s.Shell())
			}
		})
	}
}

// rowEnv is what a matrix row's edits may need from the running row.
type rowEnv struct {
	user    string
	targets []target.Target
	// port is free on 127.0.0.1 when the row starts: for a PermitListen
	// or a second PermitOpen that verify cannot guess.
	port int
}

// standard is the key prefix add-key writes for the row's targets.
func standard(x rowEnv) string {
	var ts []string
	for _, t := range x.targets {
		ts = append(ts, t.String())
	}
	pub, _ := ssh.NewPublicKey(ed25519.PublicKey(make([]byte, ed25519.PublicKeySize)))
	line, err := keyline.Build(keyline.FromPublicKey(pub, "x"), keyline.Options{Targets: ts})
	if err != nil {
		panic(err)
	}
	l, err := keyline.SplitLine(line)
	if err != nil {
		panic(err)
	}
	return l.Options
}

// sweep turns on --sweep, with the time a sweep needs when the whole
// matrix shares two cores.
func sweep(_ rowEnv, vo *verify.Options) {
	vo.Sweep = true
	vo.Timeout = 5 * time.Minute
}

// allowListen turns on remote forwards in our Match block and limits them
// with PermitListen to listen.
func allowListen(listen string) func([]render.File) []render.File {
	return lab.ReplaceLine(forward, "AllowTcpForwarding", "AllowTcpForwarding yes\n    PermitListen "+listen)
}

// earlyBlock is a drop-in that sorts before ours with one Match block.
func earlyBlock(match string, lines ...string) func([]render.File) []render.File {
	return func(fs []render.File) []render.File {
		data := match + "\n"
		for _, l := range lines {
			data += "    " + l + "\n"
		}
		return append(fs, render.File{Name: "05-early.conf", Data: []byte(data + "Match all\n")})
	}
}

// appendAfter adds line after each line of file whose keyword is keyword,
// with the same indentation: in a Match block, a shadowed second value.
func appendAfter(file, keyword, line string) func([]render.File) []render.File {
	return func(fs []render.File) []render.File {
		for i, f := range fs {
			if f.Name != file && !(file == forward && strings.HasPrefix(f.Name, "20-")) {
				continue
			}
			var out []string
			for _, l := range strings.SplitAfter(string(f.Data), "\n") {
				out = append(out, l)
				trimmed := strings.TrimLeft(l, " \t")
				kw, _, _ := strings.Cut(trimmed, " ")
				if l != "" && strings.EqualFold(kw, keyword) {
					out = append(out, l[:len(l)-len(trimmed)]+line+"\n")
				}
			}
			fs[i].Data = []byte(strings.Join(out, ""))
		}
		return fs
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// hasIPv6Loopback: ::1 can be bound (not in every container).
func hasIPv6Loopback() bool {
	l, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		return false
	}
	l.Close()
	return true
}

func when(cond bool, names ...string) []string {
	if cond {
		return names
	}
	return nil
}
