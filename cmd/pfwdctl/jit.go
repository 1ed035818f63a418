package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/crypto/ssh"

	"github.com/pfwdctl/pfwdctl/internal/accounts"
	"github.com/pfwdctl/pfwdctl/internal/auditlog"
	"github.com/pfwdctl/pfwdctl/internal/ca"
	"github.com/pfwdctl/pfwdctl/internal/fail"
	"github.com/pfwdctl/pfwdctl/internal/hostfs"
	"github.com/pfwdctl/pfwdctl/internal/jit"
	"github.com/pfwdctl/pfwdctl/internal/sshd"
	"github.com/pfwdctl/pfwdctl/internal/ui"
	"github.com/pfwdctl/pfwdctl/render"
	"github.com/pfwdctl/pfwdctl/users"
	"github.com/pfwdctl/pfwdctl/users/keyline"
)

// jitExtend gives commands jit.go does not own their JIT flags (the JIT
// commands themselves are in root.go's table like every other).
func jitExtend(root *cobra.Command, g *Globals) {
	jitExtendApply(root, g)
	jitExtendAddKey(root, g)
	jitExtendRevoke(root, g)
}

// jitExtendRevoke gives revoke --dormant: the key leaves the dormant
// registry (it was never authorized, so no session can use it).
func jitExtendRevoke(root *cobra.Command, g *Globals) {
	c := findCmd(root, "revoke")
	if c == nil {
		return
	}
	var dormant bool
	c.Flags().BoolVar(&dormant, "dormant", false, "remove a key registered with add-key --dormant from the registry instead (docs/jit.md)")
	orig := c.RunE
	c.RunE = func(c *cobra.Command, args []string) error {
		if !dormant {
			return orig(c, args)
		}
		user, _ := c.Flags().GetString("user")
		d, err := usersHost(g).RemoveDormant(user, args[0])
		if err != nil {
			return err
		}
		if g.JSON {
			return g.PrintJSON(map[string]any{"removed": d})
		}
		g.Printf("%s removed dormant key %s (%s) of %s\n", g.Styles().OK("✓"), ui.Escape(d.Name), d.Fingerprint, ui.Escape(d.Account))
		return nil
	}
}

// jitRoot is where the JIT files are: under --root, or Env.JITRoot.
func jitRoot(g *Globals) hostfs.Root {
	if g.JITRoot != nil {
		return *g.JITRoot
	}
	return g.Root()
}

// jitService is the JIT service for this run: the caller from the real uid
// (for root: the login uid, or SUDO_USER where none is recorded; jit.Caller), the audit log as the other changing commands
// keep it.
func jitService(g *Globals) (jit.Service, error) {
	host, _ := os.Hostname()
	caller, err := jit.Caller(g.Root(), os.Getuid(), g.Getenv, g.LoginUID)
	return jit.Service{Root: jitRoot(g), Now: g.Now, Runner: g.Runner, Host: host, Caller: caller,
		Log: auditlog.Log{Root: g.Root(), File: g.AuditLog, Now: g.Now, Getenv: g.Getenv}}, err
}

// deciderService is jitService for approve, deny and grant, which a sudo
// rule may delegate to a non-root approver ("approve *"): such an approver
// acts on the running host only. --root DIR would have root write, as
// their approval, into a tree they chose (docs/jit.md).
func deciderService(g *Globals) (jit.Service, error) {
	svc, err := jitService(g)
	if err != nil {
		return svc, err
	}
	if os.Getuid() == 0 && svc.Caller.UID != 0 && !g.Root().IsHost() {
		return svc, usageErr("decide on the running host (without --root); --root trees are for tests and image builds, run by root's own login",
			"refusing --root: the approver is %s (login uid %d) acting as root, and a sudo rule that allows approve would let them make root write into a tree they chose", svc.Caller.Name, svc.Caller.UID)
	}
	return svc, nil
}

type requestOpts struct {
	user, key, name, dur, reason string
}

