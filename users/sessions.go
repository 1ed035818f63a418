package users

import (
	"context"
	"fmt"
	"maps"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pfwdctl/pfwdctl/internal/fail"
	"github.com/pfwdctl/pfwdctl/internal/sshlog"

	"github.com/pfwdctl/pfwdctl/internal/sshd"
)

// Session is one sshd process serving the account: with privilege
// separation each authenticated connection has one sshd child running as
// the account ("sshd: pfwd@notty" for a tunnel; see sshd.Procs).
type Session struct {
	// Account is the account the session process runs as.
	Account string `json:"account,omitempty"`
	PID     int    `json:"pid"`
	Command string `json:"command"`
	// PPID is the connection's privileged monitor: the pid sshd logs
	// the login under (Attribute joins on it).
	PPID int `json:"ppid,omitempty"`
	// Fingerprint, Addr, Port and Since say which key logged in, from
	// where and when, as sshd logged it (LogLevel VERBOSE); empty when
	// the log does not say (Host.Attribute).
	Fingerprint string    `json:"fingerprint,omitempty"`
	Addr        string    `json:"addr,omitempty"`
	Port        int       `json:"port,omitempty"`
	Since       time.Time `json:"since,omitempty"`
	// CertID and CertSerial name the certificate the session logged in
	// with (pfwdctl ca sign: the friend's name and the serial), as sshd
	// logged it; zero for a plain key.
	CertID     string `json:"cert_id,omitempty"`
	CertSerial uint64 `json:"cert_serial,omitempty"`
	// CertCA is the fingerprint of the CA that signed that certificate.
	CertCA string `json:"cert_ca,omitempty"`
	// Refused are the forwards sshd refused this connection so far (a
	// sign of probing).
	Refused []string `json:"refused,omitempty"`
}

// Attribute fills in, for each session, the key and source sshd logged
// for its connection (cmd passes one over sshd's log: internal/sshlog).
type Attribute func(ctx context.Context, sess []Session) []Session

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
		out = append(out, Session{PID: pr.PID, Command: pr.Command, PPID: pr.PPID})
	}
	return out, nil
}

// Kill implements SessionFinder: the session process, which serves the
// connection (sshd logs nothing at VERBOSE when it ends this way: pfwdctl's
// audit log records the kill, and sessions --history reads it).
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
	for i := range s {
		s[i].Account = a.Name
	}
	if h.Attribute != nil {
		s = h.Attribute(ctx, s)
	}
	return s, true
}

// OpenSessions lists the account's open sessions with the key each
// logged in with, where sshd's log says (Attribute).
func (h Host) OpenSessions(ctx context.Context, user string) ([]Session, error) {
	a, err := h.account(user)
	if err != nil {
		return nil, err
	}
	s, known := h.sessions(ctx, a)
	if !known {
		return nil, fail.New(fail.Failed, "run pfwdctl sessions on the host itself (not under --root), as root", "cannot list the sessions of %s", user)
	}
	return s, nil
}

// KillSessions ends the account's sessions that pick selects, one audit
// log line each (intent first), and returns the ones ended and kept.
func (h Host) KillSessions(ctx context.Context, user string, pick func(Session) bool) (killed, kept []Session, err error) {
	a, err := h.account(user)
	if err != nil {
		return nil, nil, err
	}
	sess, known := h.sessions(ctx, a)
	if !known {
		return nil, nil, fail.New(fail.Failed, "run it on the host itself (not under --root), as root", "cannot list the sessions of %s", user)
	}
	var chosen []Session
	for _, s := range sess {
		if pick(s) {
			chosen = append(chosen, s)
		} else {
			kept = append(kept, s)
		}
	}
	killed, warns, err := h.kill(ctx, a, chosen)
	if err == nil && len(warns) > 0 {
		err = fail.New(fail.Failed, "", "%s", strings.Join(warns, "; "))
	}
	return killed, kept, err
}

// kill ends sess, intent first in the audit log.
func (h Host) kill(ctx context.Context, a Account, sess []Session) (killed []Session, warns []string, err error) {
	if len(sess) == 0 {
		return nil, nil, nil
	}
	f := h.Sessions
	if f == nil {
		f = ProcSessions{}
	}
	var intents []Event
	for _, s := range sess {
		d := fmt.Sprintf("pid %d", s.PID)
		if s.Addr != "" {
			d += fmt.Sprintf(" from %s port %d", s.Addr, s.Port)
		}
		if s.CertID != "" {
			d += fmt.Sprintf(" certificate %s serial %d", strconv.Quote(s.CertID), s.CertSerial)
		}
		if h.KillReason != "" {
			d += " (" + h.KillReason + ")"
		}
		intents = append(intents, Event{Action: ActionKillSess, Account: a.Name, Fingerprint: s.Fingerprint, Detail: d})
	}
	c, err := h.begin(intents...)
	if err != nil {
		return nil, nil, err
	}
	var sent []int
	for i, s := range sess {
		if err := f.Kill(ctx, s); err != nil {
			warns = append(warns, fmt.Sprintf("could not end session %d: %v", s.PID, err))
			continue
		}
		sent = append(sent, i)
	}
	// "Ended" is said of a session seen gone, not of a signal sent.
	alive := waitGone(ctx, f, a, sess, sent)
	var events []Event
	for _, i := range sent {
		if alive[sess[i].PID] {
			warns = append(warns, fmt.Sprintf("session %d was signalled but is still running", sess[i].PID))
			continue
		}
		killed = append(killed, sess[i])
		events = append(events, intents[i])
	}
	if len(killed) > 0 {
		err = c.Done(events...)
	} else {
		err = c.Abort(fmt.Errorf("no session could be ended"))
	}
	if err != nil {
		warns = append(warns, "the audit log was not completed: "+err.Error())
	}
	return killed, warns, nil
}

