package main

import (
	"github.com/spf13/cobra"

	"github.com/pfwdctl/pfwdctl/internal/ui"
	"github.com/pfwdctl/pfwdctl/render"
	"github.com/pfwdctl/pfwdctl/users"
	"github.com/pfwdctl/pfwdctl/users/keyline"
)

type rotateOpts struct {
	user string
	kill bool
	sshdFlags
	log string
}

func newRotateCmd(g *Globals) *cobra.Command {
	o := &rotateOpts{}
	c := &cobra.Command{
		Use:   "rotate NAME|FINGERPRINT NEW.pub|-",
		Short: "Replace a friend's key with a new one, keeping its name, targets, from= and expiry",
		Long: `rotate swaps the key named NAME (or with that fingerprint) for the key in
NEW.pub (or stdin with -) in one atomic write of authorized_keys: the line
keeps every option (permitopen targets, from=, expiry-time, ...) and its
name byte for byte; only the key changes. What add-key refuses is refused
(private keys, certificates, weak keys, keys with options), and so are a
new key already installed (on any line, or the old key itself) and an old
line that is not restricted (rotate would hand its options to the new
key). Tunnels open with the old key stay up (sshd checks keys at login
only): rotate counts them, and --kill-sessions ends them after the swap,
as revoke does.`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 2 {
				return usageErr("give the key to replace and the new public key, e.g. pfwdctl rotate alice alice-new.pub",
					"rotate takes the old key's name (or fingerprint) and the new key's file, got %d arguments", len(args))
			}
			return nil
		},
		RunE: func(c *cobra.Command, args []string) error {
			data, err := readKeyInput(g, args[1])
			if err != nil {
				return err
			}
			k, warns, err := keyline.ParsePublic(data)
			if err != nil {
				return err
			}
			h := o.host(g)
			h.Attribute = logAttribute(g, o.log)
			res, err := h.Rotate(c.Context(), users.RotateRequest{User: o.user, Old: args[0], Key: k, KillSessions: o.kill})
			res.Warnings = append(warns, res.Warnings...)
			if err != nil {
				return err
			}
			if g.JSON {
				return g.PrintJSON(res)
			}
			st := g.Styles()
			g.Printf("%s rotated key %s of %s: %s -> %s in %s\n", st.OK("✓"), ui.Escape(nameOr(res.Name)), ui.Escape(res.Account), res.OldFingerprint, res.Fingerprint, ui.Escape(res.Path))
			g.Printf("  %s\n", st.Dim(ui.Escape(res.Line)))
			if res.Collapsed > 0 {
				g.Printf("  removed %d other line(s) holding the old key\n", res.Collapsed)
			}
			if !res.Expiry.IsZero() {
				g.Printf("  expires %s (kept)\n", users.FormatTime(res.Expiry))
			}
			if res.SessionsKnown && !o.kill && len(res.Sessions) > 0 {
				// The old key's tunnels outlive the swap: sshd checks
				// keys at login only.
				g.Printf("%s %s has %d open session(s), %d of them tied to the old key by sshd's log; they stay up: pass --kill-sessions to end the old key's\n",
					st.Warn("!"), ui.Escape(res.Account), len(res.Sessions), res.OldKeySessions)
			} else {
				printSessionsEnded(g, res.Account, res.SessionsEnded, "the old key")
			}
			printWarnings(g, res.Warnings)
			return nil
		},
	}
	c.Flags().StringVar(&o.user, "user", render.DefaultUser, "the port-forward-only `account`")
	c.Flags().BoolVar(&o.kill, "kill-sessions", false, "after the swap, end the open sessions of the old key: sshd's log (LogLevel VERBOSE) names each session's key, so other keys' sessions stay up; a session whose key the log does not name is ended too")
	c.Flags().StringVar(&o.log, "log", "", "sshd's log `FILE` that ties sessions to keys (default: the journal, /var/log/auth.log or /var/log/secure)")
	o.sshdFlags.add(c)
	return c
}
