package lab

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/pfwdctl/pfwdctl/internal/testenv"
)

// TestFreePortNeverRepeats: labs started side by side each get their own
// port. The kernel hands a just-closed ephemeral port out again, and two
// labs once reported the same address (CI: "host listed twice").
func TestFreePortNeverRepeats(t *testing.T) {
	seen := map[int]bool{}
	for range 300 {
		p, err := freePort("127.0.0.1")
		if err != nil {
			t.Fatal(err)
		}
		if seen[p] {
			t.Fatalf("port %d handed out twice", p)
		}
		seen[p] = true
	}
}

// TestReadinessWantsOurHostKey: a lab whose sshd lost the race for its
// port must not be called ready because another sshd answers there.
func TestReadinessWantsOurHostKey(t *testing.T) {
	testenv.Sshd(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	a, err := Start(ctx, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if err := a.banner(); err != nil {
		t.Fatalf("the lab's own sshd is not ready: %v", err)
	}
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	signer, _ := ssh.NewSignerFromKey(priv)
	impostor := &Server{Addr: a.Addr, HostKey: signer.PublicKey()}
	if err := impostor.banner(); err == nil {
		t.Fatal("ready although the sshd on the port has another host key")
	}
}
