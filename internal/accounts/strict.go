package accounts

import (
	"io/fs"

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
