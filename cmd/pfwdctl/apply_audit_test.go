package main

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"strings"
	"testing"

	"github.com/pfwdctl/pfwdctl/internal/auditlog"
	"github.com/pfwdctl/pfwdctl/internal/testenv"
	"github.com/pfwdctl/pfwdctl/render/rendertest"
)

// apply is the riskiest change pfwdctl makes, so it is logged like the
// others: one line per drop-in it installs, with the content's sha256
// before and after, and one per drop-in it puts back when sshd -t refuses.
func TestApplyWritesTheAuditLog(t *testing.T) {
	sshd := testenv.Sshd(t)
	root := rendertest.New(t, rendertest.Tree{})
	log := auditlog.Log{Root: root}
	sha := func(hostPath string) string {
		data, err := os.ReadFile(root.Path(hostPath))
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(data)
		return hex.EncodeToString(sum[:])
	}
	const hardening, forward = "/etc/ssh/sshd_config.d/10-hardening.conf", "/etc/ssh/sshd_config.d/20-pfwd-only.conf"
	run := func(want int, args ...string) []auditlog.Event {
		t.Helper()
		env, out, errb := testEnv()
		env.Getenv = func(k string) string { return map[string]string{"SUDO_USER": "alice"}[k] }
		if code := Main(append([]string{"--root", root.Dir(), "apply", "--sshd", sshd, "--no-reload"}, args...), env); code != want {
			t.Fatalf("apply %v: exit %d, want %d\n%s%s", args, code, want, out, errb)
		}
		ev, err := log.Read()
		if err != nil {
			t.Fatal(err)
		}
		// Intent first: every change is announced, then completed.
		if in := auditlog.Interrupted(ev); len(in) > 0 {
			t.Fatalf("apply %v left open intents: %+v", args, in)
		}
		return auditlog.Completed(ev)
	}

	ev := run(0)
	if len(ev) != 2 {
		t.Fatalf("first apply: %d lines, want 2: %+v", len(ev), ev)
	}
	for i, p := range []string{hardening, forward} {
		e := ev[i]
		if e.Action != auditlog.ActionDropIn || e.Account != "pfwd" || e.Path != p || e.Before != "" || e.After != sha(p) || e.Admin != "alice" || e.Time.IsZero() {
			t.Errorf("line %d = %+v, want %s created with sha256 %s", i, e, p, sha(p))
		}
	}
	if fi, err := os.Stat(root.Path(auditlog.Path)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("audit log: %v %v", fi, err)
	}

	if ev := run(0); len(ev) != 2 {
		t.Errorf("a run that changes nothing wrote %d lines", len(ev)-2)
	}

	// A new target changes the drop-ins: each changed file is one line
	// from its old hash to its new one.
	old := map[string]string{hardening: sha(hardening), forward: sha(forward)}
	ev = run(0, "--target", "127.0.0.1:8010")[2:]
	if len(ev) == 0 {
		t.Fatal("new target: no line")
	}
	for _, e := range ev {
		if e.Action != auditlog.ActionDropIn || old[e.Path] == "" || e.Before != old[e.Path] || e.After != sha(e.Path) || e.Before == e.After {
			t.Errorf("update line = %+v, want %s from %s to %s", e, e.Path, old[e.Path], sha(e.Path))
		}
	}
	n := 2 + len(ev)

	// sshd -t refuses: the attempted files are put back, and the log says
	// so, from what was tried to what is on disk again.
	if err := os.WriteFile(root.Path("/etc/ssh/sshd_config.d/05-broken.conf"), []byte("NoSuchKeyword yes\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	installed := map[string]string{hardening: sha(hardening), forward: sha(forward)}
	ev = run(1, "--target", "127.0.0.1:8011")[n:]
	if len(ev) == 0 {
		t.Fatal("rollback: no line")
	}
	for _, e := range ev {
		if e.Action != auditlog.ActionDropInRollback || installed[e.Path] == "" || e.After != installed[e.Path] || sha(e.Path) != installed[e.Path] ||
			e.Before == "" || e.Before == e.After || e.Admin != "alice" || !strings.Contains(e.Detail, "NoSuchKeyword") {
			t.Errorf("rollback line = %+v, want %s back to %s", e, e.Path, installed[e.Path])
		}
	}
}

// TestApplyRecordsIntentFirst is issue 12 item 6 for apply: the drop-ins'
// intent (their planned sha256) is in the log before the first is
// written, and a log that cannot be written stops apply before any file
// changes (exit 1, every byte as it was).
func TestApplyRecordsIntentFirst(t *testing.T) {
	sshd := testenv.Sshd(t)
	root := rendertest.New(t, rendertest.Tree{})
	// A symlink at the log's path: the append refuses it (O_NOFOLLOW).
	os.MkdirAll(root.Path("/var/log/pfwdctl"), 0o750)
	if err := os.Symlink("/dev/null", root.Path(auditlog.Path)); err != nil {
		t.Fatal(err)
	}
	before := rendertest.Snapshot(t, root)
	env, out, errb := testEnv()
	if code := Main([]string{"--root", root.Dir(), "apply", "--sshd", sshd, "--no-reload"}, env); code != 1 {
		t.Fatalf("apply with an unwritable audit log: exit %d\n%s%s", code, out, errb)
	}
	if !strings.Contains(errb.String(), "nothing was changed") {
		t.Errorf("the error does not say nothing changed:\n%s", errb)
	}
	rendertest.Unchanged(t, root, before)

	os.Remove(root.Path(auditlog.Path))
	env, out, errb = testEnv()
	if code := Main([]string{"--root", root.Dir(), "apply", "--sshd", sshd, "--no-reload"}, env); code != 0 {
		t.Fatalf("apply: exit %d\n%s%s", code, out, errb)
	}
	ev, _ := auditlog.Log{Root: root}.Read()
	if len(ev) != 4 || ev[0].Status != auditlog.StatusIntent || ev[1].Status != auditlog.StatusIntent ||
		ev[2].Status != auditlog.StatusDone || ev[0].ID != ev[2].ID || ev[0].After != ev[2].After {
		t.Errorf("want two intents with the planned hashes, then two completions: %+v", ev)
	}
}

// Before apply, audit says pfwdctl's files are not installed, instead of
// sending the admin to delete Debian's own X11Forwarding line as one "read
// before" a drop-in that does not exist, or to an Include finding that
// passed.
func TestAuditBeforeApplySaysNotInstalled(t *testing.T) {
	sshd := testenv.Sshd(t)
	root := rendertest.New(t, rendertest.Tree{})
	exec := inTree(t, root)
	out, _ := exec(1, "audit", "--sshd", sshd)
	for _, bad := range []string{"is read before", "check the Include finding", "delete X11Forwarding"} {
		if strings.Contains(out, bad) {
			t.Errorf("audit before apply says %q:\n%s", bad, out)
		}
	}
	if !strings.Contains(out, "10-hardening.conf is not installed") {
		t.Errorf("audit before apply does not say the drop-in is missing:\n%s", out)
	}
}
