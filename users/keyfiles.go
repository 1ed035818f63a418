package users

import (
	"context"
	"path/filepath"
	"strings"

	"github.com/pfwdctl/pfwdctl/internal/accounts"
	"github.com/pfwdctl/pfwdctl/internal/fail"
	"github.com/pfwdctl/pfwdctl/internal/sshd"
)

// keyFiles asks sshd which files it reads a's keys from (sshd -T -C
// user=NAME: AuthorizedKeysFile, expanded by accounts.KeysFiles), as host
// paths, in sshd's order. none is true when sshd reads no file at all.
// When sshd cannot be asked (no binary, a config it refuses), the list is
// sshd's compiled-in default, which names both files Debian's stock
// config reads: a copy in either is then still found.
//
// strict is sshd's StrictModes for the account (true unless sshd -T says
// no): the walk up the directories of a file outside the home follows it.
func (h Host) keyFiles(ctx context.Context, a Account) (files []string, shared map[string]bool, none, strict bool, askErr error) {
	cfg := h.SshdConfig
	if cfg == "" {
		cfg = sshd.DefaultConfig
	}
	b := sshd.Binary{Bin: h.SshdBin, Runner: h.runner(), Root: h.Root, Config: cfg}
	eff, err := b.Effective(ctx, sshd.ConnSpec(a.Name))
	askErr = err
	var values []string
	set := false
	strict = true
	if err == nil {
		if v := eff["strictmodes"]; len(v) > 0 && strings.EqualFold(v[0], "no") {
			strict = false
		}
		for _, v := range eff["authorizedkeysfile"] {
			values = append(values, strings.Fields(v)...)
		}
		set = eff["authorizedkeysfile"] != nil
	}
	files = accounts.KeysFiles(a, values, set)
	// A file whose name does not depend on the account (no %u, %U or %h,
	// and not relative to the home) is read for every account the setting
	// covers: a key written there lets its holder in as all of them.
	// Expanding the same values for another account shows which.
	other := accounts.KeysFiles(Account{Name: a.Name + "\x00other", UID: -1, Home: "/\x00other-home"}, values, set)
	shared = map[string]bool{}
	for i, f := range files {
		if i < len(other) && other[i] == f {
			shared[f] = true
		}
	}
	return files, shared, len(files) == 0, strict, askErr
}

// openKeys opens every file sshd reads a's keys from, in sshd's order,
// each checked as StrictModes would (see readKeysNamed, readOutside).
// primary is the first, where pfwdctl writes: a key written to a file
// sshd reads later, or not at all, could be shadowed or never work.
// extras are the others that exist. none is true when sshd reads no file
// (AuthorizedKeysFile none); primary is then ~/.ssh/authorized_keys, so
// its lines can still be listed and removed. The caller closes all.
func (h Host) openKeys(ctx context.Context, a Account) (primary *KeysFile, extras []*KeysFile, none bool, err error) {
	files, shared, none, strict, askErr := h.keyFiles(ctx, a)
	if none {
		files = []string{h.keysPath(a)}
	}
	for i, f := range files {
		kf, err := h.openKeyFile(a, f, strict)
		if err != nil {
			primary.Close()
			closeAll(extras)
			return nil, nil, none, err
		}
		if shared[f] {
			kf.shared, kf.readOnly = true, true
		}
		switch {
		case i == 0:
			primary = kf
			primary.unasked = askErr
		case kf.Exists && kf.Path != primary.Path:
			extras = append(extras, kf)
		default:
			kf.Close()
		}
	}
	return primary, extras, none, nil
}

// openKeyFile opens one file sshd reads a's keys from: one in ~/.ssh
// through the home's checked handles, any other by readOutside.
func (h Host) openKeyFile(a Account, hostPath string, strict bool) (*KeysFile, error) {
	if filepath.Dir(hostPath) == h.sshDir(a) {
		return h.readKeysNamed(a, filepath.Base(hostPath))
	}
	return h.readOutside(a, hostPath, strict)
}

func closeAll(kfs []*KeysFile) {
	for _, kf := range kfs {
		kf.Close()
	}
}

// noneErr is add-key's refusal when sshd reads no key file for a.
func noneErr(a Account) error {
	return fail.New(fail.Failed, "run pfwdctl apply --user "+a.Name+": its Match block sets AuthorizedKeysFile .ssh/authorized_keys",
		"sshd reads no key file for %s (AuthorizedKeysFile none): a key added would never work", a.Name)
}

// readBack reads the files of a change again, as sshd will read them, and
// returns their key lines: what add-key, revoke and prune report rests on
// this, not on the writes having returned. The same paths are opened the
// same checked way; sshd is not asked again.
func (h Host) readBack(a Account, kfs ...*KeysFile) ([]Entry, error) {
	var out []Entry
	for _, kf := range kfs {
		var again *KeysFile
		var err error
		if kf.outside || kf.readOnly {
			again, err = h.readOutside(a, kf.Path, false)
		} else {
			again, err = h.readKeysNamed(a, kf.name)
		}
		if err != nil {
			return nil, err
		}
		again.Close()
		again.prev = kf.entries
		out = append(out, again.Entries()...)
	}
	return out, nil
}
