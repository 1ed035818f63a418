package users

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/pfwdctl/pfwdctl/internal/accounts"
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
	Path string // host path
	// unasked is why sshd could not be asked which files it reads the
	// account's keys from (sshd -T -C); nil when it answered. Path is
	// then sshd's compiled-in default, which add-key says.
	unasked error
	Exists  bool
	Data    []byte
	// Lines are the file split at "\n"; a file ending in "\n" has a last
	// empty element. Joining with "\n" gives Data back exactly.
	Lines []string
	// home and dir are the directory holding the file's directory (the
	// account's home) and that directory (~/.ssh; nil when missing),
	// opened without following symlinks; writeKeys writes through them.
	// For a file outside the home (AuthorizedKeysFile
	// /etc/ssh/authorized_keys/%u) they are /etc/ssh and
	// /etc/ssh/authorized_keys.
	home, dir *os.File
	// dirName is dir's name inside home (".ssh").
	dirName string
	// owner, group and mode are the existing file's; writeKeys takes over
	// no file of another account (see writeKeys).
	owner, group int
	mode         fs.FileMode
	// name is the file's name in its directory ("authorized_keys" for the
	// one pfwdctl writes by default).
	name string
	// outside marks a file sshd reads outside the home: it is kept owned
	// by root (0644 when new), as StrictModes allows and as the admin who
	// chose such a location expects. readOnly marks a file in the home
	// but outside ~/.ssh, which pfwdctl lists but does not rewrite.
	outside  bool
	readOnly bool
	// shared marks a file sshd reads for every account the setting covers
	// (its name has no %u, %U or %h): pfwdctl does not write it, since a
	// forward-only key there would let its holder in as all of them.
	shared bool
	// disk is the file as pfwdctl last saw it on disk (read, or written
	// by writeKeys): writeKeys replaces it only while it is still exactly
	// that, so a change someone else made meanwhile is never undone.
	disk diskState
	// entries are the key lines Entries last returned. readBack hands
	// them to the file read back (prev), whose lines are mostly the same
	// ones: a line's split and fingerprint depend on its bytes alone, so
	// a line equal to one already read reuses that reading, and only the
	// lines that differ are parsed. No index is trusted, only content.
	entries, prev []Entry
}

// Entry is one key line of the file.
type Entry struct {
	Index       int    // into KeysFile.Lines
	Raw         string // the line without surrounding space, for keyline.Judge
	Line        keyline.Line
	Fingerprint string
	Err         error // the line looks like a key but does not parse
	file        *KeysFile
}

// Entries returns the key lines, skipping blanks and comments. Only the
// fingerprint is computed (base64 and SHA-256), so this stays cheap for
// files of many thousands of keys.
func (f *KeysFile) Entries() []Entry {
	out := make([]Entry, 0, len(f.Lines))
	p := 0 // where in prev the next line is looked for
	for i, raw := range f.Lines {
		s := strings.TrimSpace(raw)
		if s == "" || s[0] == '#' {
			continue
		}
		e := Entry{Index: i, Raw: s, file: f}
		if k := sameLine(f.prev, p, s); k >= 0 {
			e.Line, e.Fingerprint, e.Err = f.prev[k].Line, f.prev[k].Fingerprint, f.prev[k].Err
			p = k + 1
		} else {
			e.Line, e.Err = keyline.SplitLine(s)
			if e.Err == nil {
				e.Fingerprint, e.Err = e.Line.Fingerprint()
			}
		}
		out = append(out, e)
	}
	f.entries = out
	return out
}

