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
	// Mode is the install mode asked for (--install-mode); empty: auto.
	Mode     Mode
	Getenv   func(string) string
	Reloader *sshd.Reloader // nil: a Reloader over Root and Runner
	LockWait time.Duration  // 0: hostfs.LockWait
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
	Changed bool `json:"changed"`
	DryRun  bool `json:"dry_run"`
	// Mode is how the units reach sshd (drop-ins or managed blocks in
	// sshd_config), ModeWhy why that mode was chosen.
	Mode      Mode         `json:"install_mode"`
	ModeWhy   string       `json:"install_mode_why"`
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
	gone       []bool   // gone[i]: snaps[i] was removed, not replaced
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

// write is one host file a plan replaces.
type write struct {
	path  string // host path
	data  []byte
	mode  fs.FileMode
	owner hostfs.Owner
	// from is the file as the plan read it (nil with exists false: no
	// file): install refuses to write over anything else, so an edit made
	// while sshd was being asked is never silently replaced.
	from       []byte
	fromExists bool
	// remove deletes the file instead (pfwdctl remove).
	remove bool
}

// plan is what an apply would write, and in which install mode.
type plan struct {
	mode    Mode
	why     string // why this mode (for the admin)
	files   []File // the rendered units
	writes  []write
	changes []FileChange // changes[i] is writes[i]'s fate
	// removing: the plan takes pfwdctl's units out (pfwdctl remove).
	removing bool
	// warnings are for the admin (remove: files that stop being read).
	warnings []string
}

// Plan renders the units and diffs them against the host without taking
// the lock or writing anything. changes has one entry per host file the
// apply would write: each drop-in, or sshd_config in the managed-block
// mode (and when it needs the Include line).
func (a Applier) Plan(p Params) ([]File, []FileChange, error) {
	pl, err := a.plan(context.Background(), p)
	return pl.files, pl.changes, err
}

// InstallMode says which mode an apply would use on this host, and why.
func (a Applier) InstallMode(ctx context.Context) (Mode, string, error) {
	return a.mode(ctx)
}

// mode resolves Applier.Mode: the explicit choice where it can work, else
// managed blocks where sshd_config already holds them or the installed
// sshd cannot use drop-ins (asked of the binary, never its version).
func (a Applier) mode(ctx context.Context) (Mode, string, error) {
	l, err := ReadLayout(a.Root, a.config())
	if err != nil {
		return "", "", err
	}
	// One short question an interrupt does not cut in half (like sshd -t).
	caps, perr := a.binary().Probe(context.WithoutCancel(ctx))
	if perr != nil {
		// Whether drop-ins would be read is not known: guessing could
		// report a Match block this sshd ignores (8.2, 8.3).
		return "", "", fail.Wrap(fail.KindOf(perr), perr, "check that the sshd binary runs (pass --sshd PATH), then run pfwdctl again",
			"cannot tell whether this sshd reads drop-ins; nothing was written")
	}
	if caps.Unsupported() != "" {
		return "", "", fail.New(fail.Failed, "upgrade OpenSSH to "+sshd.Oldest.String()+" or later (docs/compatibility.md lists the releases pfwdctl is proven against)",
			"unsupported sshd: %s; nothing was written", caps.Unsupported())
	}
	dropInsWhy := caps.Why()
	ours, err := a.installedDropIns()
	if err != nil {
		return "", "", err
	}
	want := a.Mode
	if want == "" {
		want = ModeAuto
	}
	switch want {
	case ModeDropIns:
		if dropInsWhy != "" {
			return "", "", fail.New(fail.Failed, "use --install-mode managed-block (or auto), which puts the same lines into sshd_config itself",
				"refusing drop-ins: %s; nothing was written", dropInsWhy)
		}
		if l.Mode == ModeManaged {
			return "", "", fail.New(fail.Failed, "use --install-mode managed-block (or auto), or delete pfwdctl's BEGIN/END blocks from "+a.config()+" by hand first",
				"%s holds pfwdctl's managed blocks: drop-ins as well would install every line twice; nothing was written", a.config())
		}
		return ModeDropIns, "chosen with --install-mode drop-ins", nil
	case ModeManaged:
		if len(ours) > 0 {
			return "", "", leftoverDropIns(ours)
		}
		if dropInsWhy != "" {
			return ModeManaged, dropInsWhy, nil
		}
		return ModeManaged, "chosen with --install-mode managed-block", nil
	}
	switch {
	case l.Mode == ModeManaged:
		if len(ours) > 0 {
			return "", "", leftoverDropIns(ours)
		}
		return ModeManaged, a.config() + " already holds pfwdctl's managed blocks", nil
	case dropInsWhy != "" && len(ours) > 0:
		return "", "", fail.New(fail.Failed, "remove pfwdctl's drop-ins (rm "+strings.Join(ours, " ")+"), then run pfwdctl apply again: it puts the same lines into sshd_config as managed blocks",
			"pfwdctl's drop-ins are installed, but %s; nothing was written", dropInsWhy)
	case dropInsWhy != "":
		return ModeManaged, dropInsWhy, nil
	}
	return ModeDropIns, "this sshd reads Match blocks in " + DropInDir(a.config()), nil
}

