package render

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"

	"github.com/pfwdctl/pfwdctl/internal/fail"
	"github.com/pfwdctl/pfwdctl/internal/hostfs"
	"github.com/pfwdctl/pfwdctl/internal/sshd"
	"github.com/pfwdctl/pfwdctl/internal/sshdconf"
	"github.com/pfwdctl/pfwdctl/templates"
)

// RemoveOptions are pfwdctl remove's choices.
type RemoveOptions struct {
	DryRun   bool
	NoReload bool
	// Account, when set, removes only that account's unit (its Match
	// drop-in or managed block): the baseline, the other accounts' blocks
	// and the Include stay (remove --user NAME --delete-account must
	// not un-harden sshd for everyone else).
	Account string
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
	pl, err := a.removePlan(o.Account)
	if err != nil {
		return res, err
	}
	res.Mode, res.ModeWhy = pl.mode, pl.why
	res.Files = pl.changes
	res.Warnings = append(res.Warnings, pl.warnings...)
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
func (a Applier) removePlan(account string) (pl plan, err error) {
	pl.removing = true
	main := a.config()
	ours, err := a.installedDropIns()
	if err != nil {
		return pl, err
	}
	if account != "" {
		// Only the account's unit.
		unit := templates.ForwardFile(account)
		var keep []string
		for _, p := range ours {
			if filepath.Base(p) == unit {
				keep = append(keep, p)
			}
		}
		ours = keep
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
	if account != "" {
		var mine []Region
		for _, r := range regions {
			if r.Name == templates.ForwardFile(account) {
				mine = append(mine, r)
			}
		}
		regions = mine
	}
	data := withoutRegions(snap.Data, regions)
	data = keepGlobalScope(snap.Data, data, regions)
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
	if inc := []byte(includeLine(main)); account == "" && bytes.HasPrefix(data, inc) {
		data = data[len(inc):]
		whys = append(whys, "the Include line apply added to "+main+" goes too")
		// Files an admin put in the directory since stop being read:
		// say which, before they silently stop counting.
		if others := a.othersInDropInDir(ours); len(others) > 0 {
			pl.warnings = append(pl.warnings, "sshd stops reading "+strings.Join(others, ", ")+
				" with the Include line apply added; keep them by putting an Include line of your own in "+main+" after pfwdctl remove")
		}
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

// othersInDropInDir are the *.conf files in the drop-in directory that are
// not pfwdctl's (ours): sshd reads them only through the Include.
func (a Applier) othersInDropInDir(ours []string) []string {
	dir := DropInDir(a.config())
	names, err := filepath.Glob(filepath.Join(a.Root.PathDir(dir), "*.conf"))
	if err != nil {
		return nil
	}
	var out []string
	for _, n := range names {
		host := filepath.Join(dir, filepath.Base(n))
		mine := false
		for _, o := range ours {
			mine = mine || o == host
		}
		if !mine {
			out = append(out, host)
		}
	}
	return out
}

// keepGlobalScope keeps lines an admin added after pfwdctl's last managed
// block global: apply's Match blocks sit at the very end of sshd_config
// and end with "Match all", so a line appended below them applies to
// every connection. Cut out, those lines would fall into whatever Match
// block comes before (the distribution's own, say); a "Match all" line is
// then left in the last block's place.
func keepGlobalScope(before, after []byte, removed []Region) []byte {
	if len(removed) == 0 {
		return after
	}
	lines := splitLines(before)
	last := removed[len(removed)-1]
	tail := false
	for _, l := range lines[min(last.End, len(lines)):] {
		if t := strings.TrimSpace(l); t != "" && !strings.HasPrefix(t, "#") {
			tail = true
			break
		}
	}
	if !tail {
		return after
	}
	// What is left before the last block: is it inside a Match?
	head := withoutRegions([]byte(strings.Join(lines[:last.Begin-1], "")), removed[:len(removed)-1])
	parsed, err := sshdconf.Parse(head)
	if err != nil {
		return after
	}
	inMatch := false
	for _, l := range parsed {
		if l.Keyword == "match" {
			inMatch = !(len(l.Args) == 1 && strings.EqualFold(l.Args[0], "all"))
		}
	}
	if !inMatch {
		return after
	}
	var b bytes.Buffer
	b.Write(head)
	if len(head) > 0 && !bytes.HasSuffix(head, []byte("\n")) {
		b.WriteString("\n")
	}
	b.WriteString("# Left by pfwdctl remove: the lines below were global under pfwdctl's last block.\nMatch all\n")
	b.WriteString(strings.Join(lines[min(last.End, len(lines)):], ""))
	return b.Bytes()
}
