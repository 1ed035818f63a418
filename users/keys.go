package users

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/pfwdctl/pfwdctl/internal/fail"
	"github.com/pfwdctl/pfwdctl/users/keyline"
)

// AddKeyRequest is one key to install.
type AddKeyRequest struct {
	User string
	Key  keyline.Key // from keyline.ParsePublic or keyline.FromPublicKey
	// Name replaces the key's comment (sanitised); empty keeps the comment.
	Name string
	// Targets must equal the installed Match block's PermitOpen, or stand
	// in for it when none is installed (see Host.ResolveTargets).
	Targets []string
	// Expiry is when sshd stops accepting the key. Zero keeps the expiry
	// of a key already installed (none for a new key), unless NoExpiry.
	Expiry   time.Time
	NoExpiry bool
	// From limits the source addresses (CIDRs). Empty keeps the from= of a
	// key already installed (anywhere for a new key).
	From []string
	// Replace lets the key take a name another key already has: that key
	// (every line holding it) is removed in the same write. Without it such
	// a name is refused, since names are how keys are revoked.
	Replace bool
	// RequireVerify writes verify-required (add-key --require-verify): sshd
	// then takes only signatures in which the FIDO key checked its PIN or
	// biometric. A key installed with it keeps it when added again.
	// AllowNoTouch writes no-touch-required (add-key --allow-no-touch).
	// Both are for hardware-backed keys only.
	RequireVerify, AllowNoTouch bool
}

// AddKeyResult says what AddKey did.
type AddKeyResult struct {
	Changed     bool      `json:"changed"`
	Action      string    `json:"action"` // added, updated, replaced, unchanged
	Account     string    `json:"account"`
	Path        string    `json:"path"`
	Fingerprint string    `json:"fingerprint"`
	Name        string    `json:"name"`
	Line        string    `json:"line"`
	Targets     []string  `json:"targets"`
	Expiry      time.Time `json:"expiry,omitzero"`
	// Collapsed is how many other lines held the same key and were
	// merged into the one line.
	Collapsed int `json:"collapsed,omitempty"`
	// Replaced are the fingerprints of the keys that had the name before
	// (Replace), now removed.
	Replaced []string `json:"replaced,omitempty"`
	Warnings []string `json:"warnings,omitempty"`
}

