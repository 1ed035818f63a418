package audit

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pfwdctl/pfwdctl/internal/accounts"
	"github.com/pfwdctl/pfwdctl/internal/auditlog"
	"github.com/pfwdctl/pfwdctl/internal/fail"
	"github.com/pfwdctl/pfwdctl/internal/hostfs"
	"github.com/pfwdctl/pfwdctl/internal/run"
	"github.com/pfwdctl/pfwdctl/internal/sshd"
	"github.com/pfwdctl/pfwdctl/internal/sshdconf"
	"github.com/pfwdctl/pfwdctl/internal/target"
	"github.com/pfwdctl/pfwdctl/render"
	"github.com/pfwdctl/pfwdctl/templates"
	"github.com/pfwdctl/pfwdctl/users"
	"github.com/pfwdctl/pfwdctl/users/keyline"
	"github.com/pfwdctl/pfwdctl/verify"
)

// Severity ranks a finding.
type Severity string

const (
	// Fail: the host is not hardened as pfwdctl promises (exit 1).
	Fail Severity = "fail"
	// Warn: worth fixing, but the promises hold.
	Warn Severity = "warn"
	// OK: a check that passed, listed so the report shows what was proved.
	OK Severity = "ok"
)

// Finding is one result. ID is stable and documented in docs/audit.md.
type Finding struct {
	ID       string   `json:"id"`
	Severity Severity `json:"severity"`
	Title    string   `json:"title"`
	Detail   string   `json:"detail,omitempty"`
	// File and Line are where the problem sits (host paths); Line is 0
	// when the finding is about a whole file.
	File string `json:"file,omitempty"`
	Line int    `json:"line,omitempty"`
	// Fix says what to change.
	Fix string `json:"fix,omitempty"`
}

// String is the finding on one line, for a message that lists several:
// where, what, the check's ID and the fix.
func (f Finding) String() string {
	var b strings.Builder
	if at := f.At(); at != "" {
		b.WriteString(at + ": ")
	}
	fmt.Fprintf(&b, "%s [%s]", f.Title, f.ID)
	if f.Fix != "" {
		b.WriteString("; fix: " + strings.Join(strings.Fields(f.Fix), " "))
	}
	return b.String()
}

// At is "file:line", "file" or "".
func (f Finding) At() string {
	if f.Line > 0 {
		return fmt.Sprintf("%s:%d", f.File, f.Line)
	}
	return f.File
}

// Options say what to audit.
type Options struct {
	Root       hostfs.Root
	Runner     run.Runner
	SshdConfig string // host path; empty: sshd.DefaultConfig
	SshdBin    string // empty: sshd.Find
	// Params are what pfwdctl should have installed. With no targets given
	// (TargetsGiven false) the installed Match block's PermitOpen is used.
	Params       render.Params
	TargetsGiven bool
	// OtherUser is the ordinary account whose effective config is checked
	// too; empty: the first account with a login shell and a UID >= 1000.
	OtherUser string
	// Layers runs the layer proof (two lab sshds).
	Layers bool
	// Now is for key expiry; nil: time.Now.
	Now func() time.Time
	// Live asks the running sshd what it serves on the addresses the
	// config names (see liveChecks). Only meaningful on the running host:
	// a --root tree's ListenAddress may name the host's own sshd.
	Live bool
	// ReloadHint is the command that reloads sshd here, for the fix of a
	// stale daemon; empty: a generic one.
	ReloadHint string
	// Overlay is a planned change not written yet: host path -> the
	// content the file will have (nil: it will be absent). sshd -T and the
	// file:line explanations then see the configuration as it will be (see
	// sshd.Binary.Overlay); files outside it are read from the root.
	Overlay map[string][]byte
}

// Report is the whole audit.
type Report struct {
	User        string   `json:"user"`
	Targets     []string `json:"targets"`
	OtherUser   string   `json:"other_user"`
	SshdConfig  string   `json:"sshd_config"`
	SshdVersion string   `json:"sshd_version"`
	// InstallMode is how pfwdctl's units are installed on the host.
	InstallMode render.Mode   `json:"install_mode"`
	Findings    []Finding     `json:"findings"`
	Layers      *LayersReport `json:"layers,omitempty"`
	Live        []sshd.Served `json:"live,omitempty"`
	Passed      bool          `json:"passed"`
}

