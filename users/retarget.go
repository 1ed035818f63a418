package users

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"

	"github.com/pfwdctl/pfwdctl/internal/accounts"
	"github.com/pfwdctl/pfwdctl/internal/fail"
	"github.com/pfwdctl/pfwdctl/internal/target"
	"github.com/pfwdctl/pfwdctl/users/keyline"
)

// RetargetResult says which key lines followed a change of targets.
type RetargetResult struct {
	Account string `json:"account"`
	Path    string `json:"path"`
	// Changed lists the fingerprints of the lines rewritten.
	Changed []string `json:"changed,omitempty"`
	// Kept are lines left as they were, each with why: only a line that
	// carried exactly the old targets (what add-key wrote) follows.
	Kept []string `json:"kept,omitempty"`
	// Undo puts the file back as it was; nil when nothing was written.
	Undo func() error `json:"-"`
}

// Retarget makes every key line that pfwdctl wrote for the old targets
// (restricted, its permitopen set equal to from) carry the new ones, and
// leaves every other line byte-for-byte. It is apply's second half when
// the Match block's PermitOpen changes: keys and block must never
// disagree, or list-keys calls every key UNRESTRICTED and add-key
// refuses. The caller holds the pfwdctl lock (Host.NoLock). dryRun
// computes the result and writes nothing. No account or no file: nothing
// to do.
func (h Host) Retarget(ctx context.Context, account string, from, to []string, dryRun bool) (RetargetResult, error) {
	res := RetargetResult{Account: account}
	if _, err := accounts.Lookup(h.Root, account); errors.Is(err, accounts.ErrNoAccount) {
		return res, nil // keys come once the account does
	}
	a, err := h.account(account)
	if err != nil {
		return res, err
	}
	res.Path = h.keysPath(a)
	if _, err := os.Lstat(h.Root.Path(a.Home)); errors.Is(err, fs.ErrNotExist) {
		return res, nil // no home, no keys
	}
	kf, err := h.readKeys(a)
	if err != nil {
		return res, err
	}
	defer kf.Close()
	if !kf.Exists {
		return res, nil
	}
	old := slices.Clone(kf.Data)
	var events []Event
	wrote := map[int]string{}
	for _, e := range kf.Entries() {
		if e.Err != nil {
			continue
		}
		v := keyline.Judge(e.Raw, keyline.Match{Targets: from}, h.now())
		if !v.Restricted() || !target.SameSet(v.Written, from) {
			res.Kept = append(res.Kept, fmt.Sprintf("line %d (%s): not pfwdctl's line for %v; check it with pfwdctl list-keys", e.Index+1, e.Fingerprint, from))
			continue
		}
		opts, err := keyline.Retarget(e.Line.Options, to)
		if err != nil {
			return res, fail.Wrap(fail.Failed, err, "", "line %d of %s", e.Index+1, res.Path)
		}
		line := opts + " " + e.Line.Type + " " + e.Line.Base64
		if e.Line.Comment != "" {
			line += " " + e.Line.Comment
		}
		kf.Lines[e.Index] = line
		wrote[e.Index] = line
		res.Changed = append(res.Changed, e.Fingerprint)
		events = append(events, Event{Action: ActionKeyUpdate, Account: a.Name, Fingerprint: e.Fingerprint, Name: e.Line.Comment, Options: opts,
			Detail: "targets follow the Match block"})
	}
	if len(res.Changed) == 0 || dryRun {
		return res, nil
	}
	if err := ctx.Err(); err != nil {
		return res, err
	}
	warn, err := h.change(events, func() (bool, error) {
		if err := h.writeKeys(a, kf, kf.bytes()); err != nil {
			return false, err
		}
		if err := h.checkRetargeted(a, wrote); err != nil {
			// Not what was meant: put the file back, so keys and Match
			// block still agree when apply rolls the block back.
			if rerr := h.writeKeys(a, kf, old); rerr != nil {
				return true, errors.Join(err, fmt.Errorf("putting %s back: %w", kf.Path, rerr))
			}
			return false, err
		}
		return true, nil
	})
	if err != nil {
		return res, err
	}
	res.Undo = func() error {
		kf, err := h.readKeys(a)
		if err != nil {
			return err
		}
		defer kf.Close()
		_, err = h.change([]Event{{Action: ActionKeyUpdate, Account: a.Name, Path: kf.Path, Detail: "rolled back: the keys' targets are as before"}},
			func() (bool, error) { return false, h.writeKeys(a, kf, old) })
		return err
	}
	if warn != "" {
		// The keys are written but the record is not complete: the
		// caller (apply) undoes them with the drop-ins.
		return res, fail.New(fail.Failed, "", "%s", warn)
	}
	return res, nil
}

// checkRetargeted reads the file back, as sshd will, and confirms that
// every line it rewrote (index -> line) is on disk as written: apply
// reports "N key lines now forward to ..." only from what is on disk.
func (h Host) checkRetargeted(a Account, wrote map[int]string) error {
	es, err := h.readBack(a, &KeysFile{Path: h.keysPath(a), name: "authorized_keys"})
	if err != nil {
		return err
	}
	raw := map[int]string{}
	for _, e := range es {
		raw[e.Index] = e.Raw
	}
	for i, want := range wrote {
		if got, ok := raw[i]; !ok || got != strings.TrimSpace(want) {
			return fail.New(fail.Failed, "", "read back, line %d of %s is not the line written", i+1, h.keysPath(a))
		}
	}
	return nil
}
