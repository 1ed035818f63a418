package users

import (
	"context"

	"github.com/pfwdctl/pfwdctl/internal/sshd"
)

// Session is one sshd process serving the account: with privilege
// separation each authenticated connection has one sshd child running as
// the account ("sshd: pfwd@notty" for a tunnel; see sshd.Procs).
type Session struct {
	PID     int    `json:"pid"`
	Command string `json:"command"`
}

// SessionFinder lists and ends an account's sessions.
type SessionFinder interface {
	Find(ctx context.Context, a Account) ([]Session, error)
	Kill(ctx context.Context, s Session) error
}

// ProcSessions is the SessionFinder of the running host: sshd.Procs finds
// the sshd processes running as the account (sshd, sshd-session, sshd-auth)
// and ends one only while it is still sshd's.
type ProcSessions struct {
	// Dir is the /proc tree; empty: /proc. Tests point it at a fake tree.
	Dir string
	// KillFunc ends one process; nil: SIGTERM through sshd.Procs (sshd
	// then closes the connection and the client's tunnel ends).
	KillFunc func(pid int) error
}

// Find implements SessionFinder.
func (p ProcSessions) Find(_ context.Context, a Account) ([]Session, error) {
	procs, err := sshd.Procs{Dir: p.Dir}.OfUser(a.UID)
	if err != nil {
		return nil, err
	}
	var out []Session
	for _, pr := range procs {
		out = append(out, Session{PID: pr.PID, Command: pr.Command})
	}
	return out, nil
}

// Kill implements SessionFinder.
func (p ProcSessions) Kill(_ context.Context, s Session) error {
	if p.KillFunc != nil {
		return p.KillFunc(s.PID)
	}
	return sshd.Procs{Dir: p.Dir}.Terminate(s.PID)
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