// sameLine is the index in prev, from p on and within a few lines (a
// change removes or replaces a few), of a line whose content is s; -1 if
// none.
func sameLine(prev []Entry, p int, s string) int {
	for k := p; k < len(prev) && k < p+16; k++ {
		if prev[k].Raw == s {
			return k
		}
	}
	return -1
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
	if len(idx) == 0 {
		return
	}
	out := make([]string, 0, len(f.Lines))
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

// checkNode is StrictModes for one path; the rule lives in accounts so the
// lockout guard (render.Guard) judges keys the same way.
func (h Host) checkNode(hostPath string, fi fs.FileInfo, a Account) error {
	return accounts.StrictNode(h.Root, hostPath, fi, a)
}

// readKeys checks the path the way StrictModes does and reads the file.
// A missing ~/.ssh or authorized_keys is fine: it reads as empty.
//
// The home and ~/.ssh are opened without following symlinks and kept open
// in the KeysFile: the checks look at those handles and writeKeys writes
// through them, so swapping ~/.ssh (or the home) for a symlink between the
// check and the write cannot redirect root's write. The caller closes it.
func (h Host) readKeys(a Account) (kf *KeysFile, err error) {
	return h.readKeysNamed(a, "authorized_keys")
}

// readKeysNamed is readKeys for another file in ~/.ssh that sshd reads
// (authorized_keys2 on Debian's defaults).
func (h Host) readKeysNamed(a Account, name string) (kf *KeysFile, err error) {
	kf = &KeysFile{Path: filepath.Join(h.sshDir(a), name), name: name, dirName: ".ssh"}
	defer func() {
		if err != nil {
			kf.Close()
			kf = nil
		}
	}()
	kf.home, err = hostfs.OpenDir(h.Root.Path(a.Home))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return kf, fail.New(fail.Failed, "run pfwdctl user create --user "+a.Name+": it says what to repair and which flags that takes",
			"the home directory %s of %s does not exist", a.Home, a.Name)
	case errors.Is(err, hostfs.ErrSymlink):
		return kf, fail.New(fail.Failed, "point the account's home in /etc/passwd at the real directory (usermod --home DIR "+a.Name+")",
			"refusing: the home %s of %s is a symlink; pfwdctl does not write through symlinks", a.Home, a.Name)
	case errors.Is(err, syscall.ENOTDIR):
		return kf, fail.New(fail.Failed, "", "the home %s of %s is not a directory", a.Home, a.Name)
	case err != nil:
		return kf, fail.Wrap(fail.Failed, err, "", "check %s", a.Home)
	}
	fi, err := kf.home.Stat()
	if err != nil {
		return kf, fail.Wrap(fail.Failed, err, "", "check %s", a.Home)
	}
	if err := h.checkNode(a.Home, fi, a); err != nil {
		return kf, err
	}
	if err := h.ownHome(a, fi); err != nil {
		return kf, err
	}
	dir := h.sshDir(a)
	kf.dir, err = hostfs.OpenDirAt(kf.home, ".ssh")
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return kf, nil
	case errors.Is(err, hostfs.ErrSymlink):
		return kf, fail.New(fail.Failed, "replace the symlink by a real directory (mode 700, owned by "+a.Name+")",
			"refusing: %s is a symlink; pfwdctl does not write through symlinks", dir)
	case errors.Is(err, syscall.ENOTDIR):
		return kf, fail.New(fail.Failed, "", "refusing: %s is not a directory", dir)
	case err != nil:
		return kf, fail.Wrap(fail.Failed, err, "", "check %s", dir)
	}
	if fi, err = kf.dir.Stat(); err != nil {
		return kf, fail.Wrap(fail.Failed, err, "", "check %s", dir)
	}
	if err := h.checkNode(dir, fi, a); err != nil {
		return kf, err
	}
	return kf, h.readFileAt(kf, a)
}