// sessionGoneWait bounds how long kill waits to see a signalled session
// end (sshd closes the connection at once on SIGTERM).
var sessionGoneWait = 5 * time.Second

// waitGone waits until the signalled sessions (sess[i] for i in sent) no
// longer run as the account, and returns the pids still running (all of
// them when the account's sessions cannot be listed: unconfirmed).
func waitGone(ctx context.Context, f SessionFinder, a Account, sess []Session, sent []int) map[int]bool {
	deadline := time.Now().Add(sessionGoneWait)
	for {
		alive := map[int]bool{}
		now, err := f.Find(ctx, a)
		for _, i := range sent {
			alive[sess[i].PID] = err != nil || slices.ContainsFunc(now, func(x Session) bool { return x.PID == sess[i].PID })
		}
		if !slices.Contains(slices.Collect(maps.Values(alive)), true) || time.Now().After(deadline) {
			return alive
		}
		select {
		case <-ctx.Done():
			return alive
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// LogSources are where sshd's log is read from (sshlog.Sources, or one
// file given with --log).
type LogSources func(ctx context.Context) ([]sshlog.Source, error)

// LogAttribute is the Attribute over sshd's log: each session gets the
// key, source and start of the open connection sshd logged under the
// session's monitor pid (its parent) or its own pid, or, where the log
// has no pids (sshd -E), under the address and port of one of the
// session's TCP peers (peers; nil: sshd.Procs.Peers). A log that cannot be read leaves the
// sessions as they are: they then carry no key, which callers treat as
// unknown, never as another friend's.
func LogAttribute(sources LogSources, now func() time.Time, peers func(pid int) []string) Attribute {
	if peers == nil {
		peers = sshd.Procs{}.Peers
	}
	return func(ctx context.Context, ss []Session) []Session {
		if len(ss) == 0 {
			return ss
		}
		open, err := OpenConnections(ctx, sources, now)
		if err != nil {
			return ss
		}
		// Joined by the connection's monitor pid (the session process's
		// parent) where the log has pids, and only then; by the client's
		// address and port only for lines without a pid (sshd -E). The
		// login must be the session's own account.
		byPID := map[int]sshlog.Connection{}
		byPeer := map[string]sshlog.Connection{}
		for _, c := range open {
			switch {
			case c.PID != 0:
				byPID[c.PID] = c
			case c.Addr != "":
				byPeer[net.JoinHostPort(c.Addr, strconv.Itoa(c.Port))] = c
			}
		}
		out := slices.Clone(ss)
		for i, s := range out {
			c, ok := byPID[s.PPID]
			for _, p := range peers(s.PID) {
				if !ok {
					c, ok = byPeer[p]
				}
			}
			if ok && c.Fingerprint != "" && !c.Ambiguous && (s.Account == "" || c.User == s.Account) {
				out[i].Fingerprint, out[i].Addr, out[i].Port, out[i].Since, out[i].Refused = c.Fingerprint, c.Addr, c.Port, c.Start, c.Refused
				out[i].CertID, out[i].CertSerial, out[i].CertCA = c.CertID, c.CertSerial, c.CertCA
			}
		}
		return out
	}
}

// OpenConnections streams sshd's log and returns the connections it shows
// still open; memory is bounded by those, not by the log's length.
func OpenConnections(ctx context.Context, sources LogSources, now func() time.Time) ([]sshlog.Connection, error) {
	srcs, err := sources(ctx)
	if err != nil {
		return nil, err
	}
	j := sshlog.NewJoiner()
	j.OnDone, j.OnFailure = func(sshlog.Connection) {}, func(sshlog.Event) {}
	for _, src := range srcs {
		if err := ScanLog(ctx, src, now, j.Add); err != nil {
			return nil, err
		}
	}
	return j.Open(), nil
}

// ScanLog streams one source's events to add.
func ScanLog(ctx context.Context, src sshlog.Source, now func() time.Time, add func(sshlog.Event)) error {
	rc, format, err := src.Open(ctx)
	if err != nil {
		return fail.Wrap(fail.Failed, err, "pass --log FILE with sshd's log", "read %s", src.Name)
	}
	defer rc.Close()
	sc := sshlog.NewScanner(rc, format, sshlog.Options{Now: now()})
	for {
		ev, ok := sc.Next()
		if !ok {
			break
		}
		add(ev)
	}
	if err := sc.Err(); err != nil {
		return fail.Wrap(fail.Failed, err, "", "read %s", src.Name)
	}
	return nil
}

// Kill is one session pfwdctl ended, from its audit log.
type Kill struct {
	Time        time.Time
	Account     string
	Fingerprint string
	Addr        string
	Port        int
}

// Kills are the sessions pfwdctl ended (done kill lines of its audit
// log): sshd logs nothing at VERBOSE when a session process is ended, so
// the history closes those connections from here.
func (h Host) Kills() ([]Kill, error) {
	evs, err := h.auditLog().Read()
	if err != nil {
		return nil, err
	}
	var out []Kill
	for _, e := range evs {
		if e.Action != ActionKillSess || e.Status == "intent" || e.Status == "aborted" {
			continue
		}
		k := Kill{Time: e.Time, Account: e.Account, Fingerprint: e.Fingerprint}
		var pid int
		if n, _ := fmt.Sscanf(e.Detail, "pid %d from %s port %d", &pid, &k.Addr, &k.Port); n == 3 {
			out = append(out, k)
		}
	}
	return out, nil
}