func newRequestCmd(g *Globals) *cobra.Command {
	o := &requestOpts{}
	c := &cobra.Command{
		Use:   "request (--key FILE | --name NAME) --for DURATION --reason TEXT",
		Short: "Ask for just-in-time access for a friend's key (any member of the JIT group)",
		Long: `request files a pending request for a friend's key: a new public key
(--key FILE) or one registered with add-key --dormant (--name NAME). It
needs no root: members of the group set up by pfwdctl apply --jit-group
may run it. The request (requester from your real uid, key fingerprint,
duration, reason, time) is written atomically into ` + jit.SpoolDir + `,
and the hooks in ` + jit.HooksDir + ` run as you with it on stdin. An
admin then approves it (pfwdctl approve ID) or denies it. Prints the id.
docs/jit.md describes the workflow and its threat model.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error { return requestRun(c, g, o) },
	}
	f := c.Flags()
	f.StringVar(&o.user, "user", render.DefaultUser, "the port-forward-only `account`")
	f.StringVar(&o.key, "key", "", "the friend's public key `FILE` (or - for stdin)")
	f.StringVar(&o.name, "name", "", "the friend's `NAME`: a dormant key's, or the name the --key gets")
	f.StringVar(&o.dur, "for", "", "how long the access is asked for, e.g. 30m, 4h, 2d (at most 30d)")
	f.StringVar(&o.reason, "reason", "", "why, in one line (the approver reads it; it is in the audit log)")
	return c
}

func requestRun(c *cobra.Command, g *Globals, o *requestOpts) error {
	if o.key == "" && o.name == "" {
		return usageErr("give --key FRIEND.pub, or --name NAME for a key registered with add-key --dormant", "which key?")
	}
	if o.dur == "" {
		return usageErr("give --for, e.g. --for 4h", "how long? (--for)")
	}
	if strings.TrimSpace(o.reason) == "" {
		return usageErr("give --reason TEXT: the approver decides on it", "why? (--reason)")
	}
	if err := accounts.ValidateName(o.user); err != nil {
		return err
	}
	dur, err := jit.ParseDuration(o.dur)
	if err != nil {
		return err
	}
	now := g.Now().UTC().Truncate(time.Second)
	id, err := jit.NewID(now)
	if err != nil {
		return err
	}
	uid := os.Getuid()
	r := jit.Request{Version: 1, ID: id, Account: o.user, Duration: int64(dur / time.Second), Reason: strings.TrimSpace(o.reason),
		Created: now, RequesterUID: uid, SudoUser: g.Getenv("SUDO_USER")}
	// The requester's name is the uid's (informational: approve trusts the
	// file's owner), without the environment or the login uid.
	me, _ := jit.Caller(g.Root(), uid, func(string) string { return "" }, func() (int, bool) { return 0, false })
	r.Requester = me.Name
	if o.key != "" {
		data, err := readKeyInput(g, o.key)
		if err != nil {
			return err
		}
		k, _, err := keyline.ParsePublic(data)
		if err != nil {
			return err
		}
		explicit := ""
		if o.name != "" {
			explicit = keyline.SanitizeName(o.name)
			k.Comment = explicit
		}
		d, reg, err := registeredKey(usersHost(g), o.user, explicit, k.Comment, k.Fingerprint())
		if err != nil {
			return err
		}
		if !reg && k.Comment == "" {
			return usageErr("give --name NAME", "the key has no comment to name it by")
		}
		if reg {
			// A registered key is requested as registered: its name,
			// targets and from= come from the registry at approval.
			r.Name, r.Fingerprint = d.Name, d.Fingerprint
		} else {
			r.Name, r.Fingerprint = k.Comment, k.Fingerprint()
			r.Key = k.Type() + " " + k.Base64() + " " + k.Comment
		}
	} else {
		d, err := usersHost(g).Dormant(o.user, o.name)
		if err != nil {
			return err
		}
		r.Name, r.Fingerprint = d.Name, d.Fingerprint
	}
	svc, err := jitService(g)
	if err != nil {
		return err
	}
	res, err := svc.File(c.Context(), r)
	if err != nil {
		return err
	}
	if g.JSON {
		return g.PrintJSON(res)
	}
	g.Printf("%s filed request %s: %s (%s) for %s, %s\n", g.Styles().OK("✓"), res.ID, ui.Escape(r.Name), r.Fingerprint, ui.Escape(r.Account), dur)
	g.Printf("an admin approves it with: sudo pfwdctl approve %s --fingerprint %s\n", res.ID, r.Fingerprint)
	printHooks(g, res.Hooks)
	return nil
}

// registeredKey looks a submitted key up in account's dormant registry by
// fingerprint and by name, so a request can never borrow a registered
// friend's name (and with it their place in the audit log) nor drop the
// from= and targets the admin registered the key with. A registered
// fingerprint gives its entry (reg), refused when explicit (the --name
// given) is another name; a name registered with another key is refused.
func registeredKey(h users.Host, account, explicit, name, fp string) (d users.DormantKey, reg bool, err error) {
	keys, err := h.DormantKeys(account)
	if err != nil {
		return d, false, err
	}
	for _, d := range keys {
		if d.Fingerprint == fp {
			if explicit != "" && explicit != d.Name {
				return d, true, fail.New(fail.Failed, "request it by its registered name: pfwdctl request --name "+d.Name,
					"the key %s is registered as %q, not %q", fp, d.Name, explicit)
			}
			return d, true, nil
		}
	}
	for _, d := range keys {
		if name != "" && d.Name == name {
			return d, false, fail.New(fail.Failed, "give this key another --name (pfwdctl list-keys shows the registered ones)",
				"%s is registered with another key %s", name, d.Fingerprint)
		}
	}
	return users.DormantKey{}, false, nil
}

// printHooks reports failed hooks on stderr: they never change the exit
// code (a decision is made whatever a hook does).
func printHooks(g *Globals, hs []jit.HookResult) {
	for _, h := range hs {
		if !h.OK {
			msg := h.Hook + ": " + h.Error
			if h.Stderr != "" {
				msg += ": " + h.Stderr
			}
			fmt.Fprintf(g.IO.Err, "pfwdctl: warning: hook %s\n", ui.EscapeText(auditlog.OneLine(msg)))
		}
	}
}

func newRequestsCmd(g *Globals) *cobra.Command {
	var state string
	c := &cobra.Command{
		Use:   "requests",
		Short: "List just-in-time requests: pending, approved, denied, expired",
		Long: `requests lists the requests in ` + jit.SpoolDir + ` and the decisions in
` + jit.DecisionsDir + `, oldest first, with their state: pending, approved
(with its window), denied, expired (not decided within the time-to-live),
or invalid (a spool file approve refuses: deny removes it). Root and
members of the JIT group may run it.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			list, err := jit.List(jitRoot(g), g.Now())
			if err != nil {
				return err
			}
			if state != "" {
				var keep []jit.Record
				for _, r := range list {
					if r.State == state {
						keep = append(keep, r)
					}
				}
				list = append([]jit.Record{}, keep...)
			}
			if g.JSON {
				return g.PrintJSON(list)
			}
			if len(list) == 0 {
				g.Printf("no requests\n")
				return nil
			}
			tw := tabwriter.NewWriter(g.IO.Out, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tSTATE\tACCOUNT\tNAME\tFINGERPRINT\tKEY\tREQUESTER\tFOR\tDECISION\tREASON")
			for _, r := range list {
				dec := "-"
				if d := r.Decision; d != nil {
					dec = d.Approver.String() + " " + d.Time.Local().Format("2006-01-02 15:04")
					if d.State == jit.StateApproved {
						dec += " until " + users.FormatTime(d.End)
					}
				}
				reason := r.Reason
				if r.Error != "" {
					reason = r.Error
				}
				cells := []string{r.ID, r.State, r.Account, r.Name, orDash(r.Fingerprint), orDash(r.KeySource), r.Requester, r.For, dec, reason}
				for i := range cells {
					cells[i] = ui.Escape(cells[i])
				}
				fmt.Fprintln(tw, strings.Join(cells, "\t"))
			}
			return tw.Flush()
		},
	}
	c.Flags().StringVar(&state, "state", "", "only requests in this `STATE` (pending, approved, denied, expired, invalid)")
	return c
}

