package ca_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"

	"github.com/pfwdctl/pfwdctl/internal/ca"
	"github.com/pfwdctl/pfwdctl/verify/lab/labtest"
)

// serveAgent is an ssh-agent on a Unix socket holding keys.
func serveAgent(t *testing.T, keys ...ed25519.PrivateKey) string {
	t.Helper()
	ring := agent.NewKeyring()
	for _, k := range keys {
		if err := ring.Add(agent.AddedKey{PrivateKey: k}); err != nil {
			t.Fatal(err)
		}
	}
	return labtest.Agent(t, ring)
}

// --ca-agent: the CA key stays in the agent, and its certificate logs in.
func TestAgentHeldCASigns(t *testing.T) {
	x := newCALab(t, nil)
	// The lab trusts x.ca; put a CA key the lab does not trust in the agent
	// first, to see the agent's own key is used (and refused).
	_, stranger, _ := ed25519.GenerateKey(rand.Reader)
	friend := labtest.Signer(t)

	signer, closeAgent, err := ca.AgentSigner(serveAgent(t, stranger), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer closeAgent()
	cert, err := ca.Sign(signer, friend.PublicKey(), x.request(1, time.Now()))
	if err != nil {
		t.Fatal(err)
	}
	if err := labtest.Login(x.srv, certSigner(t, cert, friend), x.echo); err == nil {
		t.Error("fail_untrusted_agent_ca: a certificate from the agent's other CA logged in")
	}

	// The trusted CA in the agent: its certificate logs in and tunnels.
	data, err := os.ReadFile(strings.TrimSuffix(x.caPub, ".pub"))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := ssh.ParseRawPrivateKey(data)
	if err != nil {
		t.Fatal(err)
	}
	trusted := *raw.(*ed25519.PrivateKey)
	s1, close1, err := ca.AgentSigner(serveAgent(t, trusted), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer close1()
	cert, err = ca.Sign(s1, friend.PublicKey(), x.request(2, time.Now()))
	if err != nil {
		t.Fatal(err)
	}
	if err := labtest.Login(x.srv, certSigner(t, cert, friend), x.echo); err != nil {
		t.Errorf("good_agent_ca: %v", err)
	}

	// The agent holding two keys: the one named by the CA public key.
	_, other, _ := ed25519.GenerateKey(rand.Reader)
	sock := serveAgent(t, other, stranger)
	if _, _, err := ca.AgentSigner(sock, nil); err == nil {
		t.Error("fail_ambiguous: picked one of two agent keys without --ca-pub")
	}
	want, _ := ssh.NewSignerFromKey(stranger)
	s2, close2, err := ca.AgentSigner(sock, want.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	defer close2()
	if string(s2.PublicKey().Marshal()) != string(want.PublicKey().Marshal()) {
		t.Error("AgentSigner picked the wrong key")
	}
	if _, _, err := ca.AgentSigner(sock, x.ca.PublicKey()); err == nil {
		t.Error("fail_not_held: the agent does not hold this CA")
	}
}
