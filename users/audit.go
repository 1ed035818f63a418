package users

import (
	"encoding/json"
	"log/syslog"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/pfwdctl/pfwdctl/internal/fail"
)

// AuditLogPath is the host path of the audit log.
const AuditLogPath = "/var/log/pfwdctl/audit.jsonl"

// Audit actions.
const (
	ActionUserCreate = "user-create"
	ActionUserFix    = "user-fix"
	ActionKeyAdd     = "key-add"
	ActionKeyUpdate  = "key-update"
	ActionKeyRevoke  = "key-revoke"
	ActionKeyPrune   = "key-prune"
	ActionKillSess   = "session-kill"
)

// Event is one audit log line.
type Event struct {
	Time        time.Time `json:"time"`
	Action      string    `json:"action"`
	Account     string    `json:"account"`
	Fingerprint string    `json:"fingerprint,omitempty"`
	Name        string    `json:"name,omitempty"`
	Options     string    `json:"options,omitempty"`
	Detail      string    `json:"detail,omitempty"`
	Admin       string    `json:"admin"`
}

// audit appends events to the log (0600, one JSON object per line, fsynced)
// and sends each to syslog. It runs under the pfwdctl lock, so lines from
// concurrent runs never interleave.
func (h Host) audit(events ...Event) error {
	if len(events) == 0 {
		return nil
	}
	var buf []byte
	for i := range events {
		e := &events[i]
		if e.Time.IsZero() {
			e.Time = h.now()
		}
		e.Time = e.Time.UTC().Truncate(time.Second)
		if e.Admin == "" {
			e.Admin = h.admin()
		}
		b, err := json.Marshal(e)
		if err != nil {
			return err
		}
		buf = append(append(buf, b...), '\n')
		h.syslog(string(b))
	}
	p := h.auditPath()
	if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
		return fail.Wrap(fail.Failed, err, "", "create %s", filepath.Dir(AuditLogPath))
	}
	// O_NOFOLLOW: a symlink planted at the log's path must not turn the
	// append (and the chmod below) onto another file, such as one outside
	// a --root tree.
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND|os.O_CREATE|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return fail.Wrap(fail.Failed, err, "", "open %s", AuditLogPath)
	}
	defer f.Close()
	// O_CREATE's mode passes through the umask and says nothing about an
	// existing file; the log names fingerprints and admins, so keep it 0600.
	if err := f.Chmod(0o600); err != nil {
		return fail.Wrap(fail.Failed, err, "", "chmod %s", AuditLogPath)
	}
	if _, err := f.Write(buf); err != nil {
		return fail.Wrap(fail.Failed, err, "", "append to %s", AuditLogPath)
	}
	return f.Sync()
}

// auditPath is where the audit log is on disk.
func (h Host) auditPath() string {
	if h.AuditLog != "" {
		return h.AuditLog
	}
	return h.Root.Path(AuditLogPath)
}

func (h Host) syslog(line string) {
	if h.Syslog != nil {
		h.Syslog(line)
		return
	}
	if !h.Root.IsHost() {
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

// ReadAudit returns the audit log's events, oldest first.
func ReadAudit(h Host) ([]Event, error) {
	data, err := os.ReadFile(h.auditPath())
	if err != nil {
		return nil, err
	}
	var out []Event
	for _, l := range splitLines(data) {
		if l == "" {
			continue
		}
		var e Event
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			return out, err
		}
		out = append(out, e)
	}
	return out, nil
}