// grantFlags are how approve and grant install: a key with expiry-time
// (default), or a certificate with --ca/--ca-agent on a host set up with
// apply --ca.
type grantFlags struct {
	sshdFlags
	caFile, caPub string
	caAgent       bool
}

func (f *grantFlags) add(c *cobra.Command) {
	f.sshdFlags.add(c)
	c.Flags().StringVar(&f.caFile, "ca", "", "issue a certificate for the window, signed with this CA private key `FILE`, instead of installing the key (the host must trust the CA: apply --ca)")
	c.Flags().BoolVar(&f.caAgent, "ca-agent", false, "issue the certificate with the CA key held in the ssh-agent (SSH_AUTH_SOCK)")
	c.Flags().StringVar(&f.caPub, "ca-pub", "", "with --ca-agent: the CA public key `FILE`, to pick the agent's key")
}

// installer is the Installer for these flags. The caller (jit) holds
// pfwdctl's lock, so users' AddKey runs with NoLock.
func (f *grantFlags) installer(c *cobra.Command, g *Globals) jit.Installer {
	return func(ctx context.Context, gr jit.Grant) (jit.Installed, error) {
		r := gr.Request
		h := f.host(g)
		h.NoLock = true
		var k keyline.Key
		var targets, from []string
		if r.Key != "" {
			var err error
			if k, _, err = keyline.ParsePublic([]byte(r.Key)); err != nil {
				return jit.Installed{}, err
			}
			// The registry may have changed since the request: a
			// registered key keeps its registered name, targets and
			// from=, and a registered name is never borrowed.
			d, reg, err := registeredKey(h, r.Account, r.Name, r.Name, k.Fingerprint())
			if err != nil {
				return jit.Installed{}, err
			}
			if reg {
				targets, from = d.Targets, d.From
			}
		} else {
			d, err := h.Dormant(r.Account, r.Name)
			if err != nil {
				return jit.Installed{}, err
			}
			if d.Fingerprint != r.Fingerprint {
				return jit.Installed{}, fail.New(fail.Failed, "deny it and ask for a new request", "the dormant key %q is now %s, not the %s that was requested", r.Name, d.Fingerprint, r.Fingerprint)
			}
			if k, _, err = keyline.ParsePublic([]byte(d.Key)); err != nil {
				return jit.Installed{}, err
			}
			targets, from = d.Targets, d.From
		}
		if f.caFile != "" || f.caAgent {
			return f.signCert(g, gr, k, from)
		}
		if v, err := (sshd.Binary{Bin: f.bin, Runner: g.Runner}).Version(ctx); err == nil {
			h.SshdVersion = "OpenSSH_" + v.String()
		}
		res, err := h.AddKey(ctx, users.AddKeyRequest{User: r.Account, Key: k, Name: r.Name, Targets: targets, Expiry: gr.End, From: from})
		if err != nil && !res.Changed {
			return jit.Installed{}, err
		}
		// Changed with an error (a failed read-back, say): the key is
		// written, so jit keeps the approval and reports the error.
		return jit.Installed{Method: "key", Fingerprint: res.Fingerprint, Name: res.Name, Path: res.Path, Line: res.Line, Warnings: res.Warnings}, err
	}
}

