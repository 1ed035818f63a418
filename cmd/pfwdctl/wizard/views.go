package wizard

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/charmbracelet/lipgloss"

	"github.com/pfwdctl/pfwdctl/internal/accounts"
	"github.com/pfwdctl/pfwdctl/internal/sshd"
	"github.com/pfwdctl/pfwdctl/internal/target"
	"github.com/pfwdctl/pfwdctl/internal/ui"
	"github.com/pfwdctl/pfwdctl/render"
	"github.com/pfwdctl/pfwdctl/users"
	"github.com/pfwdctl/pfwdctl/users/friend"
	"github.com/pfwdctl/pfwdctl/users/keyline"
	"github.com/pfwdctl/pfwdctl/verify"
	"github.com/pfwdctl/pfwdctl/verify/self"
)

// plain is made on first use: a package-level lipgloss renderer would be
// built at init for every pfwdctl command, not only the wizard.
var plain = sync.OnceValue(func() ui.Styles { return ui.New(false) })

func (m *Model) ok(s string) string   { return m.st.OK("✓") + " " + s }
func (m *Model) bad(s string) string  { return m.st.Fail("✗") + " " + s }
func (m *Model) warn(s string) string { return m.st.Warn("!") + " " + s }

func (m *Model) errLines(err error) string {
	msg, hint := errText(err)
	s := m.bad(msg)
	if hint != "" {
		s += "\n  " + m.st.Dim("→ "+strings.ReplaceAll(hint, "\n", "\n    "))
	}
	return s
}

func (m *Model) hostView() string {
	h := m.host
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n", m.ok("sshd  "+h.SshdVersion))
	fmt.Fprintf(&b, "%s\n", m.ok("config "+h.Config))
	drop := "drop-ins " + h.DropInDir + "/"
	if len(h.DropIns) == 0 {
		drop += " (empty)"
	} else {
		drop += " (" + strings.Join(h.DropIns, ", ") + ")"
	}
	fmt.Fprintf(&b, "%s\n", m.ok(drop))
	switch {
	case h.ModeErr != nil:
		fmt.Fprintf(&b, "%s\n", m.errLines(h.ModeErr))
	case h.Mode == render.ModeManaged:
		fmt.Fprintf(&b, "%s\n", m.ok("install: managed blocks in "+h.Config+" ("+h.ModeWhy+")"))
	case h.Include == nil:
		fmt.Fprintf(&b, "%s\n", m.ok("Include: sshd reads "+h.DropInDir+"/*.conf"))
	default:
		// apply adds the Include at the top of the main config.
		fmt.Fprintf(&b, "%s\n", m.warn("no Include of "+h.DropInDir+"/*.conf yet: the write step adds it at the top of "+h.Config))
	}
	run := "runs: " + h.Run.Detail
	if h.Run.Method == sshd.ReloadNotFound {
		fmt.Fprintf(&b, "%s\n", m.warn(run))
	} else {
		fmt.Fprintf(&b, "%s\n", m.ok(run))
	}
	if h.ListenErr != nil {
		fmt.Fprintf(&b, "%s\n", m.warn("listens: unknown ("+firstLine(h.ListenErr.Error())+")"))
	} else {
		fmt.Fprintf(&b, "%s\n", m.ok("listens on "+listenList(h.Listen)+" (sshd -T)"))
	}
	fmt.Fprintf(&b, "%s\n\n", m.ok("session: "+h.Connection))
	if h.Lockout == nil {
		fmt.Fprintf(&b, "%s\n", m.ok("lockout check: after hardening (no root login, no passwords) an admin can still log in by key"))
	} else {
		fmt.Fprintf(&b, "%s\n%s\n", m.st.Fail("LOCKOUT WARNING"), m.errLines(h.Lockout))
		fmt.Fprintf(&b, "%s\n", m.st.Dim("Apply will refuse until this is fixed (the wizard has no --force): fix it in another terminal, then press r."))
	}
	b.WriteString("\n" + m.st.Dim("Nothing is changed before you confirm on the Review screen."))
	return b.String()
}

