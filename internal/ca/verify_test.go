package ca_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/pfwdctl/pfwdctl/internal/ca"
	"github.com/pfwdctl/pfwdctl/internal/testenv"
	"github.com/pfwdctl/pfwdctl/verify"
)

// verify --key KEY --cert KEY-cert.pub proves the certificate path: every
// check passes over a login with the certificate ca sign issued, and the
// same key without --cert is not let in.
func TestVerifyWithCertPassesEveryCheck(t *testing.T) {
	x := newCALab(t, nil)
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	friend, _ := ssh.NewSignerFromKey(priv)
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "friend")
	block, _ := ssh.MarshalPrivateKey(priv, "friend")
	os.WriteFile(keyFile, pem.EncodeToMemory(block), 0o600)
	cert, err := ca.Sign(x.ca, friend.PublicKey(), x.request(1, time.Now()))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(ca.CertPath(keyFile+".pub"), ca.Marshal(cert), 0o644)

	run := func(s verify.Settings) (*verify.Report, error) {
		o, closeAuth, err := s.Options()
		if err != nil {
			return nil, err
		}
		defer closeAuth()
		vo := x.srv.VerifyOptions()
		vo.Auth, vo.Timeout = o.Auth, 20*time.Second
		return verify.Run(context.Background(), vo)
	}
	rep, err := run(verify.Settings{User: x.srv.User, Key: keyFile, Cert: keyFile + "-cert.pub", Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range rep.Checks {
		if c.Status != verify.Pass {
			t.Errorf("%s: %s: %s", c.Name, c.Status, c.Detail)
		}
	}
	if !rep.Passed {
		t.Error("verify --cert did not pass")
	}
	if rep, err := run(verify.Settings{User: x.srv.User, Key: keyFile, Timeout: time.Second}); err == nil && rep.Passed {
		t.Error("the key without its certificate passed verify")
	}
	if _, err := run(verify.Settings{User: x.srv.User, Cert: keyFile + "-cert.pub", Timeout: time.Second}); err == nil {
		t.Error("--cert without --key accepted")
	}
	other := filepath.Join(dir, "other")
	_, p2, _ := ed25519.GenerateKey(rand.Reader)
	b2, _ := ssh.MarshalPrivateKey(p2, "other")
	os.WriteFile(other, pem.EncodeToMemory(b2), 0o600)
	if _, err := run(verify.Settings{User: x.srv.User, Key: other, Cert: keyFile + "-cert.pub", Timeout: time.Second}); err == nil {
		t.Error("a certificate for another key accepted")
	}
}

// verify with the friend's ssh-agent: OpenSSH's own ssh-agent holding the
// key and, loaded beside it by ssh-add, its certificate. Every check
// passes over the certificate login; once the agent holds only the plain
// key (ssh-add -D, then the key alone), the same run is refused.
func TestVerifyWithAgentHeldCertificate(t *testing.T) {
	agentBin := testenv.Require(t, "ssh-agent", "openssh-client")
	addBin := testenv.Require(t, "ssh-add", "openssh-client")
	x := newCALab(t, nil)
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	friend, _ := ssh.NewSignerFromKey(priv)
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "friend")
	block, _ := ssh.MarshalPrivateKey(priv, "friend")
	os.WriteFile(keyFile, pem.EncodeToMemory(block), 0o600)
	os.WriteFile(keyFile+".pub", ssh.MarshalAuthorizedKey(friend.PublicKey()), 0o644)
	cert, err := ca.Sign(x.ca, friend.PublicKey(), x.request(1, time.Now()))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(ca.CertPath(keyFile+".pub"), ca.Marshal(cert), 0o644)

	sock := filepath.Join(dir, "agent.sock")
	agentCmd := exec.Command(agentBin, "-D", "-a", sock)
	if err := agentCmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { agentCmd.Process.Kill(); agentCmd.Wait() })
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if _, err := os.Stat(sock); err == nil {
			break
		}
	}
	sshAdd := func(args ...string) {
		t.Helper()
		c := exec.Command(addBin, args...)
		c.Env = []string{"SSH_AUTH_SOCK=" + sock}
		if out, err := c.CombinedOutput(); err != nil {
			t.Fatalf("ssh-add %v: %v %s", args, err, out)
		}
	}
	sshAdd(keyFile) // ssh-add loads friend-cert.pub beside it too
	run := func() (*verify.Report, error) {
		o, closeAuth, err := verify.Settings{User: x.srv.User, AgentSock: sock, Timeout: time.Second}.Options()
		if err != nil {
			return nil, err
		}
		defer closeAuth()
		vo := x.srv.VerifyOptions()
		vo.Auth, vo.Timeout = o.Auth, 20*time.Second
		return verify.Run(context.Background(), vo)
	}
	rep, err := run()
	if err != nil {
		t.Fatalf("verify with the agent's certificate: %v", err)
	}
	if !rep.Passed {
		for _, c := range rep.Checks {
			if c.Status != verify.Pass {
				t.Errorf("%s: %s: %s", c.Name, c.Status, c.Detail)
			}
		}
	}
	// The plain key alone is not trusted by this account: refused.
	sshAdd("-D")
	plain := filepath.Join(dir, "plain")
	os.WriteFile(plain, pem.EncodeToMemory(block), 0o600)
	sshAdd(plain)
	_, err = run()
	var ce *verify.ConnectError
	if !errors.As(err, &ce) || ce.Reason != verify.AuthFailed {
		t.Errorf("the agent's plain key without its certificate: %v, want an authentication failure", err)
	}
}
