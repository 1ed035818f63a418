package users

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/pfwdctl/pfwdctl/internal/fail"
	"github.com/pfwdctl/pfwdctl/users/keyline"
)

// RotateRequest swaps a friend's key for a new one.
type RotateRequest struct {
	User string
	// Old names the key to replace: its name or fingerprint.
	Old string
	// Key is the new key (keyline.ParsePublic); its comment is ignored:
	// the line keeps the old one, its name.
	Key          keyline.Key
	KillSessions bool
}

// RotateResult says what Rotate did.
type RotateResult struct {
	Changed        bool      `json:"changed"`
	Account        string    `json:"account"`
	Path           string    `json:"path"`
	Name           string    `json:"name"`
	OldFingerprint string    `json:"old_fingerprint"`
	Fingerprint    string    `json:"fingerprint"`
	Line           string    `json:"line"`
	Expiry         time.Time `json:"expiry,omitzero"`
	// Collapsed is how many other lines held the old key and were
	// removed in the same write.
	Collapsed int `json:"collapsed,omitempty"`
	// SessionsEnded are the account's open sessions (and, with
	// KillSessions, those of the old key ended after the swap);
	// OldKeySessions counts those sshd's log ties to the old key.
	SessionsEnded
	OldKeySessions int `json:"old_key_sessions"`
	// DormantUpdated: the old key was also registered (add-key
	// --dormant); the registry now holds the new one under its name.
	DormantUpdated bool     `json:"dormant_updated,omitempty"`
	Warnings       []string `json:"warnings,omitempty"`
}

