package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/crypto/ssh"
	"golang.org/x/term"

	"github.com/pfwdctl/pfwdctl/internal/ca"
	"github.com/pfwdctl/pfwdctl/internal/fail"
	"github.com/pfwdctl/pfwdctl/internal/hostfs"
	"github.com/pfwdctl/pfwdctl/internal/sshd"
	"github.com/pfwdctl/pfwdctl/internal/target"
	"github.com/pfwdctl/pfwdctl/internal/ui"
	"github.com/pfwdctl/pfwdctl/render"
	"github.com/pfwdctl/pfwdctl/users"
	"github.com/pfwdctl/pfwdctl/users/keyline"
)

// caPassphraseEnv holds the CA key's passphrase for automation.
const caPassphraseEnv = "PFWDCTL_CA_PASSPHRASE"

func newCaCmd(g *Globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "ca",
		Short: "Short-lived access with an SSH user certificate authority",
		Long: `ca issues short-lived user certificates for the port-forward-only account:
access that ends by itself, without an authorized_keys edit per friend.
ca init makes the CA key pair, ca sign issues a certificate for a friend's
public key, ca revoke adds one to the revocation list, ca list shows what
was issued. The server trusts the CA after apply --ca CA.pub. See docs/ca.md.`,
	}
	c.AddCommand(newCaInitCmd(g), newCaSignCmd(g), newCaRevokeCmd(g), newCaListCmd(g))
	return c
}

// caPassphrase asks for the CA passphrase on the terminal (twice when
// confirm), else takes PFWDCTL_CA_PASSPHRASE, else refuses: a passphrase
// is never read from a pipe that could be anything.
func caPassphrase(g *Globals, confirm bool) ([]byte, error) {
	if in, ok := g.IO.In.(*os.File); ok && g.IO.InTTY {
		fmt.Fprint(g.IO.Err, "CA passphrase: ")
		p, err := term.ReadPassword(int(in.Fd()))
		fmt.Fprintln(g.IO.Err)
		if err != nil {
			return nil, err
		}
		if confirm {
			fmt.Fprint(g.IO.Err, "again: ")
			q, err := term.ReadPassword(int(in.Fd()))
			fmt.Fprintln(g.IO.Err)
			if err != nil {
				return nil, err
			}
			if string(p) != string(q) {
				return nil, usageErr("run it again", "the passphrases differ")
			}
		}
		if len(p) == 0 {
			return nil, usageErr("type a passphrase, or pass --no-passphrase for an unencrypted key (automation only)", "empty passphrase")
		}
		return p, nil
	}
	if p := g.Getenv(caPassphraseEnv); p != "" {
		return []byte(p), nil
	}
	return nil, usageErr("run on a terminal to be asked, or set "+caPassphraseEnv+" (or --no-passphrase for ca init)",
		"no passphrase for the CA key: stdin is not a terminal and %s is not set", caPassphraseEnv)
}

func newCaInitCmd(g *Globals) *cobra.Command {
	var out string
	var noPass bool
	c := &cobra.Command{
		Use:   "init",
		Short: "Make an ed25519 user CA key pair",
		Long: `init makes an ed25519 user CA in --out: pfwdctl_ca (the private key, OpenSSH
format, 0600, passphrase-protected unless --no-passphrase) and
pfwdctl_ca.pub (what apply --ca installs on the server). It never replaces
an existing CA. Keep the private key off the server: on your machine, in
an ssh-agent, or on a hardware token (see docs/ca.md).`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			var pass []byte
			if !noPass {
				var err error
				if pass, err = caPassphrase(g, true); err != nil {
					return err
				}
			}
			host, _ := os.Hostname()
			priv, pub, err := ca.Init(out, pass, "pfwdctl-ca@"+host)
			if err != nil {
				return err
			}
			if g.JSON {
				return g.PrintJSON(map[string]any{"private_key": priv, "public_key": pub, "encrypted": !noPass})
			}
			st := g.Styles()
			g.Printf("%s CA private key: %s%s\n", st.OK("✓"), ui.Escape(priv), map[bool]string{true: " (no passphrase)", false: ""}[noPass])
			g.Printf("%s CA public key:  %s\n", st.OK("✓"), ui.Escape(pub))
			g.Printf("next: sudo pfwdctl apply --ca %s   (on the server)\n", ui.Escape(pub))
			return nil
		},
	}
	c.Flags().StringVar(&out, "out", ".", "the `DIR` to write the key pair in")
	c.Flags().BoolVar(&noPass, "no-passphrase", false, "leave the private key unencrypted (automation only)")
	return c
}

