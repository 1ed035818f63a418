package render

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	udiff "github.com/aymanbagabas/go-udiff"

	"github.com/pfwdctl/pfwdctl/internal/auditlog"
	"github.com/pfwdctl/pfwdctl/internal/fail"
	"github.com/pfwdctl/pfwdctl/internal/hostfs"
	"github.com/pfwdctl/pfwdctl/internal/run"
	"github.com/pfwdctl/pfwdctl/internal/sshd"
	"github.com/pfwdctl/pfwdctl/internal/target"
)

// DropInMode is the mode of every drop-in: world-readable like the rest of
// /etc/ssh, writable by root only.
const DropInMode fs.FileMode = 0o644

// Applier installs the drop-ins on a host (or a --root tree).
type Applier struct {
	Root       hostfs.Root
	Runner     run.Runner
	SshdConfig string // host path; empty: sshd.DefaultConfig
	SshdBin    string // empty: sshd.Find
	Getenv     func(string) string
	Reloader   *sshd.Reloader // nil: a Reloader over Root and Runner
	LockWait   time.Duration  // 0: hostfs.LockWait
	// Overrides, when set, names what wins over the drop-ins (exit 1).
	Overrides OverrideCheck
	// Keys, when set, makes the account's key lines follow a change of
	// its targets in the same transaction (cmd passes users'
	// Host.Retarget; render cannot import users).
	Keys KeyFollow
	// Now, Syslog and AuditLog configure the audit log each installed or
	// rolled-back drop-in is recorded in (see auditlog.Log); zero values
	// mean the clock, the system's syslog and auditlog.Path under Root.
	Now      func() time.Time
	Syslog   func(line string)
	AuditLog string
}

// KeyFollow rewrites account's key lines from the old targets to the new
// ones (or, with dryRun, only says which would change). The caller of
// Apply holds the lock, so it must not take it.
type KeyFollow func(ctx context.Context, account string, from, to []string, dryRun bool) (KeyChange, error)

// KeyChange is what KeyFollow did to the account's keys.
type KeyChange struct {
	Path    string   `json:"path,omitempty"`
	Changed []string `json:"changed,omitempty"` // fingerprints rewritten
	Kept    []string `json:"kept,omitempty"`    // lines left, each with why
	// Undo puts the keys back; nil when nothing was written.
	Undo func() error `json:"-"`
}

// ApplyOptions are the per-run choices.
type ApplyOptions struct {
	Params   Params
	DryRun   bool
	NoReload bool
	Force    bool // skip the lockout guard
	// KeepTargets (no --target given) keeps the targets of the account's
	// installed Match block instead of Params.Targets: a plain apply, the
	// fix audit recommends, must not narrow PermitOpen back to the default
	// and leave every key with another target outside it.
	KeepTargets bool
}

// FileChange is one drop-in's fate.
type FileChange struct {
	Path   string `json:"path"`   // host path
	Action string `json:"action"` // create, update, unchanged
	Diff   string `json:"diff,omitempty"`
}

// ApplyResult is what apply did.
type ApplyResult struct {
	Changed   bool         `json:"changed"`
	DryRun    bool         `json:"dry_run"`
	Files     []FileChange `json:"files"`
	Validated bool         `json:"validated"`
	// Targets are the PermitOpen targets rendered (the installed ones when
	// none were given).
	Targets []string           `json:"targets"`
	Reload  *sshd.ReloadResult `json:"reload,omitempty"`
	// Overrides are the lines of other files that win over pfwdctl's
	// drop-ins (file:line, what, fix); any makes the run exit 1.
	Overrides []string `json:"overrides,omitempty"`
	// Keys are the key lines that followed a change of targets.
	Keys *KeyChange `json:"keys,omitempty"`
	// Warnings are problems that did not stop the change (the audit log
	// could not be written).
	Warnings []string `json:"warnings,omitempty"`
	// undo is how to put the previous drop-ins back (Rollback): set when
	// Apply wrote files and sshd -t accepted them.
	undo *installed
}

