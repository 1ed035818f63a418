package main

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/crypto/ssh"

	"github.com/pfwdctl/pfwdctl/internal/fail"
	"github.com/pfwdctl/pfwdctl/verify"
	"github.com/pfwdctl/pfwdctl/verify/lab"
)

func init() { register("lab", newLabCmd) }

type labOpts struct {
	breaks  []string
	timeout time.Duration
	strict  bool
	serve   bool
	sshd    string
	// selfRoot: with --serve, a host tree for verify --self --root.
	selfRoot string
}

func newLabCmd(g *Globals) *cobra.Command {
	o := &labOpts{}
	var list strings.Builder
	for _, b := range lab.Breaks() {
		fmt.Fprintf(&list, "  %-24s %s\n", b.Name, b.What)
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
  pfwdctl lab --sshd /opt/openssh-10.5/sbin/sshd
  pfwdctl lab --break permitopen-any --break key-bare`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error { return labRun(c, g, o) },
	}
	c.Flags().StringVar(&o.sshd, "sshd", "", "run the lab with the sshd `binary` at this path (another OpenSSH release, say) instead of the one in PATH")
	c.Flags().StringArrayVar(&o.breaks, "break", nil, "start with the misconfiguration `NAME` (repeatable; see above)")
	c.Flags().DurationVar(&o.timeout, "timeout", verify.DefaultTimeout, "bound the verify run")
	c.Flags().BoolVar(&o.strict, "strict", false, "treat warnings as failures")
	c.Flags().StringVar(&o.selfRoot, "self-root", "", "with --serve: also write into `DIR` the host tree (passwd, host key, drop-ins, the account's home) that pfwdctl --root DIR verify --self proves against this lab, and serve the account's keys from it (bench/self.sh)")
	c.Flags().BoolVar(&o.serve, "serve", false, "do not verify: print the lab's address, account, key and known_hosts as shell variables and keep it running until interrupted (for ssh by hand and bench/verify.sh)")
	return c
}

func labRun(c *cobra.Command, g *Globals, o *labOpts) error {
	if o.selfRoot != "" && !o.serve {
		return fail.New(fail.Usage, "add --serve", "--self-root needs --serve")
	}
	var edit func(*lab.Options)
	if o.selfRoot != "" {
		edit = lab.SelfRoot(o.selfRoot)
	}
	ss, err := lab.OpenWith(c.Context(), o.sshd, o.breaks, edit)
	if err != nil {
		return err
	}
	defer ss.Close()
	if o.selfRoot != "" {
		if err := ss.Server.WriteSelfRoot(o.selfRoot); err != nil {
			return fail.Wrap(fail.Unavailable, err, "pass a directory the lab account can traverse (mode 0755)", "write the --self-root tree")
		}
	}
	if o.serve {
		return labServe(c, g, ss.Server, ss.Echo)
	}
	rep, runErr := ss.Verify(c.Context(), o.timeout)
	s, st := ss.Server, g.Styles()
	var note strings.Builder
	fmt.Fprintf(&note, "%s sshd on %s restricting %s (shell %s), target %s (echo service)\n",
		st.Bold("lab:"), s.Addr, s.User, orDash(s.Shell()), ss.Echo.Target)
	if len(ss.Breaks) == 0 {
		note.WriteString(st.Dim("the drop-ins as rendered, the key with the standard prefix; try --break (see pfwdctl lab --help)") + "\n")
	}
	for _, w := range ss.Breaks {
		fmt.Fprintf(&note, "%s %s\n", st.Warn("break"), w)
	}
	err = reportVerify(g, rep, runErr, o.strict, note.String())
	if !g.JSON && len(ss.Breaks) > 0 && rep != nil {
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