type caSignOpts struct {
	caFile, caPub, name, user, host string
	agent                           bool
	dur                             time.Duration
	from, targets                   []string
	port                            int
}

func newCaSignCmd(g *Globals) *cobra.Command {
	o := &caSignOpts{}
	c := &cobra.Command{
		Use:   "sign FRIEND.pub (--ca FILE | --ca-agent) --name NAME --for DURATION",
		Short: "Issue a short-lived certificate for a friend's public key",
		Long: `sign issues a user certificate for the friend's public key and writes it
next to it as FRIEND-cert.pub (as ssh-keygen -s does). The certificate
names the account as its only principal, NAME as its key id, a serial that
is never reused, a window from now to now+DURATION, only the
permit-port-forwarding extension (no pty, agent, X11 or user rc), the
force-command critical option with the nologin shell, and source-address
with --from. Keys add-key refuses are refused. The issue is audit-logged
before the certificate is written, and the friend's ssh command printed.
With --ca-agent the CA key stays in the ssh-agent (SSH_AUTH_SOCK).`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageErr("give the friend's public key file, e.g. pfwdctl ca sign friend.pub --ca pfwdctl_ca --name alice --for 8h", "ca sign takes exactly one public key file, got %d arguments", len(args))
			}
			return nil
		},
		RunE: func(c *cobra.Command, args []string) error { return caSignRun(g, o, args[0]) },
	}
	f := c.Flags()
	f.StringVar(&o.caFile, "ca", "", "the CA private key `FILE` (made by ca init)")
	f.BoolVar(&o.agent, "ca-agent", false, "sign with the CA key held in the ssh-agent (SSH_AUTH_SOCK)")
	f.StringVar(&o.caPub, "ca-pub", "", "with --ca-agent: the CA public key `FILE`, to pick the agent's key (needed when it holds several)")
	f.StringVar(&o.name, "name", "", "the friend's `NAME`: the certificate's key id, logged by sshd and used by ca revoke --id")
	f.DurationVar(&o.dur, "for", 0, "how long the certificate is valid, e.g. 8h (at most 2160h)")
	f.StringSliceVar(&o.from, "from", nil, "only accept the certificate from these `CIDR`s")
	f.StringVar(&o.user, "user", render.DefaultUser, "the port-forward-only `account` (the certificate's principal)")
	f.StringArrayVar(&o.targets, "target", nil, "`host:port` the friend forwards to, for the printed ssh command (default "+render.DefaultTarget+")")
	f.StringVar(&o.host, "host", "", "the server's `NAME` in the printed ssh command (default: this host's name)")
	f.IntVar(&o.port, "port", 22, "the server's ssh `PORT` in the printed ssh command")
	return c
}

func caSigner(g *Globals, o *caSignOpts) (ssh.Signer, func() error, error) {
	switch {
	case o.agent && o.caFile != "":
		return nil, nil, usageErr("give one of them", "--ca and --ca-agent exclude each other")
	case o.agent:
		var want ssh.PublicKey
		if o.caPub != "" {
			data, err := os.ReadFile(o.caPub)
			if err != nil {
				return nil, nil, fail.Wrap(fail.Usage, err, "", "read --ca-pub")
			}
			if want, _, _, _, err = ssh.ParseAuthorizedKey(data); err != nil {
				return nil, nil, fail.Wrap(fail.Usage, err, "give the CA's .pub file", "parse --ca-pub")
			}
		}
		return ca.AgentSigner(g.Getenv("SSH_AUTH_SOCK"), want)
	case o.caFile != "":
		s, err := ca.LoadSigner(o.caFile, nil)
		if err == ca.ErrPassphrase {
			var pass []byte
			if pass, err = caPassphrase(g, false); err != nil {
				return nil, nil, err
			}
			s, err = ca.LoadSigner(o.caFile, pass)
		}
		return s, func() error { return nil }, err
	}
	return nil, nil, usageErr("pass --ca FILE (the key ca init made) or --ca-agent", "no CA key to sign with")
}

