// Package ansible holds the example playbook of docs/ansible.md and the
// tests that keep it working: a syntax check, and a real run with the local
// connection against a --root tree (never the host's own /etc).
package ansible

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/pfwdctl/pfwdctl/internal/hostfs"
	"github.com/pfwdctl/pfwdctl/internal/target"
	"github.com/pfwdctl/pfwdctl/internal/testenv"
	"github.com/pfwdctl/pfwdctl/render/rendertest"
	"github.com/pfwdctl/pfwdctl/verify/lab"
)

func TestSyntaxCheck(t *testing.T) {
	ap := testenv.Require(t, "ansible-playbook", "ansible-core")
	t.Parallel()
	cmd := exec.Command(ap, "--syntax-check", "-i", "inventory.ini", "site.yml")
	cmd.Env = ansibleEnv(t)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ansible-playbook --syntax-check: %v\n%s", err, b)
	}
}

const friendKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINptRJvBG7wfMRS4YTlmKuwP7hB2zO6PWKKZjylfQeQU friend@laptop"

// TestPlaybookLocal runs the deploy play for real with the local connection
// against a Debian-like --root tree: the account is made by the real
// useradd --prefix, the drop-ins are proven by the real sshd -t. A second
// run must report changed=0, which proves changed_when reads pfwdctl's
// "changed" correctly.
func TestPlaybookLocal(t *testing.T) {
	ap := testenv.Require(t, "ansible-playbook", "ansible-core")
	testenv.Root(t) // useradd --prefix needs root
	testenv.Require(t, "useradd", "passwd")
	testenv.Sshd(t)
	goBin := testenv.Require(t, "go", "golang")
	t.Parallel()

	dir := t.TempDir()
	bin := filepath.Join(dir, "pfwdctl")
	build := exec.Command(goBin, "build", "-o", bin, "../../../cmd/pfwdctl")
	if b, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	tree := filepath.Join(dir, "tree")
	if err := rendertest.Build(hostfs.MustRoot(tree), rendertest.Tree{}); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(tree, "etc/group"), "root:x:0:\nadmin:x:1000:\npfwd:x:999:\n")
	write(t, filepath.Join(tree, "etc/gshadow"), "root:*::\nadmin:!::\npfwd:!::\n")
	inv := filepath.Join(dir, "inventory.ini")
	write(t, inv, "[pfwd_servers]\nlocalhost ansible_connection=local ansible_python_interpreter=/usr/bin/python3\n")
	vars, _ := json.Marshal(map[string]any{
		"ansible_become":  false, // already root; sudo may not even be installed
		"pfwdctl_binary":  bin,
		"pfwdctl_path":    filepath.Join(dir, "installed", "pfwdctl"),
		"pfwdctl_root":    tree,
		"pfwdctl_user":    "tunnel",
		"pfwdctl_targets": []string{"127.0.0.1:8009", "127.0.0.1:9000"},
		// An absolute date: a relative one (30d) is counted from each run,
		// so the second run would slide the expiry forward whenever the
		// two runs straddle a minute, and report changed=1 (docs/ansible.md).
		"pfwdctl_keys":           []map[string]string{{"name": "alice", "key": friendKey, "expires": "2099-12-31"}},
		"pfwdctl_verify_enabled": false, // no sshd serves the tree; verify --inventory has its own tests
	})
	varsFile := filepath.Join(dir, "vars.json")
	write(t, varsFile, string(vars))
	if err := os.MkdirAll(filepath.Join(dir, "installed"), 0o755); err != nil {
		t.Fatal(err)
	}

	play := func() string {
		t.Helper()
		cmd := exec.Command(ap, "-i", inv, "-e", "@"+varsFile, "site.yml")
		cmd.Env = ansibleEnv(t)
		b, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("ansible-playbook: %v\n%s", err, b)
		}
		return string(b)
	}
	recap := regexp.MustCompile(`localhost\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=0\s+failed=0`)
	out := play()
	m := recap.FindStringSubmatch(out)
	if m == nil || m[2] != "4" {
		t.Fatalf("first run: want changed=4 (copy, account, drop-ins, key):\n%s", out)
	}
	keys, err := os.ReadFile(filepath.Join(tree, "home/tunnel/.ssh/authorized_keys"))
	if err != nil || !strings.Contains(string(keys), `restrict,port-forwarding,permitopen="127.0.0.1:8009",permitopen="127.0.0.1:9000",expiry-time=`) {
		t.Errorf("authorized_keys: %q, %v", keys, err)
	}
	dropIn, err := os.ReadFile(filepath.Join(tree, "etc/ssh/sshd_config.d/20-tunnel-only.conf"))
	if err != nil || !strings.Contains(string(dropIn), "Match User tunnel") {
		t.Errorf("drop-in: %q, %v", dropIn, err)
	}

	out = play()
	if m := recap.FindStringSubmatch(out); m == nil || m[2] != "0" {
		t.Fatalf("second run: want changed=0:\n%s", out)
	}
}

