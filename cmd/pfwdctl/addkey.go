package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/pfwdctl/pfwdctl/internal/fail"
	"github.com/pfwdctl/pfwdctl/internal/sshd"
	"github.com/pfwdctl/pfwdctl/internal/ui"
	"github.com/pfwdctl/pfwdctl/render"
	"github.com/pfwdctl/pfwdctl/users"
	"github.com/pfwdctl/pfwdctl/users/keyline"
)

type addKeyOpts struct {
	user, name, expires string
	from, targets       []string
	replace             bool
	sshdConfig, sshdBin string
	// FIDO keys (docs/hardware-keys.md)
	requireVerify, allowNoTouch bool
}

func newAddKeyCmd(g *Globals) *cobra.Command {
	o := &addKeyOpts{}
	c := &cobra.Command{
		Use:   "add-key FILE|-",
		Short: "Install a friend's public key, restricted to the forward targets",
		Long: `add-key reads exactly one OpenSSH public key line (from FILE, or stdin
with -) and installs it in the first file sshd reads the account's keys
from (sshd -T: AuthorizedKeysFile; normally ~/.ssh/authorized_keys) as

  restrict,port-forwarding,permitopen="HOST:PORT"[,expiry-time=...][,from=...] TYPE KEY NAME

The permitopen targets come from the installed Match User drop-in (one
source of truth); --target may only repeat them, or name them when no
drop-in is installed. Private keys, several keys, keys with options,
certificates, DSA and RSA under 2048 bits are refused and nothing is
written. A key already installed has its options updated only if they
differ. Names are how keys are revoked, so a name (--name, else the key's
comment) that another key already has is refused unless --replace, which
removes that key in the same write. Every other line of the file stays
byte-for-byte. No sshd reload is needed.

Hardware-backed (FIDO) keys, sk-ssh-ed25519 and sk-ecdsa (ssh-keygen -t
ed25519-sk), are installed the same way; --require-verify adds
verify-required (the token's PIN or biometric at every login). An account
applied with --hardware-keys-only takes no other key type
(docs/hardware-keys.md).`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageErr("give the friend's public key file, e.g. pfwdctl add-key friend.pub (or - to read it from stdin: cat friend.pub | pfwdctl add-key -)",
					"add-key takes exactly one public key file, got %d arguments", len(args))
			}
			return nil
		},
		RunE: func(c *cobra.Command, args []string) error { return addKeyRun(c, g, o, args[0]) },
	}
	f := c.Flags()
	f.StringVar(&o.user, "user", render.DefaultUser, "the port-forward-only `account`")
	f.StringVar(&o.name, "name", "", "a `NAME` for the key (replaces its comment; used by revoke); a name another key has is refused unless --replace")
	f.BoolVar(&o.replace, "replace", false, "remove the key that already has this name, in the same write (audit-logged as its revoke)")
	f.StringVar(&o.expires, "expires", "", "sshd refuses the key after `WHEN`: 15m, 12h, 30d, 8w, 2026-12-31 or 2026-12-31T18:00 (local time), or never; default: keep the installed key's")
	f.StringSliceVar(&o.from, "from", nil, "only accept the key from these `CIDR`s (comma-separated or repeated)")
	f.StringArrayVar(&o.targets, "target", nil, "`host:port`; must match the installed Match block (needed only without one)")
	f.BoolVar(&o.requireVerify, "require-verify", false, "for a hardware-backed (FIDO) key: add verify-required, so sshd takes only logins where the token checked its PIN or biometric")
	f.BoolVar(&o.allowNoTouch, "allow-no-touch", false, "for a hardware-backed (FIDO) key: add no-touch-required, so a login needs no touch on the token (weaker: malware on the friend's machine can then use a plugged-in token unnoticed; docs/hardware-keys.md)")
	f.StringVar(&o.sshdBin, "sshd", "", "the sshd `binary` asked which files it reads keys from and whose version decides how expiry-time is written (default: found in PATH)")
	f.StringVar(&o.sshdConfig, "sshd-config", sshd.DefaultConfig, "the main sshd config `PATH` (under --root); the drop-in is read next to it")
	return c
}

