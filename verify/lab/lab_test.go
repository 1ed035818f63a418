package lab_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/pfwdctl/pfwdctl/internal/target"
	"github.com/pfwdctl/pfwdctl/internal/testenv"
	"github.com/pfwdctl/pfwdctl/render"
	"github.com/pfwdctl/pfwdctl/templates"
	"github.com/pfwdctl/pfwdctl/verify/lab"
	"github.com/pfwdctl/pfwdctl/verify/lab/labtest"
)

// TestLabAcceptsKeyLogin is the lab's contract: the rendered drop-ins are
// read through the Include, the client key logs in, the forced nologin
// runs instead of a command, the target forwards and anything else is
// refused as administratively prohibited.
func TestLabAcceptsKeyLogin(t *testing.T) {
	t.Parallel()
	echo := labtest.Echo(t)
	s := labtest.New(t, lab.Options{Targets: []target.Target{echo.Target}})

	want, _ := lab.DefaultUser()
	if s.User != want {
		t.Errorf("lab user %q, want %q", s.User, want)
	}
	c, err := s.Dial()
	if err != nil {
		t.Fatalf("key login: %v", err)
	}
	defer c.Close()

	sess, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	out, err := sess.CombinedOutput("echo lab-canary")
	if strings.Contains(string(out), "lab-canary") {
		t.Errorf("a command ran: %q", out)
	}
	if !strings.Contains(string(out), "not available") {
		t.Errorf("want nologin's message, got %q (%v)", out, err)
	}

	ch, err := c.Dial("tcp", echo.Addr)
	if err != nil {
		t.Fatalf("forward to the target: %v", err)
	}
	ch.Write([]byte("ping\n"))
	buf := make([]byte, 5)
	if _, err := io.ReadFull(ch, buf); err != nil || string(buf) != "ping\n" {
		t.Errorf("echo through the tunnel: %q %v", buf, err)
	}
	ch.Close()

	_, err = c.Dial("tcp", s.Addr)
	var oe *ssh.OpenChannelError
	if !errors.As(err, &oe) || oe.Reason != ssh.Prohibited {
		t.Errorf("forward to the ssh port: want administratively prohibited, got %v", err)
	}

	// The drop-ins really went through the Include.
	if got, _ := os.ReadFile(filepath.Join(s.DropInDir, templates.ForwardFile(s.User))); !bytes.Contains(got, []byte("Match User "+s.User+"\n")) {
		t.Errorf("%s does not match the lab user:\n%s", templates.ForwardFile(s.User), got)
	}
	cfg, _ := os.ReadFile(s.ConfigFile)
	if !bytes.Contains(cfg, []byte("Include "+s.DropInDir+"/*.conf")) {
		t.Errorf("main config lacks the Include:\n%s", cfg)
	}
	if !strings.Contains(s.Logs(), "Accepted publickey for "+s.User) {
		t.Errorf("sshd did not log the key login:\n%s", s.Logs())
	}
}

// TestLabWrongKeyIsRefused: another key, or the key without the account's
// authorized_keys entry, does not get in.
func TestLabWrongKeyIsRefused(t *testing.T) {
	t.Parallel()
	s := labtest.New(t, lab.Options{AuthorizedKeys: []byte{}})
	if c, err := s.Dial(); err == nil {
		c.Close()
		t.Fatal("logged in with an empty authorized_keys")
	}
	std, err := s.StandardKeyLine(s.ClientKey.PublicKey(), "")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetAuthorizedKeys([]byte(std)); err != nil {
		t.Fatal(err)
	}
	c, err := s.Dial()
	if err != nil {
		t.Fatalf("after SetAuthorizedKeys: %v", err)
	}
	c.Close()
}

// TestLabBrokenDropInFailsToStart: sshd's own words come back.
func TestLabBrokenDropInFailsToStart(t *testing.T) {
	t.Parallel()
	sshd := testenv.Sshd(t)
	_, err := lab.Start(t.Context(), lab.Options{Sshd: sshd, Edit: lab.ReplaceLine("20-pfwd-only.conf", "PermitTTY", "LoginGraceTime 10")})
	if err == nil || !strings.Contains(err.Error(), "LoginGraceTime") {
		t.Fatalf("want sshd's complaint about LoginGraceTime in Match, got %v", err)
	}
}

