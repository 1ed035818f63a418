package render

import (
	"bytes"
	"context"

	"github.com/pfwdctl/pfwdctl/internal/fail"
	"github.com/pfwdctl/pfwdctl/internal/hostfs"
	"github.com/pfwdctl/pfwdctl/internal/sshd"
)

// RemoveOptions are pfwdctl remove's choices.
type RemoveOptions struct {
	DryRun   bool
	NoReload bool
}

// Remove undoes Apply: pfwdctl's drop-ins are deleted, or its managed
// blocks spliced out of sshd_config with every other byte kept, and the
// Include line apply put at the top of sshd_config (includeLine, found
// verbatim) goes too, then sshd -t checks what is left, a rejected
// config is put back byte for byte, and sshd is reloaded and confirmed
// as Apply does: the same plan, install, rollback, lock and audit log.
//
// The Include line is removed because it was not there before apply:
// kept, it would make sshd read every other file in the drop-in
// directory (cloud-init's 50-cloud-init.conf, say) that it did not read
// before, and the host would not be as it was. An Include the admin
// wrote (or edited) is not pfwdctl's and stays.
//
// Files sshd reads only by a path a removed line named (apply --crypto's
// moduli file, apply --ca's trusted key, principals and revocation list)
// are left: nothing reads them any more, and the CA's revocation list is
// the record of what was revoked should the CA be trusted again.
func (a Applier) Remove(ctx context.Context, o RemoveOptions) (ApplyResult, error) {
	res := ApplyResult{DryRun: o.DryRun, Files: []FileChange{}}
	if !o.DryRun {
		unlock, err := a.Root.Lock(a.lockWait())
		if err != nil {
			return res, fail.Wrap(fail.Unavailable, err, "wait for the other run to finish, then try again", "cannot take the lock")
		}
		defer unlock()
	}
	// The account the reload is confirmed with: one whose Match block
	// goes (its answer changes), else the default.
	probe := DefaultUser
	if accs, err := InstalledAccounts(a.Root, a.config()); err == nil && len(accs) > 0 {
		probe = accs[0].User
	}
	pl, err := a.removePlan()
	if err != nil {
		return res, err
	}
	res.Mode, res.ModeWhy = pl.mode, pl.why
	res.Files = pl.changes
	for _, c := range pl.changes {
		res.Changed = res.Changed || c.Action != "unchanged"
	}
	if !res.Changed {
		return res, nil
	}
	if o.DryRun {
		staged := a.binary()
		staged.Overlay = pl.overlay()
		return res, staged.Test(context.WithoutCancel(ctx))
	}
	u, logErr, err := a.install(ctx, "", pl)
	if logErr != nil && err == nil {
		res.Warnings = append(res.Warnings, "pfwdctl's files are removed, but the audit log was not written: "+logErr.Error())
	}
	if err != nil {
		return res, err
	}
	res.Validated, res.undo = true, u
	if o.NoReload {
		res.Reload = &sshd.ReloadResult{Method: sshd.ReloadSkipped, Detail: "not reloaded (--no-reload); sshd keeps pfwdctl's settings until its next reload or start"}
		return res, nil
	}
	if err := ctx.Err(); err != nil {
		res.Reload = &sshd.ReloadResult{Method: sshd.ReloadSkipped, Detail: "interrupted before the reload: the files are removed and pass sshd -t, but sshd has not read them"}
		return res, fail.Wrap(fail.Failed, err,
			"reload sshd by hand ("+a.reloader(probe).Service().Reload+")", "interrupted after removing pfwdctl's files")
	}
	rr, err := a.reloader(probe).Reload(ctx)
	res.Reload = &rr
	return res, err
}

// removePlan is what Remove would write: each drop-in pfwdctl wrote (its
// header on the first line) removed, and sshd_config without pfwdctl's
// managed blocks and without the Include line apply added.
func (a Applier) removePlan() (pl plan, err error) {
	pl.removing = true
	main := a.config()
	ours, err := a.installedDropIns()
	if err != nil {
		return pl, err
	}
	for _, p := range ours {
		pl.writes = append(pl.writes, write{path: p, remove: true})
	}
	snap, err := hostfs.Take(a.Root.Path(main))
	if err != nil {
		return pl, fail.Wrap(fail.Failed, err, "make it a regular file (not a symlink), then run pfwdctl again", "cannot manage %s", main)
	}
	if !snap.Exists {
		return pl, fail.New(fail.Failed, "pass --sshd-config PATH if the main config lives elsewhere", "%s does not exist", main)
	}
	regions, err := Regions(snap.Data)
	if err != nil {
		return pl, fail.Wrap(fail.Failed, err, "repair or remove pfwdctl's BEGIN/END marker lines by hand, then run pfwdctl remove", "cannot read pfwdctl's managed blocks in %s", main)
	}
	data := withoutRegions(snap.Data, regions)
	var whys []string
	switch {
	case len(regions) > 0:
		pl.mode = ModeManaged
		whys = append(whys, main+" holds pfwdctl's managed blocks")
	case len(ours) > 0:
		pl.mode = ModeDropIns
	}
	if len(ours) > 0 {
		whys = append(whys, "pfwdctl's drop-ins are in "+DropInDir(main))
	}
	if inc := []byte(includeLine(main)); bytes.HasPrefix(data, inc) {
		data = data[len(inc):]
		whys = append(whys, "the Include line apply added to "+main+" goes too")
	}
	for i, w := range whys {
		if i > 0 {
			pl.why += "; "
		}
		pl.why += w
	}
	if !bytes.Equal(data, snap.Data) {
		if data == nil {
			data = []byte{}
		}
		pl.writes = append(pl.writes, write{path: main, data: data, mode: snap.Mode, owner: snap.Owner})
	}
	for i, w := range pl.writes {
		c, s, err := a.change(w)
		if err != nil {
			return pl, err
		}
		pl.writes[i].from, pl.writes[i].fromExists = s.Data, s.Exists
		pl.changes = append(pl.changes, c)
	}
	return pl, nil
}
