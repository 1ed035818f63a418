package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/pfwdctl/pfwdctl/internal/accounts"
	"github.com/pfwdctl/pfwdctl/internal/auditlog"
	"github.com/pfwdctl/pfwdctl/internal/hostfs"
	"github.com/pfwdctl/pfwdctl/internal/testenv"
	"github.com/pfwdctl/pfwdctl/templates"
	"github.com/pfwdctl/pfwdctl/verify/lab/labtest"
)

// removeHost is a main sshd config in a temp directory on the running
// system (no --root: sshd -T reads it as it would /etc/ssh/sshd_config),
// with its own host key, no Include, and a drop-in directory holding a
// file that the config does not read (cloud-init's kind).
func removeHost(t *testing.T) (dir, main string) {
	t.Helper()
	testenv.Root(t)
	dir = t.TempDir()
	os.Chmod(dir, 0o755)
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	block, _ := ssh.MarshalPrivateKey(priv, "")
	key := filepath.Join(dir, "ssh_host_ed25519_key")
	os.WriteFile(key, pem.EncodeToMemory(block), 0o600)
	main = filepath.Join(dir, "sshd_config")
	os.WriteFile(main, []byte("# the admin's own config\nHostKey "+key+"\nPort 22\nX11Forwarding yes\nSubsystem sftp internal-sftp\nMatch User nobody\n    PermitTTY no\n"), 0o644)
	os.Mkdir(filepath.Join(dir, "sshd_config.d"), 0o755)
	os.WriteFile(filepath.Join(dir, "sshd_config.d", "50-cloud-init.conf"), []byte("MaxAuthTries 3\nPasswordAuthentication yes\n"), 0o644)
	return dir, main
}

// tree is every file under dir with its bytes.
func treeFiles(t *testing.T, dir string) string {
	t.Helper()
	var out []string
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			data, _ := os.ReadFile(p)
			out = append(out, p+"\n"+string(data))
		}
		return nil
	})
	sort.Strings(out)
	return strings.Join(out, "\n--\n")
}

func sshdT(t *testing.T, main string) string {
	t.Helper()
	out, err := exec.Command(testenv.Sshd(t), "-T", "-f", main).CombinedOutput()
	if err != nil {
		t.Fatalf("sshd -T: %v %s", err, out)
	}
	return string(out)
}

// pfwdctl remove after pfwdctl apply, in both install modes, on a real
// sshd config: sshd -T afterwards is byte-equal to sshd -T before apply
// (the Include apply added is gone, so the drop-in sshd never read before
// is not read now either), and every file is as it was. --dry-run writes
// nothing; an sshd that rejects what is left gets the files back.
func TestE2ERemoveUndoesApply(t *testing.T) {
	for _, mode := range []string{"drop-ins", "managed-block"} {
		t.Run(mode, func(t *testing.T) {
			dir, main := removeHost(t)
			audit := filepath.Join(t.TempDir(), "audit.jsonl")
			run := func(want int, args ...string) string {
				t.Helper()
				env, out, errb := testEnv()
				env.AuditLog = audit
				if code := Main(append(args, "--sshd-config", main), env); code != want {
					t.Fatalf("%v: exit %d, want %d: %s%s", args, code, want, out, errb)
				}
				return out.String() + errb.String()
			}
			before, beforeFiles := sshdT(t, main), treeFiles(t, dir)
			hostAudit, _ := os.ReadFile(auditlog.Path)

			run(0, "apply", "--install-mode", mode, "--no-reload", "--force")
			applied, appliedFiles := sshdT(t, main), treeFiles(t, dir)
			if applied == before {
				t.Fatal("apply changed nothing sshd -T shows")
			}

			// --dry-run: the diff, and nothing written.
			if out := run(0, "remove", "--dry-run"); !strings.Contains(out, "dry run: nothing written") {
				t.Errorf("remove --dry-run:\n%s", out)
			}
			if treeFiles(t, dir) != appliedFiles {
				t.Fatal("remove --dry-run wrote")
			}

			// An sshd that rejects what is left: everything is put back.
			bad := filepath.Join(t.TempDir(), "sshd")
			os.WriteFile(bad, []byte("#!/bin/sh\nfor a; do [ \"$a\" = -t ] && { echo 'line 1: Bad configuration option: injected' >&2; exit 255; }; done\nexec "+testenv.Sshd(t)+" \"$@\"\n"), 0o755)
			if out := run(1, "remove", "--no-reload", "--sshd", bad); !strings.Contains(out, "rolled back") {
				t.Errorf("remove with a failing sshd -t:\n%s", out)
			}
			if treeFiles(t, dir) != appliedFiles {
				t.Fatal("a failed remove was not rolled back byte for byte")
			}

			out := run(0, "remove", "--no-reload")
			if !strings.Contains(out, "sshd -t accepts what is left") {
				t.Errorf("remove:\n%s", out)
			}
			// The account stays: remove says so, and how to remove it.
			if !strings.Contains(out, "the account pfwd stays") || !strings.Contains(out, "--delete-account") {
				t.Errorf("remove does not say the account is left:\n%s", out)
			}
			if after := sshdT(t, main); after != before {
				t.Errorf("sshd -T after remove differs from before apply:\n--- before\n%s\n--- after\n%s", before, after)
			}
			if got := treeFiles(t, dir); got != beforeFiles {
				t.Errorf("files after remove differ from before apply:\n--- before\n%s\n--- after\n%s", beforeFiles, got)
			}
			if out := run(0, "remove", "--no-reload"); !strings.Contains(out, "nothing of pfwdctl's is installed") {
				t.Errorf("second remove:\n%s", out)
			}
			data, _ := os.ReadFile(audit)
			if !strings.Contains(string(data), `"action":"dropin-remove"`) || !strings.Contains(string(data), `"action":"dropin-rollback"`) {
				t.Errorf("audit log:\n%s", data)
			}
			if now, _ := os.ReadFile(auditlog.Path); string(now) != string(hostAudit) {
				t.Errorf("the test changed the host's %s", auditlog.Path)
			}
		})
	}
}