func caSignRun(g *Globals, o *caSignOpts, pubFile string) error {
	if o.name == "" {
		return usageErr("give --name, e.g. --name alice", "the certificate needs a name")
	}
	if o.dur <= 0 {
		return usageErr("give --for, e.g. --for 8h", "the certificate needs a validity (--for)")
	}
	if len(o.targets) == 0 {
		o.targets = []string{render.DefaultTarget}
	}
	var ts []target.Target
	for _, s := range o.targets {
		t, err := target.Parse(s)
		if err != nil {
			return err
		}
		ts = append(ts, t)
	}
	data, err := os.ReadFile(pubFile)
	if err != nil {
		return fail.Wrap(fail.Usage, err, "give the path of the friend's .pub file", "read the key")
	}
	k, warns, err := keyline.ParsePublic(data)
	if err != nil {
		return err
	}
	signer, closeSigner, err := caSigner(g, o)
	if err != nil {
		return err
	}
	defer closeSigner()

	root := g.Root()
	unlock, err := root.Lock(hostfs.LockWait)
	if err != nil {
		return err
	}
	defer unlock()
	log := auditLog(g)
	events, err := log.Read()
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fail.Wrap(fail.Unavailable, err, "", "read the audit log (serials are never reused)")
	}
	serial, err := ca.NextSerial(root.Path(ca.SerialPath), ca.MaxSerial(events))
	if err != nil {
		return err
	}
	now := g.Now()
	req := ca.SignRequest{Principal: o.user, KeyID: o.name, Serial: serial,
		// A minute back, so a server clock slightly behind still accepts it.
		ValidAfter: now.Add(-time.Minute).Truncate(time.Second), ValidBefore: now.Add(o.dur).Truncate(time.Second),
		From: o.from, ForceCommand: render.DefaultNologin}
	cert, err := ca.Sign(signer, k.Pub, req)
	if err != nil {
		return err
	}
	issued := ca.Issued{Serial: serial, ID: cert.KeyId, Principal: o.user, Fingerprint: k.Fingerprint(),
		CA: ssh.FingerprintSHA256(signer.PublicKey()), ValidAfter: req.ValidAfter, ValidBefore: req.ValidBefore,
		From: cert.CriticalOptions["source-address"]}
	// Intent first: a certificate that leaves this process is in the log.
	change, err := log.Begin(ca.SignEvent(issued))
	if err != nil {
		return fail.Wrap(fail.Unavailable, err, "run as root (the audit log is root's)", "record the certificate in the audit log; nothing issued")
	}
	certPath := ca.CertPath(pubFile)
	if err := hostfs.WriteFile(certPath, ca.Marshal(cert), 0o644, hostfs.Owner{UID: -1, GID: -1}); err != nil {
		change.Abort(err)
		return fail.Wrap(fail.Unavailable, err, "", "write %s", certPath)
	}
	if err := change.Done(); err != nil {
		return err
	}
	keyFile := strings.TrimSuffix(pubFile, ".pub")
	cmd := friendSSHCommand(keyFile, o, ts)
	if g.JSON {
		return g.PrintJSON(map[string]any{"certificate": certPath, "issued": issued, "ssh": cmd, "warnings": warns})
	}
	st := g.Styles()
	g.Printf("%s signed %s for %s: serial %d, valid until %s\n", st.OK("✓"), ui.Escape(cert.KeyId), ui.Escape(o.user), serial, req.ValidBefore.UTC().Format(time.RFC3339))
	g.Printf("%s wrote %s\n", st.OK("✓"), ui.Escape(certPath))
	g.Printf("the friend runs (with the certificate next to their key):\n  %s\n", ui.Escape(cmd))
	printWarnings(g, warns)
	return nil
}

