package users

import (
	"context"
	"fmt"
	"strings"

	"github.com/pfwdctl/pfwdctl/internal/auditlog"
	"github.com/pfwdctl/pfwdctl/internal/fail"
	"github.com/pfwdctl/pfwdctl/internal/run"
)

// DeleteRequest removes a forward-only account with its keys.
type DeleteRequest struct {
	User         string
	KillSessions bool
	DryRun       bool
	// Forward: the account has pfwdctl's Match block (the caller read the
	// installed configuration); otherwise only an account user create
	// made (AccountComment) is deleted.
	Forward bool
}

// DeleteResult is what goes (DryRun) or went.
type DeleteResult struct {
	Changed bool   `json:"changed"`
	DryRun  bool   `json:"dry_run"`
	Account string `json:"account"`
	UID     int    `json:"uid"`
	Home    string `json:"home"`
	// Keys are the account's keys, removed (audit-logged as revoked)
	// before the account goes.
	Keys []Removed `json:"keys"`
	SessionsEnded
	// Command is the userdel run (or to run).
	Command string `json:"command"`
	Deleted bool   `json:"deleted"`
	// DormantRemoved are the names of the account's registered (dormant)
	// keys taken out of the registry with it.
	DormantRemoved []string `json:"dormant_removed,omitempty"`
	Warnings       []string `json:"warnings,omitempty"`
}

// DeleteAccount removes a forward-only account: every key line of it (in
// every file sshd reads its keys from, each an audit-logged revoke, so a
// key in a file outside the home goes too), then the account and its home
// with userdel -r through the command runner. It refuses an account with
// a login shell (pfwdctl deletes only the accounts it makes) and, unless
// KillSessions, one with open sessions: deleting the account ends no
// tunnel. DryRun says what would go and changes nothing.
func (h Host) DeleteAccount(ctx context.Context, r DeleteRequest) (DeleteResult, error) {
	res := DeleteResult{Account: r.User, DryRun: r.DryRun, Keys: []Removed{}, SessionsEnded: SessionsEnded{Sessions: []Session{}}}
	a, err := h.account(r.User)
	if err != nil {
		return res, err
	}
	res.UID, res.Home = a.UID, a.Home
	// Only an account pfwdctl made (user create's comment) or forwards for
	// (r.Forward: it has pfwdctl's Match block), with a nologin shell: a
	// system account (www-data, daemon) with a nologin shell would
	// otherwise go with its home (/var/www). Not by uid: user create makes
	// system accounts (useradd --system) too.
	switch {
	case a.Shell == "" || !a.NoLogin():
		return res, fail.New(fail.Failed, "delete it by hand if it is really to go (userdel -r "+a.Name+")",
			"refusing: %s has the login shell %q: pfwdctl deletes only forward-only accounts (nologin)", a.Name, a.Shell)
	case a.UID == 0:
		return res, fail.New(fail.Failed, "", "refusing: %s has uid 0", a.Name)
	case !r.Forward && a.Comment != AccountComment:
		return res, fail.New(fail.Failed, "pfwdctl deletes only the forward accounts it made (pfwdctl user create) or applies a Match block for",
			"refusing: %s is not a pfwdctl forward account (no Match block of pfwdctl's, and its comment is not %q)", a.Name, AccountComment)
	}
	args := append(h.prefix(), "-r", a.Name)
	res.Command = run.Line("userdel", args...)
	list, err := h.ListKeys(a.Name)
	if err != nil {
		return res, err
	}
	for _, k := range list.Keys {
		file := k.File
		if file == "" {
			file = list.Path
		}
		res.Keys = append(res.Keys, Removed{Fingerprint: k.Fingerprint, Name: k.Name, Options: k.Options, File: file})
	}
	sess, known := h.sessions(ctx, a)
	res.Sessions, res.SessionsKnown = append(res.Sessions, sess...), known
	if !known && h.Root.IsHost() && !r.KillSessions {
		return res, fail.New(fail.Failed, "run it as root on the host, or pass --kill-sessions",
			"refusing: the open sessions of %s cannot be listed; deleting the account ends none", a.Name)
	}
	if len(sess) > 0 && !r.KillSessions {
		return res, fail.New(fail.Failed, "end them first (pfwdctl sessions kill), or pass --kill-sessions",
			"refusing: %s has %d open session(s); deleting the account does not end them", a.Name, len(sess))
	}
	if r.DryRun {
		return res, nil
	}
	// The keys first, under the lock and in the audit log like revoke:
	// a key line in a file outside the home would outlive userdel -r, and
	// a new account of the same name would inherit it.
	rm, err := h.remove(ctx, a.Name, ActionKeyRevoke, r.KillSessions, func(es []Entry) ([]Entry, error) {
		var out []Entry
		for _, e := range es {
			if e.Err == nil {
				out = append(out, e)
			}
		}
		return out, nil
	})
	res.SessionsEnded, res.Changed = rm.SessionsEnded, rm.Changed
	res.Warnings = append(res.Warnings, rm.Warnings...)
	if err != nil {
		return res, err
	}
	if r.KillSessions && len(rm.Sessions) > rm.Killed {
		return res, fail.New(fail.Failed, "end them by hand (pfwdctl sessions), then run pfwdctl remove again",
			"%d session(s) of %s are still open; the account was kept", len(rm.Sessions)-rm.Killed, a.Name)
	}
	unlock, err := h.lock()
	if err != nil {
		return res, err
	}
	defer unlock()
	warn, err := h.change([]Event{{Action: auditlog.ActionUserDelete, Account: a.Name, Path: a.Home, Detail: res.Command}}, func() (bool, error) {
		if err := h.tool(ctx, "userdel", args...); err != nil {
			// userdel may have removed the account before failing (a
			// home it could not delete): say what is left.
			if _, lerr := h.account(a.Name); lerr != nil {
				return true, fail.Wrap(fail.Failed, err, "remove "+a.Home+" by hand", "the account is gone, but userdel failed")
			}
			return false, err
		}
		return true, nil
	})
	if err != nil {
		return res, err
	}
	if warn != "" {
		res.Warnings = append(res.Warnings, warn)
	}
	res.Deleted, res.Changed = true, true
	held := h
	held.NoLock = true // this run holds the lock already
	if names, err := held.dropDormant(a.Name); err != nil {
		res.Warnings = append(res.Warnings, "the dormant registry still holds keys of "+a.Name+" (pfwdctl revoke --dormant): "+err.Error())
	} else {
		res.DormantRemoved = names
	}
	if strings.TrimSpace(a.Home) != "" {
		if _, err := h.Root.Stat(a.Home); err == nil {
			res.Warnings = append(res.Warnings, fmt.Sprintf("%s is still there: userdel -r did not remove it", a.Home))
		}
	}
	return res, nil
}