// leftoverDropIns refuses managed blocks while pfwdctl's drop-ins are
// still installed: sshd would read both.
func leftoverDropIns(paths []string) error {
	return fail.New(fail.Failed, "remove them (rm "+strings.Join(paths, " ")+"), then run pfwdctl apply again",
		"pfwdctl's drop-ins are installed and the managed blocks would repeat them; nothing was written")
}

// installedDropIns are the host paths of the drop-ins pfwdctl wrote (its
// header on the first line) next to the main config.
func (a Applier) installedDropIns() ([]string, error) {
	l := Layout{Root: a.Root, Main: a.config(), Mode: ModeDropIns}
	names, err := l.Names()
	if err != nil {
		return nil, err
	}
	var out []string
	for _, n := range names {
		data, ok, err := l.Read(n)
		if err != nil {
			return nil, err
		}
		if ok && strings.HasPrefix(string(data), managedHeader) {
			out = append(out, l.Path(n))
		}
	}
	return out, nil
}

// includeLine is what apply puts at the top of a main config that does
// not read the drop-in directory.
func includeLine(mainConfig string) string {
	return "# Added by pfwdctl apply: sshd reads pfwdctl's drop-ins from here, before\n" +
		"# any line below (sshd keeps the first value it reads).\n" +
		"Include " + DropInDir(mainConfig) + "/*.conf\n"
}

func (a Applier) plan(ctx context.Context, p Params) (pl plan, err error) {
	files, err := Render(p)
	if err != nil {
		return pl, err
	}
	pl.files = files
	if pl.mode, pl.why, err = a.mode(ctx); err != nil {
		return pl, err
	}
	main := a.config()
	// The main config is read (and written) only when the mode needs it:
	// a host whose sshd_config already reads the drop-ins keeps it as is,
	// even when it is a symlink pfwdctl would refuse to write through.
	readMain := func() (hostfs.Snapshot, error) {
		snap, err := hostfs.Take(a.Root.Path(main))
		if err != nil {
			return snap, fail.Wrap(fail.Failed, err, "make it a regular file (not a symlink), then run pfwdctl again", "cannot manage %s", main)
		}
		if !snap.Exists {
			return snap, fail.New(fail.Failed, "pass --sshd-config PATH if the main config lives elsewhere", "%s does not exist", main)
		}
		return snap, nil
	}
	keep := func(snap hostfs.Snapshot, data []byte) write {
		return write{path: main, data: data, mode: snap.Mode, owner: snap.Owner}
	}
	switch pl.mode {
	case ModeManaged:
		mainSnap, err := readMain()
		if err != nil {
			return pl, err
		}
		data, err := Splice(mainSnap.Data, files)
		if err != nil {
			return pl, fail.Wrap(fail.Failed, err, "repair or remove pfwdctl's BEGIN/END marker lines by hand, then run pfwdctl apply", "cannot read pfwdctl's managed blocks in %s", main)
		}
		pl.writes = append(pl.writes, keep(mainSnap, data))
	default:
		if err := CheckPlacement(a.Root, main); err != nil {
			return pl, err
		}
		var names []string
		for _, f := range files {
			names = append(names, f.Name)
		}
		// A main config that does not read the drop-ins (upstream's stock
		// file) gets the Include at its top, where its values win as the
		// drop-ins need, in the same change.
		if err := CheckInclude(a.Root, main, names...); errors.Is(err, ErrNoInclude) {
			mainSnap, err := readMain()
			if err != nil {
				return pl, err
			}
			pl.writes = append(pl.writes, keep(mainSnap, append([]byte(includeLine(main)), mainSnap.Data...)))
			pl.why += "; " + main + " gets the Include line at its top"
		} else if err != nil {
			return pl, err
		}
		dir := DropInDir(main)
		for _, f := range files {
			pl.writes = append(pl.writes, write{path: filepath.Join(dir, f.Name), data: f.Data, mode: DropInMode, owner: hostfs.RootOwner})
		}
	}
	// apply --crypto's filtered moduli file is a unit of its own, in
	// either mode (sshd reads it by path).
	if c := p.Crypto; c != nil && c.ModuliFile != "" {
		pl.writes = append(pl.writes, write{path: c.ModuliFile, data: c.Moduli, mode: DropInMode, owner: hostfs.RootOwner})
	}
	// apply --ca's trusted key, principals file and revocation list are
	// read by path, like the moduli file.
	caw, err := a.caWrites(ctx, p)
	if err != nil {
		return pl, err
	}
	pl.writes = append(pl.writes, caw...)
	for i, w := range pl.writes {
		c, snap, err := a.change(w)
		if err != nil {
			return pl, err
		}
		pl.writes[i].from, pl.writes[i].fromExists = snap.Data, snap.Exists
		pl.changes = append(pl.changes, c)
	}
	return pl, nil
}