// AddKey installs the key with pfwdctl's restrictions. A key whose
// fingerprint is already there, on one line or several, ends up on exactly
// one line (where its first copy was): sshd lets a key in under whichever
// of its lines allows more, so restricting one copy restricts nothing. That
// line keeps the existing expiry-time and from= unless new ones are given,
// and is rewritten only if it differs; every other line stays
// byte-for-byte. No sshd reload is needed: sshd reads authorized_keys at
// each login.
func (h Host) AddKey(ctx context.Context, r AddKeyRequest) (AddKeyResult, error) {
	res := AddKeyResult{Account: r.User}
	a, err := h.account(r.User)
	if err != nil {
		return res, err
	}
	if err := forwardOnly(a); err != nil {
		return res, err
	}
	targets, err := h.ResolveTargets(r.User, r.Targets)
	if err != nil {
		return res, err
	}
	k := r.Key
	if r.Name != "" {
		k.Comment = keyline.SanitizeName(r.Name)
		if k.Comment == "" {
			return res, fail.New(fail.Usage, "use letters, digits and ._@+:=-", "--name %q has nothing printable left", r.Name)
		}
	}
	res.Fingerprint, res.Name, res.Targets = k.Fingerprint(), k.Comment, targets
	res.Path = h.keysPath(a)
	// Check the options before taking the lock.
	if _, err := keyline.Build(k, keyline.Options{Targets: targets, From: r.From, VerifyRequired: r.RequireVerify, NoTouchRequired: r.AllowNoTouch}); err != nil {
		return res, err
	}
	if err := h.checkHardwarePolicy(r.User, k, r.AllowNoTouch); err != nil {
		return res, err
	}

	// The key goes to the first file sshd reads; copies in the others go
	// too, since sshd lets the key in under whichever line allows more.
	kf, extras, none, release, err := h.lockedKeys(ctx, a)
	if err != nil {
		return res, err
	}
	defer release()
	if none {
		// A key written where sshd does not look would be "added" and
		// refused at login.
		return res, noneErr(a)
	}
	res.Path = kf.Path
	if err := kf.writable(a); err != nil {
		return res, err
	}
	if kf.unasked != nil {
		res.Warnings = append(res.Warnings, fmt.Sprintf("sshd could not be asked which files it reads %s's keys from (%v): the key went to sshd's default %s; check --sshd and run pfwdctl audit", a.Name, kf.unasked, kf.Path))
	}
	if kf.Path != h.keysPath(a) {
		// pfwdctl's Match block sets AuthorizedKeysFile .ssh/authorized_keys:
		// once it is installed, sshd stops reading this file for the account.
		if _, found, _ := h.InstalledTargets(r.User); !found {
			res.Warnings = append(res.Warnings, fmt.Sprintf("pfwdctl apply will make sshd read only %s for %s: run add-key again after apply, or the key stops working", h.keysPath(a), a.Name))
		}
	}
	// Each file's entries once: all of them, kf's first.
	all := kf.Entries()
	for _, x := range extras {
		all = append(all, x.Entries()...)
	}
	var copies []Entry
	for _, e := range all {
		if e.file == kf && e.Err == nil && e.Fingerprint == res.Fingerprint {
			copies = append(copies, e)
		}
	}
	elsewhere := map[*KeysFile]map[int]bool{}
	for _, e := range all {
		x := e.file
		if x == kf || e.Err != nil || e.Fingerprint != res.Fingerprint {
			continue
		}
		if x.readOnly {
			return res, fail.New(fail.Failed, "remove line "+fmt.Sprint(e.Index+1)+" of "+x.Path+" by hand (or run pfwdctl apply so sshd reads only ~/.ssh/authorized_keys), then add the key again",
				"refusing: the key is also in %s, a file sshd reads that pfwdctl does not rewrite, where its options may allow more", x.Path)
		}
		if elsewhere[x] == nil {
			elsewhere[x] = map[int]bool{}
		}
		elsewhere[x][e.Index] = true
		copies = append(copies, e)
	}
	// Names are how keys are revoked: adding a key that is already
	// installed keeps the name it has unless --name renames it, and a
	// rename is said (revoke OLD would otherwise fail without a word).
	if len(copies) > 0 && copies[0].file == kf {
		if old := copies[0].Line.Comment; old != "" && old != res.Name {
			if r.Name == "" {
				k.Comment, res.Name = old, old
			} else {
				res.Warnings = append(res.Warnings, fmt.Sprintf("renamed from %q to %q: revoke it by the new name", old, res.Name))
			}
		}
	}
	// Names are how keys are revoked: a second key under a name already in
	// use would make revoke NAME ambiguous, so it takes --replace, which
	// removes the other key (every line holding it) in the same write.
	var named []Entry
	for _, e := range all {
		if e.Err == nil && e.Fingerprint != res.Fingerprint && e.Line.Comment == res.Name {
			named = append(named, e)
			if !slices.Contains(res.Replaced, e.Fingerprint) {
				res.Replaced = append(res.Replaced, e.Fingerprint)
			}
		}
	}
	if len(named) > 0 && !r.Replace {
		fps := res.Replaced
		res.Replaced = nil
		return res, fail.New(fail.Failed, "give this key another --name, or replace the other key with --replace (pfwdctl list-keys --user "+a.Name+" shows the keys)",
			"refusing: %s already has a key named %q (%s); names are how keys are revoked", a.Name, res.Name, strings.Join(fps, ", "))
	}
	replaced := map[*KeysFile]map[int]bool{}
	for _, e := range withCopies(all, named) {
		if e.file.readOnly {
			return res, fail.New(fail.Failed, "remove line "+fmt.Sprint(e.Index+1)+" of "+e.file.Path+" by hand, then add the key again",
				"refusing: the key to replace is also in %s, a file sshd reads that pfwdctl does not rewrite", e.file.Path)
		}
		if replaced[e.file] == nil {
			replaced[e.file] = map[int]bool{}
		}
		replaced[e.file][e.Index] = true
	}
	expiry, from := r.Expiry, r.From
	if expiry.IsZero() && !r.NoExpiry {
		expiry = h.keptExpiry(copies)
	}
	if len(from) == 0 {
		if from, err = keptFrom(copies); err != nil {
			return res, err
		}
	}
	// verify-required is kept like the expiry: adding the key again must
	// not quietly drop the PIN its line asks for.
	verifyReq := r.RequireVerify || keptVerify(copies)
	line, err := keyline.Build(k, keyline.Options{Targets: targets, Expiry: expiry, From: from, Zone: h.expiryZone(),
		VerifyRequired: verifyReq && keyline.IsHardware(k.Type()), NoTouchRequired: r.AllowNoTouch})
	if err != nil {
		return res, err
	}
	res.Line, res.Expiry = line, expiry
	if !expiry.IsZero() && !expiry.After(h.now()) {
		res.Warnings = append(res.Warnings, fmt.Sprintf("the expiry %s is already past: sshd will refuse this key", FormatTime(expiry)))
	}
	// drop are kf's lines to remove, by their index before any change:
	// copies of the key beyond its first line, and the replaced key's.
	drop := maps.Clone(replaced[kf])
	if drop == nil {
		drop = map[int]bool{}
	}
	switch {
	case len(copies) == 0:
		res.Action = "added"
		kf.appendLine(line)
	case len(copies) == 1 && copies[0].file == kf && kf.Lines[copies[0].Index] == line && len(replaced) == 0:
		res.Action = "unchanged"
		return res, nil
	case copies[0].file != kf:
		// Only in another file: it moves into the one pfwdctl writes.
		res.Action = "updated"
		kf.appendLine(line)
		res.Collapsed = len(copies)
		res.Warnings = append(res.Warnings, fmt.Sprintf("the key was in %d line(s) of other files sshd reads; it is now one restricted line in %s", len(copies), kf.Path))
	default:
		res.Action = "updated"
		kf.Lines[copies[0].Index] = line
		for _, e := range copies[1:] {
			if e.file == kf {
				drop[e.Index] = true
			}
		}
		if res.Collapsed = len(copies) - 1; res.Collapsed > 0 {
			res.Warnings = append(res.Warnings, fmt.Sprintf("the key was on %d lines; they are now one restricted line", len(copies)))
		}
	}
	// appendLine only adds at the end, so the indexes still hold.
	kf.removeLines(drop)
	if err := ctx.Err(); err != nil {
		return res, err
	}
	action := ActionKeyAdd
	if res.Action == "updated" {
		action = ActionKeyUpdate
	}
	opts, _ := keyline.SplitLine(line)
	events := []Event{{Action: action, Account: a.Name, Fingerprint: res.Fingerprint, Name: res.Name, Options: opts.Options, Path: kf.Path}}
	if len(replaced) > 0 {
		res.Action = "replaced"
		for _, fp := range res.Replaced {
			events = append(events, Event{Action: ActionKeyRevoke, Account: a.Name, Fingerprint: fp, Name: res.Name, Path: kf.Path, Detail: "replaced by " + res.Fingerprint + " (--replace)"})
		}
		for f, idx := range replaced {
			if f == kf {
				continue // in drop
			}
			if elsewhere[f] == nil {
				elsewhere[f] = map[int]bool{}
			}
			maps.Copy(elsewhere[f], idx)
		}
	}
	warn, err := h.change(events, func() (bool, error) {
		if err := h.writeKeys(a, kf, kf.bytes()); err != nil {
			return false, err
		}
		res.Changed = true
		for x, idx := range elsewhere {
			x.removeLines(idx)
			if err := h.writeKeys(a, x, x.bytes()); err != nil {
				return true, err
			}
		}
		// Read back: the key is on exactly the one line written.
		es, err := h.readBack(a, append([]*KeysFile{kf}, extras...)...)
		if err != nil {
			return true, err
		}
		return true, checkWritten(es, res.Fingerprint, line, res.Replaced)
	})
	if err != nil {
		return res, err
	}
	if warn != "" {
		res.Warnings = append(res.Warnings, warn)
	}
	return res, nil
}