// pfwdctl remove --user NAME --delete-account on a useradd account whose
// friend's tunnel is open through the real sshd: refused while the
// session is open (nothing changed), then with --kill-sessions the tunnel
// ends, the keys are revoked in the audit log and the account and its
// home are gone.
func TestE2ERemoveDeletesAccount(t *testing.T) {
	name, s, echo, logPath, audit := e2eLab(t, "pfd")
	run := func(want int, args ...string) string {
		t.Helper()
		env, out, errb := testEnv()
		env.AuditLog = audit
		if code := Main(append(args, "--sshd-config", s.ConfigFile), env); code != want {
			t.Fatalf("%v: exit %d, want %d: %s%s", args, code, want, out, errb)
		}
		return out.String() + errb.String()
	}
	key := labtest.Signer(t)
	run(0, "add-key", "--user", name, signerPub(t, key, "alice"))
	a, err := accounts.Lookup(hostfs.Root{}, name)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := labtest.Tunnel(t, s, key, echo)
	configBefore := treeFiles(t, s.Dir)

	out := run(1, "remove", "--user", name, "--delete-account", "--no-reload", "--log", logPath)
	if !strings.Contains(out, "open session") {
		t.Errorf("refusal:\n%s", out)
	}
	if _, err := accounts.Lookup(hostfs.Root{}, name); err != nil || treeFiles(t, s.Dir) != configBefore {
		t.Fatal("a refused remove changed something")
	}
	out = run(0, "remove", "--user", name, "--delete-account", "--kill-sessions", "--no-reload", "--log", logPath)
	for _, want := range []string{"alice", "deleted the account " + name, "userdel -r " + name} {
		if !strings.Contains(out, want) {
			t.Errorf("remove --delete-account lacks %q:\n%s", want, out)
		}
	}
	done := make(chan error, 1)
	go func() { done <- c.Wait() }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the tunnel is still up")
	}
	if _, err := accounts.Lookup(hostfs.Root{}, name); err == nil {
		t.Fatal("the account is still there")
	}
	// Only this account's Match block went: the baseline (and any other
	// account's block) still hardens sshd for everyone else.
	if _, err := os.Stat(filepath.Join(s.DropInDir, templates.ForwardFile(name))); err == nil {
		t.Errorf("%s's Match block is still installed", name)
	}
	if _, err := os.Stat(filepath.Join(s.DropInDir, templates.Hardening)); err != nil {
		t.Errorf("remove --delete-account took the baseline too: %v", err)
	}
	if _, err := os.Stat(a.Home); err == nil {
		t.Errorf("%s is still there", a.Home)
	}
	data, _ := os.ReadFile(audit)
	for _, want := range []string{`"action":"key-revoke"`, `"action":"session-kill"`, `"action":"user-delete"`} {
		if !strings.Contains(string(data), want) {
			t.Errorf("audit log lacks %s:\n%s", want, data)
		}
	}
}

// apply --permit-root-login prohibit-password on a real sshd config: sshd
// -T lets root in by key only (9.2 prints it as without-password), a plain
// apply keeps it, "yes" is refused as usage, and --permit-root-login no
// turns it back.
func TestE2EApplyPermitRootLogin(t *testing.T) {
	_, main := removeHost(t)
	run := func(want int, args ...string) string {
		t.Helper()
		env, out, errb := testEnv()
		env.AuditLog = filepath.Join(t.TempDir(), "audit.jsonl")
		if code := Main(append(args, "--sshd-config", main, "--no-reload", "--force"), env); code != want {
			t.Fatalf("%v: exit %d, want %d: %s%s", args, code, want, out, errb)
		}
		return out.String() + errb.String()
	}
	rootLogin := func() string {
		t.Helper()
		out, err := exec.Command(testenv.Sshd(t), "-T", "-f", main, "-C", "user=root,host=localhost,addr=127.0.0.1").CombinedOutput()
		if err != nil {
			t.Fatalf("sshd -T: %v %s", err, out)
		}
		for _, l := range strings.Split(string(out), "\n") {
			if f := strings.Fields(l); len(f) == 2 && strings.EqualFold(f[0], "permitrootlogin") {
				return f[1]
			}
		}
		return ""
	}
	run(2, "apply", "--permit-root-login", "yes")
	run(0, "apply", "--permit-root-login", "prohibit-password")
	if got := rootLogin(); got != "prohibit-password" && got != "without-password" {
		t.Fatalf("permitrootlogin %q after apply --permit-root-login prohibit-password", got)
	}
	if out := run(0, "apply"); !strings.Contains(out, "already up to date") {
		t.Errorf("a plain apply did not keep it:\n%s", out)
	}
	run(0, "apply", "--permit-root-login", "no")
	if got := rootLogin(); got != "no" {
		t.Fatalf("permitrootlogin %q after --permit-root-login no", got)
	}
}