func readKeyInput(g *Globals, arg string) ([]byte, error) {
	var r io.Reader
	if arg == "-" {
		r = g.IO.In
		if g.IO.InTTY {
			// Typed or pasted by hand: without a word, the wait for
			// end-of-input looks like a hang.
			fmt.Fprintln(g.IO.Err, "pfwdctl: paste the public key (one line), then press Ctrl-D")
		}
	} else {
		f, err := os.Open(arg)
		if err != nil {
			return nil, fail.Wrap(fail.Usage, err, "give the path of the .pub file, or - to read it from stdin", "read the key")
		}
		defer f.Close()
		if fi, err := f.Stat(); err == nil && !fi.Mode().IsRegular() && !(fi.Mode()&os.ModeNamedPipe != 0 || fi.Mode()&os.ModeCharDevice != 0) {
			return nil, fail.New(fail.Usage, "give the path of the .pub file", "%s is not a regular file", arg)
		}
		r = f
	}
	// Read one byte past the limit, so an oversize file is refused without
	// reading all of it.
	data, err := io.ReadAll(io.LimitReader(r, keyline.MaxInput+1))
	if err != nil {
		return nil, fail.Wrap(fail.Usage, err, "", "read the key")
	}
	return data, nil
}

func addKeyRun(c *cobra.Command, g *Globals, o *addKeyOpts, arg string) error {
	data, err := readKeyInput(g, arg)
	if err != nil {
		return err
	}
	k, warns, err := keyline.ParsePublic(data)
	if err != nil {
		return err
	}
	var exp time.Time
	noExpiry := o.expires == "never"
	if o.expires != "" && !noExpiry {
		if exp, err = keyline.ParseExpires(o.expires, g.Now()); err != nil {
			return err
		}
		if !exp.After(g.Now()) {
			// A key sshd refuses from the start is no key added.
			return usageErr("give a time in the future (or a duration such as 7d), or --expires never", "--expires %s is already past (%s)", o.expires, users.FormatTime(exp))
		}
	}
	if _, err := keyline.ParseFrom(o.from); err != nil {
		return err
	}
	h := usersHost(g)
	h.SshdConfig, h.SshdBin = o.sshdConfig, o.sshdBin
	if !exp.IsZero() {
		// The clock of expiry-time depends on the sshd that reads it
		// (keyline.TakesUTC); "" (no answer) writes UTC with Z.
		if v, err := (sshd.Binary{Bin: o.sshdBin, Runner: g.Runner}).Version(c.Context()); err == nil {
			h.SshdVersion = "OpenSSH_" + v.String()
		}
	}
	var renamed string
	if o.name != "" && keyline.SanitizeName(o.name) != o.name && keyline.SanitizeName(o.name) != "" {
		// Names are how people revoke: say what it became, on stderr and
		// before the change, so it is seen even when the add is refused
		// (a clash is judged on the stored name).
		renamed = fmt.Sprintf("--name %q is stored as %q (letters, digits and . _ @ + : = - only); revoke it by that name", o.name, keyline.SanitizeName(o.name))
		fmt.Fprintf(g.IO.Err, "pfwdctl: note: %s\n", ui.EscapeText(renamed))
	}
	res, err := h.AddKey(c.Context(), users.AddKeyRequest{User: o.user, Key: k, Name: o.name, Targets: o.targets, Expiry: exp, NoExpiry: noExpiry, From: o.from, Replace: o.replace,
		RequireVerify: o.requireVerify, AllowNoTouch: o.allowNoTouch})
	res.Warnings = append(warns, res.Warnings...)
	if err != nil {
		return err
	}
	if g.JSON {
		if renamed != "" {
			res.Warnings = append(res.Warnings, renamed)
		}
		return g.PrintJSON(res)
	}
	st := g.Styles()
	switch res.Action {
	case "unchanged":
		g.Printf("%s key %s (%s) is already installed for %s: nothing to change\n", st.OK("✓"), ui.Escape(res.Name), res.Fingerprint, ui.Escape(res.Account))
	default:
		g.Printf("%s %s key %s (%s) for %s in %s\n", st.OK("✓"), res.Action, ui.Escape(res.Name), res.Fingerprint, ui.Escape(res.Account), ui.Escape(res.Path))
		g.Printf("  %s\n", st.Dim(ui.Escape(res.Line)))
		for _, fp := range res.Replaced {
			g.Printf("  removed the key %s that had this name (--replace)\n", fp)
		}
	}
	if !res.Expiry.IsZero() {
		g.Printf("  expires %s\n", users.FormatTime(res.Expiry))
	}
	printWarnings(g, res.Warnings)
	return nil
}