// signCert issues a certificate for the grant's window (the same checks
// and audit record as ca sign) into jit.CertDir.
func (f *grantFlags) signCert(g *Globals, gr jit.Grant, k keyline.Key, from []string) (jit.Installed, error) {
	r := gr.Request
	root := g.Root()
	if _, err := root.Stat(ca.TrustedCAPath(r.Account)); err != nil {
		return jit.Installed{}, fail.Wrap(fail.Failed, err, "run pfwdctl apply --ca CA.pub first, or approve without --ca to install the key", "%s does not trust a CA", r.Account)
	}
	signer, closeSigner, err := caSigner(g, &caSignOpts{caFile: f.caFile, caPub: f.caPub, agent: f.caAgent})
	if err != nil {
		return jit.Installed{}, err
	}
	defer closeSigner()
	log := auditlog.Log{Root: root, File: g.AuditLog, Now: g.Now, Getenv: g.Getenv}
	events, err := log.Read()
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return jit.Installed{}, fail.Wrap(fail.Unavailable, err, "", "read the audit log (serials are never reused)")
	}
	serial, err := ca.NextSerial(root.Path(ca.SerialPath), ca.MaxSerial(events))
	if err != nil {
		return jit.Installed{}, err
	}
	req := ca.SignRequest{Principal: r.Account, KeyID: r.Name, Serial: serial, ValidAfter: gr.Start.Add(-time.Minute), ValidBefore: gr.End,
		From: from, ForceCommand: render.DefaultNologin}
	cert, err := ca.Sign(signer, k.Pub, req)
	if err != nil {
		return jit.Installed{}, err
	}
	issued := ca.Issued{Serial: serial, ID: cert.KeyId, Principal: r.Account, Fingerprint: k.Fingerprint(),
		CA: ssh.FingerprintSHA256(signer.PublicKey()), ValidAfter: req.ValidAfter, ValidBefore: req.ValidBefore, From: cert.CriticalOptions["source-address"]}
	ev := ca.SignEvent(issued)
	ev.Request = r.ID
	if err := log.Append(ev); err != nil {
		return jit.Installed{}, fail.Wrap(fail.Unavailable, err, "", "record the certificate in the audit log; nothing issued")
	}
	dir := root.Path(jit.CertDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return jit.Installed{}, err
	}
	p := dir + "/" + r.ID + "-cert.pub" // under --root: the cert dir is not a JIT-root file
	if err := hostfs.WriteFile(p, ca.Marshal(cert), 0o644, hostfs.RootOwner); err != nil {
		return jit.Installed{}, err
	}
	return jit.Installed{Method: "certificate", Fingerprint: k.Fingerprint(), Name: cert.KeyId, Serial: serial, Certificate: jit.CertDir + "/" + r.ID + "-cert.pub"}, nil
}

