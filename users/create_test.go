package users

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/pfwdctl/pfwdctl/internal/accounts"
	"github.com/pfwdctl/pfwdctl/internal/fail"
	"github.com/pfwdctl/pfwdctl/internal/run"
	"github.com/pfwdctl/pfwdctl/internal/testenv"
	"github.com/pfwdctl/pfwdctl/render/rendertest"
)

// These drive the real useradd and usermod with --prefix on a tree.
func createTree(t *testing.T) (Host, func(name string) Account) {
	testenv.Root(t)
	testenv.Require(t, "useradd", "passwd")
	h, root := tree(t, nil)
	h.Runner = run.Exec{}
	return h, func(name string) Account {
		a, err := accounts.Lookup(root, name)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
}

func TestCreateUserNewWithRealUseradd(t *testing.T) {
	h, lookup := createTree(t)
	ctx := context.Background()
	res, err := h.CreateUser(ctx, CreateRequest{User: "tunnel"})
	if err != nil {
		t.Fatal(err)
	}
	a := lookup("tunnel")
	if !res.Changed || res.Action != "created" || a.Password != "*" || !a.NoLogin() || a.Home != "/home/tunnel" || a.UID == 0 {
		t.Fatalf("res %+v account %+v", res, a)
	}
	if fi, err := os.Stat(h.Root.Path("/home/tunnel")); err != nil || !fi.IsDir() {
		t.Fatalf("home: %v", err)
	}
	res, err = h.CreateUser(ctx, CreateRequest{User: "tunnel"})
	if err != nil || res.Changed || res.Action != "ok" {
		t.Fatalf("second run: %+v %v", res, err)
	}
	ev, _ := ReadAudit(h)
	if len(ev) != 1 || ev[0].Action != ActionUserCreate || !strings.Contains(ev[0].Detail, "useradd --prefix") {
		t.Fatalf("audit %+v", ev)
	}
}

func TestCreateUserFixAndAdopt(t *testing.T) {
	h, lookup := createTree(t)
	ctx := context.Background()
	// "!" (passwd -l, adduser --disabled-password + passwd -l) is locked
	// but sshd refuses keys for it with UsePAM no.
	if _, _, err := (run.Exec{}).Run(ctx, "usermod", "--prefix", h.Root.Dir(), "--password", "!*", "pfwd"); err != nil {
		t.Fatal(err)
	}
	before := rendertest.Snapshot(t, h.Root)
	_, err := h.CreateUser(ctx, CreateRequest{User: "pfwd"})
	if err == nil || !strings.Contains(err.Error(), "UsePAM no refuses") || !strings.Contains(fail.HintOf(err), "--fix") {
		t.Fatalf("without --fix: %v", err)
	}
	rendertest.Unchanged(t, h.Root, before)
	res, err := h.CreateUser(ctx, CreateRequest{User: "pfwd", Fix: true})
	if err != nil || res.Action != "fixed" || lookup("pfwd").Password != "*" {
		t.Fatalf("--fix: %+v %v", res, err)
	}

	// A person's account: login shell and a usable password.
	if _, _, err := (run.Exec{}).Run(ctx, "usermod", "--prefix", h.Root.Dir(), "--shell", "/bin/bash", "--password", "$y$j9T$abc$def", "pfwd"); err != nil {
		t.Fatal(err)
	}
	before = rendertest.Snapshot(t, h.Root)
	_, err = h.CreateUser(ctx, CreateRequest{User: "pfwd", Fix: true})
	if err == nil || !strings.Contains(err.Error(), "looks like a person's") || !strings.Contains(fail.HintOf(err), "--adopt") {
		t.Fatalf("--fix on a person: %v", err)
	}
	rendertest.Unchanged(t, h.Root, before)
	res, err = h.CreateUser(ctx, CreateRequest{User: "pfwd", Fix: true, Adopt: true})
	a := lookup("pfwd")
	if err != nil || a.Password != "*" || !a.NoLogin() {
		t.Fatalf("--fix --adopt: %+v %v %+v", res, err, a)
	}
}

func TestCreateUserRefusesRoot(t *testing.T) {
	h, root := tree(t, map[string]string{"/etc/passwd": "root:x:0:0:root:/root:/bin/bash\ntoor:x:0:0::/root:/bin/sh\n"})
	h.Runner = &run.Stub{T: t} // no command may run
	before := rendertest.Snapshot(t, root)
	for _, u := range []string{"root", "toor"} {
		if _, err := h.CreateUser(context.Background(), CreateRequest{User: u, Fix: true, Adopt: true}); err == nil {
			t.Errorf("%s accepted", u)
		}
	}
	rendertest.Unchanged(t, root, before)
}
