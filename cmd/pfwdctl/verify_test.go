package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"

	"github.com/pfwdctl/pfwdctl/internal/fail"
	"github.com/pfwdctl/pfwdctl/internal/target"
	"github.com/pfwdctl/pfwdctl/internal/testenv"
	"github.com/pfwdctl/pfwdctl/render/rendertest"
	"github.com/pfwdctl/pfwdctl/verify"
	"github.com/pfwdctl/pfwdctl/verify/lab"
	"github.com/pfwdctl/pfwdctl/verify/lab/labtest"
	"github.com/pfwdctl/pfwdctl/verify/self"
)

// verifyArgs are the flags that point verify at a lab.
func verifyArgs(s *lab.Server, extra ...string) []string {
	args := []string{"verify", "--host", "127.0.0.1", "--port", strconv.Itoa(s.Port), "--user", s.User,
		"--socket", s.Socket}
	for _, t := range s.Targets {
		args = append(args, "--target", t.String())
	}
	return append(args, extra...)
}

func labWithEcho(t *testing.T, o lab.Options) *lab.Server {
	t.Helper()
	echo := labtest.Echo(t)
	o.Targets = []target.Target{echo.Target}
	return labtest.New(t, o)
}

type verifyDoc struct {
	Passed   bool   `json:"passed"`
	ExitCode int    `json:"exit_code"`
	Reason   string `json:"reason"`
	Hint     string `json:"hint"`
	HostKey  string `json:"host_key"`
	Checks   []struct {
		Name, Status, Detail, Proves string
		DurationMS                   float64 `json:"duration_ms"`
	} `json:"checks"`
}

func parseDoc(t *testing.T, out string) verifyDoc {
	t.Helper()
	var d verifyDoc
	if err := json.Unmarshal([]byte(out), &d); err != nil {
		t.Fatalf("--json output is not one JSON document: %v\n%s", err, out)
	}
	return d
}

func TestVerifyCLIAgainstLab(t *testing.T) {
	t.Parallel()
	s := labWithEcho(t, lab.Options{})
	base := verifyArgs(s, "--key", s.ClientKeyFile, "--known-hosts", s.KnownHostsFile)

	out, stderr, code := runCLI(t, nil, base...)
	if code != 0 || !strings.Contains(out, "9 checks: 9 passed, 0 failed, 0 warnings") || stderr != "" {
		t.Fatalf("exit %d\n%s%s", code, out, stderr)
	}
	for _, want := range []string{"✓ shell-blocked", "✓ tunnel-open", "✓ other-ports-prohibited", "✓ password-auth-off"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q", want)
		}
	}

	out, _, code = runCLI(t, nil, append(base, "--json")...)
	d := parseDoc(t, out)
	if code != 0 || !d.Passed || d.ExitCode != 0 || len(d.Checks) != 9 || d.HostKey != ssh.FingerprintSHA256(s.HostKey) {
		t.Fatalf("exit %d: %+v", code, d)
	}
	for _, c := range d.Checks {
		if c.Status != "pass" || c.Detail == "" || c.Proves == "" || c.DurationMS <= 0 {
			t.Errorf("check %+v", c)
		}
	}

	// A pinned fingerprint instead of known_hosts.
	if _, stderr, code := runCLI(t, nil, verifyArgs(s, "--key", s.ClientKeyFile, "--host-key", ssh.FingerprintSHA256(s.HostKey))...); code != 0 {
		t.Errorf("--host-key: exit %d: %s", code, stderr)
	}
}

// TestVerifyCLIBrokenExit1: a failed check is exit 1 with the check named.
func TestVerifyCLIBrokenExit1(t *testing.T) {
	t.Parallel()
	s := labWithEcho(t, lab.Options{BareKey: true, Edit: lab.ReplaceLine("20-pfwd-only.conf", "PermitOpen", "PermitOpen any")})
	out, stderr, code := runCLI(t, nil, verifyArgs(s, "--key", s.ClientKeyFile, "--known-hosts", s.KnownHostsFile, "--json")...)
	d := parseDoc(t, out)
	if code != 1 || d.ExitCode != 1 || d.Passed {
		t.Fatalf("exit %d: %s", code, out)
	}
	for _, c := range d.Checks {
		if (c.Status == "fail") != (c.Name == "other-ports-prohibited") {
			t.Errorf("%s: %s", c.Name, c.Status)
		}
	}
	if !strings.Contains(stderr, "1 of 9 checks failed: other-ports-prohibited") {
		t.Errorf("stderr: %s", stderr)
	}
}

