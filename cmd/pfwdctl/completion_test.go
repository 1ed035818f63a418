package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/pfwdctl/pfwdctl/internal/testenv"
)

// TestBashCompletionWithoutPackage (issue 15): cobra's bash script called
// _get_comp_words_by_ref from the bash-completion package, so in a bash
// without it (a minimal container, bash --norc) every TAB printed
// "command not found" and completed nothing. A real interactive bash --norc
// in tmux, with bash-completion not loaded, completes commands, flags and
// argument values.
func TestBashCompletionWithoutPackage(t *testing.T) {
	t.Parallel()
	testenv.Require(t, "tmux", "tmux")
	testenv.Require(t, "bash", "bash")
	dir := t.TempDir()
	bin := filepath.Join(dir, "pfwdctl")
	build := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	os.WriteFile(filepath.Join(dir, "friend.pub"), nil, 0o644)
	s := &tmuxSession{t: t, sock: filepath.Join(dir, "tmux.sock")}
	shell := "cd " + dir + " && env -i PATH=" + dir + ":/usr/bin:/bin HOME=" + dir + " HISTFILE=/dev/null TERM=xterm PS1='$ ' bash --norc --noprofile"
	s.tmux("-f", "/dev/null", "new-session", "-d", "-s", "w", "-x", "120", "-y", "30", shell)
	t.Cleanup(func() { exec.Command("tmux", "-S", s.sock, "kill-server").Run() })

	s.keys("-l", `declare -F _init_completion _get_comp_words_by_ref || echo "no bash-completion"`)
	s.keys("Enter")
	s.waitFor("no bash-completion")
	s.keys("-l", "source <(pfwdctl completion bash)")
	s.keys("Enter")
	for _, c := range []struct{ typed, want string }{
		{"pfwdctl add", "$ pfwdctl add-key"},
		{"pfwdctl add-key --na", "$ pfwdctl add-key --name"},
		{"pfwdctl completion f", "$ pfwdctl completion fish"},
		{"pfwdctl add-key fri", "$ pfwdctl add-key friend.pub"},
	} {
		s.keys("C-u")
		s.keys("-l", c.typed)
		s.keys("Tab")
		scr := s.waitFor(c.want)
		if strings.Contains(scr, "command not found") {
			t.Fatalf("%q:\n%s", c.typed, scr)
		}
	}
}
