package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pfwdctl/pfwdctl/internal/testenv"
	"github.com/pfwdctl/pfwdctl/render/rendertest"
)

// A first-time user's mistakes get messages that lead somewhere: no
// argument says what to give; a name changed to fit is said, since names
// are how keys are revoked.
func TestAddKeyMessages(t *testing.T) {
	env, out, errb := testEnv()
	if code := Main([]string{"add-key"}, env); code != 2 || !strings.Contains(errb.String(), "pfwdctl add-key friend.pub") || strings.Contains(errb.String(), "accepts 1 arg") {
		t.Fatalf("no argument: exit %d\n%s%s", code, out, errb)
	}

	sshd := testenv.Sshd(t)
	root := rendertest.New(t, rendertest.Tree{})
	env, _, errb = testEnv()
	if code := Main([]string{"--root", root.Dir(), "apply", "--sshd", sshd}, env); code != 0 {
		t.Fatalf("apply: %s", errb)
	}
	os.MkdirAll(root.Path("/home/pfwd/.ssh"), 0o700)
	pub := filepath.Join(t.TempDir(), "friend.pub")
	os.WriteFile(pub, []byte(agreeKey(t, "friend")+"\n"), 0o644)
	env, out, errb = testEnv()
	if code := Main([]string{"--root", root.Dir(), "add-key", pub, "--name", "bob laptop!"}, env); code != 0 {
		t.Fatalf("add-key: exit %d\n%s%s", code, out, errb)
	}
	if all := out.String() + errb.String(); !strings.Contains(all, `--name "bob laptop!" is stored as "bob-laptop"`) {
		t.Fatalf("the changed name is not said:\n%s", all)
	}
}
