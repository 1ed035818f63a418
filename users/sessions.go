package users

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// Session is one sshd process serving the account: with privilege
// separation each authenticated connection has one sshd child running as
// the account ("sshd: pfwd@notty" for a tunnel).
type Session struct {
	PID     int    `json:"pid"`
	Command string `json:"command"`
}

// SessionFinder lists and ends an account's sessions.
type SessionFinder interface {
	Find(ctx context.Context, a Account) ([]Session, error)
	Kill(ctx context.Context, s Session) error
}

// ProcSessions scans a /proc tree for sshd processes whose real uid is the
// account's. Dir is "/proc" on a real host; tests point it at a fake tree.
type ProcSessions struct {
	Dir string
	// KillFunc ends one process; nil: SIGTERM (sshd then closes the
	// connection and the client's tunnel ends).
	KillFunc func(pid int) error
}

// Find implements SessionFinder.
func (p ProcSessions) Find(_ context.Context, a Account) ([]Session, error) {
	dir := p.Dir
	if dir == "" {
		dir = "/proc"
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []Session
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		comm, err := os.ReadFile(filepath.Join(dir, e.Name(), "comm"))
		if err != nil || strings.TrimSpace(string(comm)) != "sshd" {
			continue
		}
		status, err := os.ReadFile(filepath.Join(dir, e.Name(), "status"))
		if err != nil || procUID(status) != a.UID {
			continue
		}
		cmd, _ := os.ReadFile(filepath.Join(dir, e.Name(), "cmdline"))
		out = append(out, Session{PID: pid, Command: strings.TrimSpace(string(bytes.ReplaceAll(cmd, []byte{0}, []byte{' '})))})
	}
	return out, nil
}

// procUID returns the real uid from /proc/PID/status ("Uid: real eff ...").
func procUID(status []byte) int {
	for _, l := range strings.Split(string(status), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "Uid:" {
			if n, err := strconv.Atoi(f[1]); err == nil {
				return n
			}
		}
	}
	return -1
}

// Kill implements SessionFinder.
func (p ProcSessions) Kill(_ context.Context, s Session) error {
	if p.KillFunc != nil {
		return p.KillFunc(s.PID)
	}
	return syscall.Kill(s.PID, syscall.SIGTERM)
}

// sessions finds the account's sessions; only meaningful on the running
// host (a --root tree has no processes).
func (h Host) sessions(ctx context.Context, a Account) ([]Session, bool) {
	f := h.Sessions
	if f == nil {
		if !h.Root.IsHost() {
			return nil, false
		}
		f = ProcSessions{}
	}
	s, err := f.Find(ctx, a)
	if err != nil {
		return nil, false
	}
	return s, true
}
