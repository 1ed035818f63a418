package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/pfwdctl/pfwdctl/internal/target"
	"github.com/pfwdctl/pfwdctl/internal/testenv"
	"github.com/pfwdctl/pfwdctl/users/friend"
	"github.com/pfwdctl/pfwdctl/verify/lab"
	"github.com/pfwdctl/pfwdctl/verify/lab/labtest"
)

// pfwdctl friend against the real sshd (on a high port, so -p and the
// [host]:port known_hosts form are exercised) and a useradd account: the
// printed known_hosts line is what OpenSSH's own client checks the server
// against with StrictHostKeyChecking=yes, and the printed ssh -N -L
// command, run by the real ssh, moves data through the tunnel.
func TestE2EFriend(t *testing.T) {
	name := e2eAccount(t, "pff")
	sshBin := testenv.Require(t, "ssh", "openssh-client")
	echo := labtest.Echo(t)
	s := labtest.New(t, lab.Options{User: name, Targets: []target.Target{echo.Target}, AuthorizedKeysFile: ".ssh/authorized_keys"})
	// The lab writes only the private host key; a host has its .pub next to it.
	if err := os.WriteFile(filepath.Join(s.Dir, "ssh_host_ed25519_key.pub"), ssh.MarshalAuthorizedKey(s.HostKey), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	block, _ := ssh.MarshalPrivateKey(priv, "")
	keyFile := filepath.Join(dir, "id")
	os.WriteFile(keyFile, pem.EncodeToMemory(block), 0o600)
	signer, _ := ssh.NewSignerFromKey(priv)
	run := func(want int, args ...string) string {
		t.Helper()
		env, out, errb := testEnv()
		env.AuditLog = filepath.Join(dir, "audit.jsonl")
		if code := Main(append(args, "--sshd-config", s.ConfigFile, "--user", name), env); code != want {
			t.Fatalf("%v: exit %d, want %d: %s%s", args, code, want, out, errb)
		}
		return out.String()
	}
	run(0, "add-key", signerPub(t, signer, "alice"), "--expires", "30d")
	var b friend.Bundle
	if err := json.Unmarshal([]byte(run(0, "friend", "alice", "--host", "127.0.0.1", "--json")), &b); err != nil {
		t.Fatal(err)
	}
	if b.Port != s.Port || b.Expiry.IsZero() || len(b.HostKeys) != 1 || b.HostKeys[0].Fingerprint != ssh.FingerprintSHA256(s.HostKey) {
		t.Fatalf("bundle: %+v", b)
	}
	hk := b.HostKeys[0].KnownHosts
	if !strings.HasPrefix(hk, fmt.Sprintf("[127.0.0.1]:%d ", s.Port)) {
		t.Errorf("known_hosts line %q lacks the [host]:port form", hk)
	}
	text := run(0, "friend", "alice", "--host", "127.0.0.1")
	for _, want := range []string{b.Command, hk, b.HostKeys[0].Fingerprint, "LocalForward", "Expires"} {
		if !strings.Contains(text, want) {
			t.Errorf("friend's text lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "PRIVATE KEY") {
		t.Fatal("friend printed a private key")
	}
	known := filepath.Join(dir, "known_hosts")
	os.WriteFile(known, []byte(hk+"\n"), 0o644)

	// The printed command, with the friend's key file, a free local port
	// (the echo service holds the target's port on this machine), and the
	// client told to trust only the printed known_hosts line.
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	local := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cmdline := strings.Replace(b.Command, "~/.ssh/pfwd_key", keyFile, 1)
	cmdline = strings.Replace(cmdline, fmt.Sprintf("-L %d:", echo.Target.Port), fmt.Sprintf("-L %d:", local), 1)
	strict := func(knownFile string) []string {
		w := strings.Fields(cmdline)
		w[0] = sshBin
		dest := w[len(w)-1]
		return append(append(w[1:len(w)-1:len(w)-1], "-F", "/dev/null", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes", "-o", "UserKnownHostsFile="+knownFile), dest)
	}
	// Without the line, the strict client refuses the server.
	if out, err := exec.Command(sshBin, strict(filepath.Join(dir, "empty"))...).CombinedOutput(); err == nil || !strings.Contains(string(out), "ost key") {
		t.Fatalf("ssh accepted an unknown host key: %v %s", err, out)
	}
	cmd := exec.Command(sshBin, strict(known)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	var lastErr error
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", local), time.Second)
		if err != nil {
			lastErr = err
			continue
		}
		c.SetDeadline(time.Now().Add(5 * time.Second))
		c.Write([]byte("ping\n"))
		buf := make([]byte, 5)
		_, err = io.ReadFull(c, buf)
		c.Close()
		if err == nil && string(buf) == "ping\n" {
			return
		}
		lastErr = err
	}
	t.Fatalf("the printed command does not tunnel: %v\nssh: %s\ncommand: %s", lastErr, stderr.String(), strings.Join(strict(known), " "))
}