// keptExpiry is the expiry a re-added key keeps: the earliest expiry-time
// among its lines, read in the clock sshd reads it in (a value without Z is
// in sshd's system zone). A line without one does not lift the others'.
func (h Host) keptExpiry(copies []Entry) time.Time {
	var out time.Time
	for _, e := range copies {
		opts, err := keyline.ParseOptions(e.Line.Options)
		if err != nil {
			continue
		}
		for _, o := range opts {
			if o.Name != "expiry-time" {
				continue
			}
			t, err := keyline.ParseExpiryTimeIn(o.Value, h.systemZone())
			if err == nil && (out.IsZero() || t.Before(out)) {
				out = t
			}
		}
	}
	return out
}

// keptFrom is the from= a re-added key keeps: that of its first line that
// has one. A from= pfwdctl cannot write back (host names, negations,
// wildcards) is refused rather than dropped, which would let the key in
// from anywhere.
func keptFrom(copies []Entry) ([]string, error) {
	for _, e := range copies {
		opts, err := keyline.ParseOptions(e.Line.Options)
		if err != nil {
			continue
		}
		for _, o := range opts {
			if o.Name != "from" {
				continue
			}
			from, err := keyline.ParseFrom([]string{o.Value})
			if err != nil || len(from) == 0 {
				return nil, fail.New(fail.Usage, "give the addresses again with --from CIDR,... (or remove the line by hand)",
					"line %d limits the key with from=%q, which pfwdctl cannot keep as it is", e.Index+1, o.Value)
			}
			return from, nil
		}
	}
	return nil, nil
}

