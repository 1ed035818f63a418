package users

import (
	"fmt"
	"slices"
	"strings"

	"github.com/pfwdctl/pfwdctl/internal/auditlog"
	"github.com/pfwdctl/pfwdctl/internal/fail"
)

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

// ReadAudit returns the audit log's events, oldest first.
func ReadAudit(h Host) ([]Event, error) { return h.auditLog().Read() }

// begin records the intent of a change before it is made (intent-first):
// a run killed between the change and its record still leaves a line. No
// intent, no change: the error says nothing was changed.
func (h Host) begin(events ...Event) (*auditlog.Change, error) {
	c, err := h.auditLog().Begin(events...)
	if err != nil {
		return nil, fail.Wrap(fail.Failed, err, "make "+AuditLogPath+" a writable regular file (not a symlink), then run pfwdctl again",
			"cannot record the change in the audit log, so nothing was changed")
	}
	return c, nil
}

// change makes a change between its intent and its completion in the
// audit log. do says whether anything reached the disk: an error with
// nothing made is recorded as aborted; one after part of the change was
// made is recorded as done, with the failure, since that part is live.
// The error is returned either way; a completion that cannot be written
// comes back as a warning, since the change is made.
func (h Host) change(events []Event, do func() (made bool, err error)) (warning string, err error) {
	c, err := h.begin(events...)
	if err != nil {
		return "", err
	}
	made, err := do()
	if err != nil {
		var aerr error
		if made {
			done := slices.Clone(events)
			for i := range done {
				done[i].Detail = strings.TrimPrefix(done[i].Detail+"; partly made, then failed: "+strings.Join(strings.Fields(err.Error()), " "), "; ")
			}
			aerr = c.Done(done...)
		} else {
			aerr = c.Abort(err)
		}
		if aerr != nil {
			return "", fmt.Errorf("%w (and the audit log was not completed: %v)", err, aerr)
		}
		return "", err
	}
	if err := c.Done(); err != nil {
		return "the change is made, but its completion was not written to the audit log: " + err.Error(), nil
	}
	return "", nil
}
