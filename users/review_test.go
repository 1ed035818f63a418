package users

import (
	"context"
	"github.com/pfwdctl/pfwdctl/internal/auditlog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pfwdctl/pfwdctl/internal/fail"
	"github.com/pfwdctl/pfwdctl/internal/run"
	"github.com/pfwdctl/pfwdctl/render/rendertest"
)

// A wildcard permitopen is unrestricted forwarding; list-keys must say so
// even when no Match block is installed to compare against.
func TestListKeysFlagsWildcardPermitopen(t *testing.T) {
	t.Parallel()
	h, root := tree(t, nil)
	os.Remove(root.Path(h.DropInPath("pfwd")))
	k := newKey(t, "wild")
	os.MkdirAll(root.Path("/home/pfwd/.ssh"), 0o700)
	line := `restrict,port-forwarding,permitopen="*:*" ` + k.Type() + " " + k.Base64() + " wild\n"
	if err := os.WriteFile(root.Path("/home/pfwd/.ssh/authorized_keys"), []byte(line), 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := h.ListKeys("pfwd")
	if err != nil {
		t.Fatal(err)
	}
	if l.Unrestricted != 1 || len(l.Keys) != 1 || l.Keys[0].Restricted {
		t.Fatalf("permitopen=\"*:*\" listed as restricted: %+v", l)
	}
}

// Options after restrict that turn a terminal or agent forwarding back on
// make the key unrestricted (issue 10: list-keys and audit disagreed).
func TestListKeysFlagsReenabledOptions(t *testing.T) {
	t.Parallel()
	h, root := tree(t, nil)
	k := newKey(t, "bob")
	os.MkdirAll(root.Path("/home/pfwd/.ssh"), 0o700)
	line := `restrict,port-forwarding,agent-forwarding,pty,permitopen="127.0.0.1:8009" ` + k.Type() + " " + k.Base64() + " bob\n"
	if err := os.WriteFile(root.Path("/home/pfwd/.ssh/authorized_keys"), []byte(line), 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := h.ListKeys("pfwd")
	if err != nil {
		t.Fatal(err)
	}
	if l.Unrestricted != 1 || len(l.Keys) != 1 || l.Keys[0].Restricted || len(l.Keys[0].Problems) != 2 ||
		!strings.Contains(l.Keys[0].Problems[0], "agent-forwarding turns agent forwarding back on") {
		t.Fatalf("re-enabling line: %+v", l)
	}
}

// useradd ran, so the account may exist, but the check after it failed:
// that change must still reach the audit log.
func TestCreateUserAuditsAChangeThatThenFailed(t *testing.T) {
	t.Parallel()
	h, root := tree(t, nil)
	stub := &run.Stub{T: t}
	h.Runner = stub
	stub.Expect("useradd --prefix "+root.Dir()+" --system --create-home --home-dir /home/newbie --shell "+h.NologinShell()+
		" --password * --user-group --comment "+AccountComment+" newbie", "", "", nil)
	// The stub creates nothing, so the check after useradd fails.
	if _, err := h.CreateUser(context.Background(), CreateRequest{User: "newbie"}); err == nil {
		t.Fatal("no error")
	}
	stub.Done()
	ev, err := completedAudit(h)
	if err != nil || len(ev) != 1 || ev[0].Action != ActionUserCreate || !strings.Contains(ev[0].Detail, "useradd") || !strings.Contains(ev[0].Detail, "failed") {
		t.Fatalf("audit = %+v, %v", ev, err)
	}
}

// The audit log is appended to and chmodded: a symlink at its path must
// not redirect that to another file (here one outside the --root tree).
func TestAuditDoesNotFollowSymlink(t *testing.T) {
	t.Parallel()
	h, root := tree(t, nil)
	outside := filepath.Join(t.TempDir(), "victim")
	os.WriteFile(outside, []byte("keep\n"), 0o644)
	os.MkdirAll(root.Path(filepath.Dir(AuditLogPath)), 0o750)
	if err := os.Symlink(outside, root.Path(AuditLogPath)); err != nil {
		t.Fatal(err)
	}
	_, err := h.AddKey(context.Background(), AddKeyRequest{User: "pfwd", Key: newKey(t, "k")})
	if err == nil || !strings.Contains(err.Error(), "nothing was changed") {
		t.Fatalf("add-key with an unwritable audit log: %v", err)
	}
	fi, _ := os.Stat(outside)
	if data, _ := os.ReadFile(outside); string(data) != "keep\n" || fi.Mode().Perm() != 0o644 {
		t.Fatalf("the audit went through the symlink: %q %v", data, fi.Mode())
	}
	// Intent first: no record, no change.
	if _, err := os.Stat(root.Path("/home/pfwd/.ssh/authorized_keys")); err == nil {
		t.Error("the key was written although its change could not be recorded")
	}
}

// TestIntentIsRecordedBeforeTheWrite is issue 12 item 6: a run killed
// between the rename of authorized_keys and the audit write used to leave
// a change with no record. The intent is now in the log before the file
// is written (here: looked at from inside the write), so a killed run
// leaves an interrupted change, and a finished one closes it.
func TestIntentIsRecordedBeforeTheWrite(t *testing.T) {
	t.Parallel()
	h, _ := tree(t, nil)
	var atWrite []Event
	h.beforeWrite = func() { atWrite, _ = ReadAudit(h) }
	if _, err := h.AddKey(context.Background(), AddKeyRequest{User: "pfwd", Key: newKey(t, "k")}); err != nil {
		t.Fatal(err)
	}
	if in := auditlog.Interrupted(atWrite); len(in) != 1 || in[0].Action != ActionKeyAdd || in[0].Fingerprint == "" {
		t.Fatalf("at the moment of the write the log holds %+v; want one open key-add intent", atWrite)
	}
	ev, _ := ReadAudit(h)
	if in := auditlog.Interrupted(ev); len(in) != 0 {
		t.Errorf("after the change the intent is still open: %+v", in)
	}
	if done := auditlog.Completed(ev); len(done) != 1 || done[0].Status != auditlog.StatusDone || done[0].ID != atWrite[0].ID {
		t.Errorf("completion: %+v", done)
	}
	// A write that fails closes the intent as aborted: ~/.ssh vanishes
	// under the checked handle, so the temp file cannot be created.
	h.beforeWrite = func() { os.RemoveAll(h.Root.Path("/home/pfwd/.ssh")) }
	if _, err := h.AddKey(context.Background(), AddKeyRequest{User: "pfwd", Key: newKey(t, "k2")}); err == nil {
		t.Fatal("add-key into a vanished ~/.ssh succeeded")
	}
	ev, _ = ReadAudit(h)
	last := ev[len(ev)-1]
	if in := auditlog.Interrupted(ev); len(in) != 0 || last.Status != auditlog.StatusAborted || !strings.Contains(last.Detail, "not made") {
		t.Errorf("a failed change is not closed as aborted: %+v", ev)
	}
}

// completedAudit is the audit log without its intent lines: one line per
// change, as the tests count them.
func completedAudit(h Host) ([]Event, error) {
	ev, err := ReadAudit(h)
	return auditlog.Completed(ev), err
}

// ~/.ssh swapped for a symlink after add-key checked it (the account owns
// its home, so it could): root's write must not follow the new link.
func TestAddKeyRaceSshDirSwappedForSymlink(t *testing.T) {
	t.Parallel()
	h, root := tree(t, nil)
	ssh := root.Path("/home/pfwd/.ssh")
	os.MkdirAll(ssh, 0o700)
	outside := t.TempDir() // stands for /root/.ssh
	h.beforeWrite = func() {
		os.Rename(ssh, ssh+".old")
		os.Symlink(outside, ssh)
	}
	_, err := h.AddKey(context.Background(), AddKeyRequest{User: "pfwd", Key: newKey(t, "k")})
	if _, serr := os.Stat(filepath.Join(outside, "authorized_keys")); serr == nil {
		t.Fatalf("authorized_keys was written through the swapped-in symlink (err %v)", err)
	}
}

// A home that is a symlink (here out of the --root tree) is refused, and
// nothing is written where it points.
func TestAddKeyRefusesSymlinkedHome(t *testing.T) {
	t.Parallel()
	h, root := tree(t, nil)
	outside := t.TempDir()
	os.Remove(root.Path("/home/pfwd"))
	if err := os.Symlink(outside, root.Path("/home/pfwd")); err != nil {
		t.Fatal(err)
	}
	before := rendertest.Snapshot(t, root)
	_, err := h.AddKey(context.Background(), AddKeyRequest{User: "pfwd", Key: newKey(t, "k")})
	if err == nil || !strings.Contains(err.Error(), "symlink") || fail.HintOf(err) == "" {
		t.Fatalf("err = %v", err)
	}
	if ents, _ := os.ReadDir(outside); len(ents) != 0 {
		t.Fatalf("wrote outside the root: %v", ents)
	}
	rendertest.Unchanged(t, root, before)
}

// TestZonelessExpiryInSshdsZone is issue 12 item 3 for reading: an
// expiry-time without Z (hand-written, or by an older pfwdctl) is read by
// sshd in its system zone, the host's /etc/localtime. list-keys, prune
// and the lockout guard read it there too, never in pfwdctl's $TZ: with
// the tree at UTC+14 and pfwdctl at UTC, 2026-06-02 00:00 is already 2 h
// past at 12:00 UTC on June 1.
func TestZonelessExpiryInSshdsZone(t *testing.T) {
	saved := time.Local
	time.Local = time.UTC
	defer func() { time.Local = saved }()
	zone, err := os.ReadFile("/usr/share/zoneinfo/Pacific/Kiritimati")
	if err != nil {
		t.Fatal("tzdata (Debian package tzdata) is needed:", err)
	}
	h, root := tree(t, map[string]string{"/etc/localtime": string(zone)})
	k := newKey(t, "zoneless")
	line := `restrict,port-forwarding,permitopen="127.0.0.1:8009",expiry-time="202606020000" ` + k.Type() + " " + k.Base64() + " zoneless\n"
	os.MkdirAll(root.Path("/home/pfwd/.ssh"), 0o700)
	if err := os.WriteFile(root.Path("/home/pfwd/.ssh/authorized_keys"), []byte(line), 0o600); err != nil {
		t.Fatal(err)
	}
	lr, err := h.ListKeys("pfwd")
	if err != nil {
		t.Fatal(err)
	}
	if len(lr.Keys) != 1 || !lr.Keys[0].Expired || !lr.Keys[0].Expiry.Equal(time.Date(2026, 6, 1, 10, 0, 0, 0, time.UTC)) {
		t.Fatalf("list-keys reads the expiry in pfwdctl's zone: %+v", lr.Keys)
	}
	res, err := h.Prune(context.Background(), PruneRequest{User: "pfwd"})
	if err != nil || len(res.Removed) != 1 {
		t.Fatalf("prune left the key sshd already refuses: %+v %v", res, err)
	}
}

// TestRetargetIsReadBack: apply's "N key lines now forward to ..." rests
// on the file as read back, not on the write having returned: a line that
// is not on disk as written is an error. Lines are matched by position,
// so the same key also on a hand-written line does not confuse it.
func TestRetargetIsReadBack(t *testing.T) {
	t.Parallel()
	h, root := tree(t, nil)
	k := newKey(t, "k")
	if _, err := h.AddKey(context.Background(), AddKeyRequest{User: "pfwd", Key: k}); err != nil {
		t.Fatal(err)
	}
	p := root.Path("/home/pfwd/.ssh/authorized_keys")
	data, _ := os.ReadFile(p)
	hand := `restrict,port-forwarding,permitopen="127.0.0.1:1" ` + k.Type() + " " + k.Base64() + " hand"
	os.WriteFile(p, append(data, hand+"\n"...), 0o600)
	a, _ := h.account("pfwd")
	line := strings.TrimSpace(string(data))
	if err := h.checkRetargeted(a, map[int]string{0: line}); err != nil {
		t.Errorf("the line on disk is the one written: %v", err)
	}
	if err := h.checkRetargeted(a, map[int]string{0: line + " changed"}); err == nil {
		t.Error("a line other than the one written passed the read-back")
	}
	if err := h.checkRetargeted(a, map[int]string{7: line}); err == nil {
		t.Error("a missing line passed the read-back")
	}
}

// failingUseradd writes the passwd entry, then fails, as useradd does when
// it cannot create the home (exit 12).
type failingUseradd struct{ write func() }

func (f failingUseradd) Run(_ context.Context, name string, _ ...string) ([]byte, []byte, error) {
	if name == "useradd" {
		f.write()
	}
	return nil, []byte("useradd: cannot create directory"), run.ErrExit
}

// useradd that fails after writing /etc/passwd made a change: the audit
// log says the account exists now, not that nothing was made.
func TestCreateUserRecordsAPartialUseradd(t *testing.T) {
	t.Parallel()
	h, root := tree(t, nil)
	h.Runner = failingUseradd{write: func() {
		f, _ := os.OpenFile(root.Path("/etc/passwd"), os.O_APPEND|os.O_WRONLY, 0)
		f.WriteString("newbie:x:998:998::/home/newbie:/usr/sbin/nologin\n")
		f.Close()
	}}
	if _, err := h.CreateUser(context.Background(), CreateRequest{User: "newbie"}); err == nil {
		t.Fatal("no error")
	}
	ev, _ := ReadAudit(h)
	last := ev[len(ev)-1]
	if last.Status != auditlog.StatusDone || !strings.Contains(last.Detail, "exists now") {
		t.Fatalf("a partial useradd is recorded as %+v", ev)
	}
}

// TestKeyChangesAreReadBack: "added" and "revoked" rest on the files as
// read back, not on the writes having returned. A write that is lost (here
// undone right after it) is an error, recorded as partly made.
func TestKeyChangesAreReadBack(t *testing.T) {
	t.Parallel()
	h, root := tree(t, nil)
	p := root.Path("/home/pfwd/.ssh/authorized_keys")
	if _, err := h.AddKey(context.Background(), AddKeyRequest{User: "pfwd", Key: newKey(t, "first")}); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(p)
	undo := func() { os.WriteFile(p, before, 0o600) }
	h.afterWrite = undo
	if _, err := h.AddKey(context.Background(), AddKeyRequest{User: "pfwd", Key: newKey(t, "lost")}); err == nil || !strings.Contains(err.Error(), "read back") {
		t.Errorf("a lost add-key write reported success: %v", err)
	}
	h.afterWrite = nil
	k := newKey(t, "gone")
	if _, err := h.AddKey(context.Background(), AddKeyRequest{User: "pfwd", Key: k}); err != nil {
		t.Fatal(err)
	}
	before, _ = os.ReadFile(p)
	h.afterWrite = undo
	if _, err := h.Revoke(context.Background(), RevokeRequest{User: "pfwd", Key: "gone"}); err == nil || !strings.Contains(err.Error(), "read back") {
		t.Errorf("a lost revoke write reported success: %v", err)
	}
	ev, _ := ReadAudit(h)
	if last := ev[len(ev)-1]; last.Status != auditlog.StatusDone || !strings.Contains(last.Detail, "partly made") {
		t.Errorf("the failed read-back is recorded as %+v", last)
	}
}

// The read-back reuses the parse of lines it has already seen (by their
// content), never by their place: a line changed after the write, here the
// new key's line swapped for another key under the same options and name,
// is parsed afresh and the add is not reported done.
func TestReadBackParsesChangedLinesAfresh(t *testing.T) {
	t.Parallel()
	h, root := tree(t, nil)
	p := root.Path("/home/pfwd/.ssh/authorized_keys")
	if _, err := h.AddKey(context.Background(), AddKeyRequest{User: "pfwd", Key: newKey(t, "first")}); err != nil {
		t.Fatal(err)
	}
	k, other := newKey(t, "new"), newKey(t, "new")
	h.afterWrite = func() {
		data, _ := os.ReadFile(p)
		os.WriteFile(p, []byte(strings.ReplaceAll(string(data), k.Base64(), other.Base64())), 0o600)
	}
	if _, err := h.AddKey(context.Background(), AddKeyRequest{User: "pfwd", Key: k}); err == nil || !strings.Contains(err.Error(), "read back") {
		t.Errorf("a key swapped after the write was reported added: %v", err)
	}
}
