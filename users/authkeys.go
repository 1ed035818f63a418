package users

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/pfwdctl/pfwdctl/internal/fail"
	"github.com/pfwdctl/pfwdctl/internal/hostfs"
	"github.com/pfwdctl/pfwdctl/users/keyline"
)

// AuthorizedKeysMode and SSHDirMode are what sshd's StrictModes wants and
// what the seed guide sets.
const (
	AuthorizedKeysMode fs.FileMode = 0o600
	SSHDirMode         fs.FileMode = 0o700
)

// KeysFile is an account's authorized_keys as read, line by line, so a
// change can rewrite one line and keep every other byte.
type KeysFile struct {
	Path   string // host path
	Exists bool
	Data   []byte
	// Lines are the file split at "\n"; a file ending in "\n" has a last
	// empty element. Joining with "\n" gives Data back exactly.
	Lines []string
}

// Entry is one key line of the file.
type Entry struct {
	Index       int // into KeysFile.Lines
	Line        keyline.Line
	Fingerprint string
	Err         error // the line looks like a key but does not parse
}

// Entries returns the key lines, skipping blanks and comments. Only the
// fingerprint is computed (base64 and SHA-256), so this stays cheap for
// files of many thousands of keys.
func (f *KeysFile) Entries() []Entry {
	var out []Entry
	for i, raw := range f.Lines {
		s := string(bytes.TrimSpace([]byte(raw)))
		if s == "" || s[0] == '#' {
			continue
		}
		e := Entry{Index: i}
		e.Line, e.Err = keyline.SplitLine(s)
		if e.Err == nil {
			e.Fingerprint, e.Err = e.Line.Fingerprint()
		}
		out = append(out, e)
	}
	return out
}

// bytes joins the lines back.
func (f *KeysFile) bytes() []byte { return joinLines(f.Lines) }

func joinLines(lines []string) []byte {
	n := 0
	for _, l := range lines {
		n += len(l) + 1
	}
	b := make([]byte, 0, n)
	for i, l := range lines {
		if i > 0 {
			b = append(b, '\n')
		}
		b = append(b, l...)
	}
	return b
}

// appendLine adds a line at the end, terminating the last line first if
// the file did not end in a newline (its bytes stay the same).
func (f *KeysFile) appendLine(s string) {
	if len(f.Lines) == 0 || (len(f.Lines) == 1 && f.Lines[0] == "") {
		f.Lines = []string{s, ""}
		return
	}
	if last := f.Lines[len(f.Lines)-1]; last == "" {
		f.Lines[len(f.Lines)-1] = s
	} else {
		f.Lines = append(f.Lines, s)
	}
	f.Lines = append(f.Lines, "")
}

// removeLines drops the lines at the given indexes.
func (f *KeysFile) removeLines(idx map[int]bool) {
	out := f.Lines[:0:0]
	for i, l := range f.Lines {
		if !idx[i] {
			out = append(out, l)
		}
	}
	f.Lines = out
}

func (h Host) sshDir(a Account) string { return filepath.Join(a.Home, ".ssh") }
func (h Host) keysPath(a Account) string {
	return filepath.Join(a.Home, ".ssh", "authorized_keys")
}

// strictHint explains why pfwdctl refuses what sshd would ignore.
const strictHint = "sshd's StrictModes would ignore this account's keys anyway; fix the ownership or mode (chown/chmod as shown), then run pfwdctl again"

// ownerOK is sshd's rule: owned by root or the account. A --root tree built
// by an unprivileged user is owned by that user, who stands in for root.
func (h Host) ownerOK(uid int, a Account) bool {
	return uid == 0 || uid == a.UID || (!h.Root.IsHost() && uid == os.Geteuid())
}

func (h Host) checkNode(hostPath string, fi fs.FileInfo, a Account) error {
	o := hostfs.OwnerOf(fi)
	if !h.ownerOK(o.UID, a) {
		return fail.New(fail.Failed, strictHint+": chown "+a.Name+" "+hostPath,
			"refusing: %s is owned by uid %d, not by %s or root", hostPath, o.UID, a.Name)
	}
	if fi.Mode().Perm()&0o022 != 0 {
		return fail.New(fail.Failed, strictHint+": chmod go-w "+hostPath,
			"refusing: %s is group- or world-writable (%v)", hostPath, fi.Mode().Perm())
	}
	return nil
}