// TestVerifyCLIWarnStrict: a target that sshd permits but where nothing
// listens is a warning (exit 0), and a failure with --strict.
func TestVerifyCLIWarnStrict(t *testing.T) {
	t.Parallel()
	echo := labtest.Echo(t)
	tgt := echo.Target
	echo.Close()
	s := labtest.New(t, lab.Options{Targets: []target.Target{tgt}})
	args := verifyArgs(s, "--key", s.ClientKeyFile, "--known-hosts", s.KnownHostsFile)
	out, _, code := runCLI(t, nil, args...)
	if code != 0 || !strings.Contains(out, "! tunnel-open") || !strings.Contains(out, "permitted, but nothing answers at "+tgt.String()) {
		t.Fatalf("exit %d\n%s", code, out)
	}
	if _, _, code := runCLI(t, nil, append(args, "--strict")...); code != 1 {
		t.Errorf("--strict: exit %d, want 1", code)
	}
}

func writeKey(t *testing.T, dir, name string, passphrase []byte) (string, ssh.Signer) {
	t.Helper()
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	var blk *pem.Block
	var err error
	if passphrase != nil {
		blk, err = ssh.MarshalPrivateKeyWithPassphrase(priv, name, passphrase)
	} else {
		blk, err = ssh.MarshalPrivateKey(priv, name)
	}
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, pem.EncodeToMemory(blk), 0o600); err != nil {
		t.Fatal(err)
	}
	s, _ := ssh.NewSignerFromKey(priv)
	return p, s
}

// TestVerifyCLIExit3: no check runs, exit 3 with the reason in --json.
func TestVerifyCLIExit3(t *testing.T) {
	t.Parallel()
	s := labWithEcho(t, lab.Options{})
	dir := t.TempDir()
	otherKey, other := writeKey(t, dir, "other", nil)
	closed, _ := net.Listen("tcp", "127.0.0.1:0")
	closedPort := strconv.Itoa(closed.Addr().(*net.TCPAddr).Port)
	closed.Close()
	cases := []struct {
		name   string
		args   []string
		reason string
	}{
		{"wrong-host-key", verifyArgs(s, "--key", s.ClientKeyFile, "--host-key", ssh.FingerprintSHA256(other.PublicKey())), "host key mismatch"},
		{"wrong-user-key", verifyArgs(s, "--key", otherKey, "--known-hosts", s.KnownHostsFile), "auth failed"},
		{"closed-port", append(verifyArgs(s, "--key", s.ClientKeyFile, "--insecure-ignore-host-key"), "--port", closedPort), "refused"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			out, stderr, code := runCLI(t, nil, append(c.args, "--json")...)
			d := parseDoc(t, out)
			if code != 3 || d.ExitCode != 3 || d.Reason != c.reason || d.Hint == "" {
				t.Errorf("exit %d reason %q, want 3 %q\n%s%s", code, d.Reason, c.reason, out, stderr)
			}
			if !strings.Contains(stderr, "pfwdctl: error: cannot verify") || !strings.Contains(stderr, "pfwdctl: hint: ") {
				t.Errorf("stderr: %s", stderr)
			}
		})
	}
}

