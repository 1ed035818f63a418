// Package hostfs maps host paths under a root prefix (like rpm --root) and
// writes files the one safe way: atomically, durably, with owner and mode set
// before the new file becomes visible.
//
// Every host path pfwdctl reads or writes goes through a Root, so a test or an
// image build pointed at a temp directory can never touch the real /etc.
package hostfs

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/google/renameio/v2"
)

// Root is the directory that stands for "/" on the host. The zero value
// means the running system. A Root is only made by NewRoot (or MustRoot),
// which makes the directory absolute once: a relative root would be read
// relative to whatever directory each program runs in, and sshd resolves a
// relative Include against /etc/ssh, so `--root tree` once made sshd -t
// skip every drop-in and still say "accepts".
type Root struct{ dir string }

// NewRoot returns the root for dir, made absolute and cleaned. "" and "/"
// are the running system.
func NewRoot(dir string) (Root, error) {
	if dir == "" {
		return Root{}, nil
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return Root{}, fmt.Errorf("make --root %s absolute: %w", dir, err)
	}
	if abs == "/" {
		return Root{}, nil
	}
	return Root{dir: abs}, nil
}

// MustRoot is NewRoot for directories known to be usable (tests, temp
// dirs); it panics only if the working directory cannot be read.
func MustRoot(dir string) Root {
	r, err := NewRoot(dir)
	if err != nil {
		panic(err)
	}
	return r
}

// Dir is the root's absolute directory, "/" for the running system.
func (r Root) Dir() string {
	if r.dir == "" {
		return "/"
	}
	return r.dir
}

// String is Dir, for messages.
func (r Root) String() string { return r.Dir() }

// Path returns hostPath (an absolute path as seen on the host) under the
// root. Under a tree it is confined: a symlink in the tree (TREE/x -> /,
// a symlinked sshd_config.d or /var/log) is followed inside the tree, as
// if the tree were "/", never out of it (see confine).
func (r Root) Path(hostPath string) string {
	// Cleaning "/"+path first drops any leading "..", so no host path can
	// climb out of the root.
	hostPath = filepath.Clean("/" + hostPath)
	if r.IsHost() {
		return hostPath
	}
	return r.confine(hostPath)
}

// PathDir is Path for a directory that is read or written into by joining
// names to it: every component is resolved inside the root, the last one
// too, so a symlinked TREE/etc/ssh/sshd_config.d leads to a directory in
// the tree and never out of it.
func (r Root) PathDir(hostDir string) string {
	hostDir = filepath.Clean("/" + hostDir)
	if r.IsHost() {
		return hostDir
	}
	dir, ok := r.resolve(hostDir, 0)
	if !ok {
		return filepath.Join(r.dir, ".pfwdctl-symlink-loop", hostDir)
	}
	return filepath.Join(r.dir, dir)
}

// ReadFile reads the file at hostPath, following a symlink in any
// component (the last one too) inside the root: TREE/etc/localtime ->
// /usr/share/zoneinfo/X reads the tree's zone file, never the host's.
// Callers that must refuse a symlink open with O_NOFOLLOW instead.
func (r Root) ReadFile(hostPath string) ([]byte, error) {
	p := r.PathDir(hostPath)
	// O_NONBLOCK: a FIFO planted there must not hang the run (and its
	// lock); only a regular file is read.
	f, err := os.OpenFile(p, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, &fs.PathError{Op: "read", Path: p, Err: errors.New("not a regular file")}
	}
	return io.ReadAll(f)
}

// Stat is os.Stat of hostPath, every component resolved inside the root.
func (r Root) Stat(hostPath string) (fs.FileInfo, error) {
	return os.Stat(r.PathDir(hostPath))
}

// IsHost reports whether the root is the running system.
func (r Root) IsHost() bool { return r.dir == "" }

// HostPath turns a path under the root back into the host's view, for
// messages: "/tmp/x/etc/ssh/sshd_config" -> "/etc/ssh/sshd_config".
func (r Root) HostPath(p string) string {
	if r.IsHost() {
		return p
	}
	rel, err := filepath.Rel(r.dir, p)
	if err != nil || strings.HasPrefix(rel, "..") {
		return p
	}
	return "/" + rel
}

// Owner is a numeric owner for a file; -1 keeps the current process's.
type Owner struct{ UID, GID int }

// RootOwner is root:root.
var RootOwner = Owner{0, 0}

// WriteFile replaces path atomically: a temp file in the same directory
// (renameio names it with a leading dot, so an "Include *.conf" never reads
// it), chown and chmod on the temp file, write, fsync, rename, fsync the
// directory. A reader or a crash sees either the old file or the new one,
// never a torn one. renameio neither keeps the owner nor, unless told, the
// mode, so both are set explicitly here.
func WriteFile(path string, data []byte, mode fs.FileMode, owner Owner) error {
	dir := filepath.Dir(path)
	pf, err := renameio.NewPendingFile(path, renameio.WithTempDir(dir), renameio.WithStaticPermissions(mode))
	if err != nil {
		return fmt.Errorf("create temp file next to %s: %w", path, err)
	}
	defer pf.Cleanup()
	if owner.UID >= 0 || owner.GID >= 0 {
		if err := pf.Chown(owner.UID, owner.GID); err != nil {
			if !errors.Is(err, fs.ErrPermission) || Euid() == 0 {
				return fmt.Errorf("set owner of %s: %w", path, err)
			}
			// Unprivileged runs (tests, --root image builds as a user)
			// cannot give files away; the file keeps the caller's owner.
		}
	}
	if err := pf.Chmod(mode); err != nil {
		return fmt.Errorf("set mode of %s: %w", path, err)
	}
	if _, err := pf.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := pf.CloseAtomicallyReplace(); err != nil {
		return fmt.Errorf("replace %s: %w", path, err)
	}
	return SyncDir(dir)
}

// SyncDir fsyncs a directory so a rename or unlink in it survives a crash.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("fsync %s: %w", dir, err)
	}
	return nil
}
