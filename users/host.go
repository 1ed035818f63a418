package users

import (
	"os"
	"path/filepath"
	"time"

	"github.com/pfwdctl/pfwdctl/internal/fail"
	"github.com/pfwdctl/pfwdctl/internal/hostfs"
	"github.com/pfwdctl/pfwdctl/internal/run"
	"github.com/pfwdctl/pfwdctl/internal/sshd"
	"github.com/pfwdctl/pfwdctl/render"
	"github.com/pfwdctl/pfwdctl/templates"
	"github.com/pfwdctl/pfwdctl/users/keyline"
)

// Host is the machine (or --root tree) whose account and keys are managed,
// plus everything taken from the outside world, injectable for tests.
type Host struct {
	Root   hostfs.Root
	Runner run.Runner // useradd, usermod, passwd; nil: run.Exec{}
	// SshdConfig is the main sshd config (host path); the Match drop-in is
	// looked for in the sshd_config.d next to it. Empty: /etc/ssh/sshd_config.
	SshdConfig string
	// SshdBin is the sshd asked which files it reads keys from (sshd -T);
	// empty: sshd.Find.
	SshdBin string
	Now     func() time.Time    // nil: time.Now
	Getenv  func(string) string // nil: os.Getenv; SUDO_USER names the admin
	// LockWait is how long to wait for the pfwdctl lock; 0 means
	// hostfs.LockWait.
	// NoLock is for callers that already hold it (flock is per open file, so
	// taking it twice in one process would wait on itself).
	LockWait time.Duration
	NoLock   bool
	// Sessions finds and ends the account's sshd processes; nil: /proc.
	Sessions SessionFinder
	// Attribute names the key of each session from sshd's log; nil:
	// sessions carry no key, and --kill-sessions ends all of them.
	Attribute Attribute
	// KillReason, when set, is added to each session-kill audit line
	// (e.g. "ca revoke serial=12"), so the log says why it was ended.
	KillReason string
	// Syslog receives each audit line; nil: the system's syslog when Root is
	// the host and one is listening. Tests pass a func to capture or drop.
	Syslog func(line string)
	// AuditLog, when set, is the audit log's real path (not under Root):
	// the end-to-end test that creates a real account on this host keeps
	// its audit lines in a temp dir instead of the host's /var/log.
	// Empty: AuditLogPath under Root.
	AuditLog string
	// SshdVersion is what sshd -V printed ("" when unknown); it says which
	// clock expiry-time is written in (keyline.TakesUTC, expiryZone).
	SshdVersion string
	// beforeWrite, in tests, runs between the checks on ~/.ssh and the
	// write of authorized_keys, to race them deterministically.
	beforeWrite func()
	// afterWrite, in tests, runs after a key file is written, to lose or
	// change the write before it is read back.
	afterWrite func()
	// beforeReplace, in tests, runs after the new key file is written and
	// synced, just before writeKeys checks the old one is unchanged and
	// renames over it: another writer's change in that last window.
	beforeReplace func()
}

func (h Host) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}

// expiryZone is the clock keyline.Prefix writes expiry-time in: nil (UTC
// with "Z") when this sshd takes it, else the zone sshd reads it in.
func (h Host) expiryZone() *time.Location {
	if keyline.TakesUTC(h.SshdVersion) {
		return nil
	}
	return h.systemZone()
}

// systemZone is the time zone sshd runs in (sshd.Zone).
func (h Host) systemZone() *time.Location { return sshd.Zone(h.Root) }

func (h Host) getenv(k string) string {
	if h.Getenv != nil {
		return h.Getenv(k)
	}
	return os.Getenv(k)
}

func (h Host) runner() run.Runner {
	if h.Runner != nil {
		return h.Runner
	}
	return run.Exec{}
}

// DropInPath is where account's Match User block is, for messages: its
// drop-in's host path, or sshd_config:LINE for a managed block.
func (h Host) DropInPath(account string) string {
	cfg := h.SshdConfig
	if cfg == "" {
		cfg = sshd.DefaultConfig
	}
	if l, err := render.ReadLayout(h.Root, cfg); err == nil {
		return l.At(templates.ForwardFile(account))
	}
	return filepath.Join(render.DropInDir(cfg), templates.ForwardFile(account))
}

// lock takes the pfwdctl lock unless the caller holds it.
func (h Host) lock() (func(), error) {
	if h.NoLock {
		return func() {}, nil
	}
	unlock, err := h.Root.Lock(h.LockWait)
	if err != nil {
		return nil, fail.Wrap(fail.Unavailable, err, "wait for the other pfwdctl run to finish, then try again", "cannot take the pfwdctl lock")
	}
	return unlock, nil
}