// TestVerifyCLIKeySources: an encrypted key with PFWDCTL_KEY_PASSPHRASE
// (and without it, no terminal: exit 2), and the ssh-agent.
func TestVerifyCLIKeySources(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	encKey, enc := writeKey(t, dir, "enc", []byte("correct horse"))
	s := labWithEcho(t, lab.Options{})
	keys, err := s.StandardKeyLine(enc.PublicKey(), "enc")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetAuthorizedKeys([]byte(keys)); err != nil {
		t.Fatal(err)
	}
	args := verifyArgs(s, "--known-hosts", s.KnownHostsFile)

	if _, stderr, code := runCLI(t, map[string]string{"PFWDCTL_KEY_PASSPHRASE": "correct horse"}, append(args, "--key", encKey)...); code != 0 {
		t.Errorf("passphrase from env: exit %d: %s", code, stderr)
	}
	if _, stderr, code := runCLI(t, nil, append(args, "--key", encKey)...); code != 2 || !strings.Contains(stderr, "PFWDCTL_KEY_PASSPHRASE") {
		t.Errorf("no passphrase, no terminal: exit %d: %s", code, stderr)
	}
	if _, stderr, code := runCLI(t, map[string]string{"PFWDCTL_KEY_PASSPHRASE": "wrong"}, append(args, "--key", encKey)...); code != 2 || !strings.Contains(stderr, "wrong passphrase") {
		t.Errorf("wrong passphrase: exit %d: %s", code, stderr)
	}

	// An agent holding the key, at SSH_AUTH_SOCK.
	kr := agent.NewKeyring()
	raw, _ := ssh.ParseRawPrivateKeyWithPassphrase(mustRead(t, encKey), []byte("correct horse"))
	if err := kr.Add(agent.AddedKey{PrivateKey: raw}); err != nil {
		t.Fatal(err)
	}
	sock := labtest.Agent(t, kr)
	if _, stderr, code := runCLI(t, map[string]string{"SSH_AUTH_SOCK": sock}, args...); code != 0 {
		t.Errorf("agent: exit %d: %s", code, stderr)
	}
	if _, stderr, code := runCLI(t, nil, args...); code != 2 || !strings.Contains(stderr, "no key to log in with") {
		t.Errorf("no key, no agent: exit %d: %s", code, stderr)
	}
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestVerifyCLIUsage(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"verify"}, "no server to verify"},
		{[]string{"verify", "--host", "h", "--insecure-ignore-host-key", "--host-key", "SHA256:x", "--key", "/dev/null"}, "cannot use /dev/null as a private key"},
		{[]string{"verify", "--host", "h", "--user", "Bad User"}, "invalid account name"},
		{[]string{"verify", "--host", "h", "--target", "nope"}, "invalid target"},
		{[]string{"verify", "--host", "h", "--port", "0"}, "invalid --port"},
		{[]string{"verify", "--self", "--key", "k"}, "exclude each other"},
	} {
		_, stderr, code := runCLI(t, nil, c.args...)
		if code != 2 || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d, want 2 with %q: %s", c.args, code, c.want, stderr)
		}
	}
	dir := t.TempDir()
	key, _ := writeKey(t, dir, "k", nil)
	_, stderr, code := runCLI(t, nil, "verify", "--host", "h", "--key", key, "--insecure-ignore-host-key", "--host-key", "SHA256:x")
	if code != 2 || !strings.Contains(stderr, "conflicting host key options") {
		t.Errorf("conflicting host key flags: exit %d: %s", code, stderr)
	}
}

// selfTree is a --root tree for verify --self against a lab: the lab's
// account in passwd/shadow with its home in the tree, the lab's drop-in as
// the installed one, and the lab's host key as the server's. The lab reads
// authorized_keys from the tree, so the key users.AddKey installs there is
// the one the real sshd judges.
func selfTree(t *testing.T, o lab.Options) (*lab.Server, string) {
	t.Helper()
	return selfTreeFor(t, func(string) lab.Options { return o })
}