// installed is what one install changed: the files as they were before it
// wrote them, and whether it created the drop-in directory.
type installed struct {
	root       hostfs.Root
	dir        string // the drop-in directory, under root
	createdDir bool
	snaps      []hostfs.Snapshot
	written    [][]byte // written[i] replaced snaps[i]; nil: not written
	keysUndo   func() error
	// change is the audit log's record of this install, opened before the
	// first write (intent first). completed: its done line is written, so
	// a later rollback is a change of its own (beginRollback); rollback:
	// change is that rollback's record.
	change              *auditlog.Change
	completed, rollback bool
	rollbackLogErr      error
}

// restore puts every snapshot back, newest first, then removes the drop-in
// directory if this install created it (Remove only takes it when empty, so
// nothing anyone else put there is lost). The directory is kept when a file
// could not be restored: it still holds that file.
func (u *installed) restore() []error {
	var errs []error
	if u.keysUndo != nil {
		if err := u.keysUndo(); err != nil {
			errs = append(errs, fmt.Errorf("restore the keys' targets: %w", err))
		}
	}
	for i := len(u.snaps) - 1; i >= 0; i-- {
		if err := u.snaps[i].Restore(); err != nil {
			errs = append(errs, fmt.Errorf("restore %s: %w", u.root.HostPath(u.snaps[i].Path), err))
		}
	}
	if u.createdDir && len(errs) == 0 {
		if err := os.Remove(u.dir); err == nil {
			hostfs.SyncDir(filepath.Dir(u.dir))
		}
	}
	return errs
}

// Diff is the unified diff of every changed file.
func (r ApplyResult) Diff() string {
	var b bytes.Buffer
	for _, f := range r.Files {
		b.WriteString(f.Diff)
	}
	return b.String()
}

func (a Applier) config() string {
	if a.SshdConfig == "" {
		return sshd.DefaultConfig
	}
	return a.SshdConfig
}

func (a Applier) binary() sshd.Binary {
	return sshd.Binary{Bin: a.SshdBin, Runner: a.Runner, Root: a.Root, Config: a.config()}
}

// Plan renders the drop-ins and diffs them against the host without taking
// the lock or writing anything.
func (a Applier) Plan(p Params) ([]File, []FileChange, error) {
	files, err := Render(p)
	if err != nil {
		return nil, nil, err
	}
	var names []string
	for _, f := range files {
		names = append(names, f.Name)
	}
	if err := CheckInclude(a.Root, a.config(), names...); err != nil {
		return nil, nil, err
	}
	if err := CheckPlacement(a.Root, a.config()); err != nil {
		return nil, nil, err
	}
	dir := DropInDir(a.config())
	var changes []FileChange
	for _, f := range files {
		host := filepath.Join(dir, f.Name)
		snap, err := hostfs.Take(a.Root.Path(host))
		if err != nil {
			return nil, nil, fail.Wrap(fail.Failed, err, "remove or replace it with a regular file, then run pfwdctl again", "cannot manage %s", host)
		}
		c := FileChange{Path: host, Action: "unchanged"}
		switch {
		case !snap.Exists:
			c.Action = "create"
		case !bytes.Equal(snap.Data, f.Data):
			c.Action = "update"
		case snap.Mode != DropInMode || (hostfs.Euid() == 0 && snap.Owner != hostfs.RootOwner):
			c.Action = "update"
			c.Diff = fmt.Sprintf("# %s: owner/mode %d:%d %04o -> 0:0 %04o\n", host, snap.Owner.UID, snap.Owner.GID, snap.Mode, DropInMode)
		}
		if c.Action != "unchanged" && c.Diff == "" {
			old := "/dev/null"
			if snap.Exists {
				old = host
			}
			c.Diff = udiff.Unified(old, host, string(snap.Data), string(f.Data))
		}
		changes = append(changes, c)
	}
	return files, changes, nil
}