// TestLabCloseRemovesEverything: nothing is left behind, and the port is
// free again.
func TestLabCloseRemovesEverything(t *testing.T) {
	t.Parallel()
	s := labtest.New(t, lab.Options{})
	s.Close()
	if _, err := os.Stat(s.Dir); !os.IsNotExist(err) {
		t.Errorf("lab dir left behind: %v", err)
	}
	if c, err := s.Dial(); err == nil {
		c.Close()
		t.Error("sshd still answers after Close")
	}
}

func TestEditHelpers(t *testing.T) {
	files, err := render.Render(render.DefaultParams())
	if err != nil {
		t.Fatal(err)
	}
	got := lab.Chain(
		lab.WithoutLine("20-pfwd-only.conf", "forcecommand"),
		lab.ReplaceLine("20-pfwd-only.conf", "PermitOpen", "PermitOpen any"),
		lab.Without("10-hardening.conf"),
	)(files)
	if len(got) != 1 {
		t.Fatalf("want one file, got %d", len(got))
	}
	d := string(got[0].Data)
	if strings.Contains(d, "ForceCommand") || !strings.Contains(d, "\n    PermitOpen any\n") {
		t.Errorf("edits not applied:\n%s", d)
	}
}

// TestLabUnprivileged runs the login tests again as an unprivileged system
// account (from a copy of this test binary, through setpriv), so the
// non-root path of the lab (sshd run by the user it authenticates) is
// tested on every root CI run too. Unprivileged, `go test ./verify/lab`
// exercises that path directly.
//
// The account is daemon, not nobody: unprivileged, sshd cannot read
// /etc/shadow, and nss-systemd then makes up a shadow entry "!*" for
// nobody, which sshd (UsePAM no) takes for a locked account.
func TestLabUnprivileged(t *testing.T) {
	if os.Getenv("PFWDCTL_LAB_CHILD") != "" {
		t.Skip("already the unprivileged child")
	}
	if os.Geteuid() != 0 {
		t.Skip("already unprivileged: the other tests exercise this path directly")
	}
	testenv.Sshd(t)
	setpriv := testenv.Require(t, "setpriv", "util-linux")
	acct, err := user.Lookup("daemon")
	if err != nil {
		t.Skip("no daemon account")
	}
	uid, _ := strconv.Atoi(acct.Uid)
	gid, _ := strconv.Atoi(acct.Gid)

	// The go build cache is private to root: copy the binary somewhere
	// the account can execute it, with a TMPDIR it may write.
	dir, err := os.MkdirTemp("", "pfwdctl-labtest-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "lab.test")
	data, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(dir, "tmp")
	os.Mkdir(tmp, 0o700)
	if err := os.Chown(tmp, uid, gid); err != nil {
		t.Fatal(err)
	}

	cmd := exec.CommandContext(t.Context(), setpriv, "--reuid="+acct.Uid, "--regid="+acct.Gid, "--clear-groups", "--reset-env",
		bin, "-test.run=^(TestLabAcceptsKeyLogin|TestLabWrongKeyIsRefused)$", "-test.v", "-test.count=1")
	cmd.Dir = tmp
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "TMPDIR=" + tmp, "HOME=" + tmp, "PFWDCTL_LAB_CHILD=1", "CI=" + os.Getenv("CI")}
	start := time.Now()
	out, err := cmd.CombinedOutput()
	t.Logf("as daemon (%s):\n%s", time.Since(start).Round(time.Millisecond), out)
	if err != nil {
		t.Fatalf("lab tests as daemon failed: %v", err)
	}
	if !bytes.Contains(out, []byte("--- PASS: TestLabAcceptsKeyLogin")) {
		t.Fatal("the unprivileged run did not pass TestLabAcceptsKeyLogin")
	}
}