// change diffs one planned write against the host.
func (a Applier) change(w write) (FileChange, hostfs.Snapshot, error) {
	snap, err := hostfs.Take(a.Root.Path(w.path))
	if err != nil {
		return FileChange{}, snap, fail.Wrap(fail.Failed, err, "remove or replace it with a regular file, then run pfwdctl again", "cannot manage %s", w.path)
	}
	c := FileChange{Path: w.path, Action: "unchanged"}
	if w.remove {
		if snap.Exists {
			c.Action, c.Diff = "remove", udiff.Unified(w.path, "/dev/null", string(snap.Data), "")
		}
		return c, snap, nil
	}
	switch {
	case !snap.Exists:
		c.Action = "create"
	case !bytes.Equal(snap.Data, w.data):
		c.Action = "update"
	case snap.Mode != w.mode || (hostfs.Euid() == 0 && snap.Owner != w.owner):
		c.Action = "update"
		c.Diff = fmt.Sprintf("# %s: owner/mode %d:%d %04o -> %d:%d %04o\n", w.path, snap.Owner.UID, snap.Owner.GID, snap.Mode, w.owner.UID, w.owner.GID, w.mode)
	}
	if c.Action != "unchanged" && c.Diff == "" {
		old := "/dev/null"
		if snap.Exists {
			old = w.path
		}
		c.Diff = udiff.Unified(old, w.path, string(snap.Data), string(w.data))
	}
	return c, snap, nil
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
	// No choice made (""): keep the installed baseline's root login, as
	// the targets and the CA are kept; a fresh host gets "no".
	if o.Params.PermitRootLogin == "" {
		o.Params.PermitRootLogin = InstalledRootLogin(a.Root, a.config())
	}
	res.Targets = o.Params.TargetStrings()
	pl, err := a.plan(ctx, o.Params)
	if err != nil {
		return res, err
	}
	res.Mode, res.ModeWhy = pl.mode, pl.why
	res.Files = pl.changes
	for _, c := range pl.changes {
		res.Changed = res.Changed || c.Action != "unchanged"
	}
	// The planned change, not yet written: sshd is asked about it (the
	// guard, the override check, a dry run) before anything is.
	staged := a.binary()
	staged.Overlay = pl.overlay()
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
		// A daemon that is not the one the host reloads, or that runs
		// another -f, serves something else whatever it answers.
		if err := rl.Check(ctx); err != nil {
			return res, firstError(err, overrideErr)
		}
		served, err := sshd.ProbeServed(ctx, rl.Effective, rl.ProbeUsers)
		if err != nil || !anyStale(served) {
			return res, overrideErr
		}
		rr, err := rl.Reload(ctx)
		res.Reload = &rr
		return res, firstError(err, overrideErr)
	}
	u, logErr, err := a.install(ctx, o.Params.User, pl)
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