// keptVerify says whether a line of the key already has verify-required.
func keptVerify(copies []Entry) bool {
	for _, e := range copies {
		opts, _ := keyline.ParseOptions(e.Line.Options)
		for _, o := range opts {
			if o.Name == "verify-required" {
				return true
			}
		}
	}
	return false
}

// FormatTime shows an expiry both in this machine's local time and in UTC,
// so an admin in one zone and sshd in another read the same instant.
func FormatTime(t time.Time) string {
	l, u := t.Local(), t.UTC()
	if l.Format("-0700") == "+0000" {
		return u.Format("2006-01-02 15:04") + " UTC"
	}
	return l.Format("2006-01-02 15:04 MST") + " (" + u.Format("2006-01-02 15:04") + " UTC)"
}

// KeyInfo is one line of list-keys.
type KeyInfo struct {
	Line        int       `json:"line"` // 1-based
	Name        string    `json:"name"`
	Type        string    `json:"type"`
	Bits        int       `json:"bits"`
	Fingerprint string    `json:"fingerprint"`
	Targets     []string  `json:"targets"`
	Expiry      time.Time `json:"expiry,omitzero"`
	Expired     bool      `json:"expired"`
	// ExpiresSoon: the key works now but stops within
	// keyline.ExpiringSoon; time to plan its rotation.
	ExpiresSoon bool     `json:"expires_soon,omitempty"`
	From        []string `json:"from,omitempty"`
	// Restricted is false when the line lets the key do more than forward
	// to the Match block's targets; Problems says why.
	Restricted bool     `json:"restricted"`
	Problems   []string `json:"problems,omitempty"`
	// Warnings are what keeps the key from working (expired, forwarding
	// off, a line sshd refuses) without letting it do more.
	Warnings []string `json:"warnings,omitempty"`
	// Copies is true when the same key is on another line too
	// (keyline.SameKey); add-key collapses them into one.
	Copies  bool   `json:"copies,omitempty"`
	Options string `json:"options"`
	// HardwareBacked is set for a FIDO key (sk-ssh-ed25519, sk-ecdsa),
	// whose private key stays on a security key; Application is its FIDO
	// application string ("ssh:" by default). VerifyRequired and
	// NoTouchRequired are its line's options of those names.
	HardwareBacked  bool   `json:"hardware_backed,omitempty"`
	Application     string `json:"application,omitempty"`
	VerifyRequired  bool   `json:"verify_required,omitempty"`
	NoTouchRequired bool   `json:"no_touch_required,omitempty"`
	// File is set for a line in another file sshd reads the account's
	// keys from (authorized_keys2, a path AuthorizedKeysFile names).
	File string `json:"file,omitempty"`
	// Granted: a registered dormant key (add-key --dormant) installed for
	// a just-in-time window (grant, approve); its expiry ends the window,
	// after which the key goes dormant again: not a key to rotate.
	Granted bool `json:"granted,omitempty"`
}

// ListResult is the account's keys.
type ListResult struct {
	Account      string    `json:"account"`
	Path         string    `json:"path"`
	MatchTargets []string  `json:"match_targets"`
	Keys         []KeyInfo `json:"keys"`
	Unrestricted int       `json:"unrestricted"`
	// HardwareKeysOnly: the account's Match block takes hardware-backed
	// (FIDO) keys only (apply --hardware-keys-only), RequireVerify: with
	// the token's PIN or biometric too.
	HardwareKeysOnly bool `json:"hardware_keys_only,omitempty"`
	RequireVerify    bool `json:"require_verify,omitempty"`
	// Dormant are the account's registered keys sshd does not read
	// (add-key --dormant); they let nobody in until granted.
	Dormant []DormantKey `json:"dormant,omitempty"`
	// Person is set (to its login shell) when the account is a person's,
	// not a port-forward-only one: its keys are listed, not pfwdctl's to
	// judge or revoke.
	Person string `json:"person_shell,omitempty"`
}

