package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/pfwdctl/pfwdctl/verify/lab/labtest"
)

// pfwdctl add-key, sessions and sessions kill as an admin runs them on
// the host, against the real sshd and a real useradd account (the audit
// log goes to a temp file: the host's is never written): two friends'
// tunnels are listed with their key names, "sessions kill bob" ends bob's
// only, and ann's still moves data afterwards.
func TestE2ESessionsCommand(t *testing.T) {
	name, s, echo, logPath, audit := e2eLab(t, "pfs")
	run := func(want int, args ...string) string {
		t.Helper()
		env, out, errb := testEnv()
		env.AuditLog = audit
		if code := Main(append(args, "--sshd-config", s.ConfigFile, "--user", name), env); code != want {
			t.Fatalf("%v: exit %d, want %d: %s%s", args, code, want, out, errb)
		}
		return out.String()
	}
	bob, ann := labtest.Signer(t), labtest.Signer(t)
	for _, k := range []struct {
		s    ssh.Signer
		name string
	}{{bob, "bob"}, {ann, "ann"}} {
		pub := filepath.Join(t.TempDir(), k.name+".pub")
		line := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k.s.PublicKey()))) + " " + k.name + "\n"
		os.WriteFile(pub, []byte(line), 0o644)
		run(0, "add-key", pub)
	}
	bobC, _ := labtest.Tunnel(t, s, bob, echo)
	_, annPing := labtest.Tunnel(t, s, ann, echo)

	var rows []struct{ Key, Fingerprint string }
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		rows = nil
		json.Unmarshal([]byte(run(0, "sessions", "--log", logPath, "--json")), &rows)
		if len(rows) == 2 && rows[0].Key != "" && rows[1].Key != "" {
			break
		}
	}
	var keys []string
	for _, r := range rows {
		keys = append(keys, r.Key)
	}
	if k := strings.Join(keys, " "); k != "bob ann" && k != "ann bob" {
		t.Fatalf("sessions: %+v", rows)
	}
	out := run(0, "sessions", "kill", "bob", "--log", logPath)
	if !strings.Contains(out, "ended session") || !strings.Contains(out, "1 other session(s)") {
		t.Errorf("sessions kill bob:\n%s", out)
	}
	done := make(chan error, 1)
	go func() { done <- bobC.Wait() }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("bob's tunnel is still up")
	}
	if err := annPing(); err != nil {
		t.Fatalf("ann's tunnel was ended too: %v", err)
	}
	if data, _ := os.ReadFile(audit); !strings.Contains(string(data), `"action":"session-kill"`) {
		t.Errorf("the kill is not in the audit log:\n%s", data)
	}
	run(1, "sessions", "kill", "bob", "--log", logPath) // nothing of bob's is left
}
