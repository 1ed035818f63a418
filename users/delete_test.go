package users

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/pfwdctl/pfwdctl/internal/run"
)

// userdelRunner records userdel and runs everything else (sshd -T).
type userdelRunner struct{ ran []string }

func (r *userdelRunner) Run(ctx context.Context, name string, args ...string) ([]byte, []byte, error) {
	if name == "userdel" {
		r.ran = append(r.ran, run.Line(name, args...))
		return nil, nil, nil
	}
	return run.Exec{}.Run(ctx, name, args...)
}

type oneSession struct{ noSessions }

func (oneSession) Find(context.Context, Account) ([]Session, error) {
	return []Session{{PID: 4242, Addr: "192.0.2.1", Port: 50000}}, nil
}

func TestDeleteAccount(t *testing.T) {
	k := newKey(t, "alice")
	line := `restrict,port-forwarding,permitopen="127.0.0.1:8009" ` + k.Type() + " " + k.Base64() + " alice\n"
	h, root := tree(t, map[string]string{akPath: line})
	os.Chmod(root.Path(akPath), 0o600)
	os.Chmod(root.Path("/home/pfwd/.ssh"), 0o700)
	r := &userdelRunner{}
	h.Runner = r
	ctx := context.Background()

	if _, err := h.DeleteAccount(ctx, DeleteRequest{User: "admin"}); err == nil || !strings.Contains(err.Error(), "login shell") {
		t.Fatalf("a login-shell account: %v", err)
	}
	// Not pfwdctl's (no Match block of its, no user create comment): a
	// system account such as www-data with a nologin shell is refused.
	if _, err := h.DeleteAccount(ctx, DeleteRequest{User: "pfwd"}); err == nil || !strings.Contains(err.Error(), "not a pfwdctl forward account") {
		t.Fatalf("an account pfwdctl neither made nor forwards for: %v", err)
	}
	if got := readFile(t, root, akPath); got != line || len(r.ran) != 0 {
		t.Fatalf("the refusal changed something: %q %v", got, r.ran)
	}
	plan, err := h.DeleteAccount(ctx, DeleteRequest{User: "pfwd", Forward: true, DryRun: true})
	if err != nil || len(plan.Keys) != 1 || plan.Keys[0].Name != "alice" || plan.Command != "userdel --prefix "+root.Dir()+" -r pfwd" || plan.Changed {
		t.Fatalf("dry run: %+v %v", plan, err)
	}
	if got := readFile(t, root, akPath); got != line || len(r.ran) != 0 {
		t.Fatalf("the dry run changed something: %q %v", got, r.ran)
	}
	busy := h
	busy.Sessions = oneSession{}
	if _, err := busy.DeleteAccount(ctx, DeleteRequest{User: "pfwd", Forward: true}); err == nil || !strings.Contains(err.Error(), "open session") {
		t.Fatalf("open sessions: %v", err)
	}
	if got := readFile(t, root, akPath); got != line || len(r.ran) != 0 {
		t.Fatalf("the refused delete changed something: %q %v", got, r.ran)
	}

	res, err := h.DeleteAccount(ctx, DeleteRequest{User: "pfwd", Forward: true})
	if err != nil || !res.Deleted || len(r.ran) != 1 || r.ran[0] != plan.Command {
		t.Fatalf("delete: %+v %v %v", res, err, r.ran)
	}
	if got := readFile(t, root, akPath); strings.Contains(got, k.Base64()) {
		t.Fatalf("the key outlived the account: %q", got)
	}
	evs, _ := ReadAudit(h)
	var acts []string
	for _, e := range evs {
		if e.Status == "done" {
			acts = append(acts, e.Action)
		}
	}
	if j := strings.Join(acts, " "); !strings.Contains(j, "key-revoke") || !strings.Contains(j, "user-delete") {
		t.Errorf("audit log: %s", j)
	}
}

// Deleting an account takes its registered (dormant) keys out of the
// registry: a new account of the same name must not inherit them; and
// rotate moves a registered copy of the old key to the new one, so the
// next grant does not let the rotated-out key back in.
func TestDeleteAndRotateFollowTheDormantRegistry(t *testing.T) {
	k := newKey(t, "alice")
	line := `restrict,port-forwarding,permitopen="127.0.0.1:8009" ` + k.Type() + " " + k.Base64() + " alice\n"
	h, root := tree(t, map[string]string{akPath: line})
	os.Chmod(root.Path(akPath), 0o600)
	os.Chmod(root.Path("/home/pfwd/.ssh"), 0o700)
	h.Runner = &userdelRunner{}
	ctx := context.Background()
	if _, _, err := h.AddDormant(ctx, AddKeyRequest{User: "pfwd", Key: k, Targets: []string{"127.0.0.1:8009"}}); err != nil {
		t.Fatal(err)
	}
	nk := newKey(t, "alice2")
	res, err := h.Rotate(ctx, RotateRequest{User: "pfwd", Old: "alice", Key: nk})
	if err != nil || !res.DormantUpdated {
		t.Fatalf("rotate: %+v %v", res, err)
	}
	ds, _ := h.DormantKeys("pfwd")
	if len(ds) != 1 || ds[0].Fingerprint != nk.Fingerprint() || ds[0].Name != "alice" {
		t.Fatalf("dormant after rotate: %+v", ds)
	}
	d, err := h.DeleteAccount(ctx, DeleteRequest{User: "pfwd", Forward: true})
	if err != nil || len(d.DormantRemoved) != 1 {
		t.Fatalf("delete: %+v %v", d, err)
	}
	if ds, _ := h.DormantKeys("pfwd"); len(ds) != 0 {
		t.Fatalf("dormant after delete: %+v", ds)
	}
}