// Apply plans, guards, writes, validates with sshd -t (rolling back on
// failure) and reloads.
func (a Applier) Apply(ctx context.Context, o ApplyOptions) (ApplyResult, error) {
	res := ApplyResult{DryRun: o.DryRun}
	if !o.DryRun {
		unlock, err := a.Root.Lock(a.lockWait())
		if err != nil {
			return res, fail.Wrap(fail.Unavailable, err, "wait for the other run to finish, then try again", "cannot take the lock")
		}
		defer unlock()
	}
	inst, found, err := InstalledTargets(a.Root, a.config(), o.Params.User)
	if err != nil {
		return res, err
	}
	if o.KeepTargets {
		if found && len(inst) > 0 {
			ts, err := target.ParseList(inst)
			if err != nil {
				return res, fail.Wrap(fail.Failed, err, "name the targets with --target host:port", "the installed Match block's PermitOpen")
			}
			o.Params.Targets = ts
		}
	}
	res.Targets = o.Params.TargetStrings()
	files, changes, err := a.Plan(o.Params)
	if err != nil {
		return res, err
	}
	res.Files = changes
	for _, c := range changes {
		res.Changed = res.Changed || c.Action != "unchanged"
	}
	// Drop-ins work only where sshd reads them and honours the Match block
	// in one; the binary itself is asked (a throwaway config, nothing on
	// the host). Writing them elsewhere would report a hardening that is
	// not in effect.
	if caps, perr := a.binary().Probe(ctx); perr == nil && caps.Why() != "" {
		return res, fail.New(fail.Failed,
			"upgrade OpenSSH to 8.4 or later, or put the rendered baseline at the top of sshd_config and the Match block at its end by hand (pfwdctl render prints both); pfwdctl's managed-block mode for this release is not built yet",
			"refusing: %s; nothing was written", caps.Why())
	}
	// The planned change, not yet written: sshd is asked about it (the
	// guard, the override check, a dry run) before anything is.
	staged := a.binary()
	staged.Overlay = a.overlay(files, changes)
	if !res.Changed || o.DryRun {
		// "Up to date" speaks for pfwdctl's files only; say nothing good
		// about a host whose sshd would not start (another file broken).
		// A dry run gets the sshd -t verdict the real run would get.
		if err := staged.Test(context.WithoutCancel(ctx)); err != nil {
			return res, err
		}
	}
	if res.Changed && !o.Force {
		g := Guard{Root: a.Root, ForwardUser: o.Params.User, Getenv: a.Getenv}
		// Like sshd -t, the guard's sshd -T runs are one short check that
		// an interrupt does not cut in half. sshd refusing the config is
		// left to sshd -t, which shows the diff and rolls back.
		if err := g.Check(context.WithoutCancel(ctx), staged.Effective); err != nil && !errors.As(err, new(*sshd.ConfigError)) {
			return res, err
		}
	}
	// Keys follow a change of targets: those of the installed block, to
	// the rendered ones.
	follow := a.Keys != nil && found && len(inst) > 0 && !target.SameSet(inst, res.Targets)
	if o.DryRun {
		if follow {
			kc, err := a.Keys(ctx, o.Params.User, inst, res.Targets, true)
			if err != nil {
				return res, err
			}
			res.Keys = &kc
		}
		return res, a.overrides(ctx, o.Params, staged.Overlay, &res)
	}
	if !res.Changed {
		overrideErr := a.overrides(ctx, o.Params, nil, &res)
		// "Up to date" is a claim about the files; the daemon may still
		// run an older config (a reload that never happened). Ask it,
		// and reload when it differs.
		if o.NoReload || !a.Root.IsHost() {
			return res, overrideErr
		}
		rl := a.reloader(o.Params.User)
		served, err := sshd.ProbeServed(ctx, rl.Effective, rl.ProbeUsers)
		if err != nil || !anyStale(served) {
			return res, overrideErr
		}
		rr, err := rl.Reload(ctx)
		res.Reload = &rr
		return res, firstError(err, overrideErr)
	}
	u, logErr, err := a.install(ctx, o.Params.User, files, changes)
	if logErr != nil && err == nil {
		res.Warnings = append(res.Warnings, "the drop-ins are installed, but the audit log was not written: "+logErr.Error())
	}
	if err != nil {
		return res, err
	}
	if follow {
		kc, err := a.Keys(context.WithoutCancel(ctx), o.Params.User, inst, res.Targets, false)
		if err != nil {
			// Block and keys change together or not at all: keys already
			// rewritten (their record incomplete) go back too.
			if kc.Undo != nil {
				if uerr := kc.Undo(); uerr != nil {
					err = errors.Join(err, fmt.Errorf("putting the keys back: %w", uerr))
				}
			}
			var logErr error
			cause := fail.Wrap(fail.Failed, err, "fix what is named, then run pfwdctl apply again; the drop-ins are restored", "the keys could not follow the new targets")
			a.beginRollback(o.Params.User, u, cause)
			if rbErrs := u.restore(); len(rbErrs) > 0 {
				cause = fail.Wrap(fail.Failed, errors.Join(append([]error{cause}, rbErrs...)...),
					"restoring the previous files failed: check the files named above by hand before sshd reloads", "rollback incomplete")
			}
			return res, a.logRollback(o.Params.User, u, cause, &logErr)
		}
		res.Keys, u.keysUndo = &kc, kc.Undo
	}
	res.Validated, res.undo = true, u
	// Our files are right and installed; another file may still win over
	// them. That is said (exit 1), not rolled back: the drop-ins only
	// make the host safer.
	overrideErr := a.overrides(ctx, o.Params, nil, &res)
	if o.NoReload {
		res.Reload = &sshd.ReloadResult{Method: sshd.ReloadSkipped, Detail: "not reloaded (--no-reload); the new config takes effect at sshd's next reload or start"}
		return res, overrideErr
	}
	// Interrupted after the files passed sshd -t: they stay (they are
	// valid), but asking systemctl with a cancelled context would fail and
	// read as "sshd is not running". Say instead that no reload was done.
	if err := ctx.Err(); err != nil {
		res.Reload = &sshd.ReloadResult{Method: sshd.ReloadSkipped, Detail: "interrupted before the reload: the new config passed sshd -t and is installed, but sshd has not read it"}
		return res, fail.Wrap(fail.Failed, err,
			"reload sshd by hand ("+a.reloader(o.Params.User).Service().Reload+"), or run pfwdctl apply again", "interrupted after installing the drop-ins")
	}
	rr, err := a.reloader(o.Params.User).Reload(ctx)
	res.Reload = &rr
	return res, firstError(err, overrideErr)
}

