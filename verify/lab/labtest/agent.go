package labtest

import (
	"net"
	"path/filepath"
	"testing"

	"golang.org/x/crypto/ssh/agent"
)

// Agent serves a on a Unix socket in a temp dir, as ssh-agent serves its
// keys at SSH_AUTH_SOCK, until the test ends; it returns the socket path.
func Agent(t testing.TB, a agent.Agent) string {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "agent.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); agent.ServeAgent(a, c) }()
		}
	}()
	return sock
}