type approveOpts struct {
	grantFlags
	dur, note, fingerprint, digest string
}

// describeTargets is what the registry adds to a request approve shows:
// a registered key's targets and from=.
func describeTargets(g *Globals, r jit.Request) string {
	if r.Key != "" {
		return ""
	}
	d, err := usersHost(g).Dormant(r.Account, r.Name)
	if err != nil {
		return ""
	}
	out := ", targets " + orDash(strings.Join(d.Targets, ","))
	if len(d.From) > 0 {
		out += ", from=" + strings.Join(d.From, ",")
	}
	return out
}

func newApproveCmd(g *Globals) *cobra.Command {
	o := &approveOpts{}
	c := &cobra.Command{
		Use:   "approve ID --fingerprint FP",
		Short: "Approve a just-in-time request: the key works until the window ends",
		Long: `approve (root) authorizes the request's key for its window: through the
same code path as add-key (restriction prefix, lock, audit log) with
expiry-time = now + the duration asked for (or the shorter --for), so sshd
refuses the key after it; with --ca (on a host set up with apply --ca) it
issues a certificate for the window instead. It refuses the requester's
own request unless the host allows self-approval (apply
--allow-self-approve), a request older than its time-to-live (default 24h;
it is then recorded as expired), a request already decided, and a spool
file that is not exactly what pfwdctl request writes. It names what it
approves: --fingerprint FP (the key pfwdctl requests shows) is required,
and another key is refused; without it approve prints the request and the
command that approves exactly it (with --digest, which refuses the request
once its owner replaced it). The hooks run after the decision; a failing
hook is reported, never undoes it.`,
		Args: exactlyOneID,
		RunE: func(c *cobra.Command, args []string) error {
			var d time.Duration
			if o.dur != "" {
				var err error
				if d, err = jit.ParseDuration(o.dur); err != nil {
					return err
				}
			}
			svc, err := deciderService(g)
			if err != nil {
				return err
			}
			fp := o.fingerprint
			if o.digest == "" {
				// Both or neither: the key alone would leave the account,
				// window and reason to whatever the file says by then
				// (its owner can replace it). Without them approve shows
				// the request and the exact command to approve it.
				fp = ""
			}
			res, err := svc.Approve(c.Context(), jit.ApproveOptions{ID: args[0], For: d, Note: o.note, Install: o.installer(c, g),
				Fingerprint: fp, Digest: o.digest, Describe: func(r jit.Request) string { return describeTargets(g, r) }})
			if err != nil {
				if res.Installed != nil && !g.JSON {
					// Installed, but something failed after: say what is live.
					printDecision(g, res)
					return err
				}
				if g.JSON && res.State != "" {
					g.PrintJSON(res)
				}
				printHooks(g, res.Hooks)
				return err
			}
			return printDecision(g, res)
		},
	}
	c.Flags().StringVar(&o.fingerprint, "fingerprint", "", "the key `FP` you approve, as pfwdctl requests shows it (required: another key is refused)")
	c.Flags().StringVar(&o.digest, "digest", "", "the request's version `D` as approve without it (or requests --json) showed it, required with --fingerprint: a request replaced since is refused")
	c.Flags().StringVar(&o.dur, "for", "", "a shorter window than the one asked for, e.g. 1h")
	c.Flags().StringVar(&o.note, "note", "", "a note for the audit log and the hooks")
	o.grantFlags.add(c)
	return c
}