func (m *Model) accountView() string {
	var b strings.Builder
	// One paragraph each: View's wrap folds it at any width (a hard
	// newline made a one-word line at 60 columns).
	b.WriteString("The account your friend logs in as. It gets no shell, no password, and can only open forwards to the targets.\n\n")
	b.WriteString(m.user.View() + "\n")
	if m.userErr != nil {
		b.WriteString(m.errLines(m.userErr) + "\n")
	} else {
		b.WriteString(m.ok(m.accountText()) + "\n")
	}
	b.WriteString("\n" + m.targets.View() + "\n")
	if m.targetsErr != nil {
		b.WriteString(m.errLines(m.targetsErr) + "\n")
	} else {
		b.WriteString(m.ok("PermitOpen "+strings.Join(m.params.TargetStrings(), " ")) + "\n")
	}
	return b.String()
}

// accountText is what Apply's account step will do with the account
// typed, from users.CheckAccount.
func (m *Model) accountText() string {
	a := m.acct.Account
	switch {
	case !m.acct.Exists:
		return "valid account name; Apply creates it (useradd --system: shell nologin, password locked)"
	case len(m.acct.Problems) == 0:
		return fmt.Sprintf("%s exists and is forward-only already (uid %d, shell %s)", a.Name, a.UID, a.Shell)
	}
	return fmt.Sprintf("%s exists (uid %d); Apply repairs it as pfwdctl user create --fix does: %s", a.Name, a.UID, strings.Join(m.acct.Problems, "; "))
}

func (m *Model) keysView() string {
	var b strings.Builder
	b.WriteString("Optional, repeatable: your friend's public key (the one line of their .pub file). Enter on an empty key continues.\n\n")
	for _, f := range m.friends {
		// Queued: Apply writes it (with --dry-run, nothing ever does).
		b.WriteString(fmt.Sprintf("%s queued %s %s %s, %s", m.st.Dim("•"), f.Name, f.Key.Type(), f.Key.Fingerprint(), expiryText(f.Expiry)) + "\n")
	}
	if len(m.friends) > 0 {
		b.WriteString("\n")
	}
	for i, ti := range m.keyInputs() {
		v := ti.View()
		if i == 0 && (m.keyFocus != 0 || lipgloss.Width(ti.Value()) > ti.Width) {
			// A pasted key is one long line: show its start (the key
			// type), never the tail textinput would scroll to, which for a
			// pasted private key is secret material.
			v = ti.Prompt + truncate(ti.Value(), max(10, m.width-len(ti.Prompt)))
			if m.keyErr != nil {
				// Refused input may be a private key: show no more of it
				// than its first word.
				v = fmt.Sprintf("%s%s… (%d characters)", ti.Prompt, truncate(strings.Fields(ti.Value())[0], 40), len(ti.Value()))
			}
		}
		b.WriteString(v + "\n")
	}
	b.WriteString("\n")
	switch {
	case m.keyErr != nil:
		b.WriteString(m.errLines(m.keyErr) + "\n")
	case m.fieldErr != nil:
		b.WriteString(m.errLines(m.fieldErr) + "\n")
	case m.keyOK != nil:
		k := m.keyOK
		b.WriteString(m.ok(fmt.Sprintf("%s %d-bit %s", k.Key.Type(), k.Key.Bits(), k.Key.Fingerprint())) + "\n")
		b.WriteString(m.ok("name "+k.Name) + "\n")
		if !k.Expiry.IsZero() {
			b.WriteString(m.ok(expiryText(k.Expiry)) + "\n")
		}
		if len(k.From) > 0 {
			b.WriteString(m.ok("only from "+strings.Join(k.From, ",")) + "\n")
		}
		for _, w := range k.Warnings {
			b.WriteString(m.warn(w) + "\n")
		}
		if m.keyFocus == 0 {
			b.WriteString(m.st.Dim("enter goes on to its name and expiry; enter there queues it for Apply") + "\n")
		} else {
			b.WriteString(m.st.Dim("enter queues it for Apply") + "\n")
		}
	case m.keyNote != "":
		b.WriteString(m.st.Dim("•") + " " + m.keyNote + "\n")
	}
	return b.String()
}