// ListKeys reads the account's keys and judges each line.
func (h Host) ListKeys(user string) (ListResult, error) {
	res := ListResult{Account: user, Keys: []KeyInfo{}}
	a, err := h.account(user)
	if err != nil {
		return res, err
	}
	res.Path = h.keysPath(a)
	if !a.NoLogin() {
		res.Person = a.Shell
	}
	res.MatchTargets, _, err = h.InstalledTargets(user)
	if err != nil {
		return res, err
	}
	if pol, err := h.HardwareKeys(user); err != nil {
		return res, err
	} else if pol != nil {
		res.HardwareKeysOnly, res.RequireVerify = true, pol.RequireVerify
	}
	// Every file sshd reads the keys from, not only the one pfwdctl
	// writes: a line in authorized_keys2 lets its key in just the same.
	kf, extras, _, err := h.openKeys(context.Background(), a)
	if err != nil {
		return res, err
	}
	defer kf.Close()
	defer closeAll(extras)
	res.Path = kf.Path
	if res.Dormant, err = h.DormantKeys(user); err != nil || len(res.Dormant) == 0 {
		res.Dormant = nil
	}
	now := h.now()
	es := kf.Entries()
	for _, x := range extras {
		es = append(es, x.Entries()...)
	}
	fps, nums := make([]string, len(es)), make([]int, len(es))
	for i, e := range es {
		fps[i], nums[i] = e.Fingerprint, e.Index+1
	}
	copies := keyline.SameKey(fps, nums)
	// One reading of /etc/localtime for the whole file, not one per line.
	zone := h.systemZone()
	res.Keys = make([]KeyInfo, 0, len(es))
	for i, e := range es {
		ki := h.describe(e, keyline.Match{Targets: res.MatchTargets, Zone: zone, HardwareOnly: res.HardwareKeysOnly}, now)
		if e.file != kf {
			ki.File = e.file.Path
			ki.Warnings = append(ki.Warnings, "in "+e.file.Path+", which sshd also reads: pfwdctl manages only "+kf.Path)
		}
		if p, ok := copies[i]; ok {
			ki.Warnings = append(ki.Warnings, p.Text)
			ki.Copies = true
		}
		if !ki.Restricted {
			res.Unrestricted++
		}
		ki.Granted = slices.ContainsFunc(res.Dormant, func(d DormantKey) bool { return d.Fingerprint == ki.Fingerprint })
		res.Keys = append(res.Keys, ki)
	}
	return res, nil
}

// Expiring keeps only the keys that still work at now but expire within
// d (list-keys --expiring): an expired key is prune's, not rotate's. The
// count of unrestricted keys follows the keys kept.
func (r ListResult) Expiring(now time.Time, d time.Duration) ListResult {
	out := r
	out.Keys, out.Unrestricted = []KeyInfo{}, 0
	for _, k := range r.Keys {
		if !k.Expired && keyline.ExpiresWithin(k.Expiry, now, d) {
			out.Keys = append(out.Keys, k)
			if !k.Restricted {
				out.Unrestricted++
			}
		}
	}
	return out
}

// describe turns keyline's verdict on one line into a list-keys row.
// m.Zone is sshd's (systemZone), read once by the caller.
func (h Host) describe(e Entry, m keyline.Match, now time.Time) KeyInfo {
	v := keyline.JudgeSplit(e.Line, e.Fingerprint, e.Err, m, now)
	ki := KeyInfo{Line: e.Index + 1, Name: v.Line.Comment, Type: v.Line.Type, Fingerprint: v.Fingerprint, Options: v.Line.Options,
		Targets: v.Written, Expiry: v.Expiry, Expired: v.Expired, From: v.From,
		Restricted: v.Restricted(), Problems: v.Texts(keyline.Fail), Warnings: v.Texts(keyline.Warn),
		ExpiresSoon: !v.Expired && keyline.ExpiresWithin(v.Expiry, now, keyline.ExpiringSoon)}
	ki.Bits = v.Line.Bits()
	if keyline.IsHardware(v.Line.Type) {
		ki.HardwareBacked, ki.VerifyRequired, ki.NoTouchRequired = true, v.VerifyRequired, v.NoTouchRequired
		if k, err := v.Line.Key(); err == nil {
			ki.Application, _ = keyline.Application(k.Pub)
		}
	}
	return ki
}