// readOutside opens a key file sshd reads outside ~/.ssh (hostPath, from
// AuthorizedKeysFile) the same way: its directory resolved inside the
// root and opened without following a symlink, StrictModes checked on
// directory and file. One outside the home is writable (kept root's);
// one elsewhere in the home is listed only.
//
// With StrictModes on (strict), every directory above it up to / is
// checked too, as sshd does before it reads the file.
func (h Host) readOutside(a Account, hostPath string, strict bool) (kf *KeysFile, err error) {
	dir := filepath.Dir(hostPath)
	kf = &KeysFile{Path: hostPath, name: filepath.Base(hostPath), dirName: filepath.Base(dir)}
	kf.outside = !inHome(a, hostPath)
	kf.readOnly = !kf.outside
	defer func() {
		if err != nil {
			kf.Close()
			kf = nil
		}
	}()
	kf.dir, err = hostfs.OpenDir(h.Root.PathDir(dir))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		// Created at the first write, inside its parent when that exists
		// and passes StrictModes all the way up (sshd checks them all).
		kf.dir = nil
		if p, perr := hostfs.OpenDir(h.Root.PathDir(filepath.Dir(dir))); perr == nil {
			kf.home = p
			if err := accounts.StrictDirs(h.Root, filepath.Dir(dir), a); strict && err != nil {
				return kf, err
			}
		}
		return kf, nil
	case errors.Is(err, hostfs.ErrSymlink):
		return kf, fail.New(fail.Failed, "replace the symlink by a real directory owned by root", "refusing: %s is a symlink; pfwdctl does not write through symlinks", dir)
	case err != nil:
		return kf, fail.Wrap(fail.Failed, err, "run pfwdctl as root", "check %s, where sshd reads %s's keys", dir, a.Name)
	}
	fi, err := kf.dir.Stat()
	if err != nil {
		return kf, fail.Wrap(fail.Failed, err, "", "check %s", dir)
	}
	if err := h.checkNode(dir, fi, a); err != nil {
		return kf, err
	}
	if kf.outside && strict {
		if err := accounts.StrictDirs(h.Root, dir, a); err != nil {
			return kf, err
		}
	}
	return kf, h.readFileAt(kf, a)
}

// inHome reports whether hostPath lies in a's home directory.
func inHome(a Account, hostPath string) bool {
	return a.Home != "/" && strings.HasPrefix(hostPath, strings.TrimSuffix(a.Home, "/")+"/")
}

// readFileAt reads kf.name in the checked kf.dir: no symlink, no FIFO, no
// second hard link, StrictModes on the file. A missing file reads as
// empty.
func (h Host) readFileAt(kf *KeysFile, a Account) error {
	f, err := hostfs.OpenFileAt(kf.dir, kf.name)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case errors.Is(err, hostfs.ErrSymlink):
		return fail.New(fail.Failed, "replace the symlink by a regular file (mode 600, owned by "+a.Name+")",
			"refusing: %s is a symlink; pfwdctl does not write through symlinks", kf.Path)
	case err != nil:
		return fail.Wrap(fail.Failed, err, "run pfwdctl as root", "read %s", kf.Path)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fail.Wrap(fail.Failed, err, "", "check %s", kf.Path)
	}
	if !fi.Mode().IsRegular() {
		return fail.New(fail.Failed, "", "refusing: %s is not a regular file", kf.Path)
	}
	// A second name for the file (a hard link from elsewhere) is a file
	// pfwdctl would read another's keys through and sshd's StrictModes
	// does not notice; refuse it rather than copy it into the account's.
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Nlink > 1 {
		return fail.New(fail.Failed, "replace it by a file of its own: cp --remove-destination "+kf.Path+" "+kf.Path+".new && mv "+kf.Path+".new "+kf.Path+", then check its lines",
			"refusing: %s has %d hard links; its content may belong to another file", kf.Path, st.Nlink)
	}
	if err := h.checkNode(kf.Path, fi, a); err != nil {
		return err
	}
	o := hostfs.OwnerOf(fi)
	kf.owner, kf.group, kf.mode = o.UID, o.GID, fi.Mode().Perm()
	// Read at the size Stat gave, not io.ReadAll's doubling from 512 bytes
	// (a 10,000-key file is over a megabyte). ReadFrom still reads to EOF.
	buf := bytes.NewBuffer(make([]byte, 0, fi.Size()+bytes.MinRead))
	_, err = buf.ReadFrom(f)
	data := buf.Bytes()
	if err != nil {
		return fail.Wrap(fail.Failed, err, "run pfwdctl as root", "read %s", kf.Path)
	}
	kf.Exists, kf.Data = true, data
	kf.disk = stateOf(fi, data)
	// The buffer is this file's alone and nothing writes to it again
	// (Data is only read, or cloned): its lines are strings over it
	// rather than over a second copy of a file that can be megabytes.
	if len(data) > 0 {
		kf.Lines = splitString(unsafe.String(unsafe.SliceData(data), len(data)))
	}
	return nil
}

