package users

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pfwdctl/pfwdctl/internal/auditlog"
	"github.com/pfwdctl/pfwdctl/internal/fail"
)

// Another writer (one that does not take pfwdctl's lock: an admin's
// sed -i, an appender) changes authorized_keys while a key change is
// under way. pfwdctl built its new file from the lines it read, so
// replacing the file would undo that change: a key removed by hand would
// come back, an appended line would be lost (the adversarial runs
// /tmp/adv2/ck/resurrect.sh and lost.sh). writeKeys now checks, just
// before the rename, that the file is still the one it read, and writes
// nothing when it is not.

// sedDelete removes the lines ending in " name" the way sed -i does: a
// new file renamed over the old one (a new inode).
func sedDelete(t *testing.T, p, name string) {
	t.Helper()
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var keep []string
	for _, l := range strings.SplitAfter(string(data), "\n") {
		if !strings.HasSuffix(strings.TrimSuffix(l, "\n"), " "+name) {
			keep = append(keep, l)
		}
	}
	tmp := filepath.Join(filepath.Dir(p), "sedXYZ")
	if err := os.WriteFile(tmp, []byte(strings.Join(keep, "")), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, p); err != nil {
		t.Fatal(err)
	}
}

// appendTo appends in place, as echo >> does (same inode).
func appendTo(t *testing.T, p, line string) {
	t.Helper()
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(line + "\n"); err != nil {
		t.Fatal(err)
	}
}

func TestKeyChangeRefusesFileChangedByAnotherWriter(t *testing.T) {
	t.Parallel()
	type change struct {
		name string
		// hook chooses the moment: between the read and the write
		// (beforeWrite) or after the new file is synced, just before
		// the rename (beforeReplace).
		hook  func(h *Host, f func())
		other func(t *testing.T, p string)
		do    func(h Host) error
	}
	beforeWrite := func(h *Host, f func()) { h.beforeWrite = f }
	beforeReplace := func(h *Host, f func()) { h.beforeReplace = f }
	removeVictim := func(t *testing.T, p string) { sedDelete(t, p, "victim") }
	appendOne := func(t *testing.T, p string) {
		appendTo(t, p, `restrict,port-forwarding,permitopen="127.0.0.1:8009" ssh-ed25519 `+newKey(t, "x").Base64()+" ext000")
	}
	addKey := func(h Host) error {
		_, err := h.AddKey(context.Background(), AddKeyRequest{User: "pfwd", Key: newKey(t, "new")})
		return err
	}
	revoke := func(h Host) error {
		_, err := h.Revoke(context.Background(), RevokeRequest{User: "pfwd", Key: "other"})
		return err
	}
	for _, c := range []change{
		{"fail_add_key_sed_removes_key_before_write", beforeWrite, removeVictim, addKey},
		{"fail_add_key_sed_removes_key_before_rename", beforeReplace, removeVictim, addKey},
		{"fail_add_key_append_before_write", beforeWrite, appendOne, addKey},
		{"fail_add_key_append_before_rename", beforeReplace, appendOne, addKey},
		{"fail_revoke_sed_removes_key_before_rename", beforeReplace, removeVictim, revoke},
		{"fail_revoke_append_before_rename", beforeReplace, appendOne, revoke},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			h, root := tree(t, nil)
			p := root.Path("/home/pfwd/.ssh/authorized_keys")
			for _, n := range []string{"victim", "other"} {
				if _, err := h.AddKey(context.Background(), AddKeyRequest{User: "pfwd", Key: newKey(t, n)}); err != nil {
					t.Fatal(err)
				}
			}
			var theirs []byte
			c.hook(&h, func() {
				c.other(t, p)
				theirs, _ = os.ReadFile(p)
			})
			err := c.do(h)
			if err == nil || !strings.Contains(err.Error(), "changed while pfwdctl was writing it") {
				t.Fatalf("err = %v, want the file-changed refusal", err)
			}
			if fail.Code(err) != 1 || !strings.Contains(fail.HintOf(err), "again") {
				t.Errorf("exit %d, hint %q; want 1 and to run it again", fail.Code(err), fail.HintOf(err))
			}
			// The other writer's file survives byte for byte.
			if got, _ := os.ReadFile(p); theirs == nil || string(got) != string(theirs) {
				t.Errorf("authorized_keys is\n%s\nwant the other writer's\n%s", got, theirs)
			}
			// No temp file is left with key lines in it.
			ents, _ := os.ReadDir(filepath.Dir(p))
			for _, e := range ents {
				if e.Name() != "authorized_keys" {
					t.Errorf("left in ~/.ssh: %s", e.Name())
				}
			}
			ev, _ := ReadAudit(h)
			if last := ev[len(ev)-1]; last.Status != auditlog.StatusAborted {
				t.Errorf("the refused change is recorded as %+v, want aborted", last)
			}
			// Run again, as the hint says: it starts from the other
			// writer's file and keeps its change.
			h.beforeWrite, h.beforeReplace = nil, nil
			if err := c.do(h); err != nil {
				t.Fatalf("second run: %v", err)
			}
			got, _ := os.ReadFile(p)
			if strings.Contains(c.name, "sed") && strings.Contains(string(got), " victim\n") {
				t.Errorf("the key removed by hand came back:\n%s", got)
			}
			if strings.Contains(c.name, "append") && !strings.Contains(string(got), " ext000\n") {
				t.Errorf("the appended line was lost:\n%s", got)
			}
		})
	}
}

// A change the same run made itself (retarget writes, reads back, and may
// write the old file again) is checked against its own write, not the
// first read: an unchanged file is replaced again without a refusal.
func TestWriteKeysTwiceInOneChange(t *testing.T) {
	t.Parallel()
	h, root := tree(t, nil)
	if _, err := h.AddKey(context.Background(), AddKeyRequest{User: "pfwd", Key: newKey(t, "k")}); err != nil {
		t.Fatal(err)
	}
	a, err := h.account("pfwd")
	if err != nil {
		t.Fatal(err)
	}
	kf, err := h.readKeys(a)
	if err != nil {
		t.Fatal(err)
	}
	defer kf.Close()
	old := string(kf.Data)
	if err := h.writeKeys(a, kf, []byte(old+"# one\n")); err != nil {
		t.Fatal(err)
	}
	if err := h.writeKeys(a, kf, []byte(old)); err != nil {
		t.Fatalf("the second write of one change was refused: %v", err)
	}
	if got := readFile(t, root, "/home/pfwd/.ssh/authorized_keys"); got != old {
		t.Errorf("file = %q, want %q", got, old)
	}
	// But a change by someone else between the two is refused.
	if err := h.writeKeys(a, kf, []byte(old+"# two\n")); err != nil {
		t.Fatal(err)
	}
	appendTo(t, root.Path("/home/pfwd/.ssh/authorized_keys"), "# theirs")
	if err := h.writeKeys(a, kf, []byte(old)); err == nil {
		t.Fatal("a put-back over another writer's append was not refused")
	}
	if got := readFile(t, root, "/home/pfwd/.ssh/authorized_keys"); got != old+"# two\n# theirs\n" {
		t.Errorf("file = %q", got)
	}
}
