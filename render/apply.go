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
)

// DropInMode is the mode of every drop-in: world-readable like the rest of
// /etc/ssh, writable by root only.
const DropInMode fs.FileMode = 0o644

// Applier installs the drop-ins on a host (or a --root tree).
type Applier struct {
	Root       hostfs.Root
	Runner     run.Runner
	SshdConfig string // host path; empty: DefaultSshdConfig
	SshdBin    string // empty: FindSshd
	Getenv     func(string) string
	Reloader   *Reloader     // nil: a Reloader over Root and Runner
	LockWait   time.Duration // 0: hostfs.LockWait
	// Now, Syslog and AuditLog configure the audit log each installed or
	// rolled-back drop-in is recorded in (see auditlog.Log); zero values
	// mean the clock, the system's syslog and auditlog.Path under Root.
	Now      func() time.Time
	Syslog   func(line string)
	AuditLog string
}

// ApplyOptions are the per-run choices.
type ApplyOptions struct {
	Params   Params
	DryRun   bool
	NoReload bool
	Force    bool // skip the lockout guard
}

// FileChange is one drop-in's fate.
type FileChange struct {
	Path   string `json:"path"`   // host path
	Action string `json:"action"` // create, update, unchanged
	Diff   string `json:"diff,omitempty"`
}

// ApplyResult is what apply did.
type ApplyResult struct {
	Changed   bool          `json:"changed"`
	DryRun    bool          `json:"dry_run"`
	Files     []FileChange  `json:"files"`
	Validated bool          `json:"validated"`
	Reload    *ReloadResult `json:"reload,omitempty"`
	// Warnings are things the admin should know that did not stop the
	// run, such as an audit log that could not be written.
	Warnings []string `json:"warnings,omitempty"`
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
		return DefaultSshdConfig
	}
	return a.SshdConfig
}

func (a Applier) sshd() Sshd {
	return Sshd{Bin: a.SshdBin, Runner: a.Runner, Root: a.Root, Config: a.config()}
}