// Close releases the directory handles readKeys kept; nil-safe.
func (f *KeysFile) Close() {
	if f == nil {
		return
	}
	if f.dir != nil {
		f.dir.Close()
		f.dir = nil
	}
	if f.home != nil {
		f.home.Close()
		f.home = nil
	}
}

func splitLines(data []byte) []string {
	if len(data) == 0 {
		return nil
	}
	return splitString(string(data))
}

// splitString is splitLines over a string: its lines share s's bytes.
func splitString(s string) []string {
	out := make([]string, 0, strings.Count(s, "\n")+1)
	for {
		i := strings.IndexByte(s, '\n')
		if i < 0 {
			return append(out, s)
		}
		out = append(out, s[:i])
		s = s[i+1:]
	}
}

// writeKeys installs data as the account's authorized_keys, through the
// handles readKeys checked: ~/.ssh is created (0700, owned by the account)
// when missing, and the file is replaced atomically with mode 0600 and the
// account as owner.
func (h Host) writeKeys(a Account, kf *KeysFile, data []byte) error {
	if h.beforeWrite != nil {
		h.beforeWrite()
	}
	if err := kf.writable(a); err != nil {
		return err
	}
	// ~/.ssh is the account's (0700); a directory sshd reads keys from
	// outside the home is root's (0755), as StrictModes allows.
	dirOwner, dirMode := hostfs.Owner{UID: a.UID, GID: a.GID}, SSHDirMode
	if kf.outside {
		dirOwner, dirMode = hostfs.Owner{UID: 0, GID: 0}, 0o755
	}
	dirPath := filepath.Dir(kf.Path)
	if kf.dir == nil {
		if kf.home == nil {
			return fail.New(fail.Failed, "create "+filepath.Dir(dirPath)+" (owned by root, mode 755), then add the key again",
				"%s, where sshd reads %s's keys, does not exist", filepath.Dir(dirPath), a.Name)
		}
		err := unix.Mkdirat(int(kf.home.Fd()), kf.dirName, uint32(dirMode))
		if err != nil && !errors.Is(err, unix.EEXIST) {
			return fail.Wrap(fail.Failed, err, "run pfwdctl as root", "create %s", dirPath)
		}
		created := err == nil
		// Someone may have made one since readKeys looked: open it the same
		// way, so a symlink is still refused.
		dir, err := hostfs.OpenDirAt(kf.home, kf.dirName)
		if err != nil {
			return fail.Wrap(fail.Failed, err, "run pfwdctl again", "open %s", dirPath)
		}
		kf.dir = dir
		if created {
			if err := dir.Chown(dirOwner.UID, dirOwner.GID); err != nil && !(errors.Is(err, fs.ErrPermission) && hostfs.Euid() != 0) {
				unix.Unlinkat(int(kf.home.Fd()), kf.dirName, unix.AT_REMOVEDIR)
				return fail.Wrap(fail.Failed, err, "", "set the owner of %s", dirPath)
			}
			// Mkdir's mode passes through the umask; set it exactly.
			if err := dir.Chmod(dirMode); err != nil {
				return fail.Wrap(fail.Failed, err, "", "set the mode of %s", dirPath)
			}
			if err := kf.home.Sync(); err != nil {
				return fail.Wrap(fail.Failed, err, "", "fsync %s", filepath.Dir(dirPath))
			}
		} else {
			fi, err := dir.Stat()
			if err != nil {
				return fail.Wrap(fail.Failed, err, "", "check %s", dirPath)
			}
			if err := h.checkNode(dirPath, fi, a); err != nil {
				return err
			}
		}
	}
	owner, mode := hostfs.Owner{UID: a.UID, GID: a.GID}, AuthorizedKeysMode
	switch {
	case kf.outside && kf.Exists && kf.owner == a.UID:
		// The account's own file (StrictModes allows it): keep it so.
		owner, mode = hostfs.Owner{UID: kf.owner, GID: kf.group}, kf.mode
	case kf.outside:
		// Root's and world-readable, also when it was root's 0600: sshd
		// reads it as the account after dropping privileges (a file the
		// account cannot read lets no key in), and the account cannot
		// change it.
		owner, mode = hostfs.Owner{UID: 0, GID: 0}, 0o644
	case kf.Exists && kf.owner != a.UID && !(!h.Root.IsHost() && kf.owner == hostfs.Euid()):
		// In the home the new file is owned by the account: replacing a
		// file owned by someone else (root's, another account's) would
		// hand it over.
		return fail.New(fail.Failed, "if the file is meant for "+a.Name+", chown "+a.Name+" "+kf.Path+" first",
			"refusing: %s is owned by uid %d, not by %s; pfwdctl does not take over another account's file", kf.Path, kf.owner, a.Name)
	}
	check := func() error {
		if h.beforeReplace != nil {
			h.beforeReplace()
		}
		return kf.unchanged()
	}
	fi, err := hostfs.ReplaceFileAt(kf.dir, kf.name, data, mode, owner, check)
	if err != nil {
		var ce *changedError
		if errors.As(err, &ce) {
			return fail.New(fail.Failed, "run the same pfwdctl command again: it starts from the file as it is now, keeping the other change",
				"%s changed while pfwdctl was writing it (%s; another editor?); it was not overwritten", kf.Path, ce.what)
		}
		return fail.Wrap(fail.Failed, err, "", "write %s", kf.Path)
	}
	// A later write of this change (a retarget put back) is checked
	// against this one.
	kf.disk = stateOf(fi, data)
	if h.afterWrite != nil {
		h.afterWrite()
	}
	return nil
}

