package users

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/pfwdctl/pfwdctl/internal/hostfs"
	"github.com/pfwdctl/pfwdctl/internal/sshlog"
	"github.com/pfwdctl/pfwdctl/internal/target"
	"github.com/pfwdctl/pfwdctl/internal/testenv"
	"github.com/pfwdctl/pfwdctl/verify/lab"
	"github.com/pfwdctl/pfwdctl/verify/lab/labtest"
)

// syncFile is an io.Writer the lab's sshd log goes to, safe for the
// lab's copier and the test reading it.
type syncFile struct {
	mu sync.Mutex
	f  *os.File
}

func (s *syncFile) Write(b []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.f.Write(b)
}

// tunnelUp dials the lab with key and opens a forward to echo; the
// returned function moves one line through it.
func tunnelUp(t *testing.T, s *lab.Server, key ssh.Signer, echo *lab.Echo) (*ssh.Client, func() error) {
	t.Helper()
	cfg := s.ClientConfig()
	cfg.Auth = []ssh.AuthMethod{ssh.PublicKeys(key)}
	c, err := ssh.Dial("tcp", s.Addr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ch, err := c.Dial("tcp", echo.Addr)
	if err != nil {
		t.Fatal(err)
	}
	return c, func() error {
		if _, err := ch.Write([]byte("ping\n")); err != nil {
			return err
		}
		buf := make([]byte, 5)
		ch.(interface{ SetReadDeadline(time.Time) error }).SetReadDeadline(time.Now().Add(5 * time.Second))
		_, err := io.ReadFull(ch, buf)
		return err
	}
}

// Issue 16 end to end, against the real sshd with LogLevel VERBOSE: two
// friends' keys hold tunnels open, one also asks for a port it may not
// have; sessions names each tunnel's key from sshd's own log; revoke
// --kill-sessions of bob ends bob's tunnel only, and ann's still moves
// data afterwards; the log's history has both connections with their keys
// and the refused forward.
func TestE2ERevokeKillsOnlyThatKeysTunnel(t *testing.T) {
	name, h, _ := realAccount(t)
	ctx := context.Background()
	if _, err := h.CreateUser(ctx, CreateRequest{User: name}); err != nil {
		t.Fatal(err)
	}
	echo := labtest.Echo(t)
	bobKey, annKey := labtest.Signer(t), labtest.Signer(t)
	logPath := filepath.Join(t.TempDir(), "sshd.log")
	f, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// The account's own ~/.ssh/authorized_keys, written by add-key as on
	// a host.
	s := labtest.New(t, lab.Options{User: name, Targets: []target.Target{echo.Target}, AuthorizedKeysFile: ".ssh/authorized_keys", Log: &syncFile{f: f}})
	h.SshdConfig, h.SshdBin = s.ConfigFile, testenv.Sshd(t)
	for _, k := range []struct {
		s    ssh.Signer
		name string
	}{{bobKey, "bob"}, {annKey, "ann"}} {
		if _, err := h.AddKey(ctx, AddKeyRequest{User: name, Key: FromSigner(k.s, k.name)}); err != nil {
			t.Fatal(err)
		}
	}
	h.Attribute = LogAttribute(func(context.Context) ([]sshlog.Source, error) {
		return []sshlog.Source{sshlog.FileSource(hostfs.Root{}, logPath)}, nil
	}, time.Now, nil)

	bobConn, bobPing := tunnelUp(t, s, bobKey, echo)
	defer bobConn.Close()
	annConn, annPing := tunnelUp(t, s, annKey, echo)
	defer annConn.Close()
	if _, err := annConn.Dial("tcp", "127.0.0.1:22"); err == nil {
		t.Fatal("a forward outside PermitOpen was allowed")
	}
	for _, ping := range []func() error{bobPing, annPing} {
		if err := ping(); err != nil {
			t.Fatal(err)
		}
	}
	// sessions: both tunnels, each with its key.
	var sess []Session
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if sess, err = h.OpenSessions(ctx, name); err == nil && len(sess) == 2 && sess[0].Fingerprint != "" && sess[1].Fingerprint != "" {
			break
		}
	}
	fps := []string{sess[0].Fingerprint, sess[1].Fingerprint}
	slices.Sort(fps)
	want := []string{ssh.FingerprintSHA256(bobKey.PublicKey()), ssh.FingerprintSHA256(annKey.PublicKey())}
	slices.Sort(want)
	if !slices.Equal(fps, want) {
		t.Fatalf("sessions %+v, want one of bob's and one of ann's", sess)
	}
	for _, x := range sess {
		if x.Fingerprint == ssh.FingerprintSHA256(annKey.PublicKey()) && !slices.Contains(x.Refused, "127.0.0.1:22") {
			t.Errorf("ann's open session does not show the refused forward: %+v", x)
		}
	}

	res, err := h.Revoke(ctx, RevokeRequest{User: name, Key: "bob", KillSessions: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.Killed != 1 || res.Unattributed != 0 || len(res.Kept) != 1 || res.Kept[0].Fingerprint != ssh.FingerprintSHA256(annKey.PublicKey()) {
		t.Fatalf("revoke --kill-sessions: %+v", res)
	}
	done := make(chan error, 1)
	go func() { done <- bobConn.Wait() }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("bob's tunnel is still up after revoke --kill-sessions")
	}
	if err := annPing(); err != nil {
		t.Fatalf("ann's tunnel was ended too: %v", err)
	}

	// The history, from the same log.
	j := sshlog.NewJoiner()
	if err := ScanLog(ctx, sshlog.FileSource(hostfs.Root{}, logPath), time.Now, j.Add); err != nil {
		t.Fatal(err)
	}
	// (sshd -e lines carry no pid: the end of a killed connection names
	// no address either, so only a syslog or journal source dates it.)
	var refused, bobSeen bool
	for _, c := range j.Connections() {
		if c.Fingerprint == ssh.FingerprintSHA256(annKey.PublicKey()) && slices.Contains(c.Refused, "127.0.0.1:22") {
			refused = true
		}
		if c.Fingerprint == ssh.FingerprintSHA256(bobKey.PublicKey()) && len(c.Refused) == 0 {
			bobSeen = true
		}
	}
	if !refused || !bobSeen {
		t.Errorf("history: ann's refused forward %v, bob's connection %v: %+v", refused, bobSeen, j.Connections())
	}
}
