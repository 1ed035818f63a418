package users

import "github.com/pfwdctl/pfwdctl/internal/auditlog"

// The audit log lives in internal/auditlog, shared with apply; these names
// keep users' callers and tests reading as before.
const (
	AuditLogPath     = auditlog.Path
	ActionUserCreate = auditlog.ActionUserCreate
	ActionUserFix    = auditlog.ActionUserFix
	ActionKeyAdd     = auditlog.ActionKeyAdd
	ActionKeyUpdate  = auditlog.ActionKeyUpdate
	ActionKeyRevoke  = auditlog.ActionKeyRevoke
	ActionKeyPrune   = auditlog.ActionKeyPrune
	ActionKillSess   = auditlog.ActionKillSess
)

// Event is one audit log line.
type Event = auditlog.Event

// auditLog is the host's audit log as configured on h.
func (h Host) auditLog() auditlog.Log {
	return auditlog.Log{Root: h.Root, File: h.AuditLog, Now: h.now, Getenv: h.getenv, Syslog: h.Syslog}
}

// audit appends events to the audit log. It runs under the pfwdctl lock.
func (h Host) audit(events ...Event) error { return h.auditLog().Append(events...) }

// ReadAudit returns the audit log's events, oldest first.
func ReadAudit(h Host) ([]Event, error) { return h.auditLog().Read() }
