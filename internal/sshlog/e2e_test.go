package sshlog

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/pfwdctl/pfwdctl/internal/hostfs"
	"github.com/pfwdctl/pfwdctl/internal/testenv"
)

// TestRealSshdLog runs each OpenSSH release sshd with -E FILE and LogLevel
// VERBOSE on a loopback port, logs in with a key, asks for a forward its
// PermitOpen refuses, disconnects, and reads the file back: the
// connection must carry the key's fingerprint, the refused destination
// and a clean end. The system sshd always runs (CI=true fails without
// it); the releases built by make test-compat run when their cache holds
// them.
func TestRealSshdLog(t *testing.T) {
	type rel struct{ name, sshd string }
	rels := []rel{{"system", testenv.Sshd(t)}}
	cache := os.Getenv("PFWDCTL_OPENSSH_CACHE")
	if cache == "" {
		cache = testenv.DefaultOpenSSHCache
	}
	if ents, err := os.ReadDir(cache); err == nil {
		for _, e := range ents {
			dir := filepath.Join(cache, e.Name())
			if _, err := os.Stat(filepath.Join(dir, ".complete")); err == nil {
				rels = append(rels, rel{e.Name(), filepath.Join(dir, "sbin", "sshd")})
			}
		}
	}
	for _, r := range rels {
		t.Run(r.name, func(t *testing.T) {
			t.Parallel()
			realSshdLog(t, r.name, r.sshd)
		})
	}
}

func realSshdLog(t *testing.T, name, bin string) {
	dir := t.TempDir()
	me, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	_, hostPriv, _ := ed25519.GenerateKey(rand.Reader)
	hostPEM, err := ssh.MarshalPrivateKey(hostPriv, "")
	if err != nil {
		t.Fatal(err)
	}
	hostKey := filepath.Join(dir, "host")
	if err := os.WriteFile(hostKey, pem.EncodeToMemory(hostPEM), 0o600); err != nil {
		t.Fatal(err)
	}
	_, clientPriv, _ := ed25519.GenerateKey(rand.Reader)
	signer, err := ssh.NewSignerFromKey(clientPriv)
	if err != nil {
		t.Fatal(err)
	}
	ak := filepath.Join(dir, "authorized_keys")
	// A comment crafted to look like a log line: sshd never logs it, and
	// nothing in it may reach an event.
	line := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(signer.PublicKey()))) + " x from 6.6.6.6 port 1 ssh2: ED25519 SHA256:fake\n"
	if err := os.WriteFile(ak, []byte(line), 0o644); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	cfg := fmt.Sprintf(`ListenAddress 127.0.0.1:%d
HostKey %s
PidFile %s
AuthorizedKeysFile %s
StrictModes no
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
AllowTcpForwarding yes
PermitOpen 127.0.0.1:1
LogLevel VERBOSE
AllowUsers %s
`, port, hostKey, filepath.Join(dir, "pid"), ak, me.Username)
	if name == "system" {
		cfg += "UsePAM no\n"
	}
	conf := filepath.Join(dir, "sshd_config")
	if err := os.WriteFile(conf, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	logFile := filepath.Join(dir, "sshd.log")
	cmd := exec.Command(bin, "-D", "-E", logFile, "-f", conf)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() })

	addr := fmt.Sprintf("127.0.0.1:%d", port)
	cc := &ssh.ClientConfig{User: me.Username, Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback: ssh.InsecureIgnoreHostKey(), Timeout: 5 * time.Second}
	var client *ssh.Client
	for deadline := time.Now().Add(10 * time.Second); ; {
		client, err = ssh.Dial("tcp", addr, cc)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(logFile)
			t.Fatalf("%s: no login: %v\n%s", name, err, log)
		}
		time.Sleep(50 * time.Millisecond)
	}
	localPort := client.Conn.LocalAddr().(*net.TCPAddr).Port
	_, err = client.Dial("tcp", "127.0.0.1:22")
	var oe *ssh.OpenChannelError
	if !errors.As(err, &oe) || oe.Reason != ssh.Prohibited {
		t.Fatalf("forbidden forward: %v", err)
	}
	client.Close()
	// sshd logs the end after the client is gone.
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if b, _ := os.ReadFile(logFile); strings.Contains(string(b), "Disconnected from") || strings.Contains(string(b), "Connection closed by 127") {
			break
		}
	}

	// A second connection whose per-connection process is killed, as
	// sessions kill and revoke --kill-sessions do.
	client2, err := ssh.Dial("tcp", addr, cc)
	if err != nil {
		t.Fatal(err)
	}
	defer client2.Close()
	// A refused forward proves its server loop (and signal handler) runs:
	// a SIGTERM before that ends the process without a word.
	if _, err := client2.Dial("tcp", "127.0.0.1:22"); err == nil {
		t.Fatal("forbidden forward allowed")
	}
	waitLog(t, logFile, 2, "but the request was denied")
	for _, pid := range childrenOf(cmd.Process.Pid) {
		syscall.Kill(pid, syscall.SIGTERM)
	}
	waitLog(t, logFile, 1, "signal 15")

	src := FileSource(hostfs.MustRoot(dir), "/sshd.log")
	rc, f, err := src.Open(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if f != SshdE {
		t.Errorf("format %s, want %s", f, SshdE)
	}
	s := NewScanner(rc, f, Options{})
	j := NewJoiner()
	for {
		e, ok := s.Next()
		if !ok {
			break
		}
		if e.Addr == "6.6.6.6" || strings.Contains(e.Fingerprint, "fake") {
			t.Errorf("the key comment made an event: %+v", e)
		}
		j.Add(e)
	}
	cs := j.Connections()
	raw, _ := os.ReadFile(logFile)
	if len(cs) != 2 {
		t.Fatalf("%s: %d connections %+v in\n%s", name, len(cs), cs, raw)
	}
	c := cs[0]
	if c.Fingerprint != ssh.FingerprintSHA256(signer.PublicKey()) || c.KeyType != "ED25519" || c.User != me.Username ||
		c.Addr != "127.0.0.1" || c.Port != localPort || c.Open || c.Ended != Closed ||
		len(c.Refused) != 1 || c.Refused[0] != "127.0.0.1:22" {
		t.Errorf("%s: connection %+v from\n%s", name, c, raw)
	}
	if c := cs[1]; c.Ended != Killed || c.Open || c.Fingerprint != cs[0].Fingerprint {
		t.Errorf("%s: killed connection %+v from\n%s", name, c, raw)
	}
}

// waitLog waits until the log holds n lines containing s.
func waitLog(t *testing.T, file string, n int, s string) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if b, _ := os.ReadFile(file); strings.Count(string(b), s) >= n {
			return
		}
	}
	b, _ := os.ReadFile(file)
	t.Fatalf("no %d×%q in the log:\n%s", n, s, b)
}

// childrenOf lists the processes whose parent is pid (the listener's
// per-connection processes).
func childrenOf(pid int) []int {
	var out []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		n, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces, so after the last ')'.
		f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
		if len(f) > 1 && f[1] == strconv.Itoa(pid) {
			out = append(out, n)
		}
	}
	return out
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