// RevokeRequest names keys to remove.
type RevokeRequest struct {
	User string
	// Key is a fingerprint (SHA256:..., or without the prefix) or a name.
	Key string
	// All allows a name that matches several keys.
	All          bool
	KillSessions bool
}

// Removed is one key taken out.
type Removed struct {
	Fingerprint string `json:"fingerprint"`
	Name        string `json:"name"`
	Options     string `json:"options"`
	Expiry      string `json:"expiry,omitempty"`
	// File is the host path the line was removed from.
	File string `json:"file,omitempty"`
}

// RemoveResult is what revoke or prune did.
type RemoveResult struct {
	Changed bool      `json:"changed"`
	Account string    `json:"account"`
	Path    string    `json:"path"`
	Removed []Removed `json:"removed"`
	SessionsEnded
	Warnings []string `json:"warnings,omitempty"`
}

// SessionsEnded is what became of the account's open sessions when keys
// left it (revoke, prune, rotate).
type SessionsEnded struct {
	Sessions []Session `json:"sessions"`
	// SessionsKnown is false when sessions could not be counted (--root).
	SessionsKnown bool `json:"sessions_known"`
	Killed        int  `json:"killed"`
	// Kept are the open sessions of other keys, left up by
	// --kill-sessions; Unattributed counts the ended ones that sshd's log
	// does not tie to a key still installed.
	Kept         []Session `json:"kept,omitempty"`
	Unattributed int       `json:"unattributed,omitempty"`
}

// Revoke removes the keys r names. An absent key is an error (exit 1): a
// typo must not look like success.
func (h Host) Revoke(ctx context.Context, r RevokeRequest) (RemoveResult, error) {
	sel := strings.TrimSpace(r.Key)
	if sel == "" {
		return RemoveResult{Account: r.User}, fail.New(fail.Usage, "see pfwdctl list-keys for fingerprints and names", "name the key to revoke")
	}
	if a, err := h.account(r.User); err == nil && !a.NoLogin() {
		// A person's own keys are how they log in: revoking one (as an
		// unrestricted key, list-keys would once have said) locks them out.
		return RemoveResult{Account: r.User}, fail.New(fail.Failed, "pfwdctl manages the keys of port-forward-only accounts; edit the account's authorized_keys by hand if you mean it (sshd -T -C user="+r.User+" names the file)",
			"refusing: %s has the login shell %s, it is a person's account, not a port-forward-only one", r.User, shellName(a))
	}
	return h.remove(ctx, r.User, ActionKeyRevoke, r.KillSessions, func(es []Entry) ([]Entry, error) {
		return selectKey(es, sel, r.User, r.All, "revoke")
	})
}

// selectKey picks the lines of the key sel names: a fingerprint (with or
// without SHA256:) or a name, with every other line holding the same key.
// A name several keys have is refused unless all; verb says what the
// caller does ("revoke", "rotate").
func selectKey(es []Entry, sel, user string, all bool, verb string) ([]Entry, error) {
	var byFP, byName []Entry
	for _, e := range es {
		if e.Err != nil {
			continue
		}
		if e.Fingerprint == sel || e.Fingerprint == "SHA256:"+sel {
			byFP = append(byFP, e)
		} else if e.Line.Comment == sel {
			byName = append(byName, e)
		}
	}
	picked := byFP
	if len(picked) == 0 {
		var fps []string
		for _, e := range byName {
			if !slices.Contains(fps, e.Fingerprint) {
				fps = append(fps, e.Fingerprint)
			}
		}
		if len(fps) > 1 && !all {
			hint := verb + " one by fingerprint, or all of them with --all"
			if verb != "revoke" {
				hint = verb + " one by fingerprint (pfwdctl list-keys --user " + user + " shows them)"
			}
			return nil, fail.New(fail.Failed, hint, "%d keys are named %q: %s", len(fps), sel, strings.Join(fps, ", "))
		}
		if len(fps) == 0 {
			return nil, fail.New(fail.Failed, "see pfwdctl list-keys --user "+user+" for fingerprints and names",
				"no key %q in the authorized_keys of %s", sel, user)
		}
		picked = byName
	}
	return withCopies(es, picked), nil
}