// friendSSHCommand is the friend's exact ssh command: the certificate named
// explicitly (ssh would find KEY-cert.pub itself, but not under another
// name), every target forwarded from the same local port.
func friendSSHCommand(keyFile string, o *caSignOpts, ts []target.Target) string {
	key := filepath.Base(keyFile)
	words := []string{"ssh -N"}
	for _, t := range ts {
		words = append(words, fmt.Sprintf("-L %d:%s", t.Port, t))
	}
	words = append(words, "-i "+key, "-o CertificateFile="+key+"-cert.pub", "-o ExitOnForwardFailure=yes", "-o ServerAliveInterval=60")
	if o.port != 22 && o.port != 0 {
		words = append(words, fmt.Sprintf("-p %d", o.port))
	}
	host := o.host
	if host == "" {
		host, _ = os.Hostname()
		if host == "" {
			host = "HOST"
		}
	}
	return strings.Join(append(words, o.user+"@"+host), " ")
}

type caRevokeOpts struct {
	serial uint64
	id     string
	user   string
	kill   bool
	log    string
	// sshdBin and sshdConfig: the sshd asked which revocation list it
	// checks the account's certificates against (sshd -T -C).
	sshdBin, sshdConfig string
}

func newCaRevokeCmd(g *Globals) *cobra.Command {
	o := &caRevokeOpts{}
	c := &cobra.Command{
		Use:   "revoke (--serial N | --id NAME | CERT)",
		Short: "Revoke certificates in the account's revocation list",
		Long: `revoke adds a certificate to the account's key revocation list (installed
by apply --ca; updated with OpenSSH's ssh-keygen -k -u): by serial, by key
id (every certificate with that name), or a -cert.pub file. sshd reads
the list on every login, so the next login is refused. Tunnels already
open stay open: revoke says how many of the account's sessions used the
revoked certificates, and --kill-sessions ends them (sshd's log names each
login's certificate id, serial and CA), leaving other friends' tunnels up.
A certificate file signed by another CA is refused: serials and ids in
the list are the account's CA's.`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) > 1 {
				return usageErr("revoke one certificate file at a time, or use --serial N / --id NAME", "ca revoke takes at most one -cert.pub file, got %d", len(args))
			}
			return nil
		},
		RunE: func(c *cobra.Command, args []string) error { return caRevokeRun(c, g, o, args) },
	}
	c.Flags().Uint64Var(&o.serial, "serial", 0, "revoke the certificate with serial `N`")
	c.Flags().StringVar(&o.id, "id", "", "revoke every certificate with key id `NAME`")
	c.Flags().StringVar(&o.user, "user", render.DefaultUser, "the port-forward-only `account`")
	c.Flags().BoolVar(&o.kill, "kill-sessions", false, "also end the open sessions that logged in with the revoked certificate(s); a session whose login sshd's log does not name is ended too")
	c.Flags().StringVar(&o.log, "log", "", "sshd's log `FILE` that ties sessions to certificates (default: the journal, /var/log/auth.log or /var/log/secure)")
	c.Flags().StringVar(&o.sshdBin, "sshd", "", "the sshd `binary` asked which revocation list it reads (default: found in /usr/sbin)")
	c.Flags().StringVar(&o.sshdConfig, "sshd-config", sshd.DefaultConfig, "the main sshd config `PATH` (under --root)")
	return c
}