// diskState is a key file's identity on disk: which inode, its size and
// times, and its bytes. exists is false for a file that was not there.
type diskState struct {
	exists       bool
	dev, ino     uint64
	size         int64
	mtime, ctime syscall.Timespec
	data         []byte
}

func stateOf(fi fs.FileInfo, data []byte) diskState {
	d := diskState{exists: true, size: fi.Size(), data: data}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		d.dev, d.ino, d.mtime, d.ctime = uint64(st.Dev), st.Ino, st.Mtim, st.Ctim
	}
	return d
}

// changedError is unchanged's finding: what differs from the file read.
type changedError struct{ what string }

func (e *changedError) Error() string { return "changed on disk: " + e.what }

// unchanged is nil while the file on disk is still the one pfwdctl read
// (or last wrote): the same inode (sed -i, an editor or another tool's
// rename makes a new one), size, mtime and ctime (an in-place append or
// edit, a chmod or chown), and the same bytes, compared whole since an
// in-place edit can keep the size and set mtime back (ctime it cannot).
// Otherwise it is a *changedError, and writeKeys writes nothing: its new
// file was built from the old lines, so replacing the file would bring
// back a key someone just removed, or drop a line someone just appended.
//
// pfwdctl's own runs cannot get here (they take the lock); this is about
// writers that do not take it: an admin's sed -i, an editor, config
// management, a user's own ssh-copy-id. writeKeys runs it after the new
// file is written and fsynced, immediately before the rename, so what is
// left is the time between this check and rename(2) itself (a few
// syscalls): a writer that changes the file inside that window still
// loses its change, and one that read the file before the rename and
// writes it back after (sed -i does both) drops pfwdctl's line. Only a
// lock both sides take would close that, and sshd's files have none.
func (kf *KeysFile) unchanged() error {
	want := kf.disk
	f, err := hostfs.OpenFileAt(kf.dir, kf.name)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if want.exists {
			return &changedError{"it was removed"}
		}
		return nil
	case errors.Is(err, hostfs.ErrSymlink):
		return &changedError{"it is now a symlink"}
	case err != nil:
		return fail.Wrap(fail.Failed, err, "run pfwdctl as root", "check %s before replacing it", kf.Path)
	}
	defer f.Close()
	if !want.exists {
		return &changedError{"it was created"}
	}
	fi, err := f.Stat()
	if err != nil {
		return fail.Wrap(fail.Failed, err, "", "check %s before replacing it", kf.Path)
	}
	now := stateOf(fi, nil)
	switch {
	case now.dev != want.dev || now.ino != want.ino:
		return &changedError{"it was replaced by another file"}
	case now.size != want.size:
		return &changedError{fmt.Sprintf("its size went from %d to %d bytes", want.size, now.size)}
	case now.mtime != want.mtime || now.ctime != want.ctime:
		return &changedError{"it was modified, or its owner, mode or attributes were"}
	}
	buf := bytes.NewBuffer(make([]byte, 0, want.size+bytes.MinRead))
	if _, err := buf.ReadFrom(f); err != nil {
		return fail.Wrap(fail.Failed, err, "", "read %s before replacing it", kf.Path)
	}
	if !bytes.Equal(buf.Bytes(), want.data) {
		return &changedError{"its content differs"}
	}
	// A write to bytes already compared, during the read: ctime moved.
	if fi, err = f.Stat(); err != nil {
		return fail.Wrap(fail.Failed, err, "", "check %s before replacing it", kf.Path)
	}
	if again := stateOf(fi, nil); again.size != want.size || again.mtime != want.mtime || again.ctime != want.ctime {
		return &changedError{"it was modified"}
	}
	return nil
}