// Counts tallies the findings by severity (an OK finding is a Pass).
func (r *Report) Counts() (t verify.Tally) {
	for _, f := range r.Findings {
		switch f.Severity {
		case Fail:
			t.Fail++
		case Warn:
			t.Warn++
		case OK:
			t.Pass++
		}
	}
	return
}

// BySeverity returns the findings of one severity, in report order.
func (r *Report) BySeverity(s Severity) []Finding {
	var out []Finding
	for _, f := range r.Findings {
		if f.Severity == s {
			out = append(out, f)
		}
	}
	return out
}

// The loopback connection the checks ask sshd about (sshd.ConnSpec). A
// Match block that applies only on other connections (Address, LocalPort,
// Host...) is judged on a connection derived from its own criteria
// (conditionalChecks).
const (
	connHost = sshd.ConnHost
	connAddr = sshd.ConnAddr
	connPort = sshd.ConnPort
)

type auditor struct {
	o       Options
	rep     *Report
	cfg     *sshdconf.Config
	version sshd.Version
	// policy is the crypto policy this sshd supports (cryptoPolicy).
	policy  *render.Crypto
	ctx     context.Context
	sshd    sshd.Binary
	account accounts.Account
	hasAcct bool
	groups  map[string][]string // group name -> members (incl. primary)
	// verdicts are the account's key lines as judged by keyChecks.
	verdicts []keyline.Verdict
	// dropIns are what render produces for the params.
	expectGlobal []sshdconf.Line
	expectMatch  []sshdconf.Line
	include      *sshdconf.Line
	ourMatch     *sshdconf.Line // our Match User line, as installed
	// layout is where pfwdctl's units are installed: drop-ins or managed
	// blocks in the main config (read through the overlay).
	layout render.Layout
	// reported remembers winning lines already reported, so one line is
	// one finding however many contexts it spoils.
	reported map[string]int
}

func (a *auditor) mainConfig() string {
	if a.o.SshdConfig == "" {
		return sshd.DefaultConfig
	}
	return a.o.SshdConfig
}

func (a *auditor) add(f Finding) { a.rep.Findings = append(a.rep.Findings, f) }

func (a *auditor) ok(id, format string, args ...any) {
	a.add(Finding{ID: id, Severity: OK, Title: fmt.Sprintf(format, args...)})
}

// Run audits the host. Findings are in the report; the error is for an
// audit that could not run at all (no sshd, unreadable config).
func Run(ctx context.Context, o Options) (*Report, error) {
	a, err := newAuditor(ctx, o)
	if err != nil {
		return nil, err
	}
	// An sshd that cannot read drop-ins (no Include) or ignores a Match
	// block in one: say so once, instead of blaming pfwdctl's own files.
	// In the managed-block mode the units sit in sshd_config itself,
	// which every release reads.
	caps, perr := a.sshd.Probe(ctx)
	if perr == nil && caps.Unsupported() != "" {
		a.add(Finding{ID: "sshd.unsupported", Severity: Fail, File: a.mainConfig(),
			Title:  "pfwdctl cannot prove anything with this sshd: " + caps.Unsupported(),
			Detail: "pfwdctl apply refuses it too",
			Fix:    "upgrade OpenSSH to " + sshd.Oldest.String() + " or later (docs/compatibility.md)"})
		a.rep.Passed = false
		a.sortFindings()
		return a.rep, nil
	}
	if perr == nil && caps.Why() != "" && a.layout.Mode == render.ModeDropIns {
		a.add(Finding{ID: "sshd.no-dropins", Severity: Fail, File: a.mainConfig(),
			Title:  "pfwdctl's drop-ins cannot work with this sshd: " + caps.Why(),
			Detail: "the baseline and the account's Match block are not in effect as drop-ins, however often they are installed",
			Fix:    "remove pfwdctl's drop-ins, then run pfwdctl apply: with this sshd it puts the same lines into sshd_config as managed blocks (--install-mode managed-block)"})
		a.rep.Passed = false
		a.sortFindings()
		return a.rep, nil
	}
	a.includeChecks()
	a.dropInChecks()
	a.trailingMatchChecks()
	a.earlierMatchChecks()
	a.auditLogChecks()

	global, fwd, other, ok, err := a.effectiveConfigs(ctx)
	if err != nil {
		return nil, err
	}
	if !ok {
		if !a.hasAcct {
			a.addMissingAccount()
		}
	} else {
		a.effectiveChecks(global, fwd, other)
		a.shadowChecks()
		a.conditionalChecks(ctx, fwd)
		a.forwardingChecks(fwd)
		a.hardwareChecks(fwd)
		a.keySourceChecks(fwd)
		a.bypassChecks(fwd)
		a.accountChecks(fwd)
		a.keyChecks(fwd)
		a.loginChecks(fwd)
		a.writeChecks(global, fwd)
		a.cryptoChecks(global)
		if o.Live {
			a.liveChecks(ctx)
		}
	}
	if o.Layers {
		lr, err := a.layers(ctx)
		if err != nil {
			return nil, err
		}
		a.rep.Layers = lr
		for _, l := range lr.Layers {
			sev, title := OK, l.Name+" alone holds"
			if !l.Holds {
				sev, title = Fail, l.Name+" alone does not hold"
			}
			a.add(Finding{ID: "layer." + l.ID, Severity: sev, Title: title, Detail: l.Detail, Fix: l.Fix})
		}
	}
	fails := a.rep.Counts().Fail
	a.rep.Passed = fails == 0
	a.sortFindings()
	return a.rep, nil
}

