package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

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
		env, out, errb := testEnv()
		if code := Main(append([]string{"--root", root.Dir()}, args...), env); code != want {
			t.Fatalf("%v: exit %d, want %d\n%s%s", args, code, want, out, errb)
		}
		return out.String()
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

	// --target still changes them, on purpose.
	run(0, "apply", "--sshd", sshd, "--target", "127.0.0.1:8011")
	dropIn, _ = os.ReadFile(root.Path("/etc/ssh/sshd_config.d/20-pfwd-only.conf"))
	if !strings.Contains(string(dropIn), "PermitOpen 127.0.0.1:8011\n") {
		t.Fatalf("--target ignored:\n%s", dropIn)
	}
}
