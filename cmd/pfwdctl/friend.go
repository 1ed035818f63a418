package main

import (
	"strings"

	"github.com/spf13/cobra"

	"github.com/pfwdctl/pfwdctl/internal/ui"
	"github.com/pfwdctl/pfwdctl/render"
	"github.com/pfwdctl/pfwdctl/users"
	"github.com/pfwdctl/pfwdctl/users/friend"
)

type friendOpts struct {
	user, host string
	port       int
	sshdFlags
}

func newFriendCmd(g *Globals) *cobra.Command {
	o := &friendOpts{}
	c := &cobra.Command{
		Use:   "friend NAME|FINGERPRINT",
		Short: "Print what a friend needs to open the tunnel: the ssh command, a config block, the host keys",
		Long: `friend prints, for one installed key, everything the friend needs and
nothing secret: the exact ssh -N -L command (with -p when sshd does not
listen on 22, and the guide's ExitOnForwardFailure and ServerAlive
options), an ~/.ssh/config Host block doing the same, the server's public
host keys as known_hosts lines ([host]:port when the port is not 22) with
their SHA256 fingerprints, so the first connection is checked rather than
trusted blindly, and the key's expiry. The port and the host keys come
from sshd -T; the targets are the key's permitopen. Nothing is changed.`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageErr("name the friend's key, e.g. pfwdctl friend alice (pfwdctl list-keys shows the names)",
					"friend takes one key name or fingerprint, got %d arguments", len(args))
			}
			return nil
		},
		RunE: func(c *cobra.Command, args []string) error {
			if c.Flags().Changed("port") && (o.port < 1 || o.port > 65535) {
				return usageErr("pass a port from 1 to 65535", "invalid --port %d", o.port)
			}
			host := o.host
			if host == "" {
				host = hostName(g)
			}
			b, err := friend.Build(c.Context(), o.sshdFlags.host(g), friend.Request{User: o.user, Key: args[0], Host: host, Port: o.port})
			if err != nil {
				return err
			}
			if g.JSON {
				return g.PrintJSON(b)
			}
			printFriend(g, b, o.host == "", host)
			return nil
		},
	}
	c.Flags().StringVar(&o.user, "user", render.DefaultUser, "the port-forward-only `account`")
	c.Flags().StringVar(&o.host, "host", "", "the `NAME` or address the friend connects to (default: this machine's host name)")
	c.Flags().IntVar(&o.port, "port", 0, "the ssh `PORT` the friend connects to (default: the port sshd -T names, not loopback)")
	o.sshdFlags.add(c)
	return c
}

func printFriend(g *Globals, b friend.Bundle, guessedHost bool, host string) {
	st := g.Styles()
	g.Printf("%s %s of %s, forwarding %s\n", st.Bold("For key"), ui.Escape(nameOr(b.Name)), ui.Escape(b.Account), ui.Escape(strings.Join(b.Targets, ", ")))
	switch {
	case guessedHost && host == "HOST":
		// No name to be found (a --root tree without /etc/hostname): the
		// commands below hold a placeholder, and must say so.
		g.Printf("%s\n", st.Warn("! HOST below is a placeholder: no host name was found; pass --host with the name or address your friend reaches"))
	case guessedHost:
		g.Printf("%s\n", st.Dim("(the host is this machine's name, "+ui.Escape(host)+"; pass --host with the name or address your friend reaches)"))
	}
	g.Printf("\n%s (with the private half of this key, %s):\n  %s\n", st.Bold("Run"), b.Fingerprint, ui.Escape(b.Command))
	g.Printf("\n%s (then: ssh -N %s):\n", st.Bold("Or add to ~/.ssh/config"), ui.Escape(b.Alias))
	for _, l := range strings.Split(strings.TrimRight(b.SSHConfig, "\n"), "\n") {
		g.Printf("  %s\n", ui.Escape(l))
	}
	g.Printf("\n%s (add to ~/.ssh/known_hosts before the first connection):\n", st.Bold("The server's host keys"))
	for _, k := range b.HostKeys {
		g.Printf("  %s\n", ui.Escape(k.KnownHosts))
	}
	g.Printf("\n%s (what ssh shows on first connection):\n", st.Bold("Fingerprints"))
	for _, k := range b.HostKeys {
		g.Printf("  %s %s\n", k.Fingerprint, k.Type)
	}
	if b.Expiry.IsZero() {
		g.Printf("\n%s never\n", st.Bold("Expires"))
	} else {
		exp := users.FormatTime(b.Expiry)
		if b.Expired {
			exp += " EXPIRED"
		}
		g.Printf("\n%s %s\n", st.Bold("Expires"), exp)
	}
	printWarnings(g, b.Warnings)
}
