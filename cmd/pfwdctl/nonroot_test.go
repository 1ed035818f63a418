package main

import (
	"crypto/sha256"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/pfwdctl/pfwdctl/internal/auditlog"
	"github.com/pfwdctl/pfwdctl/internal/testenv"
	"github.com/pfwdctl/pfwdctl/render/rendertest"
)

// Every command is classified, so a new command has to decide whether it
// needs root.
func TestEveryCommandSaysIfItNeedsRoot(t *testing.T) {
	env, _, _ := testEnv()
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			if sub.Hidden || sub.Name() == "help" {
				continue
			}
			if _, ok := needsRoot[strings.TrimPrefix(sub.CommandPath(), "pfwdctl ")]; !ok {
				t.Errorf("%s is not in needsRoot", sub.CommandPath())
			}
			walk(sub)
		}
	}
	root := NewRootCmd(&Globals{Env: env})
	walk(root)
	for _, name := range []string{"render", "lab", "verify", "completion"} {
		c, _, err := root.Find([]string{name})
		if err != nil {
			t.Fatal(err)
		}
		if needsRoot[name](c) {
			t.Errorf("%s must work as any user", name)
		}
	}
}

// As non-root on the running system, a command that needs root says so
// first (exit 2, the sudo line to run), instead of the false answers it
// gave before ("no account pfwd", "cannot take the lock"). The built binary
// runs as nobody, so even a regression cannot change this host.
func TestNonRootIsToldToUseSudo(t *testing.T) {
	testenv.Root(t) // to switch to nobody
	setpriv := testenv.Require(t, "setpriv", "util-linux")
	dir, err := os.MkdirTemp("", "pfwdctl-nonroot-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	bin := filepath.Join(dir, "pfwdctl")
	build := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	pub := filepath.Join(dir, "friend.pub")
	os.WriteFile(pub, []byte("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINptRJvBG7wfMRS4YTlmKuwP7hB2zO6PWKKZjylfQeQU alice\n"), 0o644)

	asNobody := func(args ...string) (string, string, int) {
		t.Helper()
		c := exec.Command(setpriv, append([]string{"--reuid=65534", "--regid=65534", "--clear-groups", bin}, args...)...)
		c.Dir = dir
		c.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "NO_COLOR=1", "HOME=" + dir}
		var out, errb strings.Builder
		c.Stdout, c.Stderr = &out, &errb
		err := c.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return out.String(), errb.String(), code
	}

	before := hostState(t)
	for _, tc := range []struct {
		name string
		args []string
		hint string
	}{
		{"apply", []string{"apply"}, "sudo pfwdctl apply"},
		{"apply", []string{"apply", "--target", "127.0.0.1:8010", "--dry-run"}, "sudo pfwdctl apply --target 127.0.0.1:8010 --dry-run"},
		{"audit", []string{"audit"}, "sudo pfwdctl audit"},
		{"add-key", []string{"add-key", "friend.pub", "--name", "alice smith"}, "sudo pfwdctl add-key friend.pub --name 'alice smith'"},
		{"list-keys", []string{"list-keys"}, "sudo pfwdctl list-keys"},
		{"revoke", []string{"revoke", "alice"}, "sudo pfwdctl revoke alice"},
		{"prune", []string{"prune"}, "sudo pfwdctl prune"},
		{"user create", []string{"user", "create"}, "sudo pfwdctl user create"},
		{"verify", []string{"verify", "--self"}, "sudo pfwdctl verify --self"},
		{"wizard", []string{"wizard"}, "sudo pfwdctl wizard"},
		{"apply", []string{"--json", "apply"}, "sudo pfwdctl --json apply"},
	} {
		out, errb, code := asNobody(tc.args...)
		want := fmt.Sprintf("pfwdctl: error: %s must run as root\npfwdctl: hint: %s\n", tc.name, tc.hint)
		if code != 2 || errb != want {
			t.Errorf("pfwdctl %s as nobody: exit %d, want 2\nstderr %q\nwant   %q", strings.Join(tc.args, " "), code, errb, want)
		}
		if tc.args[0] == "--json" && !strings.Contains(out, `"exit_code": 2`) {
			t.Errorf("--json: stdout %q", out)
		}
	}
	if after := hostState(t); after != before {
		t.Errorf("a refused non-root run changed the host:\nbefore %s\nafter  %s", before, after)
	}

	// render, verify (without --self) and completion work as any user.
	if out, errb, code := asNobody("render"); code != 0 || !strings.Contains(out, "Match User pfwd") {
		t.Errorf("render as nobody: exit %d\n%s%s", code, out, errb)
	}
	if out, errb, code := asNobody("completion", "bash"); code != 0 || out == "" {
		t.Errorf("completion as nobody: exit %d\n%s", code, errb)
	}
	// (It goes on to its own checks: here, that it has no key.)
	if _, errb, code := asNobody("verify", "--host", "127.0.0.1", "--port", "1", "--timeout", "2s"); strings.Contains(errb, "must run as root") || !strings.Contains(errb, "no key to log in with") {
		t.Errorf("verify as nobody: exit %d\n%s", code, errb)
	}
}

// hostState fingerprints what a change would touch on this host: the
// drop-ins and the audit log.
func hostState(t *testing.T) string {
	h := sha256.New()
	filepath.WalkDir("/etc/ssh", func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			data, _ := os.ReadFile(p)
			fmt.Fprintf(h, "%s %x\n", p, sha256.Sum256(data))
		}
		return nil
	})
	data, err := os.ReadFile(auditlog.Path)
	fmt.Fprintf(h, "log %v %x\n", err == nil, sha256.Sum256(data))
	return fmt.Sprintf("%x", h.Sum(nil))
}

// Under --root (tests, image builds) nothing needs root: the same commands
// run for an ordinary user on a tree.
func TestRootTreeNeedsNoRoot(t *testing.T) {
	sshd := testenv.Sshd(t)
	root := rendertest.New(t, rendertest.Tree{})
	env, out, errb := testEnv()
	env.Geteuid = func() int { return 65534 }
	if code := Main([]string{"--root", root.Dir(), "apply", "--sshd", sshd, "--no-reload"}, env); code != 0 {
		t.Fatalf("--root apply as uid 65534: exit %d\n%s%s", code, out, errb)
	}
	env, out, errb = testEnv()
	env.Geteuid = func() int { return 65534 }
	if code := Main([]string{"--root", root.Dir(), "audit", "--sshd", sshd}, env); code != 0 {
		t.Errorf("--root audit as uid 65534: exit %d\n%s%s", code, out, errb)
	}
}