// enterReview plans with render.Applier.Plan (no lock, no write) and
// re-runs the lockout guard for the chosen account.
func (m *Model) enterReview() {
	m.loadInstalled()
	// The account may have changed since the keys were queued: a name its
	// installed keys already use would fail the keys step after sshd -t.
	m.keysErr = nil
	for _, f := range m.friends {
		if err := m.nameInUse(f.Name, f.Key.Fingerprint()); err != nil {
			m.keysErr = err
			break
		}
	}
	_, m.plan, m.planErr = m.applier().Plan(m.params)
	m.guardErr = m.cfg.guard(context.Background(), m.params.User)
	m.review.SetContent(m.reviewContent())
	m.review.GotoTop()
}

func (m *Model) reviewContent() string {
	var b strings.Builder
	if m.planErr != nil {
		b.WriteString(m.errLines(m.planErr) + "\n\n")
	}
	if m.guardErr != nil {
		b.WriteString(m.st.Fail("LOCKOUT WARNING") + "\n" + m.errLines(m.guardErr) + "\n\n")
	}
	for _, c := range m.plan {
		if c.Action == "unchanged" {
			b.WriteString(m.ok(c.Path+": unchanged") + "\n")
			continue
		}
		b.WriteString(m.st.Bold(c.Action+" "+c.Path) + "\n")
		d, cut := fitDiff(c.Diff, m.width)
		if cut {
			b.WriteString(m.st.Dim("(lines cut at the terminal's width end in …; a wider terminal shows them whole)") + "\n")
		}
		b.WriteString(m.st.Diff(d))
		b.WriteString("\n")
	}
	a, err := accounts.Lookup(m.cfg.Root, m.params.User)
	switch {
	case err == nil && m.acct.Exists && len(m.acct.Problems) == 0 && m.acct.Account.Name == m.params.User:
		fmt.Fprintf(&b, "%s\n  exists (uid %d, shell %s, home %s) and is forward-only already: checked again, left as it is\n", m.st.Bold("account "+m.params.User), a.UID, a.Shell, a.Home)
	case err == nil:
		fmt.Fprintf(&b, "%s\n  exists (uid %d, shell %s, home %s): checked, and repaired as by pfwdctl user create --fix\n", m.st.Bold("account "+m.params.User), a.UID, a.Shell, a.Home)
	default:
		fmt.Fprintf(&b, "%s\n  will be created with useradd --system: shell nologin, password \"*\" (locked), home /home/%s\n", m.st.Bold("create account "+m.params.User), m.params.User)
	}
	if len(m.friends) == 0 {
		b.WriteString("\n" + m.st.Dim("no friend's key (add one later with pfwdctl add-key)") + "\n")
	}
	for _, f := range m.friends {
		line, err := keyline.Build(keyline.Key{Pub: f.Key.Pub, Comment: f.Name}, keyline.Options{Targets: m.params.TargetStrings(), Expiry: f.Expiry, From: f.From})
		if err != nil {
			b.WriteString("\n" + m.errLines(err) + "\n")
			continue
		}
		if err := m.nameInUse(f.Name, f.Key.Fingerprint()); err != nil {
			b.WriteString("\n" + m.errLines(err) + "\n")
			continue
		}
		head := "add key " + f.Name + " to ~" + m.params.User + "/.ssh/authorized_keys"
		if k := m.installedKey(f.Key.Fingerprint()); k != nil {
			// Already installed: add-key rewrites its one line with these
			// options (users.AddKey's "updated"), it adds nothing.
			head = fmt.Sprintf("update key %s in ~%s/.ssh/authorized_keys (installed as %s, line %d)", f.Name, m.params.User, k.Name, k.Line)
		}
		fmt.Fprintf(&b, "\n%s\n  %s\n", m.st.Bold(head), line)
		if f.Expiry.IsZero() {
			b.WriteString("  " + m.st.Dim("no expiry: it works until revoked") + "\n")
		}
	}
	if m.guardErr == nil {
		b.WriteString("\n" + m.ok("lockout check passed") + "\n")
	}
	return wrap(b.String(), m.width)
}