// overlay maps each file the plan changes to its new content.
func (pl plan) overlay() map[string][]byte {
	m := map[string][]byte{}
	for i, w := range pl.writes {
		switch {
		case pl.changes[i].Action == "unchanged":
		case w.remove:
			m[w.path] = nil // absent
		case w.data == nil:
			m[w.path] = []byte{} // empty, not absent
		default:
			m[w.path] = w.data
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
	if rl.Config == "" {
		rl.Config = a.Root.Path(a.config())
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
func (a Applier) install(ctx context.Context, account string, pl plan) (u *installed, logErr, err error) {
	dropDir := DropInDir(a.config())
	dir := a.Root.PathDir(dropDir)
	_, statErr := os.Lstat(dir)
	u = &installed{root: a.Root, dir: dir}
	// Intent first: the planned files and their hashes are in the log
	// before any is written, so a run killed mid-way leaves a record of
	// what it was doing (auditlog.Interrupted). No record, no change.
	var intents []auditlog.Event
	needDir := false
	for i, w := range pl.writes {
		if pl.changes[i].Action == "unchanged" {
			continue
		}
		needDir = needDir || (filepath.Dir(w.path) == dropDir && !w.remove)
		old, oldErr := a.Root.ReadFile(w.path)
		action, detail := auditlog.ActionDropIn, "about to install ("+string(pl.mode)+"); sshd -t checks it next"
		if pl.removing {
			action, detail = auditlog.ActionDropInRemove, "about to remove ("+string(pl.mode)+"); sshd -t checks the rest next"
		}
		intents = append(intents, auditlog.Event{Action: action, Account: account,
			Path: w.path, Before: auditlog.Hash(old, oldErr == nil), After: auditlog.Hash(w.data, !w.remove),
			Detail: detail})
	}
	chg, err := a.auditLog().Begin(intents...)
	if err != nil {
		return nil, nil, fail.Wrap(fail.Failed, err, "make "+auditlog.Path+" a writable regular file (not a symlink), then run pfwdctl apply again",
			"cannot record the change in the audit log, so nothing was changed")
	}
	u.change = chg
	if needDir {
		u.createdDir = errors.Is(statErr, fs.ErrNotExist)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, nil, a.logRollback(account, u, fail.Wrap(fail.Failed, err, "", "create %s", dropDir), &logErr)
		}
	}
	rollback := func(cause error) error {
		if rbErrs := u.restore(); len(rbErrs) > 0 {
			cause = fail.Wrap(fail.Failed, errors.Join(append([]error{cause}, rbErrs...)...),
				"restoring the previous files failed: check the files named above by hand before sshd reloads", "rollback incomplete")
		}
		return a.logRollback(account, u, cause, &logErr)
	}
	for i, w := range pl.writes {
		if pl.changes[i].Action == "unchanged" {
			continue
		}
		path := a.Root.Path(w.path)
		snap, err := hostfs.Take(path)
		if err != nil {
			return nil, logErr, rollback(fail.Wrap(fail.Failed, err, "", "snapshot %s", w.path))
		}
		u.snaps, u.written, u.gone = append(u.snaps, snap), append(u.written, nil), append(u.gone, w.remove)
		if snap.Exists != w.fromExists || !bytes.Equal(snap.Data, w.from) {
			return nil, logErr, rollback(fail.New(fail.Failed, "run pfwdctl apply again: it plans from the file as it is now",
				"%s changed while pfwdctl was planning (another editor?); it was not overwritten", w.path))
		}
		if w.remove {
			if err := os.Remove(path); err != nil {
				return nil, logErr, rollback(fail.Wrap(fail.Failed, err, "", "remove %s", w.path))
			}
			hostfs.SyncDir(filepath.Dir(path))
			u.written[len(u.written)-1] = []byte{}
			continue
		}
		if err := hostfs.WriteFile(path, w.data, w.mode, w.owner); err != nil {
			// A failed WriteFile leaves the old file in place: it is
			// restored like the others, but no line claims it changed.
			return nil, logErr, rollback(fail.Wrap(fail.Failed, err, "", "write %s", w.path))
		}
		u.written[len(u.written)-1] = w.data
	}
	if err := a.binary().Test(context.WithoutCancel(ctx)); err != nil {
		return nil, logErr, rollback(err)
	}
	var events []auditlog.Event
	for i, s := range u.snaps {
		action := auditlog.ActionDropIn
		if pl.removing {
			action = auditlog.ActionDropInRemove
		}
		events = append(events, auditlog.Event{Action: action, Account: account,
			Path: a.Root.HostPath(s.Path), Before: auditlog.Hash(s.Data, s.Exists), After: auditlog.Hash(u.written[i], !u.gone[i]),
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
			Path: a.Root.HostPath(s.Path), Before: auditlog.Hash(u.written[i], !u.gone[i]), After: auditlog.Hash(s.Data, s.Exists),
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
			Path: a.Root.HostPath(s.Path), Before: auditlog.Hash(u.written[i], !u.gone[i]), After: auditlog.Hash(now, err == nil),
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
