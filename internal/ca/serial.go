package ca

import (
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/pfwdctl/pfwdctl/internal/auditlog"
	"github.com/pfwdctl/pfwdctl/internal/fail"
	"github.com/pfwdctl/pfwdctl/internal/hostfs"
)

// Audit log actions of the CA.
const (
	ActionSign   = "ca-sign"
	ActionRevoke = "ca-revoke"
)

// NextSerial returns the next certificate serial and records it in the
// counter file at path: one more than both the counter and floor (the
// highest serial the audit log knows), so a serial is never reused even if
// one of the two is lost. The caller holds pfwdctl's lock.
func NextSerial(path string, floor uint64) (uint64, error) {
	var last uint64
	data, err := os.ReadFile(path)
	switch {
	case err == nil:
		last, err = strconv.ParseUint(strings.TrimSpace(string(data)), 10, 64)
		if err != nil {
			return 0, fail.New(fail.Failed, "fix or remove it (pfwdctl then continues from the audit log's highest serial)", "serial counter %s is not a number", path)
		}
	case !os.IsNotExist(err):
		return 0, fail.Wrap(fail.Unavailable, err, "", "read the serial counter")
	}
	n := max(last, floor) + 1
	if err := os.MkdirAll(dirOf(path), 0o700); err != nil {
		return 0, err
	}
	if err := hostfs.WriteFile(path, []byte(strconv.FormatUint(n, 10)+"\n"), 0o600, hostfs.Owner{UID: os.Geteuid(), GID: os.Getegid()}); err != nil {
		return 0, fail.Wrap(fail.Unavailable, err, "", "write the serial counter")
	}
	return n, nil
}

func dirOf(p string) string {
	if i := strings.LastIndexByte(p, '/'); i > 0 {
		return p[:i]
	}
	return "."
}

// Issued is one certificate the audit log says was signed.
type Issued struct {
	Serial      uint64    `json:"serial"`
	ID          string    `json:"id"`
	Principal   string    `json:"principal"`
	Fingerprint string    `json:"fingerprint"`
	CA          string    `json:"ca"`
	ValidAfter  time.Time `json:"valid_after"`
	ValidBefore time.Time `json:"valid_before"`
	From        string    `json:"from,omitempty"`
	State       string    `json:"state"` // valid, expired, revoked, not-yet-valid
}

// Certificate states.
const (
	StateValid    = "valid"
	StateExpired  = "expired"
	StateRevoked  = "revoked"
	StateNotYet   = "not-yet-valid"
	timeLayoutLog = time.RFC3339
)

// SignEvent is the audit log line for a certificate about to be issued.
// Detail holds the fields ca list reads back, as key=value words.
func SignEvent(c Issued) auditlog.Event {
	d := []string{
		"serial=" + strconv.FormatUint(c.Serial, 10),
		"principal=" + c.Principal,
		"ca=" + c.CA,
		"valid_after=" + c.ValidAfter.UTC().Format(timeLayoutLog),
		"valid_before=" + c.ValidBefore.UTC().Format(timeLayoutLog),
	}
	if c.From != "" {
		d = append(d, "from="+c.From)
	}
	return auditlog.Event{Action: ActionSign, Account: c.Principal, Fingerprint: c.Fingerprint, Name: c.ID, Detail: strings.Join(d, " ")}
}

// RevokeEvent is the audit log line for a revocation (serial or id).
func RevokeEvent(account string, serial uint64, id, fingerprint string) auditlog.Event {
	var d []string
	if serial != 0 {
		d = append(d, "serial="+strconv.FormatUint(serial, 10))
	}
	return auditlog.Event{Action: ActionRevoke, Account: account, Name: id, Fingerprint: fingerprint, Detail: strings.Join(d, " ")}
}

func fields(detail string) map[string]string {
	m := map[string]string{}
	for _, w := range strings.Fields(detail) {
		if k, v, ok := strings.Cut(w, "="); ok {
			m[k] = v
		}
	}
	return m
}

// List reads the certificates the audit log records as issued (intent
// followed by done, or lines without status), with their state at now.
func List(events []auditlog.Event, now time.Time) []Issued {
	done := map[string]bool{}
	for _, e := range events {
		if e.Status == auditlog.StatusDone {
			done[e.ID] = true
		}
	}
	var out []Issued
	revSerial := map[uint64]bool{}
	revID := map[string]bool{}
	revFP := map[string]bool{}
	for _, e := range events {
		if e.Status == auditlog.StatusIntent && !done[e.ID] || e.Status == auditlog.StatusAborted {
			continue
		}
		if e.Status == auditlog.StatusDone && e.Action == ActionSign {
			continue // the intent line carries the same fields
		}
		f := fields(e.Detail)
		switch e.Action {
		case ActionSign:
			c := Issued{ID: e.Name, Principal: f["principal"], Fingerprint: e.Fingerprint, CA: f["ca"], From: f["from"]}
			c.Serial, _ = strconv.ParseUint(f["serial"], 10, 64)
			c.ValidAfter, _ = time.Parse(timeLayoutLog, f["valid_after"])
			c.ValidBefore, _ = time.Parse(timeLayoutLog, f["valid_before"])
			out = append(out, c)
		case ActionRevoke:
			if s, err := strconv.ParseUint(f["serial"], 10, 64); err == nil {
				revSerial[s] = true
			}
			if e.Name != "" {
				revID[e.Name] = true
			}
			if e.Fingerprint != "" {
				revFP[e.Fingerprint] = true
			}
		}
	}
	for i, c := range out {
		switch {
		case revSerial[c.Serial] || revID[c.ID] || revFP[c.Fingerprint]:
			out[i].State = StateRevoked
		case !now.Before(c.ValidBefore):
			out[i].State = StateExpired
		case now.Before(c.ValidAfter):
			out[i].State = StateNotYet
		default:
			out[i].State = StateValid
		}
	}
	return out
}

// MaxSerial is the highest serial any audit log line mentions (intents
// included: a run killed after signing may have handed the certificate out).
func MaxSerial(events []auditlog.Event) uint64 {
	var m uint64
	for _, e := range events {
		if e.Action != ActionSign {
			continue
		}
		if s, err := strconv.ParseUint(fields(e.Detail)["serial"], 10, 64); err == nil {
			m = max(m, s)
		}
	}
	return m
}