// caRevoked says which sessions used a revoked certificate: one the
// account's CA (caFP) signed, by serial or by key id (a certificate file
// without a serial is revoked by its id, as ssh-keygen -k does). A session
// whose login the log does not name is counted too, as revoke does for
// keys: it may be the revoked one; so is a certificate whose key id
// pfwdctl would never issue (escaped or odd characters in the log make
// its serial and id unreliable). Certificates of another CA (verify
// --self's throwaway one) and plain keys are not.
func caRevoked(rev ca.Revocation, certID, caFP string) func(users.Session) bool {
	return func(s users.Session) bool {
		switch {
		case s.Fingerprint == "":
			return true
		case s.CertID == "" || s.CertCA != caFP:
			return false
		case keyline.SanitizeName(s.CertID) != s.CertID:
			return true
		case rev.Serial != 0:
			return s.CertSerial == rev.Serial
		case rev.ID != "":
			return s.CertID == rev.ID
		}
		return s.CertID == certID
	}
}

// trustedCA is the fingerprint of the CA the account trusts (apply --ca's
// file, without verify --self's throwaway lines).
func trustedCA(root hostfs.Root, user string) (ssh.PublicKey, error) {
	data, err := root.ReadFile(ca.TrustedCAPath(user))
	if err != nil {
		return nil, fail.Wrap(fail.Failed, err, "run pfwdctl apply --ca CA.pub first", "no trusted CA for %s", user)
	}
	data, _ = ca.WithoutThrowaway(data)
	c, err := render.ParseCA(data)
	if err != nil {
		return nil, fail.Wrap(fail.Failed, err, "run pfwdctl apply --ca CA.pub to rewrite it", "read %s", ca.TrustedCAPath(user))
	}
	return c.PublicKey, nil
}