// fitDiff cuts each line of a unified diff to w columns, ending a cut line
// in "…": a line folded by wrap would go on without its +, - or space, and
// read as a line of its own. Tabs are expanded first, as the terminal
// would show them. cut says whether any line was cut.
func fitDiff(d string, w int) (string, bool) {
	lines := strings.Split(d, "\n")
	cut := false
	for i, l := range lines {
		l = expandTabs(l)
		if w > 1 && lipgloss.Width(l) > w {
			l, cut = truncate(l, w), true
		}
		lines[i] = l
	}
	return strings.Join(lines, "\n"), cut
}

func expandTabs(l string) string {
	if !strings.Contains(l, "\t") {
		return l
	}
	var b strings.Builder
	col := 0
	for _, r := range l {
		if r == '\t' {
			n := 8 - col%8
			b.WriteString(strings.Repeat(" ", n))
			col += n
			continue
		}
		b.WriteRune(r)
		col += lipgloss.Width(string(r))
	}
	return b.String()
}

func (m *Model) reviewView() string {
	var foot string
	switch {
	case m.cfg.DryRun:
		foot = m.st.Warn("dry run: nothing has been written; press q to quit")
	case m.planErr != nil || m.guardErr != nil || m.keysErr != nil:
		foot = m.st.Fail("cannot apply: see above (esc to go back, ctrl+c to quit without changes)")
	case !m.planChanges():
		foot = "drop-ins already in place; enter checks the account and keys, and reloads"
	default:
		foot = "enter applies these changes (checked by sshd -t, rolled back if refused)"
	}
	pct := fmt.Sprintf(" %3.0f%%", m.review.ScrollPercent()*100)
	return m.review.View() + "\n" + m.st.Dim(strings.Repeat("─", max(0, m.width-len(pct)))+pct) + "\n" + foot
}

func (m *Model) applyView() string {
	var b strings.Builder
	for _, s := range m.steps {
		var mark string
		switch s.state {
		case stPending:
			mark = m.st.Dim("·")
		case stRunning:
			mark = m.spin.View()
		case stOK:
			mark = m.st.OK("✓")
		case stFailed:
			mark = m.st.Fail("✗")
		case stSkipped:
			mark = m.st.Dim("-")
		case stRolledBack:
			mark = m.st.Warn("↺")
		}
		fmt.Fprintf(&b, "%s %s\n", mark, s.name)
		if s.detail != "" {
			fmt.Fprintf(&b, "    %s\n", m.st.Dim(strings.ReplaceAll(s.detail, "\n", "\n    ")))
		}
		if s.hint != "" {
			fmt.Fprintf(&b, "    %s\n", "→ "+strings.ReplaceAll(s.hint, "\n", "\n    "))
		}
	}
	if m.applyDone {
		b.WriteString("\n")
		if m.applyError {
			b.WriteString(m.st.Fail("apply failed; what ran is shown above") + "\n")
		} else {
			b.WriteString(m.st.OK("applied") + "\n")
		}
	}
	return b.String()
}