// selfTreeFor is selfTree for a lab whose options name paths in the tree.
func selfTreeFor(t *testing.T, opts func(tree string) lab.Options) (*lab.Server, string) {
	t.Helper()
	testenv.Sshd(t)
	user, err := lab.DefaultUser()
	if err != nil {
		t.Fatal(err)
	}
	// As root, sshd reads the keys as the account: the tree must be
	// traversable by it (t.TempDir is 0700).
	tree, err := os.MkdirTemp("", "pfwdctl-selftree-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(tree) })
	os.Chmod(tree, 0o755)
	echo := labtest.Echo(t)
	o := opts(tree)
	o.User = user
	o.Targets = []target.Target{echo.Target}
	o.AuthorizedKeysFile = tree + "/home/%u/.ssh/authorized_keys"
	s := labtest.New(t, o)
	uid, gid := os.Getuid(), os.Getgid()
	if uid == 0 {
		uid, gid = 65534, 65534
	}
	files := map[string]string{
		"/etc/passwd":                       fmt.Sprintf("root:x:0:0:root:/root:/bin/bash\n%s:x:%d:%d::/home/%s:/usr/sbin/nologin\n", user, uid, gid, user),
		"/etc/shadow":                       "root:*:19000:0:99999:7:::\n" + user + ":*:19000:0:99999:7:::\n",
		"/etc/ssh/ssh_host_ed25519_key.pub": string(ssh.MarshalAuthorizedKey(s.HostKey)),
	}
	for _, f := range s.DropIns {
		files["/etc/ssh/sshd_config.d/"+f.Name] = string(f.Data)
	}
	for p, data := range files {
		full := filepath.Join(tree, p)
		os.MkdirAll(filepath.Dir(full), 0o755)
		if err := os.WriteFile(full, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	home := filepath.Join(tree, "home", user)
	os.MkdirAll(home, 0o755)
	os.Chown(home, uid, gid)
	return s, tree
}

func selfKeys(t *testing.T, tree, user string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(tree, "home", user, ".ssh", "authorized_keys"))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return string(data)
}

// TestVerifySelf: the throwaway key is installed with the standard prefix
// and an expiry, the real sshd lets it in, every check passes, and the key
// is gone afterwards, also when a check fails or no connection is made.
func TestVerifySelf(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		o    lab.Options
		args []string
		code int
	}{
		{"good", lab.Options{}, nil, 0},
		{"check-fails", lab.Options{Edit: lab.ReplaceLine("20-pfwd-only.conf", "AllowTcpForwarding", "AllowTcpForwarding yes")}, nil, 1},
		{"cannot-connect", lab.Options{}, []string{"--port", "1"}, 3},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			s, tree := selfTree(t, c.o)
			args := append([]string{"--root", tree, "verify", "--self", "--user", s.User, "--port", strconv.Itoa(s.Port), "--socket", s.Socket}, c.args...)
			out, stderr, code := runCLI(t, nil, args...)
			if code != c.code {
				t.Fatalf("exit %d, want %d\n%s%s\n%s", code, c.code, out, stderr, s.Logs())
			}
			if c.code != 3 {
				if !strings.Contains(out, "self: throwaway key SHA256:") || !strings.Contains(out, "9 checks:") {
					t.Errorf("report:\n%s", out)
				}
				// The real sshd accepted the installed line, and logged it.
				if !strings.Contains(s.Logs(), "Accepted publickey for "+s.User) {
					t.Errorf("sshd did not log the login:\n%s", s.Logs())
				}
			}
			if k := selfKeys(t, tree, s.User); strings.Contains(k, "pfwdctl-verify-self") {
				t.Errorf("the throwaway key is still installed:\n%s", k)
			}
			audit, _ := os.ReadFile(filepath.Join(tree, "var/log/pfwdctl/audit.jsonl"))
			if !strings.Contains(string(audit), `"key-add"`) || !strings.Contains(string(audit), `"key-revoke"`) {
				t.Errorf("audit log lacks the add and the revoke:\n%s", audit)
			}
			if strings.Count(string(audit), "expiry-time=") == 0 {
				t.Errorf("the key had no expiry-time:\n%s", audit)
			}
		})
	}
}

// TestVerifySelfSignals: SIGINT, SIGTERM or SIGHUP while verify waits (on a
// server that never answers) still removes the key. The test binary runs
// as pfwdctl (TestMain's testscript hook) in a child process.
func TestVerifySelfSignals(t *testing.T) {
	t.Parallel()
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP} {
		t.Run(sig.String(), func(t *testing.T) {
			t.Parallel()
			s, tree := selfTree(t, lab.Options{})
			mutePort := labtest.Mute(t)
			port := strconv.Itoa(mutePort)
			cmd := exec.Command(os.Args[0], "--root", tree, "verify", "--self", "--user", s.User, "--port", port, "--timeout", "60s")
			cmd.Args[0] = "pfwdctl"
			cmd.Env = append(os.Environ(), "NO_COLOR=1")
			var out strings.Builder
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(20 * time.Second)
			for !strings.Contains(selfKeys(t, tree, s.User), "pfwdctl-verify-self") {
				if time.Now().After(deadline) {
					cmd.Process.Kill()
					cmd.Wait()
					t.Fatalf("the key never appeared:\n%s", out.String())
				}
				time.Sleep(5 * time.Millisecond)
			}
			cmd.Process.Signal(sig)
			err := cmd.Wait()
			if err == nil {
				t.Errorf("exit 0 after %v", sig)
			}
			if k := selfKeys(t, tree, s.User); strings.Contains(k, "pfwdctl-verify-self") {
				t.Errorf("after %v the throwaway key is still installed:\n%s\n%s", sig, k, out.String())
			}
		})
	}
}

