package main

import (
	"strings"

	"github.com/spf13/cobra"

	"github.com/pfwdctl/pfwdctl/internal/sshd"
	"github.com/pfwdctl/pfwdctl/internal/ui"
	"github.com/pfwdctl/pfwdctl/render"
	"github.com/pfwdctl/pfwdctl/users"
)

func init() { register("user", newUserCmd) }

// usersHost is the users.Host for this run: the --root tree, the injected
// runner, clock and environment.
func usersHost(g *Globals) users.Host {
	return users.Host{Root: g.Root(), Runner: g.Runner, Now: g.Now, Getenv: g.Getenv, AuditLog: g.AuditLog}
}

// sshdFlags are the --sshd-config and --sshd of the commands that act on an
// account's keys: the files sshd reads them from are asked of that sshd
// about that config (sshd -T -C), so a host whose sshd is elsewhere, or a
// tree checked with another release, gets the same answer as the daemon.
type sshdFlags struct{ config, bin string }

func (s *sshdFlags) add(c *cobra.Command) {
	c.Flags().StringVar(&s.config, "sshd-config", sshd.DefaultConfig, "the main sshd config `PATH` (under --root)")
	c.Flags().StringVar(&s.bin, "sshd", "", "the sshd `binary` asked which files it reads the account's keys from (default: found in PATH)")
}

// host is usersHost with these flags.
func (s sshdFlags) host(g *Globals) users.Host {
	h := usersHost(g)
	h.SshdConfig, h.SshdBin = s.config, s.bin
	return h
}

type userCreateOpts struct {
	user, home string
	fix, adopt bool
}

func newUserCmd(g *Globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "user",
		Short: "Manage the port-forward-only account",
		Args:  cobra.NoArgs,
	}
	o := &userCreateOpts{}
	create := &cobra.Command{
		Use:   "create",
		Short: "Create (or check, or fix) the locked, nologin forward-only account",
		Long: `user create makes sure the account exists with the distribution's nologin
shell, a home directory, and the password field "*" (locked: no password
can match, passwd -S says L, and unlike "!" sshd still accepts keys for it
with UsePAM no). It uses the system's useradd and usermod (with --prefix
under --root) and never edits /etc/passwd or /etc/shadow itself.

An existing correct account is reported and left alone. An existing account
with a login shell, an unlocked or "!"-locked password or a missing home is
reported as a problem and fixed only with --fix. An account that looks like
a person's (uid at least login.defs' UID_MIN, in the sudo, wheel or admin
group, a login shell with a home, keys without the restrict prefix, or
other key sources such as ~/.ssh/authorized_keys2) also needs --adopt.
root and UID-0 accounts are refused, and so is a home that is not the
account's own (another account's, owned by another uid, or a path with
"..") whatever the flags.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error { return userCreateRun(c, g, o) },
	}
	f := create.Flags()
	f.StringVar(&o.user, "user", render.DefaultUser, "the port-forward-only `account`")
	f.StringVar(&o.home, "home", "", "home `DIR` for a new account (default /home/ACCOUNT)")
	f.BoolVar(&o.fix, "fix", false, "repair an existing account's shell, password field and home")
	f.BoolVar(&o.adopt, "adopt", false, "with --fix: also take over an account that looks like a person's")
	c.AddCommand(create)
	return c
}

func userCreateRun(c *cobra.Command, g *Globals, o *userCreateOpts) error {
	res, err := usersHost(g).CreateUser(c.Context(), users.CreateRequest{User: o.user, Home: o.home, Fix: o.fix, Adopt: o.adopt})
	if err != nil {
		return err
	}
	if g.JSON {
		return g.PrintJSON(res)
	}
	st := g.Styles()
	switch res.Action {
	case "ok":
		g.Printf("%s account %s is already forward-only: nothing to change\n", st.OK("✓"), ui.Escape(res.Account.Name))
	case "created":
		g.Printf("%s created account %s (uid %d, home %s)\n", st.OK("✓"), ui.Escape(res.Account.Name), res.Account.UID, ui.Escape(res.Account.Home))
	case "fixed":
		g.Printf("%s fixed account %s: %s\n", st.OK("✓"), ui.Escape(res.Account.Name), ui.Escape(strings.Join(res.Problems, "; ")))
	}
	for _, d := range res.Done {
		g.Printf("  %s\n", st.Dim("ran: "+ui.Escape(d)))
	}
	for _, ch := range res.Checks {
		g.Printf("%s %s\n", st.OK("✓"), ui.Escape(ch))
	}
	printWarnings(g, res.Warnings)
	return nil
}

func printWarnings(g *Globals, warns []string) {
	st := g.Styles()
	for _, w := range warns {
		g.Printf("%s %s\n", st.Warn("!"), ui.Escape(w))
	}
}