// ansibleEnv keeps Ansible's state (tmp, facts cache) in the test's temp
// dir and its output plain.
func ansibleEnv(t *testing.T) []string {
	home := t.TempDir()
	return append(os.Environ(), "ANSIBLE_LOCAL_TEMP="+filepath.Join(home, "tmp"), "ANSIBLE_REMOTE_TEMP="+filepath.Join(home, "rtmp"),
		"ANSIBLE_NOCOLOR=1", "ANSIBLE_RETRY_FILES_ENABLED=0", "ANSIBLE_HOST_KEY_CHECKING=0", "HOME="+home)
}

func write(t *testing.T, p, s string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestVerifyPlay runs only the verify play (--tags verify) against lab
// sshds on loopback: pfwdctl verify --inventory reads Ansible's own INI
// inventory (ansible_host, ansible_port, pfwdctl_* group vars), and the
// play fails when a host fails.
func TestVerifyPlay(t *testing.T) {
	ap := testenv.Require(t, "ansible-playbook", "ansible-core")
	sshd := testenv.Sshd(t)
	goBin := testenv.Require(t, "go", "golang")
	t.Parallel()
	dir := t.TempDir()
	bin := filepath.Join(dir, "pfwdctl")
	if b, err := exec.Command(goBin, "build", "-o", bin, "../../../cmd/pfwdctl").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	echo, err := lab.ListenEcho()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { echo.Close() })
	start := func(o lab.Options) *lab.Server {
		o.Sshd, o.Targets = sshd, []target.Target{echo.Target}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		s, err := lab.Start(ctx, o)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	good := []*lab.Server{start(lab.Options{}), start(lab.Options{})}
	bad := start(lab.Options{BareKey: true, Edit: lab.ReplaceLine("20-pfwd-only.conf", "PermitOpen", "PermitOpen any")})

	inventory := func(servers ...*lab.Server) string {
		var b strings.Builder
		b.WriteString("[pfwd_servers]\n")
		for i, s := range servers {
			fmt.Fprintf(&b, "srv%d ansible_host=127.0.0.1 ansible_port=%d pfwdctl_key=%s pfwdctl_host_key=%s\n",
				i, s.Port, s.ClientKeyFile, ssh.FingerprintSHA256(s.HostKey))
		}
		fmt.Fprintf(&b, "\n[pfwd_servers:vars]\nansible_user=admin\npfwdctl_user=%s\n", servers[0].User)
		p := filepath.Join(t.TempDir(), "inventory.ini")
		write(t, p, b.String())
		return p
	}
	vars, _ := json.Marshal(map[string]any{"pfwdctl_local": bin, "pfwdctl_verify_args": []string{"--target", echo.Target.String()}})
	varsFile := filepath.Join(dir, "vars.json")
	write(t, varsFile, string(vars))
	play := func(inv string) (string, error) {
		cmd := exec.Command(ap, "-i", inv, "-e", "@"+varsFile, "--tags", "verify", "site.yml")
		cmd.Env = ansibleEnv(t)
		b, err := cmd.CombinedOutput()
		return string(b), err
	}
	if out, err := play(inventory(good...)); err != nil || !regexp.MustCompile(`localhost\s+: ok=1\s+changed=0\s+unreachable=0\s+failed=0\s+skipped=1`).MatchString(out) {
		t.Errorf("good fleet: %v\n%s", err, out)
	}
	out, err := play(inventory(append(good, bad)...))
	if err == nil || !strings.Contains(out, `\"outcome\": \"fail\"`) || !strings.Contains(out, "other-ports-prohibited") {
		t.Errorf("a failing host must fail the play: %v\n%s", err, out)
	}
}
