package hostfs

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// maxHops bounds symlink resolution, like the kernel's 40 (ELOOP).
const maxHops = 40

// confine resolves hostPath (clean, absolute) inside the root the way the
// kernel's RESOLVE_IN_ROOT does: a symlink's absolute target and every ".."
// are taken relative to the root, so no symlink in the tree can lead out of
// it. Existing components are resolved by openat2 itself; a missing tail
// is appended as is, except that a dangling symlink among its components is
// still followed inside the root (a later write would follow it). On a
// kernel without openat2 the same walk is done in userspace, component by
// component with lstat and readlink. It returns the real path under the
// root directory.
//
// The last component is left as named: the callers that must not follow a
// symlink there (authorized_keys, a home, the audit log) open it with
// O_NOFOLLOW and refuse one, and WriteFile's rename replaces a symlink
// rather than writing through it.
func (r Root) confine(hostPath string) string {
	if hostPath == "/" {
		return r.dir
	}
	dir, ok := r.resolve(filepath.Dir(hostPath), 0)
	if !ok {
		// Too many hops: a loop. Name a path that cannot exist, so the
		// caller's open fails instead of going anywhere.
		return filepath.Join(r.dir, ".pfwdctl-symlink-loop", hostPath)
	}
	return filepath.Join(r.dir, dir, filepath.Base(hostPath))
}

// resolve returns the host path hostPath leads to inside the root.
func (r Root) resolve(hostPath string, hops int) (string, bool) {
	if hops > maxHops {
		return "", false
	}
	if hostPath == "/" {
		return "/", true
	}
	if p, err := r.kernelResolve(hostPath); err == nil {
		return p, true
	} else if !errors.Is(err, unix.ENOENT) && !errors.Is(err, unix.ENOTDIR) && !errors.Is(err, errNoOpenat2) {
		// Unreadable (EACCES) and the like: the caller's own open will
		// say so; resolve what can be resolved without the kernel.
		return r.walk(hostPath, hops)
	} else if errors.Is(err, errNoOpenat2) {
		return r.walk(hostPath, hops)
	}
	// Missing: resolve the parent, then look at the last component.
	parent, ok := r.resolve(filepath.Dir(hostPath), hops)
	if !ok {
		return "", false
	}
	return r.step(parent, filepath.Base(hostPath), hops)
}

// step appends name to the resolved directory parent, following it inside
// the root when it is a symlink.
func (r Root) step(parent, name string, hops int) (string, bool) {
	switch name {
	case ".":
		return parent, true
	case "..":
		return filepath.Dir(parent), true // Dir("/") is "/": no climbing out
	}
	p := filepath.Join(parent, name)
	real := filepath.Join(r.dir, p)
	fi, err := os.Lstat(real)
	if err != nil || fi.Mode()&os.ModeSymlink == 0 {
		return p, true
	}
	target, err := os.Readlink(real)
	if err != nil {
		return p, true
	}
	if !filepath.IsAbs(target) {
		target = filepath.Join(parent, target)
	}
	return r.resolve(filepath.Clean("/"+target), hops+1)
}

// walk is the userspace resolution, one component at a time.
func (r Root) walk(hostPath string, hops int) (string, bool) {
	cur := "/"
	for _, name := range strings.Split(strings.TrimPrefix(hostPath, "/"), "/") {
		if name == "" {
			continue
		}
		var ok bool
		if cur, ok = r.step(cur, name, hops); !ok {
			return "", false
		}
	}
	return cur, true
}

var errNoOpenat2 = errors.New("openat2 not available")

// noOpenat2 is set once the kernel said it has no openat2 (or a seccomp
// filter refused it), so the userspace walk is used from then on.
var noOpenat2 bool

// kernelResolve asks openat2(RESOLVE_IN_ROOT) where hostPath leads and
// reads the answer back from /proc/self/fd.
func (r Root) kernelResolve(hostPath string) (string, error) {
	if noOpenat2 {
		return "", errNoOpenat2
	}
	rootFd, err := unix.Open(r.dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", err
	}
	defer unix.Close(rootFd)
	fd, err := unix.Openat2(rootFd, strings.TrimPrefix(hostPath, "/"), &unix.OpenHow{
		Flags: unix.O_PATH | unix.O_CLOEXEC, Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS})
	if errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EPERM) {
		noOpenat2 = true
		return "", errNoOpenat2
	}
	if err != nil {
		return "", err
	}
	defer unix.Close(fd)
	realRoot, err1 := os.Readlink("/proc/self/fd/" + strconv.Itoa(rootFd))
	real, err2 := os.Readlink("/proc/self/fd/" + strconv.Itoa(fd))
	if err1 != nil || err2 != nil {
		noOpenat2 = true // no /proc: cannot read the answer back
		return "", errNoOpenat2
	}
	if real == realRoot {
		return "/", nil
	}
	rest, ok := strings.CutPrefix(real, realRoot+"/")
	if !ok || realRoot == "/" && !strings.HasPrefix(real, "/") {
		// The kernel keeps it inside; anything else is not believed.
		return "", errNoOpenat2
	}
	if realRoot == "/" {
		rest = strings.TrimPrefix(real, "/")
	}
	return "/" + rest, nil
}