func caRevokeRun(c *cobra.Command, g *Globals, o *caRevokeOpts, args []string) error {
	rev := ca.Revocation{Serial: o.serial, ID: o.id}
	fp, certID, signedBy := "", "", ""
	if len(args) == 1 {
		data, err := os.ReadFile(args[0])
		if err != nil {
			return fail.Wrap(fail.Usage, err, "", "read the certificate")
		}
		pub, _, _, _, err := ssh.ParseAuthorizedKey(data)
		cert, ok := pub.(*ssh.Certificate)
		if err != nil || !ok {
			return usageErr("give a -cert.pub file (or --serial / --id)", "%s is not an SSH certificate", args[0])
		}
		rev = ca.Revocation{Serial: cert.Serial, ID: cert.KeyId}
		fp, certID = ssh.FingerprintSHA256(cert.Key), cert.KeyId
		signedBy = ssh.FingerprintSHA256(cert.SignatureKey)
		if cert.Serial == 0 {
			// ssh-keygen -k revokes a certificate without a serial by its
			// key id: every certificate of that name (krl.c).
			rev = ca.Revocation{Cert: args[0]}
		} else {
			rev.ID = "" // only this certificate, not every one of that name
		}
	}
	n := 0
	for _, set := range []bool{len(args) == 1, o.serial != 0, o.id != ""} {
		if set {
			n++
		}
	}
	if n != 1 {
		return usageErr("give exactly one of --serial N, --id NAME or a -cert.pub file", "what to revoke?")
	}
	root := g.Root()
	if o.kill && !root.IsHost() {
		return usageErr("drop --kill-sessions, or run it on the host itself", "--kill-sessions ends processes of the running host, and --root names a tree")
	}
	krl, caPub := root.Path(ca.KRLPath(o.user)), root.Path(ca.TrustedCAPath(o.user))
	if _, err := os.Stat(krl); err != nil {
		return fail.Wrap(fail.Failed, err, "run pfwdctl apply --ca CA.pub first", "no revocation list for %s", o.user)
	}
	caKey, err := trustedCA(root, o.user)
	if err != nil {
		return err
	}
	caFP := ssh.FingerprintSHA256(caKey)
	if signedBy != "" && signedBy != caFP {
		// The KRL's serials and ids are the account's CA's: revoking
		// this one's serial there would revoke someone else's.
		return usageErr("revoke it where its CA is trusted, or give --serial/--id of a certificate pfwdctl ca sign issued (pfwdctl ca list)",
			"%s was signed by the CA %s, not by %s that %s trusts", args[0], signedBy, caFP, o.user)
	}
	h := usersHost(g)
	h.Attribute = logAttribute(g, o.log)
	picked := caRevoked(rev, certID, caFP)
	// Sessions are ended only once the list holds, so a killed client
	// cannot log straight back in with the same certificate.
	if err := func() error {
		unlock, err := root.Lock(hostfs.LockWait)
		if err != nil {
			return err
		}
		defer unlock()
		log := auditLog(g)
		change, err := log.Begin(ca.RevokeEvent(o.user, rev.Serial, rev.ID, fp))
		if err != nil {
			return fail.Wrap(fail.Unavailable, err, "", "record the revocation in the audit log; nothing revoked")
		}
		if err := ca.Revoke(c.Context(), g.Runner, krl, caPub, rev); err != nil {
			change.Abort(err)
			return err
		}
		return change.Done()
	}(); err != nil {
		return err
	}
	// The KRL read back holds the revocation (ca.Revoke); the login is
	// refused only if sshd checks the account against that file.
	inEffect, askErr := revokedKeysInEffect(c.Context(), g, o)
	if askErr == nil && inEffect != ca.KRLPath(o.user) {
		return fail.New(fail.Failed, "run pfwdctl audit --user "+o.user+" to see which line sets it, remove that line (or run pfwdctl apply), then revoke again",
			"the revocation is in %s, but sshd checks %s's certificates against RevokedKeys %s (sshd -T): the certificate still logs in",
			ca.KRLPath(o.user), o.user, ui.Escape(inEffect))
	}
	what := "serial " + fmt.Sprint(rev.Serial)
	if rev.Serial == 0 && rev.ID != "" {
		what = "every certificate named " + rev.ID
	} else if rev.Cert != "" {
		what = "every certificate named " + certID + " (" + rev.Cert + " has no serial, and OpenSSH revokes such a certificate by its key id)"
	}
	res := caRevokeResult{Revoked: what, Account: o.user, KRL: ca.KRLPath(o.user), Confirmed: askErr == nil}
	if askErr != nil {
		res.Warnings = append(res.Warnings, fmt.Sprintf("sshd could not be asked which revocation list it reads for %s (%v): the next login is refused only if it checks %s", o.user, askErr, ca.KRLPath(o.user)))
	}
	if rev.ID != "" {
		// A name ca sign never issued is most likely a typo (ca sign
		// turns "bob laptop" into "bob-laptop"): the KRL entry is
		// harmless, but nothing the admin meant is revoked.
		events, _ := auditLog(g).Read()
		issued := false
		for _, i := range ca.List(events, g.Now()) {
			issued = issued || i.ID == rev.ID && i.Principal == o.user
		}
		if !issued {
			res.Warnings = append(res.Warnings, fmt.Sprintf("no certificate named %q was issued for %s (pfwdctl ca list): check the name", rev.ID, o.user))
		}
	}
	var killErr error
	if root.IsHost() {
		h.KillReason = fmt.Sprintf("ca revoke serial=%d", rev.Serial)
		if rev.Serial == 0 {
			id := rev.ID
			if id == "" {
				id = certID
			}
			h.KillReason = fmt.Sprintf("ca revoke id=%q", id)
		}
		if o.kill {
			res.Killed, res.Kept, killErr = h.KillSessions(c.Context(), o.user, picked)
			res.SessionsKnown = killErr == nil
		} else if sess, err := h.OpenSessions(c.Context(), o.user); err == nil {
			res.SessionsKnown = true
			for _, s := range sess {
				if picked(s) {
					res.Open = append(res.Open, s)
				}
			}
		}
	}
	if g.JSON {
		if err := g.PrintJSON(res); err != nil {
			return err
		}
		return killErr
	}
	st := g.Styles()
	if res.Confirmed {
		g.Printf("%s revoked %s for %s; the next login with it is refused\n", st.OK("✓"), ui.Escape(what), ui.Escape(o.user))
	} else {
		g.Printf("%s revoked %s for %s in %s (not confirmed that sshd reads it)\n", st.Warn("!"), ui.Escape(what), ui.Escape(o.user), res.KRL)
	}
	switch {
	case o.kill:
		unknown := 0
		for _, s := range res.Killed {
			if s.Fingerprint == "" {
				unknown++
			}
		}
		g.Printf("%s ended %d open session(s) of the revoked certificate(s)\n", st.OK("✓"), len(res.Killed))
		if unknown > 0 {
			g.Printf("%s %d of them could not be tied to a login (sshd's log does not name it, or names it twice) and were ended to be safe\n", st.Warn("!"), unknown)
		}
		if len(res.Kept) > 0 {
			g.Printf("  %d other session(s) of %s left up\n", len(res.Kept), ui.Escape(o.user))
		}
	case !res.SessionsKnown && !o.kill:
		g.Printf("%s\n", st.Dim("open sessions: not counted"))
	case len(res.Open) > 0:
		g.Printf("%s %d open session(s) may have used it; revoking does not end them: pass --kill-sessions to end them\n", st.Warn("!"), len(res.Open))
	}
	printWarnings(g, res.Warnings)
	return killErr
}

