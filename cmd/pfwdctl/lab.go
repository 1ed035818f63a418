package main

import (
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/crypto/ssh"

	"github.com/pfwdctl/pfwdctl/internal/target"
	"github.com/pfwdctl/pfwdctl/render"
	"github.com/pfwdctl/pfwdctl/verify"
	"github.com/pfwdctl/pfwdctl/verify/lab"
)

func init() { commands = append(commands, newLabCmd) }

const (
	labForward = "20-pfwd-only.conf"
)

// labBreak is one known misconfiguration the lab can start with.
type labBreak struct {
	what  string
	apply func(o *lab.Options, user string)
}

func editWith(o *lab.Options, e func([]render.File) []render.File) {
	o.Edit = lab.Chain(o.Edit, e)
}

// labBreaks are the misconfigurations of --break. Several combine: a break
// in one layer alone is usually held by the other, which is the point.
var labBreaks = map[string]labBreak{
	"no-forcecommand": {"ForceCommand removed from the Match block (the account's nologin shell, if it has one, is the last layer)",
		func(o *lab.Options, _ string) { editWith(o, lab.WithoutLine(labForward, "ForceCommand")) }},
	"internal-sftp": {"Subsystem sftp internal-sftp, which runs inside sshd without the account's shell (caught together with no-forcecommand)",
		func(o *lab.Options, _ string) { o.Sftp = "internal-sftp" }},
	"permittty": {"PermitTTY yes in the Match block (the key's restrict still refuses a pty)",
		func(o *lab.Options, _ string) { editWith(o, lab.ReplaceLine(labForward, "PermitTTY", "PermitTTY yes")) }},
	"permitopen-any": {"PermitOpen any in the Match block (the key's permitopen still holds)",
		func(o *lab.Options, _ string) {
			editWith(o, lab.ReplaceLine(labForward, "PermitOpen", "PermitOpen any"))
		}},
	"allowtcpforwarding-yes": {"AllowTcpForwarding yes in the Match block: remote forwards (ssh -R), which the key's port-forwarding allows",
		func(o *lab.Options, _ string) {
			editWith(o, lab.ReplaceLine(labForward, "AllowTcpForwarding", "AllowTcpForwarding yes"))
		}},
	"agent-forwarding": {"AllowAgentForwarding yes in both drop-ins (the key's restrict still refuses)",
		func(o *lab.Options, _ string) {
			editWith(o, lab.ReplaceLine("", "AllowAgentForwarding", "AllowAgentForwarding yes"))
		}},
	"x11-forwarding": {"X11Forwarding yes in both drop-ins (the key's restrict still refuses)",
		func(o *lab.Options, _ string) { editWith(o, lab.ReplaceLine("", "X11Forwarding", "X11Forwarding yes")) }},
	"password-auth": {"PasswordAuthentication and KbdInteractiveAuthentication yes, AuthenticationMethods removed",
		func(o *lab.Options, _ string) {
			editWith(o, lab.Chain(
				lab.ReplaceLine("", "PasswordAuthentication", "PasswordAuthentication yes"),
				lab.ReplaceLine("", "KbdInteractiveAuthentication", "KbdInteractiveAuthentication yes"),
				lab.WithoutLine("", "AuthenticationMethods")))
		}},
	"no-match-block": {"20-pfwd-only.conf missing: the baseline's AllowTcpForwarding no then stops the tunnel itself",
		func(o *lab.Options, _ string) { editWith(o, lab.Without(labForward)) }},
	"early-dropin": {"a 05-early.conf with its own Match block for the account (PermitOpen any, AllowTcpForwarding yes): the first matching block wins",
		func(o *lab.Options, user string) {
			editWith(o, func(fs []render.File) []render.File {
				return append(fs, render.File{Name: "05-early.conf", Data: []byte("Match User " + user + "\n    PermitOpen any\n    AllowTcpForwarding yes\nMatch all\n")})
			})
		}},
	"key-bare": {"the key installed without any prefix (the Match block still holds)",
		func(o *lab.Options, _ string) { o.BareKey = true }},
	"key-no-permitopen": {"the key installed with restrict,port-forwarding but no permitopen",
		func(o *lab.Options, _ string) { o.KeyOptions = "restrict,port-forwarding" }},
}