// OverrideCheck judges a configuration against what sshd will really use:
// the lines of other files that win over pfwdctl's drop-ins, with their
// file:line and fix (cmd passes verify/audit's Overrides; render cannot
// import it). overlay is the planned change not yet written (nil: the
// files as they are).
type OverrideCheck func(ctx context.Context, p Params, overlay map[string][]byte) (failures, warnings []string, err error)

// overrides runs a.Overrides, if set, and turns failures into exit 1.
func (a Applier) overrides(ctx context.Context, p Params, overlay map[string][]byte, res *ApplyResult) error {
	if a.Overrides == nil {
		return nil
	}
	fails, warns, err := a.Overrides(context.WithoutCancel(ctx), p, overlay)
	if err != nil {
		return err
	}
	res.Overrides = fails
	res.Warnings = append(res.Warnings, warns...)
	if len(fails) == 0 {
		return nil
	}
	return fail.New(fail.Failed,
		"delete or change each line named (pfwdctl audit explains them), then run pfwdctl apply again",
		"the host is not hardened as rendered: sshd uses other values than pfwdctl's drop-ins:\n    %s", strings.Join(fails, "\n    "))
}

// overlay maps each drop-in the plan changes to its new content.
func (a Applier) overlay(files []File, changes []FileChange) map[string][]byte {
	m := map[string][]byte{}
	for i, f := range files {
		if changes[i].Action != "unchanged" {
			m[filepath.Join(DropInDir(a.config()), f.Name)] = f.Data
		}
	}
	return m
}