// writable is nil when pfwdctl may rewrite the file, else the refusal.
func (kf *KeysFile) writable(a Account) error {
	if kf.shared {
		return fail.New(fail.Failed, "run pfwdctl apply --user "+a.Name+" (its Match block sets AuthorizedKeysFile .ssh/authorized_keys), or name a file per account (%u) in AuthorizedKeysFile",
			"refusing: %s is a key file sshd reads for every account, not only %s; a key there would let its holder in as any of them", kf.Path, a.Name)
	}
	if kf.readOnly {
		return fail.New(fail.Failed, "edit "+kf.Path+" by hand, or run pfwdctl apply so sshd reads only ~/.ssh/authorized_keys for "+a.Name,
			"refusing: %s is a key file sshd reads in the home outside ~/.ssh; pfwdctl does not rewrite it", kf.Path)
	}
	return nil
}

// removeStaleTemps deletes temp files a killed run left next to the file
// (hostfs.WriteFileAt names them "." + name + digits): they hold key
// lines nobody reviews. Only under the lock, where no other run can be
// writing one, and never in a directory pfwdctl does not write.
func (kf *KeysFile) removeStaleTemps() (removed []string) {
	if kf.dir == nil || kf.readOnly {
		return nil
	}
	staleTemp := regexp.MustCompile(`^\.` + regexp.QuoteMeta(kf.name) + `[0-9]+$`)
	ents, err := kf.dir.ReadDir(-1)
	if err != nil {
		return nil
	}
	for _, e := range ents {
		if !e.Type().IsRegular() || !staleTemp.MatchString(e.Name()) {
			continue
		}
		if unix.Unlinkat(int(kf.dir.Fd()), e.Name(), 0) == nil {
			removed = append(removed, e.Name())
		}
	}
	return removed
}
