package accounts

import (
	"io/fs"
	"path"

	"github.com/pfwdctl/pfwdctl/internal/fail"
	"github.com/pfwdctl/pfwdctl/internal/hostfs"
)

// StrictHint explains why pfwdctl refuses what sshd would ignore.
const StrictHint = "sshd's StrictModes would ignore this account's keys anyway; fix the ownership or mode (chown/chmod as shown), then run pfwdctl again"

// StrictOwnerOK is sshd's StrictModes owner rule: owned by root or the
// account. A --root tree built by an unprivileged user is owned by that
// user, who stands in for root.
func StrictOwnerOK(root hostfs.Root, uid int, a Account) bool {
	return uid == 0 || uid == a.UID || (!root.IsHost() && uid == hostfs.Euid())
}

// StrictNode applies sshd's StrictModes rule (auth.c auth_secure_path) to
// one of the account's home, ~/.ssh or key file: owned by root or the
// account, and not writable by group or others. add-key and the lockout
// guard share it, so what add-key refuses to write is exactly what the
// guard does not count as a working key.
func StrictNode(root hostfs.Root, hostPath string, fi fs.FileInfo, a Account) error {
	o := hostfs.OwnerOf(fi)
	if !StrictOwnerOK(root, o.UID, a) {
		return fail.New(fail.Failed, StrictHint+": chown "+a.Name+" "+hostPath,
			"refusing: %s is owned by uid %d, not by %s or root", hostPath, o.UID, a.Name)
	}
	if fi.Mode().Perm()&0o022 != 0 {
		return fail.New(fail.Failed, StrictHint+": chmod go-w "+hostPath,
			"refusing: %s is group- or world-writable (%v)", hostPath, fi.Mode().Perm())
	}
	return nil
}

// StrictDirs is the rest of sshd's auth_secure_path for a key file in dir:
// dir and every directory above it up to and including the home (or up to
// / for a file outside the home), each by StrictNode. sshd ignores a key
// file below a directory that fails, so add-key must not call it added.
func StrictDirs(root hostfs.Root, dir string, a Account) error {
	home := path.Clean(a.Home)
	for d := path.Clean(dir); ; d = path.Dir(d) {
		di, err := root.Stat(d)
		if err != nil {
			return fail.Wrap(fail.Failed, err, "", "check %s", d)
		}
		if err := StrictNode(root, d, di, a); err != nil {
			return err
		}
		if d == home || d == "/" {
			return nil
		}
	}
}
