// Package labtest starts a verify/lab sshd from a test: it finds sshd
// through internal/testenv (a missing sshd fails in CI, skips elsewhere),
// stops the server in t.Cleanup and prints sshd's log when the test fails.
// It is kept apart from verify/lab so that the pfwdctl binary never links
// the testing package.
package labtest

import (
	"context"
	"testing"
	"time"

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
