package hostfs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// LockPath is the host path of the lock every changing pfwdctl run holds.
const LockPath = "/run/pfwdctl.lock"

// LockWait is how long a change waits for a concurrent pfwdctl run to
// finish before giving up; Lock(0) waits this long.
const LockWait = 30 * time.Second

// ErrLocked means another pfwdctl run held the lock for the whole wait.
var ErrLocked = errors.New("another pfwdctl run is changing this host")

// Lock takes the exclusive pfwdctl lock under the root, waiting up to wait
// (0: LockWait) for a concurrent run to finish. One lock for every change keeps the rules
// simple: two runs never interleave, whatever files they touch. flock is
// released by the kernel if the process dies, so a kill -9 leaves no stale
// lock behind.
func (r Root) Lock(wait time.Duration) (unlock func(), err error) {
	p := r.Path(LockPath)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return nil, fmt.Errorf("create lock directory: %w", err)
	}
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock %s: %w", p, err)
	}
	if wait <= 0 {
		wait = LockWait
	}
	deadline := time.Now().Add(wait)
	for {
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			return func() { unix.Flock(int(f.Fd()), unix.LOCK_UN); f.Close() }, nil
		}
		if !errors.Is(err, unix.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", p, err)
		}
		if time.Now().After(deadline) {
			f.Close()
			return nil, fmt.Errorf("%w (lock %s held for over %s)", ErrLocked, r.HostPath(p), wait)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
