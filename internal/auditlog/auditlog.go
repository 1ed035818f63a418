// Package auditlog is pfwdctl's record of every change it makes to a host:
// one JSON object per line in /var/log/pfwdctl/audit.jsonl (under --root,
// inside the tree), a copy of each line to syslog on the running system.
// Every changing command (user create, add-key, revoke, prune, apply) writes
// through it; docs/audit-log.md documents the format.
//
// It only ever appends: it never rewrites, truncates or rotates the log, and
// it never follows a symlink at the log's path. Callers append under the
// pfwdctl lock, so lines from concurrent runs never interleave.
package auditlog

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/syslog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/pfwdctl/pfwdctl/internal/fail"
	"github.com/pfwdctl/pfwdctl/internal/hostfs"
)

// Path is the host path of the audit log.
const Path = "/var/log/pfwdctl/audit.jsonl"

// Actions, one per kind of change.
const (
	ActionUserCreate = "user-create"
	ActionUserFix    = "user-fix"
	ActionUserDelete = "user-delete"
	ActionKeyAdd     = "key-add"
	ActionKeyUpdate  = "key-update"
	ActionKeyRevoke  = "key-revoke"
	ActionKeyPrune   = "key-prune"
	ActionKillSess   = "session-kill"
	// ActionDropIn is apply installing (creating or updating) one drop-in
	// that sshd -t accepted.
	ActionDropIn = "dropin-install"
	// ActionDropInRollback is apply putting one drop-in back after sshd -t
	// rejected the new configuration (or a write failed).
	ActionDropInRollback = "dropin-rollback"
	// ActionDropInRemove is pfwdctl remove taking one drop-in out (or
	// sshd_config's managed blocks, or the Include line apply added).
	ActionDropInRemove = "dropin-remove"
)

// Event is one audit log line.
type Event struct {
	Time        time.Time `json:"time"`
	Action      string    `json:"action"`
	Account     string    `json:"account"`
	Fingerprint string    `json:"fingerprint,omitempty"`
	Name        string    `json:"name,omitempty"`
	Options     string    `json:"options,omitempty"`
	// Path, Before and After describe a file change (apply's drop-ins):
	// the host path and its content's sha256 (hex) before and after the
	// change; empty when the file did not exist on that side.
	Path   string `json:"path,omitempty"`
	Before string `json:"before_sha256,omitempty"`
	After  string `json:"after_sha256,omitempty"`
	Detail string `json:"detail,omitempty"`
	Admin  string `json:"admin"`
	// Request, Requester, Reason and the window tie a just-in-time grant's
	// lines together (internal/jit): the request id, who asked (Admin is
	// who decided), why, and when the access starts and ends.
	Request     string    `json:"request,omitempty"`
	Requester   string    `json:"requester,omitempty"`
	Reason      string    `json:"reason,omitempty"`
	WindowStart time.Time `json:"window_start,omitzero"`
	WindowEnd   time.Time `json:"window_end,omitzero"`
	// ID and Status tie the lines of one change recorded intent-first
	// (Begin): "intent" before the change, then "done" or "aborted" with
	// the same id. An intent with no later line of its id is a run killed
	// mid-change (Interrupted). Lines without a status are complete.
	ID     string `json:"id,omitempty"`
	Status string `json:"status,omitempty"`
}

// Statuses of a change recorded intent-first.
const (
	StatusIntent  = "intent"
	StatusDone    = "done"
	StatusAborted = "aborted"
)

