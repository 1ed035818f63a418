package hostfs

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// Snapshot is a file's state before a change, enough to put it back as it
// was: its bytes, mode, owner and extended attributes (security.selinux,
// POSIX ACLs, user.*, and trusted.* when run as root), and, for a file
// with other hard links, the file itself (its inode), or that it did not
// exist.
type Snapshot struct {
	Path   string
	Exists bool
	Data   []byte
	Mode   fs.FileMode
	Owner  Owner
	// Xattrs are the file's extended attributes, name -> value; nil when
	// it had none (or the filesystem keeps none).
	Xattrs map[string][]byte
	// Links is how many names (hard links) the file had.
	Links uint64
	// orig is the file, held open when it has other names (Links > 1):
	// a write that renames a new file over Path leaves those names on the
	// old inode, and Restore links that very inode back at Path, so the
	// names are one file again. os.File closes it when the Snapshot is
	// dropped; Close does it at once.
	orig *os.File
}

// Take records path's current state. A symlink is refused: pfwdctl never
// writes through one.
func Take(path string) (Snapshot, error) {
	s := Snapshot{Path: path}
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return s, err
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		return s, &fs.PathError{Op: "snapshot", Path: path, Err: ErrSymlink}
	}
	if !fi.Mode().IsRegular() {
		return s, fmt.Errorf("%s is not a regular file", path)
	}
	// Everything is read from one open file, so content, mode and
	// attributes belong to the same inode even if the path is replaced
	// meanwhile.
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return s, &fs.PathError{Op: "open", Path: path, Err: symlinkErr(unix.AT_FDCWD, path, err)}
	}
	f := os.NewFile(uintptr(fd), path)
	keep := false
	defer func() {
		if !keep {
			f.Close()
		}
	}()
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return s, &fs.PathError{Op: "fstat", Path: path, Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return s, fmt.Errorf("%s is not a regular file", path)
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return s, err
	}
	xattrs, err := listXattrs(fd)
	if err != nil {
		return s, fmt.Errorf("read the extended attributes of %s: %w", path, err)
	}
	s.Exists, s.Data, s.Mode = true, data, fs.FileMode(st.Mode).Perm()
	s.Owner = Owner{int(st.Uid), int(st.Gid)}
	s.Xattrs, s.Links = xattrs, uint64(st.Nlink)
	if st.Nlink > 1 {
		s.orig, keep = f, true
	}
	return s, nil
}

// Close releases the file a snapshot of a hard-linked file holds open;
// nil-safe, and the snapshot still restores (its bytes, not its inode).
func (s *Snapshot) Close() {
	if s.orig != nil {
		s.orig.Close()
		s.orig = nil
	}
}

// Restore puts the snapshot back, or removes a file that did not exist
// before.
//
// A file with one name is rewritten atomically (temp file with the old
// owner, attributes and mode, fsync, rename): the content, mode, owner and
// extended attributes are the old ones, the inode is new, which nothing
// can tell apart except by inode number. A file with other hard links
// gets its own inode back: written in place when it is still at Path, or
// linked back at Path (and renamed over whatever a write put there) when
// a rename replaced it, so every name shows the old file again.
func (s Snapshot) Restore() error {
	if !s.Exists {
		err := os.Remove(s.Path)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return SyncDir(filepath.Dir(s.Path))
	}
	if s.orig != nil {
		done, err := s.restoreLinked()
		if done || err == nil {
			return err
		}
		// The old inode could not be brought back: the content still
		// must be, as a file of its own.
		if werr := s.rewrite(); werr != nil {
			return errors.Join(err, werr)
		}
		return fmt.Errorf("restored the content, mode, owner and attributes of %s, but as a new file: its other hard links still point at the old one: %w", s.Path, err)
	}
	return s.rewrite()
}

// rewrite replaces Path atomically with the snapshot's bytes, owner,
// extended attributes and mode.
func (s Snapshot) rewrite() error {
	dir, err := os.Open(filepath.Dir(s.Path))
	if err != nil {
		return err
	}
	defer dir.Close()
	_, err = replaceAt(dir, filepath.Base(s.Path), s.Data, s.Mode, s.Owner, func(f *os.File) error {
		return setXattrs(int(f.Fd()), s.Xattrs)
	}, nil)
	return err
}