func breakNames() []string {
	var names []string
	for n := range labBreaks {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

type labOpts struct {
	breaks  []string
	timeout time.Duration
	strict  bool
	serve   bool
}

func newLabCmd(g *Globals) *cobra.Command {
	o := &labOpts{}
	var list strings.Builder
	for _, n := range breakNames() {
		fmt.Fprintf(&list, "  %-24s %s\n", n, labBreaks[n].what)
	}
	c := &cobra.Command{
		Use:   "lab",
		Short: "Run verify against a throwaway sshd with the rendered drop-ins",
		Long: `lab starts a throwaway OpenSSH sshd on 127.0.0.1 and a free port, reading the
rendered drop-ins through an Include, with a fresh host key, a tiny echo
service as the forward target and a throwaway client key installed with the
standard prefix; it runs verify against it, prints the report and removes
everything. It needs no root and changes nothing on the host (as root it
restricts the existing account nobody; otherwise the running user).

--break starts it with a known misconfiguration (repeat it to combine), so
you can watch verify catch it, or watch the other layer hold:

` + list.String(),
		Example: `  pfwdctl lab
  pfwdctl lab --break permitopen-any --break key-bare`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error { return labRun(c, g, o) },
	}
	c.Flags().StringArrayVar(&o.breaks, "break", nil, "start with the misconfiguration `NAME` (repeatable; see above)")
	c.Flags().DurationVar(&o.timeout, "timeout", verify.DefaultTimeout, "bound the verify run")
	c.Flags().BoolVar(&o.strict, "strict", false, "treat warnings as failures")
	c.Flags().BoolVar(&o.serve, "serve", false, "do not verify: print the lab's address, account, key and known_hosts as shell variables and keep it running until interrupted (for ssh by hand and bench/verify.sh)")
	return c
}

func labRun(c *cobra.Command, g *Globals, o *labOpts) error {
	user, err := lab.DefaultUser()
	if err != nil {
		return err
	}
	echo, err := lab.ListenEcho()
	if err != nil {
		return err
	}
	defer echo.Close()
	lo := lab.Options{User: user, Targets: []target.Target{echo.Target}}
	var whats []string
	for _, b := range slices.Compact(slices.Sorted(slices.Values(o.breaks))) {
		br, ok := labBreaks[b]
		if !ok {
			return usageErr("pick one of: "+strings.Join(breakNames(), ", "), "unknown --break %q", b)
		}
		br.apply(&lo, user)
		whats = append(whats, b+": "+br.what)
	}
	s, err := lab.Start(c.Context(), lo)
	if err != nil {
		return err
	}
	defer s.Close()
	if o.serve {
		return labServe(c, g, s, echo)
	}
	vo := s.VerifyOptions()
	vo.Timeout = o.timeout
	rep, runErr := verify.Run(c.Context(), vo)
	st := g.Styles()
	var note strings.Builder
	fmt.Fprintf(&note, "%s sshd on %s restricting %s (shell %s), target %s (echo service)\n",
		st.Bold("lab:"), s.Addr, s.User, orDash(s.Shell()), echo.Target)
	if len(whats) == 0 {
		note.WriteString(st.Dim("the drop-ins as rendered, the key with the standard prefix; try --break (see pfwdctl lab --help)") + "\n")
	}
	for _, w := range whats {
		fmt.Fprintf(&note, "%s %s\n", st.Warn("break"), w)
	}
	err = reportVerify(g, rep, runErr, o.strict, note.String())
	if !g.JSON && len(whats) > 0 && rep != nil {
		if bad := rep.Failed(); len(bad) > 0 {
			g.Printf("%s\n", st.Dim("verify caught it: "+strings.Join(bad, ", ")))
		} else {
			g.Printf("%s\n", st.Dim("no check failed: the other layer held"))
		}
	}
	return err
}

// labServe prints the lab as sourceable shell variables and waits.
func labServe(c *cobra.Command, g *Globals, s *lab.Server, echo *lab.Echo) error {
	vars := [][2]string{
		{"LAB_HOST", "127.0.0.1"}, {"LAB_PORT", fmt.Sprint(s.Port)}, {"LAB_USER", s.User},
		{"LAB_KEY", s.ClientKeyFile}, {"LAB_KNOWN_HOSTS", s.KnownHostsFile},
		{"LAB_HOST_KEY", ssh.FingerprintSHA256(s.HostKey)}, {"LAB_TARGET", echo.Target.String()},
		{"LAB_SOCKET", s.Socket}, {"LAB_SCRATCH", s.ScratchDir}, {"LAB_DIR", s.Dir},
	}
	if g.JSON {
		m := map[string]string{}
		for _, v := range vars {
			m[v[0]] = v[1]
		}
		if err := g.PrintJSON(m); err != nil {
			return err
		}
	} else {
		for _, v := range vars {
			g.Printf("%s='%s'\n", v[0], strings.ReplaceAll(v[1], "'", `'\''`))
		}
		g.Printf("# ready; stop with Ctrl-C (or kill %d)\n", os.Getpid())
	}
	<-c.Context().Done()
	return nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