func exactlyOneID(_ *cobra.Command, args []string) error {
	if len(args) != 1 {
		return usageErr("give the request id (pfwdctl requests lists them)", "expected one request id, got %d arguments", len(args))
	}
	return nil
}

func printDecision(g *Globals, res jit.Result) error {
	if g.JSON {
		return g.PrintJSON(res)
	}
	st := g.Styles()
	d := res.Decision
	switch res.State {
	case jit.StateApproved:
		g.Printf("%s approved request %s of %s: %s (%s) for %s until %s\n", st.OK("✓"), res.ID, ui.Escape(d.Requester.String()), ui.Escape(d.Request.Name), d.Fingerprint, ui.Escape(d.Request.Account), users.FormatTime(d.End))
		if in := res.Installed; in != nil {
			if in.Method == "certificate" {
				g.Printf("  certificate serial %d in %s: give it to the friend (ssh -o CertificateFile=...)\n", in.Serial, ui.Escape(in.Certificate))
			} else {
				g.Printf("  %s\n", st.Dim(ui.Escape(in.Line)))
			}
			printWarnings(g, in.Warnings)
		}
	case jit.StateDenied:
		g.Printf("%s denied request %s: %s\n", st.OK("✓"), res.ID, ui.Escape(d.Note))
	default:
		g.Printf("request %s is %s\n", res.ID, res.State)
	}
	printHooks(g, res.Hooks)
	return nil
}

func newDenyCmd(g *Globals) *cobra.Command {
	var reason string
	c := &cobra.Command{
		Use:   "deny ID --reason TEXT",
		Short: "Deny a just-in-time request",
		Long: `deny (root) records that the request is denied, and why; it can never be
approved afterwards. A spool file approve refuses (forged, a symlink,
extra fields) is denied the same way and removed.`,
		Args: exactlyOneID,
		RunE: func(c *cobra.Command, args []string) error {
			svc, err := deciderService(g)
			if err != nil {
				return err
			}
			res, err := svc.Deny(c.Context(), args[0], reason)
			if err != nil {
				return err
			}
			return printDecision(g, res)
		},
	}
	c.Flags().StringVar(&reason, "reason", "", "why, in one line (for the requester, the audit log and the hooks)")
	return c
}

type grantOpts struct {
	grantFlags
	user, dur, reason string
}