// Rotate replaces the old key by the new one in one atomic write of the
// account's authorized_keys, under the same lock and audit log as AddKey
// and Revoke. The line keeps everything but the key itself byte for byte:
// its options (permitopen targets, from=, expiry-time and any other) and
// its name. It refuses a new key that is already installed (on any line,
// the old key's included) and an old line that is not restricted: rotate
// carries options over, and must not carry a hole over to a new key.
// Sessions open with the old key survive the swap (sshd checks keys at
// login only); they are counted, and ended after the write with
// KillSessions, as revoke does.
func (h Host) Rotate(ctx context.Context, r RotateRequest) (RotateResult, error) {
	res := RotateResult{Account: r.User, SessionsEnded: SessionsEnded{Sessions: []Session{}}}
	sel := strings.TrimSpace(r.Old)
	if sel == "" {
		return res, fail.New(fail.Usage, "see pfwdctl list-keys for fingerprints and names", "name the key to rotate")
	}
	if r.Key.Pub == nil {
		return res, fail.New(fail.Usage, "give the friend's new public key file", "no new key")
	}
	a, err := h.account(r.User)
	if err != nil {
		return res, err
	}
	if err := forwardOnly(a); err != nil {
		return res, err
	}
	res.Fingerprint = r.Key.Fingerprint()
	kf, extras, none, release, err := h.lockedKeys(ctx, a)
	if err != nil {
		return res, err
	}
	defer release()
	if none {
		return res, noneErr(a)
	}
	res.Path = kf.Path
	if err := kf.writable(a); err != nil {
		return res, err
	}
	all := kf.Entries()
	for _, x := range extras {
		all = append(all, x.Entries()...)
	}
	old, err := selectKey(all, sel, a.Name, false, "rotate")
	if err != nil {
		return res, err
	}
	first := old[0]
	res.OldFingerprint, res.Name = first.Fingerprint, first.Line.Comment
	if res.OldFingerprint == res.Fingerprint {
		return res, fail.New(fail.Failed, "give the friend's new public key, not the one installed",
			"refusing: the new key is the key %q already has (%s)", res.Name, res.Fingerprint)
	}
	for _, e := range all {
		if e.Err == nil && e.Fingerprint == res.Fingerprint {
			where := fmt.Sprintf("%s line %d", e.file.Path, e.Index+1)
			return res, fail.New(fail.Failed, "revoke that key first, or rotate it instead (pfwdctl list-keys --user "+a.Name+" shows the keys)",
				"refusing: the new key %s is already installed (%s, named %q)", res.Fingerprint, where, e.Line.Comment)
		}
	}
	for _, e := range old {
		if e.file.readOnly {
			return res, fail.New(fail.Failed, "remove line "+fmt.Sprint(e.Index+1)+" of "+e.file.Path+" by hand (or run pfwdctl apply so sshd reads only ~/.ssh/authorized_keys), then rotate again",
				"refusing: the old key is also in %s, a file sshd reads that pfwdctl does not rewrite; nothing was changed", e.file.Path)
		}
	}
	// The options go over to the new key as they are: they must be the
	// restricted ones pfwdctl writes.
	matchTargets, _, err := h.InstalledTargets(a.Name)
	if err != nil {
		return res, err
	}
	zone, now := h.systemZone(), h.now()
	v := keyline.Judge(first.Raw, keyline.Match{Targets: matchTargets, Zone: zone}, now)
	if !v.Restricted() {
		return res, fail.New(fail.Failed, "revoke it (pfwdctl revoke "+res.OldFingerprint+") and add the new key with pfwdctl add-key, which writes the restricted options",
			"refusing: the old line is UNRESTRICTED (%s); rotate keeps its options and would hand them to the new key", strings.Join(v.Texts(keyline.Fail), "; "))
	}
	// The account's key policy holds for the new key as for add-key: on a
	// hardware-keys-only account a plain key would be refused by sshd,
	// and the friend locked out with the old key gone.
	if err := h.checkHardwarePolicy(a.Name, r.Key, v.NoTouchRequired); err != nil {
		return res, err
	}
	if (v.VerifyRequired || v.NoTouchRequired) && !keyline.IsHardware(r.Key.Type()) {
		return res, fail.New(fail.Failed, "ask the friend for a FIDO key (ssh-keygen -t ed25519-sk), or revoke the old key and add-key the new one",
			"refusing: the old line's verify-required/no-touch-required are FIDO options, and the new key is a plain %s key", r.Key.Type())
	}
	// The file's line as it stands, its line ending (CRLF) included.
	full, err := swapKey(first.file.Lines[first.Index], first.Line, r.Key)
	if err != nil {
		return res, fail.Wrap(fail.Failed, err, "fix or re-add the line with pfwdctl add-key", "cannot read %s line %d", first.file.Path, first.Index+1)
	}
	line := strings.TrimSpace(full)
	res.Line, res.Expiry = line, v.Expiry
	if v.Expired {
		res.Warnings = append(res.Warnings, fmt.Sprintf("the kept expiry %s is already past: sshd will refuse the new key too (give it a new one with pfwdctl add-key --expires)", FormatTime(v.Expiry)))
	}
	// The first line of the old key becomes the new one where it stands;
	// other copies of the old key go in the same write.
	drop := map[*KeysFile]map[int]bool{}
	for _, e := range old[1:] {
		if drop[e.file] == nil {
			drop[e.file] = map[int]bool{}
		}
		drop[e.file][e.Index] = true
		res.Collapsed++
	}
	if err := ctx.Err(); err != nil {
		return res, err
	}
	opts, _ := keyline.SplitLine(line)
	events := []Event{
		{Action: ActionKeyAdd, Account: a.Name, Fingerprint: res.Fingerprint, Name: res.Name, Options: opts.Options, Path: first.file.Path, Detail: "rotated in for " + res.OldFingerprint},
		{Action: ActionKeyRevoke, Account: a.Name, Fingerprint: res.OldFingerprint, Name: res.Name, Options: first.Line.Options, Path: first.file.Path, Detail: "rotated out for " + res.Fingerprint},
	}
	warn, err := h.change(events, func() (bool, error) {
		f := first.file
		f.Lines[first.Index] = full
		f.removeLines(drop[f])
		if err := h.writeKeys(a, f, f.bytes()); err != nil {
			return false, err
		}
		res.Changed = true
		for x, idx := range drop {
			if x == f {
				continue
			}
			x.removeLines(idx)
			if err := h.writeKeys(a, x, x.bytes()); err != nil {
				return true, err
			}
		}
		// Read back: the old key is gone from every file sshd reads, the
		// new one is on exactly the line written.
		es, err := h.readBack(a, append([]*KeysFile{kf}, extras...)...)
		if err != nil {
			return true, err
		}
		return true, checkWritten(es, res.Fingerprint, line, []string{res.OldFingerprint})
	})
	if err != nil {
		return res, err
	}
	if warn != "" {
		res.Warnings = append(res.Warnings, warn)
	}
	// A registered (dormant) copy of the old key follows, or the next
	// grant of that name would let the rotated-out key back in.
	held := h
	held.NoLock = true // this run holds the lock already
	if moved, err := held.rotateDormant(a.Name, res.OldFingerprint, r.Key); err != nil {
		res.Warnings = append(res.Warnings, "the dormant registry still holds the old key (revoke --dormant it): "+err.Error())
	} else if moved {
		res.DormantUpdated = true
	}
	ended, warns, err := h.endSessions(ctx, a, all, map[string]bool{res.OldFingerprint: true}, r.KillSessions)
	res.SessionsEnded = ended
	for _, s := range ended.Sessions {
		if s.Fingerprint == res.OldFingerprint {
			res.OldKeySessions++
		}
	}
	res.Warnings = append(res.Warnings, warns...)
	return res, err
}

// swapKey is raw with its key (type and base64) replaced by k's, every
// other byte (the options before it, the name after it) as it was.
func swapKey(raw string, l keyline.Line, k keyline.Key) (string, error) {
	start := len(raw) - len(strings.TrimLeft(raw, " \t")) + len(l.Options)
	rest := raw[start:]
	t := strings.Index(rest, l.Type)
	if t < 0 {
		return "", fmt.Errorf("no key type after the options")
	}
	b := strings.Index(rest[t+len(l.Type):], l.Base64)
	if b < 0 || strings.TrimSpace(rest[t+len(l.Type):t+len(l.Type)+b]) != "" {
		return "", fmt.Errorf("no key after the key type")
	}
	end := t + len(l.Type) + b + len(l.Base64)
	return raw[:start] + rest[:t] + k.Type() + rest[t+len(l.Type):t+len(l.Type)+b] + k.Base64() + rest[end:], nil
}