func (m *Model) proveView() string {
	if m.cfg.prover() == nil {
		s := m.warn("skipped: verify --self was not run")
		if why := m.cfg.proveSkip(); why != "" {
			s += "\n  " + m.st.Dim(why)
		}
		return s + "\n\n" + m.proveLater()
	}
	var b strings.Builder
	if m.host.ListenErr != nil {
		b.WriteString(m.warn("where sshd listens is unknown: "+firstLine(m.host.ListenErr.Error())) + "\n")
	} else {
		b.WriteString(m.ok("sshd listens on "+listenList(m.host.Listen)+" (sshd -T)") + "\n")
	}
	if m.proving {
		b.WriteString(m.spin.View() + " logging in as " + m.params.User + " on " + m.proveAddr + " with a throwaway key and trying every way out…\n")
		return b.String()
	}
	b.WriteString("\n")
	if m.report != nil && len(m.report.Checks) > 0 {
		b.WriteString(m.reportTable(m.report))
	}
	if m.proveErr != nil {
		b.WriteString(m.errLines(m.proveErr) + "\n")
	} else if m.report != nil && m.report.Passed {
		b.WriteString(m.ok(fmt.Sprintf("%s@%s can forward to %s and do nothing else", m.params.User, m.proveAddr, strings.Join(m.params.TargetStrings(), ", "))) + "\n")
	}
	b.WriteString("\n" + m.portIn.View() + "\n")
	if m.out.ProveFailed {
		b.WriteString(m.st.Dim("type another port and press r to try again, or enter to finish") + "\n")
	}
	return b.String()
}

// proveLater is how to prove the setup when the wizard could not: verify
// --self runs on the server itself (as root: it installs a throwaway key
// and logs in over the local sshd); from outside, a friend's machine runs
// plain verify with the friend's own key.
func (m *Model) proveLater() string {
	user := m.params.User
	var ts []string
	if t := m.params.TargetStrings(); !(len(t) == 1 && t[0] == render.DefaultTarget) {
		for _, s := range t {
			ts = append(ts, "--target "+s)
		}
	}
	onServer := append([]string{"pfwdctl verify --self --user " + user}, ts...)
	host := m.cfg.Hostname
	if host == "" {
		host = "HOST"
	}
	outside := []string{"pfwdctl verify --host " + host}
	if p := m.friendPort(); p != 22 {
		outside = append(outside, fmt.Sprintf("--port %d", p))
	}
	outside = append(outside, "--user "+user, "--key "+friend.Identity)
	outside = append(outside, ts...)
	w := m.width - 4
	return "Prove it once this configuration runs on the server:\n" +
		"  on the server, as root (a throwaway key, removed afterwards):\n" +
		"    " + strings.ReplaceAll(shellLines(onServer, w), "\n  ", "\n    ") + "\n" +
		"  from a friend's machine, with the friend's private key:\n" +
		"    " + strings.ReplaceAll(shellLines(outside, w), "\n  ", "\n    ") + "\n"
}