// revokedKeysInEffect is the RevokedKeys sshd applies to the account
// (sshd -T -C user=ACCOUNT): "none" when it sets none.
func revokedKeysInEffect(ctx context.Context, g *Globals, o *caRevokeOpts) (string, error) {
	b := sshd.Binary{Bin: o.sshdBin, Runner: g.Runner, Root: g.Root(), Config: o.sshdConfig}
	eff, err := b.Effective(ctx, sshd.ConnSpec(o.user))
	if err != nil {
		return "", err
	}
	if v := eff["revokedkeys"]; len(v) > 0 && v[0] != "" {
		return v[0], nil
	}
	return "none", nil
}

// caRevokeResult is ca revoke's --json document.
type caRevokeResult struct {
	Revoked string `json:"revoked"`
	Account string `json:"account"`
	KRL     string `json:"krl"`
	// Confirmed: sshd -T says the account's certificates are checked
	// against KRL, so the next login with a revoked one is refused.
	Confirmed     bool            `json:"confirmed"`
	SessionsKnown bool            `json:"sessions_known"`
	Open          []users.Session `json:"open_sessions,omitempty"`
	Killed        []users.Session `json:"killed,omitempty"`
	Kept          []users.Session `json:"kept,omitempty"`
	Warnings      []string        `json:"warnings,omitempty"`
}

func newCaListCmd(g *Globals) *cobra.Command {
	var user string
	c := &cobra.Command{
		Use:   "list",
		Short: "List issued certificates and their state (from the audit log)",
		Long: `list shows the certificates ca sign issued, as the audit log records them,
each with its state now: valid, expired, revoked or not-yet-valid.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			events, err := auditLog(g).Read()
			if err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fail.Wrap(fail.Unavailable, err, "", "read the audit log")
			}
			var list []ca.Issued
			for _, i := range ca.List(events, g.Now()) {
				if user == "" || i.Principal == user {
					list = append(list, i)
				}
			}
			if g.JSON {
				if list == nil {
					list = []ca.Issued{}
				}
				return g.PrintJSON(list)
			}
			if len(list) == 0 {
				g.Printf("no certificates issued\n")
				return nil
			}
			st := g.Styles()
			for _, i := range list {
				mark := st.OK("valid")
				if i.State != ca.StateValid {
					mark = st.Dim(i.State)
				}
				g.Printf("%-6d %-16s %-10s %s until %s  %s\n", i.Serial, ui.Escape(i.ID), ui.Escape(i.Principal), mark, i.ValidBefore.UTC().Format(time.RFC3339), i.Fingerprint)
			}
			return nil
		},
	}
	c.Flags().StringVar(&user, "user", "", "only this `account`'s certificates")
	return c
}
