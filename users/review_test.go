package users

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

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
	ev, err := ReadAudit(h)
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
	res, err := h.AddKey(context.Background(), AddKeyRequest{User: "pfwd", Key: newKey(t, "k")})
	if err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(outside)
	if data, _ := os.ReadFile(outside); string(data) != "keep\n" || fi.Mode().Perm() != 0o644 {
		t.Fatalf("the audit went through the symlink: %q %v", data, fi.Mode())
	}
	if len(res.Warnings) == 0 {
		t.Error("no warning that the audit log was not written")
	}
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