// restoreLinked puts the snapshot's own inode back at Path. done is true
// when the result is final (restored, or a failure rewrite cannot mend);
// false with an error means Path is not that inode and the caller should
// rewrite it instead.
func (s Snapshot) restoreLinked() (done bool, err error) {
	fd := int(s.orig.Fd())
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return false, err
	}
	if st.Nlink == 0 {
		// Every other name was removed meanwhile: there is no link left
		// to keep, and a new file is as good.
		return true, s.rewrite()
	}
	// The old inode's bytes: untouched when a rename replaced Path (the
	// usual case), changed when someone wrote in place.
	cur, err := io.ReadAll(io.NewSectionReader(s.orig, 0, 1<<62))
	if err != nil {
		return false, err
	}
	if !bytes.Equal(cur, s.Data) {
		// In place, through the same inode: not atomic, but the only way
		// that keeps the other names on this file.
		w, err := os.OpenFile("/proc/self/fd/"+strconv.Itoa(fd), os.O_WRONLY|os.O_TRUNC, 0)
		if err != nil {
			return false, err
		}
		_, err = w.Write(s.Data)
		if serr := w.Sync(); err == nil {
			err = serr
		}
		w.Close()
		if err != nil {
			return true, fmt.Errorf("rewrite %s in place: %w", s.Path, err)
		}
	}
	if err := s.orig.Chown(s.Owner.UID, s.Owner.GID); err != nil && (!errors.Is(err, fs.ErrPermission) || Euid() == 0) {
		return true, fmt.Errorf("set owner of %s: %w", s.Path, err)
	}
	// Attributes after chown (which drops security.capability), mode
	// after the attributes (a POSIX ACL sets the group bits).
	if err := setXattrs(fd, s.Xattrs); err != nil {
		return true, fmt.Errorf("restore the extended attributes of %s: %w", s.Path, err)
	}
	if err := s.orig.Chmod(s.Mode); err != nil {
		return true, fmt.Errorf("set mode of %s: %w", s.Path, err)
	}
	var at unix.Stat_t
	if unix.Lstat(s.Path, &at) == nil && at.Dev == st.Dev && at.Ino == st.Ino {
		return true, SyncDir(filepath.Dir(s.Path)) // still in place
	}
	// Path holds another file (a write renamed it there): link the old
	// inode under a temp name next to it, then rename that over Path, so
	// Path is never missing. /proc/self/fd with AT_SYMLINK_FOLLOW links
	// an open file without CAP_DAC_READ_SEARCH (which AT_EMPTY_PATH needs).
	dir := filepath.Dir(s.Path)
	var tmp string
	for range 10 {
		tmp = filepath.Join(dir, "."+filepath.Base(s.Path)+strconv.FormatUint(rand.Uint64(), 10))
		err = unix.Linkat(unix.AT_FDCWD, "/proc/self/fd/"+strconv.Itoa(fd), unix.AT_FDCWD, tmp, unix.AT_SYMLINK_FOLLOW)
		if !errors.Is(err, unix.EEXIST) {
			break
		}
	}
	if err != nil {
		// Content, owner, mode and attributes of the old inode are right;
		// only Path is not it yet, which rewrite does.
		return false, fmt.Errorf("link the old file back at %s: %w", s.Path, err)
	}
	if err := os.Rename(tmp, s.Path); err != nil {
		os.Remove(tmp)
		return false, fmt.Errorf("link the old file back at %s: %w", s.Path, err)
	}
	return true, SyncDir(dir)
}

// listXattrs reads every extended attribute of the open file fd; nil when
// it has none or the filesystem keeps none. The names an unprivileged
// process cannot read (trusted.*) are not listed to it.
func listXattrs(fd int) (map[string][]byte, error) {
	var names []byte
	for {
		n, err := unix.Flistxattr(fd, nil)
		if errors.Is(err, unix.ENOTSUP) || errors.Is(err, unix.EOPNOTSUPP) {
			return nil, nil
		}
		if err != nil || n == 0 {
			return nil, err
		}
		names = make([]byte, n)
		n, err = unix.Flistxattr(fd, names)
		if errors.Is(err, unix.ERANGE) {
			continue // an attribute was added meanwhile
		}
		if err != nil {
			return nil, err
		}
		names = names[:n]
		break
	}
	out := map[string][]byte{}
	for _, name := range bytes.Split(bytes.TrimSuffix(names, []byte{0}), []byte{0}) {
		if len(name) == 0 {
			continue
		}
		v, err := getXattr(fd, string(name))
		if errors.Is(err, unix.ENODATA) {
			continue // removed meanwhile
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		out[string(name)] = v
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

func getXattr(fd int, name string) ([]byte, error) {
	for {
		n, err := unix.Fgetxattr(fd, name, nil)
		if err != nil {
			return nil, err
		}
		v := make([]byte, n)
		n, err = unix.Fgetxattr(fd, name, v)
		if errors.Is(err, unix.ERANGE) {
			continue
		}
		if err != nil {
			return nil, err
		}
		return v[:n], nil
	}
}

// setXattrs makes fd's extended attributes exactly want: each one set,
// and any other removed (a new file can inherit a default ACL or a
// default SELinux label). An unprivileged run cannot set trusted.* or
// security.* and is not asked to (it could not read them either).
func setXattrs(fd int, want map[string][]byte) error {
	have, err := listXattrs(fd)
	if err != nil {
		return err
	}
	for name := range have {
		if _, ok := want[name]; ok {
			continue
		}
		if err := unix.Fremovexattr(fd, name); err != nil && !errors.Is(err, unix.ENODATA) && !(errors.Is(err, unix.EPERM) && Euid() != 0) {
			return fmt.Errorf("remove %s: %w", name, err)
		}
	}
	for name, v := range want {
		if old, ok := have[name]; ok && bytes.Equal(old, v) {
			continue
		}
		if err := unix.Fsetxattr(fd, name, v, 0); err != nil {
			if errors.Is(err, unix.EPERM) && Euid() != 0 {
				continue
			}
			return fmt.Errorf("set %s: %w", name, err)
		}
	}
	return nil
}