func firstError(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

// reloader is the Reloader for this host, set to confirm by asking the
// daemon what it serves the forward account and root (any account outside
// the Match block would do: root always exists).
func (a Applier) reloader(user string) sshd.Reloader {
	rl := sshd.Reloader{Root: a.Root, Runner: a.Runner}
	if a.Reloader != nil {
		rl = *a.Reloader
	}
	if rl.Effective == nil {
		rl.Effective = a.binary().Effective
		rl.ProbeUsers = []string{user, "root"}
	}
	return rl
}

// anyStale reports whether a probe found the daemon serving another config.
func anyStale(served []sshd.Served) bool {
	for _, s := range served {
		if s.Mismatch != "" {
			return true
		}
	}
	return false
}

func (a Applier) auditLog() auditlog.Log {
	return auditlog.Log{Root: a.Root, File: a.AuditLog, Now: a.Now, Getenv: a.Getenv, Syslog: a.Syslog}
}

// install writes the changed files, runs sshd -t over the whole config and
// puts every file back byte-for-byte if sshd rejects it. The rollback and
// the check run even if ctx is cancelled mid-way: an interrupted run must
// not leave an unchecked config behind. Each installed file, or each file
// put back, is one audit log line with its sha256 before and after; a log
// that cannot be written is returned as logErr (on rollback it is also
// named in err) and never undoes a change that sshd accepted.
func (a Applier) install(ctx context.Context, account string, files []File, changes []FileChange) (u *installed, logErr, err error) {
	dir := a.Root.PathDir(DropInDir(a.config()))
	_, statErr := os.Lstat(dir)
	u = &installed{root: a.Root, dir: dir, createdDir: errors.Is(statErr, fs.ErrNotExist)}
	// Intent first: the planned files and their hashes are in the log
	// before any is written, so a run killed mid-way leaves a record of
	// what it was doing (auditlog.Interrupted). No record, no change.
	var intents []auditlog.Event
	for i, f := range files {
		if changes[i].Action == "unchanged" {
			continue
		}
		old, oldErr := os.ReadFile(filepath.Join(dir, f.Name))
		intents = append(intents, auditlog.Event{Action: auditlog.ActionDropIn, Account: account,
			Path: changes[i].Path, Before: auditlog.Hash(old, oldErr == nil), After: auditlog.Hash(f.Data, true),
			Detail: "about to install; sshd -t checks it next"})
	}
	chg, err := a.auditLog().Begin(intents...)
	if err != nil {
		return nil, nil, fail.Wrap(fail.Failed, err, "make "+auditlog.Path+" a writable regular file (not a symlink), then run pfwdctl apply again",
			"cannot record the change in the audit log, so nothing was changed")
	}
	u.change = chg
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, nil, a.logRollback(account, u, fail.Wrap(fail.Failed, err, "", "create %s", DropInDir(a.config())), &logErr)
	}
	rollback := func(cause error) error {
		if rbErrs := u.restore(); len(rbErrs) > 0 {
			cause = fail.Wrap(fail.Failed, errors.Join(append([]error{cause}, rbErrs...)...),
				"restoring the previous files failed: check the files named above by hand before sshd reloads", "rollback incomplete")
		}
		return a.logRollback(account, u, cause, &logErr)
	}
	for i, f := range files {
		if changes[i].Action == "unchanged" {
			continue
		}
		path := filepath.Join(dir, f.Name)
		snap, err := hostfs.Take(path)
		if err != nil {
			return nil, logErr, rollback(fail.Wrap(fail.Failed, err, "", "snapshot %s", changes[i].Path))
		}
		u.snaps, u.written = append(u.snaps, snap), append(u.written, nil)
		if err := hostfs.WriteFile(path, f.Data, DropInMode, hostfs.RootOwner); err != nil {
			// A failed WriteFile leaves the old file in place: it is
			// restored like the others, but no line claims it changed.
			return nil, logErr, rollback(fail.Wrap(fail.Failed, err, "", "write %s", changes[i].Path))
		}
		u.written[len(u.written)-1] = f.Data
	}
	if err := a.binary().Test(context.WithoutCancel(ctx)); err != nil {
		return nil, logErr, rollback(err)
	}
	var events []auditlog.Event
	for i, s := range u.snaps {
		events = append(events, auditlog.Event{Action: auditlog.ActionDropIn, Account: account,
			Path: a.Root.HostPath(s.Path), Before: auditlog.Hash(s.Data, s.Exists), After: auditlog.Hash(u.written[i], true),
			Detail: "sshd -t accepts the whole configuration"})
	}
	u.completed = true
	return u, chg.Done(events...), nil
}

