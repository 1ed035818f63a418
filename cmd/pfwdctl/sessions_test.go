package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/pfwdctl/pfwdctl/render/rendertest"
)

// sessions --history reads sshd's log in the syslog format (Debian's
// auth.log: pids, RFC 3164 times): each connection with its key's name
// from authorized_keys, its duration and how it ended, the forward sshd
// refused, a summary per key and the failed logins; --json too.
func TestSessionsHistoryFromSyslog(t *testing.T) {
	bob, ann := agreeKey(t, "bob"), agreeKey(t, "ann")
	fp := func(line string) string {
		k, _, _, _, err := ssh.ParseAuthorizedKey([]byte(line))
		if err != nil {
			t.Fatal(err)
		}
		return ssh.FingerprintSHA256(k)
	}
	log := strings.Join([]string{
		"Nov 24 10:00:00 gw sshd[100]: Accepted publickey for pfwd from 203.0.113.5 port 50000 ssh2: ED25519 " + fp(bob),
		"Nov 24 10:00:00 gw sshd[100]: User child is on pid 101",
		"Nov 24 10:05:00 gw sshd[101]: Received request from 203.0.113.5 port 50000 to connect to host 127.0.0.1 port 22, but the request was denied.",
		"Nov 24 10:30:00 gw sshd[200]: Accepted publickey for pfwd from 198.51.100.7 port 40000 ssh2: ED25519 " + fp(ann),
		"Nov 24 10:40:00 gw sshd[300]: Connection closed by authenticating user pfwd 192.0.2.9 port 1234 [preauth]",
		"Nov 24 11:00:00 gw sshd[101]: Received disconnect from 203.0.113.5 port 50000:11: disconnected by user",
		"Nov 24 11:00:00 gw sshd[101]: Disconnected from user pfwd 203.0.113.5 port 50000",
		// A user name crafted to look like a login must not make one.
		"Nov 24 11:10:00 gw sshd[400]: Invalid user x from 6.6.6.6 port 1 ssh2: ED25519 " + fp(bob) + " from 192.0.2.1 port 2",
	}, "\n") + "\n"
	root := rendertest.New(t, rendertest.Tree{Files: map[string]string{
		"/home/pfwd/.ssh/authorized_keys": `restrict,port-forwarding,permitopen="127.0.0.1:8009" ` + bob + "\n" + `restrict,port-forwarding,permitopen="127.0.0.1:8009" ` + ann + "\n",
		"/var/log/auth.log":               log,
	}})
	os.Chmod(root.Path("/home/pfwd/.ssh/authorized_keys"), 0o600)
	env, out, errb := testEnv()
	env.Now = func() time.Time { return time.Date(2026, 11, 24, 12, 0, 0, 0, time.Local) }
	if code := Main([]string{"--root", root.Dir(), "sessions", "--history", "--user", "pfwd", "--log", "/var/log/auth.log", "--since", "2026-11-24", "--json"}, env); code != 0 {
		t.Fatalf("exit %d: %s%s", code, out, errb)
	}
	var rep struct {
		Connections []struct {
			Key, Fingerprint, Duration, Ended, Addr string
			Open                                    bool
			Refused                                 []string
		}
		Failures []struct{ User, Addr string }
		Keys     []struct {
			Key         string
			Connections int
			Total       string
		}
	}
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if len(rep.Connections) != 2 {
		t.Fatalf("connections: %s", out)
	}
	b, a := rep.Connections[0], rep.Connections[1]
	if b.Key != "bob" || b.Duration != "1h0m0s" || b.Ended != "closed" || strings.Join(b.Refused, " ") != "127.0.0.1:22" || b.Addr != "203.0.113.5" {
		t.Errorf("bob's connection: %+v", b)
	}
	if a.Key != "ann" || !a.Open || a.Duration != "1h30m0s" {
		t.Errorf("ann's connection: %+v", a)
	}
	if len(rep.Failures) != 1 || rep.Failures[0].Addr != "192.0.2.9" || len(rep.Keys) != 2 || rep.Keys[0].Key != "bob" || rep.Keys[0].Total != "1h0m0s" {
		t.Errorf("failures %+v keys %+v", rep.Failures, rep.Keys)
	}
	// A session pfwdctl ended (sshd logs no end for it) is closed from
	// pfwdctl's audit log.
	os.MkdirAll(root.Path("/var/log/pfwdctl"), 0o755)
	kill := `{"time":"` + time.Date(2026, 11, 24, 11, 30, 0, 0, time.Local).Format(time.RFC3339) + `","action":"session-kill","account":"pfwd","fingerprint":"` + fp(ann) + `","detail":"pid 201 from 198.51.100.7 port 40000","admin":"root"}` + "\n"
	os.WriteFile(root.Path("/var/log/pfwdctl/audit.jsonl"), []byte(kill), 0o600)
	env, out, errb = testEnv()
	env.Now = func() time.Time { return time.Date(2026, 11, 24, 12, 0, 0, 0, time.Local) }
	if code := Main([]string{"--root", root.Dir(), "sessions", "--history", "--user", "pfwd", "--log", "/var/log/auth.log", "--since", "2026-11-24", "--json"}, env); code != 0 {
		t.Fatalf("exit %d: %s%s", code, out, errb)
	}
	rep.Connections = nil
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil || len(rep.Connections) != 2 {
		t.Fatalf("%v: %s", err, out)
	}
	if a := rep.Connections[1]; a.Open || a.Ended != "killed" || a.Duration != "1h0m0s" {
		t.Errorf("ann's connection, ended by pfwdctl: %+v", a)
	}
	// The text form names the same.
	env, out, errb = testEnv()
	env.Now = func() time.Time { return time.Date(2026, 11, 24, 12, 0, 0, 0, time.Local) }
	if code := Main([]string{"--root", root.Dir(), "sessions", "--history", "--user", "pfwd", "--log", "/var/log/auth.log", "--since", "2026-11-24"}, env); code != 0 {
		t.Fatalf("exit %d: %s%s", code, out, errb)
	}
	for _, want := range []string{"bob", "ann", "1h0m0s", "127.0.0.1:22", "per key:", "failed logins:"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("text output lacks %q:\n%s", want, out)
		}
	}
}

