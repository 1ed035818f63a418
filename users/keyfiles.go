package users

import (
	"context"
	"errors"
	"io/fs"
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
func (h Host) keyFiles(ctx context.Context, a Account) (files []string, none bool) {
	cfg := h.SshdConfig
	if cfg == "" {
		cfg = sshd.DefaultConfig
	}
	b := sshd.Binary{Bin: h.SshdBin, Runner: h.runner(), Root: h.Root, Config: cfg}
	eff, err := b.Effective(ctx, sshd.ConnSpec(a.Name))
	if err != nil {
		return accounts.KeysFiles(a, nil, false), false
	}
	var values []string
	for _, v := range eff["authorizedkeysfile"] {
		values = append(values, strings.Fields(v)...)
	}
	files = accounts.KeysFiles(a, values, eff["authorizedkeysfile"] != nil)
	return files, len(files) == 0
}

// extraKeys reads every file sshd reads a's keys from besides
// ~/.ssh/authorized_keys: one in ~/.ssh through the same checked handles
// (writable), one elsewhere read-only. Missing files are skipped.
func (h Host) extraKeys(ctx context.Context, a Account) ([]*KeysFile, error) {
	files, _ := h.keyFiles(ctx, a)
	var out []*KeysFile
	for _, f := range files {
		if f == h.keysPath(a) {
			continue
		}
		if filepath.Dir(f) == h.sshDir(a) {
			kf, err := h.readKeysNamed(a, filepath.Base(f))
			if err != nil {
				closeAll(out)
				return nil, err
			}
			if kf.Exists {
				out = append(out, kf)
			} else {
				kf.Close()
			}
			continue
		}
		data, err := h.Root.ReadFile(f)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			closeAll(out)
			return nil, fail.Wrap(fail.Failed, err, "run pfwdctl as root", "read %s, a file sshd reads %s's keys from", f, a.Name)
		}
		out = append(out, &KeysFile{Path: f, Exists: true, Data: data, Lines: splitLines(data), readOnly: true})
	}
	return out, nil
}

func closeAll(kfs []*KeysFile) {
	for _, kf := range kfs {
		kf.Close()
	}
}

// checkReadsPrimary refuses when sshd does not read ~/.ssh/authorized_keys
// for a: a key written there would be reported added and never work.
func (h Host) checkReadsPrimary(ctx context.Context, a Account) error {
	files, none := h.keyFiles(ctx, a)
	if none {
		return fail.New(fail.Failed, "run pfwdctl apply --user "+a.Name+": its Match block sets AuthorizedKeysFile .ssh/authorized_keys",
			"sshd reads no key file for %s (AuthorizedKeysFile none): a key added would never work", a.Name)
	}
	for _, f := range files {
		if f == h.keysPath(a) {
			return nil
		}
	}
	return fail.New(fail.Failed, "run pfwdctl apply --user "+a.Name+" (its Match block sets AuthorizedKeysFile .ssh/authorized_keys), or remove the other AuthorizedKeysFile setting",
		"sshd reads %s's keys from %s, not %s: a key added there would never work", a.Name, strings.Join(files, " "), h.keysPath(a))
}