// Plan renders the drop-ins and diffs them against the host without taking
// the lock or writing anything.
func (a Applier) Plan(p Params) ([]File, []FileChange, error) {
	files, err := Render(p)
	if err != nil {
		return nil, nil, err
	}
	if err := CheckInclude(a.Root, a.config()); err != nil {
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
		unlock, err := a.Root.Lock(a.LockWait)
		if err != nil {
			return res, fail.Wrap(fail.Unavailable, err, "wait for the other run to finish, then try again", "cannot take the lock")
		}
		defer unlock()
	}
	files, changes, err := a.Plan(o.Params)
	if err != nil {
		return res, err
	}
	res.Files = changes
	for _, c := range changes {
		res.Changed = res.Changed || c.Action != "unchanged"
	}
	if !res.Changed || o.DryRun {
		return res, nil
	}
	if !o.Force {
		g := Guard{Root: a.Root, ForwardUser: o.Params.User, Getenv: a.Getenv}
		if err := g.Check(); err != nil {
			return res, err
		}
	}
	logErr, err := a.install(ctx, o.Params.User, files, changes)
	if logErr != nil && err == nil {
		res.Warnings = append(res.Warnings, "the drop-ins are installed, but the audit log was not written: "+logErr.Error())
	}
	if err != nil {
		return res, err
	}
	res.Validated = true
	if o.NoReload {
		res.Reload = &ReloadResult{Method: ReloadSkipped, Detail: "not reloaded (--no-reload); the new config takes effect at sshd's next reload or start"}
		return res, nil
	}
	// Interrupted after the files passed sshd -t: they stay (they are
	// valid), but asking systemctl with a cancelled context would fail and
	// read as "sshd is not running". Say instead that no reload was done.
	if err := ctx.Err(); err != nil {
		res.Reload = &ReloadResult{Method: ReloadSkipped, Detail: "interrupted before the reload: the new config passed sshd -t and is installed, but sshd has not read it"}
		return res, fail.Wrap(fail.Failed, err,
			"reload sshd by hand (e.g. systemctl reload ssh), or run pfwdctl apply again", "interrupted after installing the drop-ins")
	}
	rl := a.Reloader
	if rl == nil {
		rl = &Reloader{Root: a.Root, Runner: a.Runner}
	}
	rr, err := rl.Reload(ctx)
	res.Reload = &rr
	return res, err
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
func (a Applier) install(ctx context.Context, account string, files []File, changes []FileChange) (logErr, err error) {
	dir := a.Root.Path(DropInDir(a.config()))
	_, statErr := os.Lstat(dir)
	createdDir := errors.Is(statErr, fs.ErrNotExist)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fail.Wrap(fail.Failed, err, "", "create %s", DropInDir(a.config()))
	}
	var snaps []hostfs.Snapshot
	var written [][]byte // written[i] is what replaced snaps[i], nil if not yet written
	rollback := func(cause error) (err error) {
		defer func() { err = a.logRollback(account, snaps, written, err, &logErr) }()
		var rbErrs []error
		for i := len(snaps) - 1; i >= 0; i-- {
			if err := snaps[i].Restore(); err != nil {
				rbErrs = append(rbErrs, fmt.Errorf("restore %s: %w", a.Root.HostPath(snaps[i].Path), err))
			}
		}
		// A drop-in directory this run made goes too (Remove only takes
		// it when empty, so nothing anyone else put there is lost).
		if createdDir && len(rbErrs) == 0 {
			if err := os.Remove(dir); err == nil {
				hostfs.SyncDir(filepath.Dir(dir))
			}
		}
		if len(rbErrs) > 0 {
			return fail.Wrap(fail.Failed, errors.Join(append([]error{cause}, rbErrs...)...),
				"restoring the previous files failed: check the files named above by hand before sshd reloads", "rollback incomplete")
		}
		return cause
	}
	for i, f := range files {
		if changes[i].Action == "unchanged" {
			continue
		}
		path := filepath.Join(dir, f.Name)
		snap, err := hostfs.Take(path)
		if err != nil {
			rerr := rollback(fail.Wrap(fail.Failed, err, "", "snapshot %s", changes[i].Path))
			return logErr, rerr
		}
		snaps, written = append(snaps, snap), append(written, nil)
		if err := hostfs.WriteFile(path, f.Data, DropInMode, hostfs.RootOwner); err != nil {
			// A failed WriteFile leaves the old file in place: it is
			// restored like the others, but no line claims it changed.
			rerr := rollback(fail.Wrap(fail.Failed, err, "", "write %s", changes[i].Path))
			return logErr, rerr
		}
		written[len(written)-1] = f.Data
	}
	if err := a.sshd().Test(context.WithoutCancel(ctx)); err != nil {
		rerr := rollback(err)
		return logErr, rerr
	}
	var events []auditlog.Event
	for i, s := range snaps {
		events = append(events, auditlog.Event{Action: auditlog.ActionDropIn, Account: account,
			Path: a.Root.HostPath(s.Path), Before: auditlog.Hash(s.Data, s.Exists), After: auditlog.Hash(written[i], true),
			Detail: "sshd -t accepts the whole configuration"})
	}
	return a.auditLog().Append(events...), nil
}

// logRollback records, once the files are put back, one line per file this
// run wrote: before is what the run wrote, after what is on disk now (the
// old content, unless its restore failed). A log that cannot be written is
// kept in *logErr and named in the returned error, which keeps cause's kind
// and hint.
func (a Applier) logRollback(account string, snaps []hostfs.Snapshot, written [][]byte, cause error, logErr *error) error {
	var events []auditlog.Event
	for i, s := range snaps {
		if written[i] == nil {
			continue
		}
		now, err := os.ReadFile(s.Path)
		events = append(events, auditlog.Event{Action: auditlog.ActionDropInRollback, Account: account,
			Path: a.Root.HostPath(s.Path), Before: auditlog.Hash(written[i], true), After: auditlog.Hash(now, err == nil),
			Detail: "rolled back: " + oneLine(cause.Error())})
	}
	if err := a.auditLog().Append(events...); err != nil {
		*logErr = err
		return fmt.Errorf("%w (and the audit log was not written: %v)", cause, err)
	}
	return cause
}

// oneLine keeps a multi-line error (sshd's own words) on one log line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", "; ")), " ")
}