// beginRollback opens the record of putting back an install whose change
// is already recorded as done (keys that could not follow, the wizard's
// later step): its own intent, before any file is touched. The restore
// goes ahead even when that intent cannot be written, since putting the
// old files back is the safe direction; logRollback then reports it.
func (a Applier) beginRollback(account string, u *installed, cause error) {
	if !u.completed {
		return
	}
	var intents []auditlog.Event
	for i, s := range u.snaps {
		if u.written[i] == nil {
			continue
		}
		intents = append(intents, auditlog.Event{Action: auditlog.ActionDropInRollback, Account: account,
			Path: a.Root.HostPath(s.Path), Before: auditlog.Hash(u.written[i], true), After: auditlog.Hash(s.Data, s.Exists),
			Detail: "about to roll back: " + auditlog.OneLine(cause.Error())})
	}
	c, err := a.auditLog().Begin(intents...)
	u.change, u.completed, u.rollback, u.rollbackLogErr = c, false, true, err
}

// logRollback records, once the files are put back, one line per file this
// run wrote, completing the change's intent as aborted: before is what the
// run wrote, after what is on disk now (the old content, unless its restore
// failed). A log that cannot be written is kept in *logErr and named in the
// returned error, which keeps cause's kind and hint.
func (a Applier) logRollback(account string, u *installed, cause error, logErr *error) error {
	var events []auditlog.Event
	for i, s := range u.snaps {
		if u.written[i] == nil {
			continue
		}
		now, err := os.ReadFile(s.Path)
		events = append(events, auditlog.Event{Action: auditlog.ActionDropInRollback, Account: account,
			Path: a.Root.HostPath(s.Path), Before: auditlog.Hash(u.written[i], true), After: auditlog.Hash(now, err == nil),
			Detail: "rolled back: " + auditlog.OneLine(cause.Error())})
	}
	var err error
	switch {
	case u.rollback:
		// The rollback's own record: it was made.
		err = u.rollbackLogErr
		if err == nil && len(events) > 0 {
			err = u.change.Done(events...)
		}
	case len(events) == 0:
		// Nothing was written: the intent is closed as not made.
		err = u.change.Abort(cause)
	default:
		err = u.change.Abort(cause, events...)
	}
	if err != nil {
		*logErr = err
		return fmt.Errorf("%w (and the audit log was not written: %v)", cause, err)
	}
	return cause
}

// Rollback puts back what Apply installed in res: every drop-in it wrote,
// byte-for-byte, and the drop-in directory if it created it. It is for a
// caller whose own next step failed before sshd reloaded (the wizard's
// account and keys come after sshd -t): the running sshd never saw the new
// files. Like Apply it takes the lock first, and restores nothing without
// it, since another run may be writing the same files. A result with
// nothing installed (dry run, no change, a failed Apply) is a no-op.
func (a Applier) Rollback(res ApplyResult) error {
	if res.undo == nil {
		return nil
	}
	unlock, err := a.Root.Lock(a.lockWait())
	if err != nil {
		return fail.Wrap(fail.Unavailable, err,
			"nothing was restored: check the drop-ins by hand before sshd reloads", "cannot take the lock to roll back")
	}
	defer unlock()
	var cause error = errors.New("a later step failed")
	a.beginRollback("", res.undo, cause)
	if errs := res.undo.restore(); len(errs) > 0 {
		cause = fail.Wrap(fail.Failed, errors.Join(errs...),
			"restoring the previous files failed: check the files named above by hand before sshd reloads", "rollback incomplete")
		var logErr error
		return a.logRollback("", res.undo, cause, &logErr)
	}
	var logErr error
	if a.logRollback("", res.undo, cause, &logErr); logErr != nil {
		return fail.Wrap(fail.Failed, logErr, "the files are restored; the audit log could not be written", "write the audit log")
	}
	return nil
}

func (a Applier) lockWait() time.Duration {
	if a.LockWait == 0 {
		return hostfs.LockWait
	}
	return a.LockWait
}