// Overrides runs only the part of the audit that says whether sshd really
// uses what pfwdctl renders: the Include checks, an earlier Match block
// for the account, and sshd -T (globally, for the account and for an
// ordinary account) compared with the rendered drop-ins, with the same
// finding IDs, file:line and fixes as Run. apply calls it after sshd -t,
// with the drop-ins it is about to write in o.Overlay, so it can refuse
// before anything is written; o.Params are what it rendered, and their
// targets are taken as given. It returns the failures and warnings (no OK
// findings), failures first; the error is for a check that could not run.
func Overrides(ctx context.Context, o Options) ([]Finding, error) {
	if len(o.Params.Targets) > 0 {
		o.TargetsGiven = true
	}
	a, err := newAuditor(ctx, o)
	if err != nil {
		return nil, err
	}
	a.includeChecks()
	a.earlierMatchChecks()
	global, fwd, other, ok, err := a.effectiveConfigs(ctx)
	if err != nil {
		return nil, err
	}
	if ok {
		a.effectiveChecks(global, fwd, other)
		a.forwardingChecks(fwd)
		a.hardwareChecks(fwd)
	}
	a.sortFindings()
	var out []Finding
	for _, f := range a.rep.Findings {
		if f.Severity != OK {
			out = append(out, f)
		}
	}
	return out, nil
}