// withCopies adds to picked every other line holding one of its keys,
// whatever its comment: a copy left behind still lets the key in.
func withCopies(es, picked []Entry) []Entry {
	fps := map[string]bool{}
	for _, e := range picked {
		fps[e.Fingerprint] = true
	}
	var out []Entry
	for _, e := range es {
		if e.Err == nil && fps[e.Fingerprint] {
			out = append(out, e)
		}
	}
	return out
}

// PruneRequest removes expired keys.
type PruneRequest struct {
	User         string
	KillSessions bool
}

// Prune removes every key whose expiry-time has passed. Nothing to prune is
// not an error.
func (h Host) Prune(ctx context.Context, r PruneRequest) (RemoveResult, error) {
	now, zone := h.now(), h.systemZone()
	return h.remove(ctx, r.User, ActionKeyPrune, r.KillSessions, func(es []Entry) ([]Entry, error) {
		var out []Entry
		for _, e := range es {
			if e.Err != nil {
				continue
			}
			if keyline.Judge(e.Raw, keyline.Match{Zone: zone}, now).Expired {
				out = append(out, e)
			}
		}
		return out, nil
	})
}

func (h Host) remove(ctx context.Context, user, action string, kill bool, pick func([]Entry) ([]Entry, error)) (RemoveResult, error) {
	res := RemoveResult{Account: user, Removed: []Removed{}}
	a, err := h.account(user)
	if err != nil {
		return res, err
	}
	res.Path = h.keysPath(a)
	// Every file sshd reads the keys from: a copy left in
	// authorized_keys2 still lets a revoked key in.
	kf, extras, _, release, err := h.lockedKeys(ctx, a)
	if err != nil {
		return res, err
	}
	defer release()
	res.Path = kf.Path
	all := kf.Entries()
	for _, x := range extras {
		all = append(all, x.Entries()...)
	}
	victims, err := pick(all)
	if err != nil {
		return res, err
	}
	if len(victims) > 0 {
		idx := map[*KeysFile]map[int]bool{}
		var order []*KeysFile
		var events []Event
		for _, e := range victims {
			if e.file.readOnly {
				return res, fail.New(fail.Failed, "remove line "+fmt.Sprint(e.Index+1)+" of "+e.file.Path+" by hand (or run pfwdctl apply so sshd reads only ~/.ssh/authorized_keys), then run pfwdctl again",
					"refusing: %s is also in %s, a file sshd reads that pfwdctl does not rewrite; nothing was removed", e.Fingerprint, e.file.Path)
			}
			if idx[e.file] == nil {
				idx[e.file] = map[int]bool{}
				order = append(order, e.file)
			}
			idx[e.file][e.Index] = true
			rm := Removed{Fingerprint: e.Fingerprint, Name: e.Line.Comment, Options: e.Line.Options, File: e.file.Path}
			res.Removed = append(res.Removed, rm)
			events = append(events, Event{Action: action, Account: a.Name, Fingerprint: rm.Fingerprint, Name: rm.Name, Options: rm.Options, Path: e.file.Path})
		}
		if err := ctx.Err(); err != nil {
			return res, err
		}
		warn, err := h.change(events, func() (bool, error) {
			for _, f := range order {
				f.removeLines(idx[f])
				if err := h.writeKeys(a, f, f.bytes()); err != nil {
					return res.Changed, err
				}
				res.Changed = true
			}
			// Read back: no removed key is left in any file sshd reads.
			gone := map[string]bool{}
			for _, r := range res.Removed {
				gone[r.Fingerprint] = true
			}
			es, err := h.readBack(a, append([]*KeysFile{kf}, extras...)...)
			if err != nil {
				return true, err
			}
			for _, e := range es {
				if e.Err == nil && gone[e.Fingerprint] {
					return true, fail.New(fail.Failed, "", "read back, %s is still in %s line %d", e.Fingerprint, e.file.Path, e.Index+1)
				}
			}
			return true, nil
		})
		if err != nil {
			return res, err
		}
		if warn != "" {
			res.Warnings = append(res.Warnings, warn)
		}
	}
	gone := map[string]bool{}
	for _, r := range res.Removed {
		gone[r.Fingerprint] = true
	}
	var warns []string
	res.SessionsEnded, warns, err = h.endSessions(ctx, a, all, gone, kill)
	res.Warnings = append(res.Warnings, warns...)
	res.Changed = res.Changed || res.Killed > 0
	return res, err
}