// Hash is the value of Event.Before/After for a file's content: its sha256
// in hex, or "" for a file that does not exist (exists false).
func Hash(data []byte, exists bool) string {
	if !exists {
		return ""
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// Log is where events go, with everything taken from the outside world
// injectable for tests.
type Log struct {
	Root hostfs.Root
	// File, when set, is the log's real path (not under Root): the
	// end-to-end tests that change this host keep their lines in a temp
	// dir instead of the host's /var/log. Empty: Path under Root.
	File   string
	Now    func() time.Time    // nil: time.Now
	Getenv func(string) string // nil: os.Getenv; SUDO_USER names the admin
	// Syslog receives each line; nil: the system's syslog when Root is the
	// host and one is listening. Tests pass a func to capture or drop.
	Syslog func(line string)
}

// file is where the log is on disk.
func (l Log) file() string {
	if l.File != "" {
		return l.File
	}
	return l.Root.Path(Path)
}

// Admin names who made a change: the sudo caller, else the uid.
func (l Log) Admin() string {
	getenv := l.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	if u := getenv("SUDO_USER"); u != "" {
		return u
	}
	return "uid " + strconv.Itoa(os.Getuid())
}

// Append writes events to the log (0600, one JSON object per line,
// fsynced) and sends each to syslog. Time and Admin are filled in when
// empty.
func (l Log) Append(events ...Event) error {
	if len(events) == 0 {
		return nil
	}
	now := l.Now
	if now == nil {
		now = time.Now
	}
	var buf []byte
	var lines []string
	for i := range events {
		e := &events[i]
		if e.Time.IsZero() {
			e.Time = now()
		}
		e.Time = e.Time.UTC().Truncate(time.Second)
		if e.Admin == "" {
			e.Admin = l.Admin()
		}
		b, err := json.Marshal(e)
		if err != nil {
			return err
		}
		buf = append(append(buf, b...), '\n')
		lines = append(lines, string(b))
	}
	p := l.file()
	if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
		return fail.Wrap(fail.Failed, err, "", "create %s", filepath.Dir(Path))
	}
	// O_NOFOLLOW: a symlink planted at the log's path must not turn the
	// append (and the chmod below) onto another file, such as one outside
	// a --root tree.
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND|os.O_CREATE|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return fail.Wrap(fail.Failed, err, "", "open %s", Path)
	}
	defer f.Close()
	// O_CREATE's mode passes through the umask and says nothing about an
	// existing file; the log names fingerprints and admins, so keep it 0600.
	if err := f.Chmod(0o600); err != nil {
		return fail.Wrap(fail.Failed, err, "", "chmod %s", Path)
	}
	if _, err := f.Write(buf); err != nil {
		return fail.Wrap(fail.Failed, err, "", "append to %s", Path)
	}
	if err := f.Sync(); err != nil {
		return fail.Wrap(fail.Failed, err, "", "fsync %s", Path)
	}
	for _, line := range lines {
		l.syslog(line)
	}
	return nil
}

// Change is a change whose intent is in the log; Done or Abort completes
// its record.
type Change struct {
	log    Log
	id     string
	events []Event
}

// Begin records events as the intent of a change about to be made, before
// it is made: a run killed between the change and its record still leaves
// the intent, so no change goes unrecorded. A caller that cannot record
// the intent must not make the change.
func (l Log) Begin(events ...Event) (*Change, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, err
	}
	c := &Change{log: l, id: hex.EncodeToString(b[:])}
	for _, e := range events {
		e.ID, e.Status = c.id, StatusIntent
		c.events = append(c.events, e)
	}
	if err := l.Append(c.events...); err != nil {
		return nil, err
	}
	return c, nil
}

// Done records that the change was made. events, when given, are what was
// made (apply's sha256 after sshd -t, say); none repeats the intent.
func (c *Change) Done(events ...Event) error {
	return c.finish(StatusDone, "", events)
}

// Abort records that the change was not made (or was put back), and why.
func (c *Change) Abort(cause error, events ...Event) error {
	return c.finish(StatusAborted, OneLine(cause.Error()), events)
}

func (c *Change) finish(status, why string, events []Event) error {
	if c == nil {
		return nil
	}
	if len(events) == 0 {
		events = c.events
	}
	out := make([]Event, len(events))
	for i, e := range events {
		e.Time, e.ID, e.Status = time.Time{}, c.id, status
		if why != "" && !strings.Contains(e.Detail, why) {
			e.Detail = strings.TrimPrefix(e.Detail+"; not made: "+why, "; ")
		}
		out[i] = e
	}
	return c.log.Append(out...)
}

// Interrupted returns the intents in events that no later line of the same
// id completes: changes a killed run may or may not have made.
func Interrupted(events []Event) []Event {
	closed := map[string]bool{}
	for _, e := range events {
		if e.ID != "" && e.Status != StatusIntent {
			closed[e.ID] = true
		}
	}
	var out []Event
	for _, e := range events {
		if e.Status == StatusIntent && !closed[e.ID] {
			out = append(out, e)
		}
	}
	return out
}

// Completed drops the intent lines: one line per change made (or put
// back), as a reader counting changes wants them.
func Completed(events []Event) []Event {
	var out []Event
	for _, e := range events {
		if e.Status != StatusIntent {
			out = append(out, e)
		}
	}
	return out
}

// OneLine keeps a multi-line error (sshd's own words) on one log line.
func OneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", "; ")), " ")
}

func (l Log) syslog(line string) {
	if l.Syslog != nil {
		l.Syslog(line)
		return
	}
	if !l.Root.IsHost() {
		return
	}
	// No syslog daemon (containers, minimal hosts) is normal: the file is
	// the record, syslog is a copy.
	w, err := syslog.New(syslog.LOG_AUTHPRIV|syslog.LOG_NOTICE, "pfwdctl")
	if err != nil {
		return
	}
	defer w.Close()
	w.Notice(line)
}

// Read returns the log's events, oldest first.
func (l Log) Read() ([]Event, error) {
	// Not through a symlink, as Append: under --root it could lead out of
	// the tree.
	f, err := os.OpenFile(l.file(), os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(f)
	if err != nil {
		return nil, err
	}
	var out []Event
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var e Event
		if err := json.Unmarshal(line, &e); err != nil {
			return out, err
		}
		out = append(out, e)
	}
	return out, sc.Err()
}
