package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/pfwdctl/pfwdctl/internal/accounts"
	"github.com/pfwdctl/pfwdctl/internal/auditlog"
	"github.com/pfwdctl/pfwdctl/internal/hostfs"
	"github.com/pfwdctl/pfwdctl/internal/target"
	"github.com/pfwdctl/pfwdctl/internal/testenv"
	"github.com/pfwdctl/pfwdctl/users"
	"github.com/pfwdctl/pfwdctl/verify/lab"
	"github.com/pfwdctl/pfwdctl/verify/lab/labtest"
)

// e2eAccount is a real useradd account (nologin, password "*") removed
// with its sessions at the end of the test; the host's audit log must be
// left as it was.
// e2eLab is an e2eAccount restricted by a lab sshd on loopback that
// forwards only to an echo service, with sshd's log in logPath (for
// sessions and --kill-sessions) and an audit log of the test's own.
func e2eLab(t *testing.T, prefix string) (name string, s *lab.Server, echo *lab.Echo, logPath, audit string) {
	t.Helper()
	name = e2eAccount(t, prefix)
	echo = labtest.Echo(t)
	logPath, logW := labtest.LogFile(t)
	s = labtest.New(t, lab.Options{User: name, Targets: []target.Target{echo.Target}, AuthorizedKeysFile: ".ssh/authorized_keys", Log: logW})
	return name, s, echo, logPath, filepath.Join(t.TempDir(), "audit.jsonl")
}

func e2eAccount(t *testing.T, prefix string) string {
	t.Helper()
	testenv.Root(t)
	useradd := testenv.Require(t, "useradd", "passwd")
	name := fmt.Sprintf("%s%d", prefix, time.Now().UnixNano()%1e7)
	if out, err := exec.Command(useradd, "-m", "-s", "/usr/sbin/nologin", name).CombinedOutput(); err != nil {
		t.Fatalf("useradd: %v %s", err, out)
	}
	exec.Command("usermod", "-p", "*", name).Run()
	hostAudit, _ := os.ReadFile(auditlog.Path)
	t.Cleanup(func() {
		if a, err := accounts.Lookup(hostfs.Root{}, name); err == nil {
			ss, _ := users.ProcSessions{}.Find(context.Background(), a)
			for _, s := range ss {
				syscall.Kill(s.PID, syscall.SIGKILL)
			}
		}
		exec.Command("userdel", "-r", name).Run()
		if now, _ := os.ReadFile(auditlog.Path); string(now) != string(hostAudit) {
			t.Errorf("the test changed the host's %s", auditlog.Path)
		}
	})
	return name
}

func signerPub(t *testing.T, s ssh.Signer, comment string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "key.pub")
	line := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(s.PublicKey()))) + " " + comment + "\n"
	if err := os.WriteFile(p, []byte(line), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// pfwdctl rotate as an admin runs it against the real sshd and a useradd
// account, while the old key's tunnel is open: the line keeps its options
// and name byte for byte, the new key logs in and forwards, the old one
// is refused, its open tunnel is reported (and left up) and, on the next
// rotation with --kill-sessions, ended.
func TestE2ERotate(t *testing.T) {
	name, s, echo, logPath, audit := e2eLab(t, "pfr")
	run := func(want int, args ...string) string {
		t.Helper()
		env, out, errb := testEnv()
		env.AuditLog = audit
		if code := Main(append(args, "--sshd-config", s.ConfigFile, "--user", name), env); code != want {
			t.Fatalf("%v: exit %d, want %d: %s%s", args, code, want, out, errb)
		}
		return out.String() + errb.String()
	}
	old, fresh, newer := labtest.Signer(t), labtest.Signer(t), labtest.Signer(t)
	run(0, "add-key", signerPub(t, old, "alice"), "--expires", "30d", "--from", "127.0.0.0/8")
	akFile := filepath.Join("/home", name, ".ssh/authorized_keys")
	if a, err := accounts.Lookup(hostfs.Root{}, name); err == nil {
		akFile = filepath.Join(a.Home, ".ssh/authorized_keys")
	}
	before, err := os.ReadFile(akFile)
	if err != nil {
		t.Fatal(err)
	}
	_, oldPing := labtest.Tunnel(t, s, old, echo)

	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if strings.Contains(run(0, "sessions", "--log", logPath), "alice") {
			break
		}
	}
	out := run(0, "rotate", "alice", signerPub(t, fresh, "whatever"), "--log", logPath)
	if !strings.Contains(out, "rotated key alice") || !strings.Contains(out, "1 open session(s), 1 of them tied to the old key") {
		t.Errorf("rotate:\n%s", out)
	}
	after, _ := os.ReadFile(akFile)
	oldB64 := strings.Fields(string(ssh.MarshalAuthorizedKey(old.PublicKey())))[1]
	newB64 := strings.Fields(string(ssh.MarshalAuthorizedKey(fresh.PublicKey())))[1]
	if want := strings.Replace(string(before), oldB64, newB64, 1); string(after) != want {
		t.Fatalf("authorized_keys after rotate:\n%s\nwant\n%s", after, want)
	}
	if err := labtest.Login(s, fresh, echo); err != nil {
		t.Fatalf("the new key does not log in and forward: %v", err)
	}
	if err := labtest.Login(s, old, echo); err == nil {
		t.Fatal("the old key still logs in")
	}
	if err := oldPing(); err != nil {
		t.Fatalf("the old key's open tunnel was ended without --kill-sessions: %v", err)
	}

	// The next rotation ends the rotated-out key's tunnel when asked.
	freshC, _ := labtest.Tunnel(t, s, fresh, echo)
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if strings.Contains(run(0, "sessions", "--log", logPath), "alice") {
			break
		}
	}
	out = run(0, "rotate", "alice", signerPub(t, newer, "x"), "--kill-sessions", "--log", logPath)
	if !strings.Contains(out, "ended") {
		t.Errorf("rotate --kill-sessions:\n%s", out)
	}
	done := make(chan error, 1)
	go func() { done <- freshC.Wait() }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the rotated-out key's tunnel is still up")
	}
	if err := labtest.Login(s, newer, echo); err != nil {
		t.Fatalf("the newest key: %v", err)
	}
	data, _ := os.ReadFile(audit)
	if strings.Count(string(data), "rotated out for") < 2 {
		t.Errorf("the rotations are not in the audit log:\n%s", data)
	}
}