// listenList is sshd -T's listen addresses, as sshd names them.
func listenList(ls []self.ListenAddr) string {
	var out []string
	for _, l := range ls {
		out = append(out, l.Listen)
	}
	return strings.Join(out, ", ")
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

func (m *Model) reportTable(r *verify.Report) string {
	var b strings.Builder
	for _, c := range r.Checks {
		mark := m.st.OK("✓")
		switch c.Status {
		case verify.Fail:
			mark = m.st.Fail("✗")
		case verify.Warn:
			mark = m.st.Warn("!")
		case verify.Unknown:
			// Cut short: not a pass.
			mark = m.st.Warn("?")
		}
		fmt.Fprintf(&b, "%s %-24s %s\n", mark, c.Name, c.Detail)
		if c.Hint != "" && c.Status != verify.Pass {
			fmt.Fprintf(&b, "  %s\n", m.st.Dim("→ "+c.Hint))
		}
	}
	n := r.Counts()
	fmt.Fprintf(&b, "\n%d passed, %d failed, %d warnings\n", n.Pass, n.Fail, n.Warn)
	return b.String()
}

// friendCommand is the one command the friend runs: friend.Command, the
// one pfwdctl friend prints, with -p when sshd does not listen on 22.
func (m *Model) friendCommand() []string {
	host := m.cfg.Hostname
	if host == "" {
		host = "HOST"
	}
	return friend.Command(m.params.User, host, m.friendPort(), m.params.Targets)
}

// friendPort is the port the friend connects to: the first address sshd
// listens on from outside (a wildcard or a public address, not loopback),
// else the port the Prove step passed on, else ProvePort, else 22.
func (m *Model) friendPort() int {
	if p, ok := friend.OutsidePort(m.host.Listen); ok {
		return p
	}
	if m.provedPort != 0 {
		return m.provedPort
	}
	if m.cfg.ProvePort != 0 {
		return m.cfg.ProvePort
	}
	return 22
}

// shellLines joins words into lines of at most w columns, continued with
// a backslash, so a copy from the screen still runs in a shell.
func shellLines(words []string, w int) string {
	var lines []string
	cur := ""
	for _, wd := range words {
		switch {
		case cur == "":
			cur = wd
		case len(cur)+1+len(wd)+2 > w:
			lines = append(lines, cur+" \\")
			cur = "    " + wd
		default:
			cur += " " + wd
		}
	}
	return strings.Join(append(lines, cur), "\n  ")
}

// doneText is the Done screen; printed plain on stdout after the TUI ends
// so it stays in the terminal's scrollback.
func (m *Model) doneText(styled bool) string {
	st := m.st
	if !styled {
		m.st = plain()
		defer func() { m.st = st }()
	}
	var b strings.Builder
	if !m.out.Applied {
		if m.out.Failed {
			b.WriteString("pfwdctl wizard: apply failed\n")
			for _, s := range m.steps {
				if s.state == stFailed {
					b.WriteString("  " + s.name + ": " + strings.ReplaceAll(s.detail, "\n", "; ") + "\n")
					if s.hint != "" {
						b.WriteString("  hint: " + s.hint + "\n")
					}
				}
				if s.state == stRolledBack {
					b.WriteString("  " + s.detail + "\n")
				}
			}
			return b.String()
		}
		return "pfwdctl wizard: quit before applying; nothing changed\n"
	}
	b.WriteString(m.st.Bold("What changed") + "\n")
	if len(m.changes) == 0 {
		b.WriteString("  nothing: the host was already set up this way\n")
	}
	for _, c := range m.changes {
		b.WriteString("  " + m.ok(c) + "\n")
	}
	switch {
	case m.report != nil && m.proveErr == nil:
		n := m.report.Counts()
		fmt.Fprintf(&b, "  %s\n", m.ok(fmt.Sprintf("verify --self: %d checks passed, %d warnings", n.Pass, n.Warn)))
	case m.proveErr != nil:
		msg, _ := errText(m.proveErr)
		fmt.Fprintf(&b, "  %s\n", m.bad("verify --self: "+msg))
	}
	audit := users.AuditLogPath
	if !m.cfg.Root.IsHost() {
		audit = m.cfg.Root.Path(audit)
	}
	fmt.Fprintf(&b, "\n%s %s\n", m.st.Bold("Audit log"), audit)
	switch len(m.friends) {
	case 0:
		// No key was added here: there is no "key you added" to point at.
		fmt.Fprintf(&b, "\n%s (once you have installed their key with pfwdctl add-key --user %s FRIEND.pub,\nwith the private half of that key):\n", m.st.Bold("Your friend runs"), m.params.User)
	case 1:
		b.WriteString("\n" + m.st.Bold("Your friend runs") + " (with the private half of the key you added):\n")
	default:
		b.WriteString("\n" + m.st.Bold("Each friend runs") + " (with the private half of their key you added):\n")
	}
	cmd := strings.Join(m.friendCommand(), " ")
	if styled && lipgloss.Width(cmd)+2 > m.width {
		// Break where a shell accepts it, so a copy from the screen still
		// runs; the summary on stdout keeps it on one line.
		cmd = shellLines(m.friendCommand(), m.width-2)
	}
	b.WriteString("  " + cmd + "\n")
	fmt.Fprintf(&b, "and then uses %s on their own machine.\n", strings.Join(localEnds(m.params.Targets), ", "))
	b.WriteString("\nTheir host keys and a ~/.ssh/config block: pfwdctl friend --user " + m.params.User + " NAME\n")
	b.WriteString("Revoke later with: pfwdctl revoke --user " + m.params.User + " NAME\n")
	return b.String()
}

func localEnds(ts []target.Target) []string {
	var out []string
	for _, t := range ts {
		out = append(out, fmt.Sprintf("localhost:%d", t.Port))
	}
	return out
}
