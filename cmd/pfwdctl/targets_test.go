package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pfwdctl/pfwdctl/internal/auditlog"
	"github.com/pfwdctl/pfwdctl/internal/testenv"
	"github.com/pfwdctl/pfwdctl/render/rendertest"
)

// The reported sequence: apply with two targets, a key installed for them,
// then a plain apply (the fix audit recommends) put PermitOpen back to the
// default and the key became UNRESTRICTED. The installed Match block is the
// source of truth: a plain apply keeps its targets.
func TestPlainApplyKeepsInstalledTargets(t *testing.T) {
	sshd := testenv.Sshd(t)
	root := rendertest.New(t, rendertest.Tree{})
	run := func(want int, args ...string) string {
		t.Helper()
		out, _ := inTree(t, root)(want, args...)
		return out
	}
	run(0, "apply", "--sshd", sshd, "--target", "127.0.0.1:8009", "--target", "127.0.0.1:8010")
	if err := os.MkdirAll(root.Path("/home/pfwd/.ssh"), 0o700); err != nil {
		t.Fatal(err)
	}
	pub := filepath.Join(t.TempDir(), "friend.pub")
	os.WriteFile(pub, []byte(agreeKey(t, "friend")+"\n"), 0o644)
	run(0, "add-key", pub)
	run(0, "list-keys")

	out := run(0, "apply", "--sshd", sshd)
	if !strings.Contains(out, "already up to date") {
		t.Errorf("plain apply changed the drop-ins:\n%s", out)
	}
	dropIn, _ := os.ReadFile(root.Path("/etc/ssh/sshd_config.d/20-pfwd-only.conf"))
	if !strings.Contains(string(dropIn), "PermitOpen 127.0.0.1:8009 127.0.0.1:8010") {
		t.Fatalf("targets forgotten:\n%s", dropIn)
	}
	run(0, "list-keys")

	// --target still changes them, on purpose, and the keys follow in the
	// same run: a dry run says so and writes nothing.
	keysPath := root.Path("/home/pfwd/.ssh/authorized_keys")
	before, _ := os.ReadFile(keysPath)
	out = run(0, "apply", "--sshd", sshd, "--target", "127.0.0.1:8011", "--dry-run")
	if !strings.Contains(out, "1 key line(s) in /home/pfwd/.ssh/authorized_keys would follow to 127.0.0.1:8011") {
		t.Errorf("dry run does not say the keys follow:\n%s", out)
	}
	if now, _ := os.ReadFile(keysPath); string(now) != string(before) {
		t.Fatalf("dry run wrote the keys:\n%s", now)
	}
	out = run(0, "apply", "--sshd", sshd, "--target", "127.0.0.1:8011")
	dropIn, _ = os.ReadFile(root.Path("/etc/ssh/sshd_config.d/20-pfwd-only.conf"))
	if !strings.Contains(string(dropIn), "PermitOpen 127.0.0.1:8011\n") {
		t.Fatalf("--target ignored:\n%s", dropIn)
	}
	keys, _ := os.ReadFile(keysPath)
	if !strings.Contains(string(keys), `restrict,port-forwarding,permitopen="127.0.0.1:8011" ssh-ed25519 `) || strings.Contains(string(keys), "8009") {
		t.Errorf("the key did not follow the targets:\n%s\n%s", keys, out)
	}
	if !strings.Contains(out, "1 key line(s) in /home/pfwd/.ssh/authorized_keys now forward to 127.0.0.1:8011") {
		t.Errorf("apply does not say the keys followed:\n%s", out)
	}
	// Keys and block agree: list-keys exits 0, add-key takes the key again.
	run(0, "list-keys")
	run(0, "add-key", pub)
	log, _ := os.ReadFile(root.Path(auditlog.Path))
	if !strings.Contains(string(log), "targets follow the Match block") {
		t.Errorf("the keys' change is not in the audit log:\n%s", log)
	}
}

// When the keys cannot follow (a file pfwdctl refuses to write), the
// drop-ins are put back: block and keys change together or not at all.
func TestTargetChangeRollsBackWhenKeysCannotFollow(t *testing.T) {
	sshd := testenv.Sshd(t)
	root := rendertest.New(t, rendertest.Tree{})
	run := func(want int, args ...string) string {
		t.Helper()
		out, errb := inTree(t, root)(want, args...)
		return out + errb
	}
	run(0, "apply", "--sshd", sshd, "--target", "127.0.0.1:8009")
	os.MkdirAll(root.Path("/home/pfwd/.ssh"), 0o700)
	pub := filepath.Join(t.TempDir(), "friend.pub")
	os.WriteFile(pub, []byte(agreeKey(t, "friend")+"\n"), 0o644)
	run(0, "add-key", pub)
	dropInPath := root.Path("/etc/ssh/sshd_config.d/20-pfwd-only.conf")
	dropIn, _ := os.ReadFile(dropInPath)
	// A second name for the keys file: users refuses to write it.
	if err := os.Link(root.Path("/home/pfwd/.ssh/authorized_keys"), root.Path("/home/pfwd/keys-copy")); err != nil {
		t.Fatal(err)
	}
	out := run(1, "apply", "--sshd", sshd, "--target", "127.0.0.1:8011")
	if !strings.Contains(out, "the keys could not follow the new targets") || !strings.Contains(out, "hard links") {
		t.Errorf("no reason given:\n%s", out)
	}
	if now, _ := os.ReadFile(dropInPath); string(now) != string(dropIn) {
		t.Errorf("the drop-in was not put back:\n%s", now)
	}
	// The audit log tells it straight: the install is done, then the
	// rollback is a change of its own (intent, then done), and no change
	// is both done and aborted or left open.
	ev, _ := auditlog.Log{Root: root}.Read()
	if in := auditlog.Interrupted(ev); len(in) > 0 {
		t.Errorf("open intents: %+v", in)
	}
	status := map[string]map[string]bool{}
	rolledBack := false
	for _, e := range ev {
		if status[e.ID] == nil {
			status[e.ID] = map[string]bool{}
		}
		status[e.ID][e.Status] = true
		if e.Action == auditlog.ActionDropInRollback && e.Status == auditlog.StatusDone {
			rolledBack = true
		}
	}
	for id, st := range status {
		if st[auditlog.StatusDone] && st[auditlog.StatusAborted] {
			t.Errorf("change %s is recorded as both done and aborted", id)
		}
	}
	if !rolledBack {
		t.Errorf("no completed rollback line: %+v", ev)
	}
}