func newGrantCmd(g *Globals) *cobra.Command {
	o := &grantOpts{}
	c := &cobra.Command{
		Use:   "grant NAME --for DURATION",
		Short: "Request and approve access for a dormant key in one step (root)",
		Long: `grant (root) is the shortcut for a friend registered with add-key
--dormant when the admin is also the approver: it files the request and
approves it at once, recorded as a request approved by the same person
(root can always add a key; grant keeps it short-lived and on the record).
The key is installed with expiry-time = now + --for, or, with --ca, a
certificate is issued for the window.`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageErr("give the dormant key's name (pfwdctl list-keys shows them)", "expected one name, got %d arguments", len(args))
			}
			return nil
		},
		RunE: func(c *cobra.Command, args []string) error {
			if o.dur == "" {
				return usageErr("give --for, e.g. --for 4h", "how long? (--for)")
			}
			svc, err := deciderService(g) // before the registry is read
			if err != nil {
				return err
			}
			dur, err := jit.ParseDuration(o.dur)
			if err != nil {
				return err
			}
			d, err := usersHost(g).Dormant(o.user, args[0])
			if err != nil {
				return err
			}
			now := g.Now().UTC().Truncate(time.Second)
			id, err := jit.NewID(now)
			if err != nil {
				return err
			}
			reason := o.reason
			if reason == "" {
				reason = "grant"
			}
			r := jit.Request{Version: 1, ID: id, Account: o.user, Name: d.Name, Fingerprint: d.Fingerprint, Duration: int64(dur / time.Second),
				Reason: reason, Created: now, RequesterUID: os.Getuid(), Requester: svc.Caller.Name, SudoUser: g.Getenv("SUDO_USER")}
			res, err := svc.Grant(c.Context(), jit.GrantOptions{Request: r, Install: o.installer(c, g)})
			if err != nil {
				if res.Installed != nil && !g.JSON {
					printDecision(g, res)
				}
				return err
			}
			return printDecision(g, res)
		},
	}
	c.Flags().StringVar(&o.user, "user", render.DefaultUser, "the port-forward-only `account`")
	c.Flags().StringVar(&o.dur, "for", "", "how long, e.g. 30m, 4h, 2d (at most 30d)")
	c.Flags().StringVar(&o.reason, "reason", "", "why, in one line (for the audit log and the hooks)")
	o.grantFlags.add(c)
	return c
}

// jitExtendApply gives apply --jit-group, --allow-self-approve and
// --jit-ttl: after apply succeeds (not --dry-run), the JIT spool,
// decisions and settings are set up for that group.
func jitExtendApply(root *cobra.Command, g *Globals) {
	c := findCmd(root, "apply")
	if c == nil {
		return
	}
	var group, ttl string
	var self bool
	f := c.Flags()
	f.StringVar(&group, "jit-group", "", "set up just-in-time requests: members of `GROUP` may run pfwdctl request (docs/jit.md)")
	f.BoolVar(&self, "allow-self-approve", false, "with --jit-group: let an approver approve their own request (default: two people)")
	f.StringVar(&ttl, "jit-ttl", "", "with --jit-group: how long a pending request can be approved (default 24h)")
	orig := c.RunE
	c.RunE = func(c *cobra.Command, args []string) error {
		if group == "" && (self || ttl != "") {
			return usageErr("add --jit-group GROUP", "--allow-self-approve and --jit-ttl set up just-in-time requests, which need --jit-group")
		}
		s := jit.Settings{Group: group, AllowSelfApprove: self}
		if ttl != "" {
			d, err := jit.ParseDuration(ttl)
			if err != nil {
				return err
			}
			s.TTLSeconds = int64(d / time.Second)
		}
		if group != "" {
			// Before apply changes anything: a typo in the group must not
			// leave the drop-ins installed and exit 2.
			if _, err := jit.GroupID(jitRoot(g), group); err != nil {
				return err
			}
		}
		if err := orig(c, args); err != nil {
			return err
		}
		if dry, _ := c.Flags().GetBool("dry-run"); group == "" || dry {
			return nil
		}
		res, err := jit.Setup(jitRoot(g), s)
		if err != nil {
			return err
		}
		if res.Changed {
			fmt.Fprintf(g.IO.Err, "pfwdctl: note: just-in-time requests set up: members of %s may run pfwdctl request (spool %s; self-approval %s; time-to-live %s)\n",
				ui.EscapeText(group), jit.SpoolDir, map[bool]string{true: "allowed", false: "refused"}[self], s.TTL())
		}
		return nil
	}
}