// TestVerifySelfLeavesNoSocket: on a server that permits streamlocal
// forwarding, the streamlocal-forward probe makes sshd create its socket,
// which sshd does not remove when the forward is cancelled; a failed
// --self left /tmp/pfwdctl-verify-*.sock behind. --self now gives the probe
// a directory of its own and removes it.
func TestVerifySelfLeavesNoSocket(t *testing.T) {
	t.Parallel()
	// Remote streamlocal listening needs remote forwarding too (sshd's
	// channel_permit_all(FORWARD_REMOTE) follows AllowTcpForwarding).
	s, tree := selfTree(t, lab.Options{Edit: lab.Chain(
		lab.ReplaceLine("", "AllowStreamLocalForwarding", "AllowStreamLocalForwarding yes"),
		lab.ReplaceLine("", "AllowTcpForwarding", "AllowTcpForwarding yes"))})
	out, stderr, code := runCLI(t, nil, "--root", tree, "verify", "--self", "--user", s.User, "--port", strconv.Itoa(s.Port), "--socket", s.Socket)
	if code != 1 {
		t.Fatalf("exit %d, want 1\n%s%s\n%s", code, out, stderr, s.Logs())
	}
	m := regexp.MustCompile(`streamlocal-forward listened on (\S+\.sock)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("the probe did not listen:\n%s", out)
	}
	if _, err := os.Lstat(m[1]); !os.IsNotExist(err) {
		t.Errorf("%s is left behind (%v)", m[1], err)
	}
	if _, err := os.Lstat(filepath.Dir(m[1])); !os.IsNotExist(err) || !strings.HasPrefix(filepath.Base(filepath.Dir(m[1])), "pfwdctl-verify-") {
		t.Errorf("the probe's directory %s is left behind (%v)", filepath.Dir(m[1]), err)
	}
}

// TestApplyRollsBackOnSignals: the admin's terminal or SSH session closing
// (SIGHUP), like Ctrl-C or SIGTERM, while sshd -t judges the written files
// rolls every file back byte for byte: SIGHUP once killed apply outright
// and left unvalidated drop-ins in place.
func TestApplyRollsBackOnSignals(t *testing.T) {
	t.Parallel()
	sshd := testenv.Sshd(t)
	for _, sig := range []syscall.Signal{syscall.SIGHUP, syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			t.Parallel()
			root := rendertest.New(t, rendertest.Tree{})
			before := rendertest.Snapshot(t, root)
			marker := filepath.Join(t.TempDir(), "validating")
			slow := filepath.Join(t.TempDir(), "sshd")
			// sshd -t of the new files: say so, then take long.
			os.WriteFile(slow, []byte("#!/bin/sh\nfor a; do [ \"$a\" = -t ] && { touch "+marker+"; sleep 30; exit 255; }; done\nexec "+sshd+" \"$@\"\n"), 0o755)
			cmd := exec.Command(os.Args[0], "--root", root.Dir(), "apply", "--sshd", slow, "--no-reload")
			cmd.Args[0] = "pfwdctl"
			cmd.Env = append(os.Environ(), "NO_COLOR=1")
			var out strings.Builder
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(10 * time.Millisecond) {
				if _, err := os.Stat(marker); err == nil {
					break
				}
				if time.Now().After(deadline) {
					cmd.Process.Kill()
					cmd.Wait()
					t.Fatalf("sshd -t never ran:\n%s", out.String())
				}
			}
			cmd.Process.Signal(sig)
			err := cmd.Wait()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 130 {
				t.Errorf("after %v: %v, want exit 130\n%s", sig, err, out.String())
			}
			rendertest.Unchanged(t, root, before)
		})
	}
}

// A throwaway key verify --self could not remove fails the run (exit 1,
// the error and its hint on stderr), even when every check passed: it once
// printed the error and exited 0.
func TestVerifySelfLeftoverFailsTheRun(t *testing.T) {
	old := verifySelf
	t.Cleanup(func() { verifySelf = old })
	verifySelf = func(ctx context.Context, o self.Options) (self.Result, error) {
		return self.Result{User: "pfwd", Installed: true, Fingerprint: "SHA256:x", Expiry: time.Now(),
				Report:   &verify.Report{Passed: true},
				Leftover: fail.New(fail.Failed, "remove line 3 by hand", "the throwaway key SHA256:x is still installed for pfwd")},
			nil
	}
	env, out, errb := testEnv()
	if code := Main([]string{"--root", t.TempDir(), "verify", "--self"}, env); code != 1 || !strings.Contains(errb.String(), "still installed") || !strings.Contains(errb.String(), "remove line 3 by hand") {
		t.Errorf("exit %d\n%s%s", code, out, errb)
	}
}
