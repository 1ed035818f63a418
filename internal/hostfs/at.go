package hostfs

import (
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// OpenDir opens a directory without following a symlink in its last
// component. Writing through the returned handle (WriteFileAt) keeps
// writing into the directory that was checked, even if someone swaps the
// path for a symlink afterwards: the check and the write cannot drift apart.
func OpenDir(path string) (*os.File, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: symlinkErr(unix.AT_FDCWD, path, err)}
	}
	return os.NewFile(uintptr(fd), path), nil
}

// OpenDirAt opens name inside dir the same way (no symlink followed).
func OpenDirAt(dir *os.File, name string) (*os.File, error) {
	fd, err := unix.Openat(int(dir.Fd()), name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: dir.Name() + "/" + name, Err: symlinkErr(int(dir.Fd()), name, err)}
	}
	return os.NewFile(uintptr(fd), dir.Name()+"/"+name), nil
}

// OpenFileAt opens the regular file name inside dir for reading, refusing a
// symlink (and, thanks to O_NONBLOCK, never hanging on a FIFO).
func OpenFileAt(dir *os.File, name string) (*os.File, error) {
	fd, err := unix.Openat(int(dir.Fd()), name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: dir.Name() + "/" + name, Err: symlinkErr(int(dir.Fd()), name, err)}
	}
	return os.NewFile(uintptr(fd), dir.Name()+"/"+name), nil
}

// ErrSymlink is what the Open* functions return, wrapped, when the last
// component is a symlink.
var ErrSymlink = errors.New("is a symlink; pfwdctl does not write through symlinks")

// symlinkErr turns O_NOFOLLOW's ELOOP, or O_DIRECTORY's ENOTDIR for a
// symlink, into ErrSymlink.
func symlinkErr(dirfd int, name string, err error) error {
	if errors.Is(err, unix.ELOOP) || errors.Is(err, unix.ENOTDIR) {
		var st unix.Stat_t
		if unix.Fstatat(dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW) == nil && st.Mode&unix.S_IFMT == unix.S_IFLNK {
			return ErrSymlink
		}
	}
	return err
}

// WriteFileAt is WriteFile for a file in a directory opened with OpenDir:
// a dot-named temp file in dir, owner and mode set on it, write, fsync,
// rename over name, fsync dir, all relative to the handle so no path is
// looked up again after the caller checked it.
func WriteFileAt(dir *os.File, name string, data []byte, mode fs.FileMode, owner Owner) error {
	_, err := ReplaceFileAt(dir, name, data, mode, owner, nil)
	return err
}

// ReplaceFileAt is WriteFileAt with a last look before the rename:
// unchanged, when set, runs after the temp file is written and synced,
// immediately before it replaces name, so the slow part of the write (a
// file of megabytes) lies before the check, not between the check and the
// rename. An error from it leaves name untouched, removes the temp file
// and is returned as is. It is how a caller that read name refuses to put
// back a file someone else changed meanwhile (a lost update).
//
// It returns the new file's state as fstat saw it after the rename (the
// rename itself updates its ctime), so the caller can check a later
// write against its own.
func ReplaceFileAt(dir *os.File, name string, data []byte, mode fs.FileMode, owner Owner, unchanged func() error) (fs.FileInfo, error) {
	return replaceAt(dir, name, data, mode, owner, nil, unchanged)
}

// replaceAt is ReplaceFileAt; prepare, when set, runs on the temp file
// after its owner is set and before its mode is (Restore puts the
// extended attributes back there: after chown, which drops
// security.capability, and before chmod, since a POSIX ACL sets the group
// bits).
func replaceAt(dir *os.File, name string, data []byte, mode fs.FileMode, owner Owner, prepare func(*os.File) error, unchanged func() error) (_ fs.FileInfo, err error) {
	dfd := int(dir.Fd())
	display := dir.Name() + "/" + name
	var tmp string
	var fd int
	for range 10 {
		tmp = "." + name + strconv.FormatUint(rand.Uint64(), 10)
		fd, err = unix.Openat(dfd, tmp, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, uint32(mode.Perm()))
		if !errors.Is(err, unix.EEXIST) {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("create temp file next to %s: %w", display, err)
	}
	f := os.NewFile(uintptr(fd), tmp)
	renamed := false
	defer func() {
		f.Close()
		if !renamed {
			unix.Unlinkat(dfd, tmp, 0)
		}
	}()
	if owner.UID >= 0 || owner.GID >= 0 {
		if err := f.Chown(owner.UID, owner.GID); err != nil {
			if !errors.Is(err, fs.ErrPermission) || Euid() == 0 {
				return nil, fmt.Errorf("set owner of %s: %w", display, err)
			}
			// As in WriteFile: an unprivileged run keeps the caller's owner.
		}
	}
	if prepare != nil {
		if err := prepare(f); err != nil {
			return nil, fmt.Errorf("%s: %w", display, err)
		}
	}
	if err := f.Chmod(mode); err != nil {
		return nil, fmt.Errorf("set mode of %s: %w", display, err)
	}
	if _, err := f.Write(data); err != nil {
		return nil, fmt.Errorf("write %s: %w", display, err)
	}
	if err := f.Sync(); err != nil {
		return nil, fmt.Errorf("fsync %s: %w", display, err)
	}
	if unchanged != nil {
		if err := unchanged(); err != nil {
			return nil, err
		}
	}
	if err := unix.Renameat(dfd, tmp, dfd, name); err != nil {
		return nil, fmt.Errorf("replace %s: %w", display, err)
	}
	renamed = true
	if err := dir.Sync(); err != nil {
		return nil, fmt.Errorf("fsync %s: %w", dir.Name(), err)
	}
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("check %s: %w", display, err)
	}
	return fi, nil
}
