package verify_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/pfwdctl/pfwdctl/internal/accounts"
	"github.com/pfwdctl/pfwdctl/internal/testenv"
	"github.com/pfwdctl/pfwdctl/render"
	"github.com/pfwdctl/pfwdctl/verify"
	"github.com/pfwdctl/pfwdctl/verify/lab"
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
		// user edits that need the account name
		edit func(user string) func([]render.File) []render.File
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
		{name: "early-dropin-match+key-bare", o: lab.Options{BareKey: true}, edit: early,
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
	}
	broken := 0
	for _, r := range rows {
		if len(r.want)+len(r.wantIfShell) > 0 || r.name != "good" {
			broken++
		}
	}
	if broken < 10 {
		t.Fatalf("the matrix needs at least ten broken configurations, has %d", broken)
	}
	for _, r := range rows {
		t.Run(r.name, func(t *testing.T) {
			t.Parallel()
			o := r.o
			o.User = acct
			user := acct
			if user == "" {
				user, _ = lab.DefaultUser()
			}
			if r.edit != nil {
				o.Edit = lab.Chain(o.Edit, r.edit(user))
			}
			s, vo := against(t, o)
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

func when(cond bool, names ...string) []string {
	if cond {
		return names
	}
	return nil
}