// newAuditor fills in the defaults and reads what every check needs: the
// sshd version, the rendered drop-ins to compare with, the configuration
// as sshd reads it (with the overlay), and the accounts.
func newAuditor(ctx context.Context, o Options) (*auditor, error) {
	if o.Runner == nil {
		o.Runner = run.Exec{}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Params.Nologin == "" {
		o.Params.Nologin = render.DefaultNologin
	}
	if o.Params.User == "" {
		o.Params.User = render.DefaultUser
	}
	a := &auditor{o: o, rep: &Report{User: o.Params.User}, reported: map[string]int{}, ctx: ctx}
	a.rep.SshdConfig = a.mainConfig()
	a.sshd = sshd.Binary{Bin: o.SshdBin, Runner: o.Runner, Root: o.Root, Config: a.mainConfig(), Overlay: o.Overlay}
	if err := a.stat(a.mainConfig()); err != nil {
		return nil, fail.Wrap(fail.Failed, err, "pass --sshd-config PATH if the main config lives elsewhere", "read %s", a.mainConfig())
	}
	v, err := sshd.Binary{Bin: o.SshdBin, Runner: o.Runner}.Version(ctx)
	if err != nil {
		return nil, err
	}
	a.version = v
	a.rep.SshdVersion = v.String()
	mainData, err := a.read(a.mainConfig())
	if err != nil {
		return nil, fail.Wrap(fail.Failed, err, "pass --sshd-config PATH if the main config lives elsewhere", "read %s", a.mainConfig())
	}
	if a.layout, err = render.LayoutFrom(o.Root, a.mainConfig(), mainData); err != nil {
		return nil, err
	}
	a.rep.InstallMode = a.layout.Mode
	if err := a.resolveParams(); err != nil {
		return nil, err
	}
	cfg, err := sshdconf.LoadOverlay(o.Root, a.mainConfig(), o.Overlay)
	if err != nil {
		return nil, fail.Wrap(fail.Failed, err, "fix the file named, then audit again", "read the sshd configuration")
	}
	a.cfg = cfg
	a.loadAccount()
	a.rep.OtherUser = a.otherUser()
	return a, nil
}

// effectiveConfigs asks sshd -T for the three contexts the effective
// checks compare. When sshd rejects the configuration that is a finding
// (ok false); the error is for an sshd that could not run at all.
func (a *auditor) effectiveConfigs(ctx context.Context) (global, fwd, other map[string][]string, ok bool, err error) {
	global, errG := a.sshd.Effective(ctx, "")
	fwd, errF := a.sshd.Effective(ctx, a.conn(a.o.Params.User))
	other, errO := a.sshd.Effective(ctx, a.conn(a.rep.OtherUser))
	if err := errors.Join(errG, errF, errO); err != nil {
		var fe *fail.Error
		if errors.As(err, &fe) && fe.Kind == fail.Unavailable {
			return nil, nil, nil, false, err
		}
		a.add(Finding{ID: "sshd.rejects", Severity: Fail, File: a.mainConfig(),
			Title:  "sshd rejects the configuration, so it would not start or reload",
			Detail: firstErr(errG, errF, errO).Error(),
			Fix:    "fix the line sshd names (sshd -t shows it), then audit again"})
		return nil, nil, nil, false, nil
	}
	return global, fwd, other, true, nil
}

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

// sortFindings keeps the order checks ran in, grouped by severity.
func (a *auditor) sortFindings() {
	rank := map[Severity]int{Fail: 0, Warn: 1, OK: 2}
	slices.SortStableFunc(a.rep.Findings, func(x, y Finding) int { return rank[x.Severity] - rank[y.Severity] })
}

func (a *auditor) conn(user string) string { return sshd.ConnSpec(user) }

// resolveParams takes the targets from the installed Match block when none
// were given, as add-key does: the installed block is the source of truth.
func (a *auditor) resolveParams() error {
	if !a.o.TargetsGiven {
		h := users.Host{Root: a.o.Root, SshdConfig: a.mainConfig()}
		inst, found, err := h.InstalledTargets(a.o.Params.User)
		if err == nil && found && len(inst) > 0 {
			if ts, err := target.ParseList(inst); err == nil {
				a.o.Params.Targets = ts
			}
		}
	}
	if len(a.o.Params.Targets) == 0 {
		a.o.Params.Targets = render.DefaultParams().Targets
	}
	a.rep.Targets = a.o.Params.TargetStrings()
	// With the crypto drop-in installed (apply --crypto), pfwdctl renders
	// it too, and every file's header says so.
	if _, found := a.unit(templates.Crypto); found && a.o.Params.Crypto == nil {
		c := a.cryptoPolicy()
		a.o.Params.Crypto = &c
	}
	// apply --permit-root-login prohibit-password is judged as installed:
	// root by key is then what pfwdctl rendered (yes still fails).
	if a.o.Params.PermitRootLogin == "" {
		a.o.Params.PermitRootLogin = render.InstalledRootLogin(a.o.Root, a.mainConfig())
	}
	// With a CA installed (apply --ca), the Match block has its lines.
	if a.o.Params.CA == nil {
		a.o.Params.CA = a.installedCA()
	}
	// With apply --hardware-keys-only, so has the FIDO policy.
	if a.o.Params.HardwareKeys == nil {
		a.o.Params.HardwareKeys = a.installedHardwareKeys()
	}
	files, err := render.Render(a.o.Params)
	if err != nil {
		return err
	}
	for _, f := range files {
		lines, err := sshdconf.Parse(f.Data)
		if err != nil {
			return err
		}
		inMatch := false
		for _, l := range lines {
			l.File = f.Name
			if l.Keyword == "match" {
				inMatch = !strings.EqualFold(strings.Join(l.Args, " "), "all")
				continue
			}
			if inMatch {
				a.expectMatch = append(a.expectMatch, l)
			} else {
				a.expectGlobal = append(a.expectGlobal, l)
			}
		}
	}
	return nil
}

func (a *auditor) loadAccount() {
	acct, err := accounts.Lookup(a.o.Root, a.o.Params.User)
	if err == nil {
		a.account, a.hasAcct = acct, true
	}
	a.groups = readGroups(a.o.Root)
}

func (a *auditor) addMissingAccount() {
	a.add(Finding{ID: "account.missing", Severity: Fail, File: "/etc/passwd",
		Title: fmt.Sprintf("no account %s in /etc/passwd", a.o.Params.User),
		Fix:   "create it: pfwdctl user create --user " + a.o.Params.User})
}

// otherUser picks the ordinary account to check: one a person logs in as.
func (a *auditor) otherUser() string {
	if a.o.OtherUser != "" {
		return a.o.OtherUser
	}
	accts, err := accounts.ReadPasswd(a.o.Root)
	if err == nil {
		for _, ac := range accts {
			if ac.UID >= 1000 && ac.UID != 65534 && ac.Name != a.o.Params.User && !accounts.NoLoginShell(ac.Shell) {
				return ac.Name
			}
		}
	}
	return "nobody"
}

// readGroups reads /etc/group for Match Group: group name -> its members,
// plus "gid:N" so an account's primary group matches too.
func readGroups(root hostfs.Root) map[string][]string {
	out := map[string][]string{}
	groups, err := accounts.ReadGroups(root)
	if err != nil {
		return out
	}
	for _, g := range groups {
		out[g.Name] = append(slices.Clone(g.Members), "gid:"+strconv.Itoa(g.GID))
	}
	return out
}

// stat says whether a host file exists as the audit sees it (see read).
func (a *auditor) stat(hostPath string) error {
	for p, data := range a.o.Overlay {
		if filepath.Clean("/"+p) != filepath.Clean("/"+hostPath) {
			continue
		}
		if data == nil {
			return &fs.PathError{Op: "stat", Path: hostPath, Err: fs.ErrNotExist}
		}
		return nil
	}
	_, err := a.o.Root.Stat(hostPath)
	return err
}

// unit is one of pfwdctl's units as installed (a drop-in, or its managed
// block), read through the overlay.
func (a *auditor) unit(name string) ([]byte, bool) {
	if a.layout.Mode == render.ModeManaged {
		r, ok := a.layout.Region(name)
		return r.Data, ok
	}
	data, err := a.read(a.layout.Path(name))
	return data, err == nil
}

// ours says whether l is one of unit name's own lines.
func (a *auditor) ours(name string, l *sshdconf.Line) bool {
	return a.layout.Holds(name, l.File, l.Num)
}

// forwardFile is the base name of the account's Match drop-in.
func (a *auditor) forwardFile() string { return templates.ForwardFile(a.o.Params.User) }

// auditLogChecks: a change whose intent is in pfwdctl's audit log with no
// completion was cut short (a killed run, a power loss). The files may or
// may not hold it; the admin should look before trusting them.
func (a *auditor) auditLogChecks() {
	ev, err := auditlog.Log{Root: a.o.Root}.Read()
	if err != nil {
		return // no log yet, or unreadable: nothing pfwdctl started
	}
	for _, e := range auditlog.Interrupted(ev) {
		what := e.Action + " for " + e.Account
		if e.Fingerprint != "" {
			what += " (" + e.Fingerprint + ")"
		}
		fix := "check it, then run the command again: pfwdctl list-keys --user " + e.Account + " for keys, pfwdctl apply --dry-run for drop-ins"
		where := e.Path
		if where == "" {
			where = "the account " + e.Account
		}
		a.add(Finding{ID: "auditlog.interrupted", Severity: Warn, File: auditlog.Path,
			Title:  fmt.Sprintf("a change pfwdctl started at %s (by %s) was never finished: %s", e.Time.Format(time.RFC3339), e.Admin, what),
			Detail: "the run was killed between recording its intent and completing it; " + where + " may or may not hold the change",
			Fix:    fix})
	}
}