// readKeys checks the path the way StrictModes does and reads the file.
// A missing ~/.ssh or authorized_keys is fine: it reads as empty.
func (h Host) readKeys(a Account) (*KeysFile, error) {
	home := h.Root.Path(a.Home)
	fi, err := os.Stat(home)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fail.New(fail.Failed, "create it: pfwdctl user create --fix --user "+a.Name,
			"the home directory %s of %s does not exist", a.Home, a.Name)
	}
	if err != nil {
		return nil, fail.Wrap(fail.Failed, err, "", "check %s", a.Home)
	}
	if !fi.IsDir() {
		return nil, fail.New(fail.Failed, "", "the home %s of %s is not a directory", a.Home, a.Name)
	}
	if err := h.checkNode(a.Home, fi, a); err != nil {
		return nil, err
	}
	kf := &KeysFile{Path: h.keysPath(a)}
	dir := h.sshDir(a)
	fi, err = os.Lstat(h.Root.Path(dir))
	if errors.Is(err, fs.ErrNotExist) {
		return kf, nil
	}
	if err != nil {
		return nil, fail.Wrap(fail.Failed, err, "", "check %s", dir)
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		return nil, fail.New(fail.Failed, "replace the symlink by a real directory (mode 700, owned by "+a.Name+")",
			"refusing: %s is a symlink; pfwdctl does not write through symlinks", dir)
	}
	if !fi.IsDir() {
		return nil, fail.New(fail.Failed, "", "refusing: %s is not a directory", dir)
	}
	if err := h.checkNode(dir, fi, a); err != nil {
		return nil, err
	}
	fi, err = os.Lstat(h.Root.Path(kf.Path))
	if errors.Is(err, fs.ErrNotExist) {
		return kf, nil
	}
	if err != nil {
		return nil, fail.Wrap(fail.Failed, err, "", "check %s", kf.Path)
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		return nil, fail.New(fail.Failed, "replace the symlink by a regular file (mode 600, owned by "+a.Name+")",
			"refusing: %s is a symlink; pfwdctl does not write through symlinks", kf.Path)
	}
	if !fi.Mode().IsRegular() {
		return nil, fail.New(fail.Failed, "", "refusing: %s is not a regular file", kf.Path)
	}
	if err := h.checkNode(kf.Path, fi, a); err != nil {
		return nil, err
	}
	data, err := os.ReadFile(h.Root.Path(kf.Path))
	if err != nil {
		return nil, fail.Wrap(fail.Failed, err, "run pfwdctl as root", "read %s", kf.Path)
	}
	kf.Exists, kf.Data = true, data
	kf.Lines = splitLines(data)
	return kf, nil
}

func splitLines(data []byte) []string {
	if len(data) == 0 {
		return nil
	}
	n := bytes.Count(data, []byte("\n")) + 1
	out := make([]string, 0, n)
	s := string(data)
	for {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			out = append(out, s)
			return out
		}
		out = append(out, s[:i])
		s, data = s[i+1:], data[i+1:]
	}
}

// writeKeys installs data as the account's authorized_keys: ~/.ssh is
// created (0700, owned by the account) when missing, and the file is
// replaced atomically with mode 0600 and the account as owner.
func (h Host) writeKeys(a Account, data []byte) error {
	dir := h.Root.Path(h.sshDir(a))
	if err := os.Mkdir(dir, SSHDirMode); err == nil {
		if err := os.Chown(dir, a.UID, a.GID); err != nil && !(errors.Is(err, syscall.EPERM) && os.Geteuid() != 0) {
			os.Remove(dir)
			return fail.Wrap(fail.Failed, err, "", "set the owner of %s", h.sshDir(a))
		}
		// Mkdir's mode passes through the umask; set it exactly.
		if err := os.Chmod(dir, SSHDirMode); err != nil {
			return fail.Wrap(fail.Failed, err, "", "set the mode of %s", h.sshDir(a))
		}
		if err := hostfs.SyncDir(filepath.Dir(dir)); err != nil {
			return err
		}
	} else if !errors.Is(err, fs.ErrExist) {
		return fail.Wrap(fail.Failed, err, "run pfwdctl as root", "create %s", h.sshDir(a))
	}
	if err := hostfs.WriteFile(h.Root.Path(h.keysPath(a)), data, AuthorizedKeysMode, hostfs.Owner{UID: a.UID, GID: a.GID}); err != nil {
		return fail.Wrap(fail.Failed, err, "", "write %s", h.keysPath(a))
	}
	return nil
}