// endSessions counts the account's open sessions and, with kill, ends
// those of the keys in gone. Removing a key ends no tunnel already open
// with it: say how many there are, and end them when asked: only the
// removed keys' sessions (sshd's log names the key of each, Attribute), so
// other friends' tunnels stay up. all are the lines as they were before
// the change.
func (h Host) endSessions(ctx context.Context, a Account, all []Entry, gone map[string]bool, kill bool) (SessionsEnded, []string, error) {
	out := SessionsEnded{Sessions: []Session{}}
	sess, known := h.sessions(ctx, a)
	out.Sessions, out.SessionsKnown = append(out.Sessions, sess...), known
	if !kill || !known || len(sess) == 0 {
		return out, nil, nil
	}
	// Kept only: a session the log ties to a key that is still
	// installed. Anything else (no key named, a key no longer there, a
	// certificate, a stale log entry) is ended: the log must never
	// keep a revoked key's tunnel up.
	still := map[string]bool{}
	for _, e := range all {
		if e.Err == nil && !gone[e.Fingerprint] {
			still[e.Fingerprint] = true
		}
	}
	var chosen []Session
	for _, s := range sess {
		switch {
		case gone[s.Fingerprint]:
			chosen = append(chosen, s)
		case !still[s.Fingerprint]:
			out.Unattributed++
			chosen = append(chosen, s)
		default:
			out.Kept = append(out.Kept, s)
		}
	}
	killed, warns, err := h.kill(ctx, a, chosen)
	out.Killed = len(killed)
	return out, warns, err
}

// FromSigner is the public half of a key pfwdctl holds itself (verify
// --self), ready for AddKeyRequest.Key.
func FromSigner(s ssh.Signer, name string) keyline.Key {
	return keyline.FromPublicKey(s.PublicKey(), name)
}

// lockedKeys takes the pfwdctl lock and opens the account's key files
// under it (openKeys); release closes them, then drops the lock, so every
// change to them is read and written by one run at a time. Temp files a
// killed run left next to them are removed first.
func (h Host) lockedKeys(ctx context.Context, a Account) (primary *KeysFile, extras []*KeysFile, none bool, release func(), err error) {
	unlock, err := h.lock()
	if err != nil {
		return nil, nil, false, nil, err
	}
	primary, extras, none, err = h.openKeys(ctx, a)
	if err != nil {
		unlock()
		return nil, nil, false, nil, err
	}
	primary.removeStaleTemps()
	for _, x := range extras {
		x.removeStaleTemps()
	}
	return primary, extras, none, func() { primary.Close(); closeAll(extras); unlock() }, nil
}

// checkWritten is the read-back of a write that put line (key fp) in:
// the key is on exactly that one line of the files sshd reads, and none
// of the keys gone (replaced or rotated out) is left on any.
func checkWritten(es []Entry, fp, line string, gone []string) error {
	n := 0
	for _, e := range es {
		if e.Err != nil {
			continue
		}
		if slices.Contains(gone, e.Fingerprint) {
			return fail.New(fail.Failed, "", "read back, the replaced key %s is still on %s line %d", e.Fingerprint, e.file.Path, e.Index+1)
		}
		if e.Fingerprint == fp {
			n++
			if e.Raw != line {
				return fail.New(fail.Failed, "", "read back, %s line %d is not the line written", e.file.Path, e.Index+1)
			}
		}
	}
	if n != 1 {
		return fail.New(fail.Failed, "", "read back, the key is on %d lines of the files sshd reads, not on the one written", n)
	}
	return nil
}

// forwardOnly refuses to give an account with a login shell a
// "forward-only" key: restrict stops a pty and forwarding, not a command,
// so the key would run commands as the account (only ForceCommand and a
// nologin shell stop them).
func forwardOnly(a Account) error {
	if a.NoLogin() {
		return nil
	}
	return fail.New(fail.Failed, "make it a forward-only account first: pfwdctl user create --user "+a.Name+" (it sets a nologin shell, and refuses a person's account)",
		"refusing: %s has the login shell %s: a key there runs commands whatever its options say", a.Name, shellName(a))
}

// shellName is the account's shell for messages: an empty field is
// /bin/sh to sshd.
func shellName(a Account) string {
	if a.Shell == "" {
		return `"" (sshd runs /bin/sh)`
	}
	return a.Shell
}
