package sshlog

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/pfwdctl/pfwdctl/internal/hostfs"
)

// Follow reads only what is written after it starts, as it is written,
// in the file's format, and stops when its context ends.
func TestFollowAFile(t *testing.T) {
	root := hostfs.MustRoot(t.TempDir())
	os.MkdirAll(root.Path("/var/log"), 0o755)
	old := "Nov 24 10:00:00 gw sshd[100]: Accepted publickey for old from 203.0.113.5 port 50000 ssh2: ED25519 SHA256:ff5VU8WNMh93VESmx6WiH/smsd6NUCcZqPgokSHPNJE\n"
	if err := os.WriteFile(root.Path("/var/log/auth.log"), []byte(old), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	src, err := Follow(ctx, root, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	rc, format, err := src.Open(ctx)
	if err != nil || format != RFC3164 {
		t.Fatalf("open: %v format %q", err, format)
	}
	defer rc.Close()
	go func() {
		time.Sleep(300 * time.Millisecond)
		f, _ := os.OpenFile(root.Path("/var/log/auth.log"), os.O_APPEND|os.O_WRONLY, 0)
		f.WriteString("Nov 24 10:01:00 gw sshd[200]: Accepted publickey for new from 198.51.100.7 port 40000 ssh2: ED25519 SHA256:vOefoc7uwmC6vseTRc5LVFkUUdDwsv7+DKfibLtEWdY\n")
		f.Close()
	}()
	sc := NewScanner(rc, format, Options{Now: time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)})
	ev, ok := sc.Next()
	if !ok || ev.User != "new" || ev.Kind != Accepted {
		t.Fatalf("first followed event %+v %v, want new's login (not the old line)", ev, ok)
	}
	cancel()
	if _, ok := sc.Next(); ok {
		t.Error("an event after the context ended")
	}
}