// jitExtendAddKey gives add-key --dormant: the key is registered (name,
// key, targets) and not authorized.
func jitExtendAddKey(root *cobra.Command, g *Globals) {
	c := findCmd(root, "add-key")
	if c == nil {
		return
	}
	var dormant bool
	c.Flags().BoolVar(&dormant, "dormant", false, "register the key (name, key, targets) without authorizing it: sshd does not read it until pfwdctl grant or approve (docs/jit.md)")
	orig := c.RunE
	c.RunE = func(c *cobra.Command, args []string) error {
		if !dormant {
			return orig(c, args)
		}
		f := c.Flags()
		if e, _ := f.GetString("expires"); e != "" {
			return usageErr("a dormant key has no expiry: the window is given by grant or approve", "--dormant and --expires do not go together")
		}
		data, err := readKeyInput(g, args[0])
		if err != nil {
			return err
		}
		k, warns, err := keyline.ParsePublic(data)
		if err != nil {
			return err
		}
		name, _ := f.GetString("name")
		user, _ := f.GetString("user")
		targets, _ := f.GetStringArray("target")
		from, _ := f.GetStringSlice("from")
		replace, _ := f.GetBool("replace")
		if _, err := keyline.ParseFrom(from); err != nil {
			return err
		}
		h := usersHost(g)
		h.SshdConfig, _ = f.GetString("sshd-config")
		h.SshdBin, _ = f.GetString("sshd")
		d, action, err := h.AddDormant(c.Context(), users.AddKeyRequest{User: user, Key: k, Name: name, Targets: targets, From: from, Replace: replace})
		if err != nil {
			return err
		}
		if g.JSON {
			return g.PrintJSON(map[string]any{"action": action, "dormant": d, "warnings": warns})
		}
		g.Printf("%s %s dormant key %s (%s) for %s: not authorized; pfwdctl grant %s --for 4h (or request --name %s) lets it in for a window\n",
			g.Styles().OK("✓"), action, ui.Escape(d.Name), d.Fingerprint, ui.Escape(d.Account), ui.Escape(d.Name), ui.Escape(d.Name))
		printWarnings(g, warns)
		return nil
	}
}

// jitPruneStep is prune's step (pruneSteps) that records stale pending
// requests as expired (expired grants are keys past their expiry-time,
// which prune removes already). A JIT problem (a settings file refused,
// the lock) is a warning: it never keeps the keys from being pruned, which
// happened before this step.
func jitPruneStep(c *cobra.Command, g *Globals, _ bool) error {
	svc, err := jitService(g)
	var out []jit.Result
	left := 0
	if err == nil {
		out, left, err = svc.ExpireStale(c.Context())
	}
	if err != nil {
		fmt.Fprintf(g.IO.Err, "pfwdctl: warning: stale requests not expired: %s\n", ui.EscapeText(auditlog.OneLine(err.Error())))
	}
	for _, r := range out {
		fmt.Fprintf(g.IO.Err, "pfwdctl: note: request %s expired: not decided within its time-to-live\n", r.ID)
		printHooks(g, r.Hooks)
	}
	if left > 0 {
		fmt.Fprintf(g.IO.Err, "pfwdctl: note: %d more stale requests are left for the next prune run (at most %d a run)\n", left, jit.MaxExpirePerRun)
	}
	return nil
}

func findCmd(root *cobra.Command, name string) *cobra.Command {
	for _, c := range root.Commands() {
		if c.Name() == name {
			return c
		}
	}
	return nil
}

// printDormant is list-keys' section for keys registered with add-key
// --dormant: shown apart from the authorized ones, since sshd does not
// read them.
func printDormant(g *Globals, ds []users.DormantKey) {
	if len(ds) == 0 {
		return
	}
	g.Printf("dormant (registered, not authorized; pfwdctl grant NAME --for 4h):\n")
	tw := tabwriter.NewWriter(g.IO.Out, 0, 0, 2, ' ', 0)
	for _, d := range ds {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", ui.Escape(d.Name), strings.TrimPrefix(d.Type, "ssh-"), d.Fingerprint, ui.Escape(strings.Join(d.Targets, ",")))
	}
	tw.Flush()
}