// sessions --follow prints the account's events as sshd logs them, with
// the key's name, and nothing from before it started; it stops when
// interrupted.
func TestSessionsFollow(t *testing.T) {
	bob := agreeKey(t, "bob")
	k, _, _, _, _ := ssh.ParseAuthorizedKey([]byte(bob))
	root := rendertest.New(t, rendertest.Tree{Files: map[string]string{
		"/home/pfwd/.ssh/authorized_keys": `restrict,port-forwarding,permitopen="127.0.0.1:8009" ` + bob + "\n",
		"/var/log/auth.log":               "Nov 24 09:00:00 gw sshd[90]: Accepted publickey for pfwd from 192.0.2.1 port 1 ssh2: ED25519 " + ssh.FingerprintSHA256(k) + "\n",
	}})
	os.Chmod(root.Path("/home/pfwd/.ssh/authorized_keys"), 0o600)
	env, out, errb := testEnv()
	var mu sync.Mutex
	env.IO.Out = lockedWriter{&mu, out}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() {
		done <- mainContext(ctx, []string{"--root", root.Dir(), "sessions", "--follow", "--user", "pfwd", "--log", "/var/log/auth.log"}, env)
	}()
	time.Sleep(500 * time.Millisecond)
	f, _ := os.OpenFile(root.Path("/var/log/auth.log"), os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString("Nov 24 10:00:00 gw sshd[100]: Accepted publickey for pfwd from 203.0.113.5 port 50000 ssh2: ED25519 " + ssh.FingerprintSHA256(k) + "\n")
	f.WriteString("Nov 24 10:04:00 gw sshd[500]: Connection closed by 192.0.2.77 port 9 [preauth]\n")
	f.WriteString("Nov 24 10:05:00 gw sshd[100]: Received request from 203.0.113.5 port 50000 to connect to host 127.0.0.1 port 22, but the request was denied.\n")
	f.Close()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		mu.Lock()
		got := out.String()
		mu.Unlock()
		if strings.Contains(got, "127.0.0.1:22") {
			break
		}
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("exit %d: %s", code, errb)
	}
	got := out.String()
	if !strings.Contains(got, "accepted key bob") || !strings.Contains(got, "refused-forward to 127.0.0.1:22") || strings.Contains(got, "192.0.2.1") || strings.Contains(got, "192.0.2.77") {
		t.Errorf("--follow printed:\n%s", got)
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}
