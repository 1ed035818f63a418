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
	ev, _ := completedAudit(h)
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

// Issue 12 item 5: alice is a sudo user with /bin/bash, dotfiles and a "!"
// password. The old code told the admin to run --fix, and --fix made her a
// nologin account. Now every run refuses without --adopt, runs nothing,
// and no hint recommends a flag the next run refuses.
func TestCreateUserRefusesAPersonsAccount(t *testing.T) {
	h, root := tree(t, map[string]string{
		"/etc/passwd": "root:x:0:0:root:/root:/bin/bash\n" +
			"alice:x:1001:1001:Alice,,,:/home/alice:/bin/bash\n" +
			"pfwd:x:999:999::/home/pfwd:/usr/sbin/nologin\n" +
			"olduid:x:800:800::/home/olduid:/usr/sbin/nologin\n",
		"/etc/shadow":         "root:*:19000::::::\nalice:!:19000::::::\npfwd:*:19000::::::\nolduid:*:19000::::::\n",
		"/etc/group":          "root:x:0:\nsudo:x:27:alice\nalice:x:1001:\npfwd:x:999:\nolduid:x:800:\n",
		"/home/alice/.bashrc": "# alice\n",
		"/etc/login.defs":     "# test\nUID_MIN                  1000\n",
	})
	os.Chown(root.Path("/home/alice"), 1001, 1001)
	h.Runner = &run.Stub{T: t} // no command may run
	before := rendertest.Snapshot(t, root)
	for _, r := range []CreateRequest{{User: "alice"}, {User: "alice", Fix: true}} {
		_, err := h.CreateUser(context.Background(), r)
		if err == nil || !strings.Contains(err.Error(), "looks like a person's") {
			t.Fatalf("%+v: err = %v", r, err)
		}
		for _, sign := range []string{"uid 1001 is at least UID_MIN 1000", "sudo group", "login shell /bin/bash"} {
			if !strings.Contains(err.Error(), sign) {
				t.Errorf("%+v: %v does not say %q", r, err, sign)
			}
		}
		if hint := fail.HintOf(err); !strings.Contains(hint, "--adopt") || !strings.Contains(hint, "another --user") {
			t.Errorf("%+v: hint %q", r, hint)
		}
	}
	rendertest.Unchanged(t, root, before)
	// A lower UID_MIN in login.defs makes uid 800 a person's too.
	os.WriteFile(root.Path("/etc/login.defs"), []byte("UID_MIN 500\n"), 0o644)
	os.MkdirAll(root.Path("/home/olduid"), 0o755)
	os.WriteFile(root.Path("/etc/shadow"), []byte("olduid:!:19000::::::\n"), 0o644)
	if _, err := h.CreateUser(context.Background(), CreateRequest{User: "olduid", Fix: true}); err == nil || !strings.Contains(err.Error(), "UID_MIN 500") {
		t.Fatalf("uid 800 with UID_MIN 500: %v", err)
	}
}

// --home /root (or /home/../etc, or another account's home) was accepted,
// and add-key then chowned /root/.ssh/authorized_keys to the new account.
func TestCreateUserRefusesAHomeNotItsOwn(t *testing.T) {
	h, root := tree(t, nil)
	h.Runner = &run.Stub{T: t} // no command may run
	os.MkdirAll(root.Path("/root"), 0o700)
	before := rendertest.Snapshot(t, root)
	for home, want := range map[string]string{
		"/root":         "home of root",
		"/home/../etc":  "not a clean absolute path",
		"/home/admin":   "home of admin",
		"/etc":          "already exists",
		"relative/home": "not a clean absolute path",
	} {
		if _, err := h.CreateUser(context.Background(), CreateRequest{User: "tunnel", Home: home}); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("--home %s: err = %v, want %q", home, err, want)
		}
	}
	rendertest.Unchanged(t, root, before)
}

// An account whose home is /root in /etc/passwd: add-key must not write
// (and chown) /root/.ssh/authorized_keys.
func TestAddKeyRefusesAnotherAccountsHome(t *testing.T) {
	h, root := tree(t, map[string]string{
		"/etc/passwd":                "root:x:0:0:root:/root:/bin/bash\npfwd:x:999:999::/root:/usr/sbin/nologin\n",
		"/root/.ssh/authorized_keys": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINptRJvBG7wfMRS4YTlmKuwP7hB2zO6PWKKZjylfQeQU root@box\n",
	})
	os.Chmod(root.Path("/root"), 0o700)
	os.Chmod(root.Path("/root/.ssh"), 0o700)
	before := rendertest.Snapshot(t, root)
	_, err := h.AddKey(context.Background(), AddKeyRequest{User: "pfwd", Key: newKey(t, "friend")})
	if err == nil || !strings.Contains(err.Error(), "also the home of root") {
		t.Fatalf("err = %v", err)
	}
	rendertest.Unchanged(t, root, before)
}

// An authorized_keys owned by another account is never taken over.
func TestAddKeyRefusesAFileOfAnotherAccount(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to chown")
	}
	h, root := tree(t, nil)
	k := newKey(t, "friend")
	writeKeysFile(t, root, "")
	os.Chown(root.Path(akPath), 1000, 1000) // admin's
	before := rendertest.Snapshot(t, root)
	if _, err := h.AddKey(context.Background(), AddKeyRequest{User: "pfwd", Key: k}); err == nil || !strings.Contains(err.Error(), "owned by uid 1000") {
		t.Fatalf("err = %v", err)
	}
	rendertest.Unchanged(t, root, before)
}
