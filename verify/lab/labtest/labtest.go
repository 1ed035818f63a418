// Package labtest starts a verify/lab sshd from a test: it finds sshd
// through internal/testenv (a missing sshd fails in CI, skips elsewhere),
// stops the server in t.Cleanup and prints sshd's log when the test fails.
// It is kept apart from verify/lab so that the pfwdctl binary never links
// the testing package.
package labtest

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/pfwdctl/pfwdctl/internal/testenv"
	"github.com/pfwdctl/pfwdctl/verify/lab"
)

// New starts a lab sshd for the test.
func New(t testing.TB, o lab.Options) *lab.Server {
	t.Helper()
	if o.Sshd == "" {
		o.Sshd = testenv.Sshd(t)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s, err := lab.Start(ctx, o)
	if err != nil {
		t.Fatalf("start lab sshd: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("lab sshd log (%s):\n%s", s.Addr, s.Logs())
		}
		s.Close()
	})
	return s
}

// Echo starts an echo service for the test.
func Echo(t testing.TB) *lab.Echo {
	t.Helper()
	e, err := lab.ListenEcho()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// Signer is a fresh Ed25519 key for a test client.
func Signer(t testing.TB) ssh.Signer {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Login dials the lab as its account with key and echoes through a forward
// to echo; it returns the first error.
func Login(s *lab.Server, key ssh.Signer, echo *lab.Echo) error {
	cfg := s.ClientConfig()
	cfg.Auth = []ssh.AuthMethod{ssh.PublicKeys(key)}
	c, err := ssh.Dial("tcp", s.Addr, cfg)
	if err != nil {
		return err
	}
	defer c.Close()
	ch, err := c.Dial("tcp", echo.Addr)
	if err != nil {
		return fmt.Errorf("forward: %w", err)
	}
	defer ch.Close()
	ch.Write([]byte("ping\n"))
	buf := make([]byte, 5)
	if _, err := io.ReadFull(ch, buf); err != nil || string(buf) != "ping\n" {
		return fmt.Errorf("echo through the tunnel: %q %v", buf, err)
	}
	return nil
}

// LogFile is a file for a lab sshd's log (lab.Options.Log) and its path:
// the writer is safe for the lab's copier while the test reads the file.
func LogFile(t testing.TB) (string, io.Writer) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "sshd.log")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return p, &lockedFile{f: f}
}

type lockedFile struct {
	mu sync.Mutex
	f  *os.File
}

func (l *lockedFile) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.f.Write(b)
}

// Tunnel logs in to the lab with key and opens a forward to echo, held
// open; ping moves one line through it (an error once the tunnel is
// gone). The client is closed in t.Cleanup.
func Tunnel(t testing.TB, s *lab.Server, key ssh.Signer, echo *lab.Echo) (c *ssh.Client, ping func() error) {
	t.Helper()
	cfg := s.ClientConfig()
	cfg.Auth = []ssh.AuthMethod{ssh.PublicKeys(key)}
	c, err := ssh.Dial("tcp", s.Addr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	ch, err := c.Dial("tcp", echo.Addr)
	if err != nil {
		t.Fatal(err)
	}
	return c, func() error {
		if _, err := ch.Write([]byte("ping\n")); err != nil {
			return err
		}
		ch.(interface{ SetReadDeadline(time.Time) error }).SetReadDeadline(time.Now().Add(5 * time.Second))
		buf := make([]byte, 5)
		_, err := io.ReadFull(ch, buf)
		return err
	}
}

// Mute is a loopback port that accepts connections and never says a word:
// a server that hangs before its SSH banner (timeouts, interrupts while
// connecting). Closed, with every accepted connection, when the test ends.
func Mute(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
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
			t.Cleanup(func() { c.Close() })
		}
	}()
	return l.Addr().(*net.TCPAddr).Port
}
