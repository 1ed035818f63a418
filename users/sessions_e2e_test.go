package users

import (
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
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

// Issue 16 end to end, against the real sshd with LogLevel VERBOSE: two
// friends' keys hold tunnels open, one also asks for a port it may not
// have; sessions names each tunnel's key from sshd's own log; revoke
// --kill-sessions of bob ends bob's tunnel only, and ann's still moves
// data afterwards; the log's history has both connections with their keys
// and the refused forward.
func TestE2ERevokeKillsOnlyThatKeysTunnel(t *testing.T) {
	t.Run("sshd -e", func(t *testing.T) { revokeKillsOnlyThatKeysTunnel(t, false) })
	// The system syslog format, as rsyslog writes sshd's syslog(3) lines
	// into auth.log: with pids and times, so the history dates and ends
	// every connection.
	t.Run("syslog", func(t *testing.T) { revokeKillsOnlyThatKeysTunnel(t, true) })
}

// syslogd listens on a datagram socket like /dev/log and writes what
// syslog(3) sends ("<38>Nov 24 10:00:00 sshd[123]: msg") to path as
// rsyslog's auth.log has it ("Nov 24 10:00:00 HOST sshd[123]: msg").
func syslogd(t *testing.T, sock string, w io.Writer) {
	t.Helper()
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(sock, 0o666)
	t.Cleanup(func() { c.Close() })
	go func() {
		buf := make([]byte, 65536)
		for {
			n, err := c.Read(buf)
			if err != nil {
				return
			}
			line := string(buf[:n])
			if i := strings.IndexByte(line, '>'); strings.HasPrefix(line, "<") && i > 0 {
				line = line[i+1:]
			}
			if len(line) > 16 {
				line = line[:16] + "labhost " + line[16:]
			}
			w.Write([]byte(strings.TrimRight(line, "\n") + "\n"))
		}
	}()
}

func revokeKillsOnlyThatKeysTunnel(t *testing.T, viaSyslog bool) {
	name, h, _ := realAccount(t)
	ctx := context.Background()
	if _, err := h.CreateUser(ctx, CreateRequest{User: name}); err != nil {
		t.Fatal(err)
	}
	echo := labtest.Echo(t)
	bobKey, annKey := labtest.Signer(t), labtest.Signer(t)
	logPath, logW := labtest.LogFile(t)
	// The account's own ~/.ssh/authorized_keys, written by add-key as on
	// a host.
	o := lab.Options{User: name, Targets: []target.Target{echo.Target}, AuthorizedKeysFile: ".ssh/authorized_keys", Log: logW}
	if viaSyslog {
		o.Log = nil
		// The session process runs as the account and opens /dev/log
		// itself: the socket must be reachable by anyone, as on a host.
		dir, err := os.MkdirTemp("", "pfwdctl-syslog-")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(dir) })
		os.Chmod(dir, 0o755)
		o.SyslogSocket = filepath.Join(dir, "log.sock")
		syslogd(t, o.SyslogSocket, logW)
	}
	s := labtest.New(t, o)
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

	bobConn, bobPing := labtest.Tunnel(t, s, bobKey, echo)
	annConn, annPing := labtest.Tunnel(t, s, annKey, echo)
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
	var err error
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
	kills, err := h.Kills()
	if err != nil {
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
			// sshd logs no end for a killed session process: pfwdctl's
			// audit log has it, by the connection's source.
			if !slices.ContainsFunc(kills, func(k Kill) bool { return k.Addr == c.Addr && k.Port == c.Port && k.Fingerprint == c.Fingerprint }) {
				t.Errorf("no kill of bob's connection %s port %d in the audit log: %+v", c.Addr, c.Port, kills)
			}
			if viaSyslog && c.Start.IsZero() {
				t.Errorf("through syslog, bob's connection has no start time: %+v", c)
			}
		}
	}
	if !refused || !bobSeen {
		t.Errorf("history: ann's refused forward %v, bob's connection %v: %+v", refused, bobSeen, j.Connections())
	}
}
