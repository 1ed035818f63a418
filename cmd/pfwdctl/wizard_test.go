package main

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/sys/unix"

	"github.com/pfwdctl/pfwdctl/internal/fail"
	"github.com/pfwdctl/pfwdctl/internal/run"
	"github.com/pfwdctl/pfwdctl/internal/testenv"
	"github.com/pfwdctl/pfwdctl/render/rendertest"
)

// TestWizardNoTerminal: without a terminal the wizard refuses (exit 2),
// names the plain commands, and touches nothing.
func TestWizardNoTerminal(t *testing.T) {
	t.Parallel()
	root := rendertest.New(t, rendertest.Tree{})
	before := rendertest.Snapshot(t, root)
	var out, errb bytes.Buffer
	env := &Env{IO: IO{In: strings.NewReader(""), Out: &out, Err: &errb}, Runner: run.Exec{}, Getenv: func(string) string { return "" }, Now: time.Now}
	if code := Main([]string{"--root", root.Dir(), "wizard"}, env); code != fail.ExitUsage {
		t.Fatalf("exit %d, want %d; stderr:\n%s", code, fail.ExitUsage, errb.String())
	}
	if !strings.Contains(errb.String(), "the wizard needs a terminal") || !strings.Contains(errb.String(), "pfwdctl apply, pfwdctl user create, pfwdctl add-key") {
		t.Errorf("stderr:\n%s", errb.String())
	}
	if out.Len() != 0 {
		t.Errorf("stdout: %q", out.String())
	}
	rendertest.Unchanged(t, root, before)
}

// tmuxSession is the real pfwdctl binary in a real terminal (tmux, 80x24)
// on a private tmux server.
type tmuxSession struct {
	t    *testing.T
	sock string
}

func (s *tmuxSession) tmux(args ...string) string {
	s.t.Helper()
	out, err := exec.Command("tmux", append([]string{"-S", s.sock}, args...)...).CombinedOutput()
	if err != nil {
		s.t.Fatalf("tmux %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func (s *tmuxSession) screen() string { return s.tmux("capture-pane", "-p", "-t", "w") }

// waitFor polls the pane until it shows every string.
func (s *tmuxSession) waitFor(subs ...string) string {
	s.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		scr := s.screen()
		ok := true
		for _, sub := range subs {
			ok = ok && strings.Contains(scr, sub)
		}
		if ok {
			return scr
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("the screen never showed %q:\n%s", subs, scr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (s *tmuxSession) keys(k ...string) {
	s.t.Helper()
	s.tmux(append([]string{"send-keys", "-t", "w"}, k...)...)
}

// TestWizardTmux is the end-to-end test: the built binary under --root on
// a stock Debian 12 tree with the real sshd for sshd -t, driven through a
// real terminal. It pastes a private key (refused), then the public one,
// applies, and checks the files written and the summary on stdout.
func TestWizardTmux(t *testing.T) {
	t.Parallel()
	testenv.Root(t)
	sshd := testenv.Sshd(t)
	testenv.Require(t, "tmux", "tmux")
	dir := t.TempDir()
	bin := filepath.Join(dir, "pfwdctl")
	build := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	// sshd listens on 2222: the host check says so (sshd -T) and the
	// friend's command carries -p 2222.
	root := rendertest.New(t, rendertest.Tree{SshdConfig: append([]byte("Port 2222\n"), rendertest.StockSshdConfig...)})

	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	sp, _ := ssh.NewPublicKey(priv.Public())
	pub := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sp))) + " bob@laptop"
	blk, _ := ssh.MarshalPrivateKey(priv, "")
	privFile := filepath.Join(dir, "friend")
	os.WriteFile(privFile, pem.EncodeToMemory(blk), 0o600)
	pubFile := filepath.Join(dir, "friend.pub")
	os.WriteFile(pubFile, []byte(pub+"\n"), 0o644)
	// cat bob.pub alice.pub
	_, priv2, _ := ed25519.GenerateKey(rand.Reader)
	sp2, _ := ssh.NewPublicKey(priv2.Public())
	alice := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sp2))) + " alice@desk"
	twoFile := filepath.Join(dir, "two.pub")
	os.WriteFile(twoFile, []byte(pub+"\n"+alice+"\n"), 0o644)

	t.Run("unknown size", func(t *testing.T) { wizardOnSizelessPty(t, bin, root.Dir(), sshd) })

	s := &tmuxSession{t: t, sock: filepath.Join(dir, "tmux.sock")}
	outFile, rcFile := filepath.Join(dir, "stdout"), filepath.Join(dir, "rc")
	cmd := "env NO_COLOR=1 " + bin + " --root " + root.Dir() + " wizard --sshd " + sshd + " --host host.example >" + outFile + "; echo $? >" + rcFile
	s.tmux("-f", "/dev/null", "new-session", "-d", "-s", "w", "-x", "80", "-y", "24", cmd)
	t.Cleanup(func() { exec.Command("tmux", "-S", s.sock, "kill-server").Run() })

	scr := s.waitFor("step 1 of 7", "Include: sshd reads /etc/ssh/sshd_config.d/*.conf", "lockout check: after hardening", "listens on [::]:2222, 0.0.0.0:2222 (sshd -T)")
	if strings.Contains(scr, "\x1b[") {
		t.Errorf("escape codes with NO_COLOR:\n%q", scr)
	}
	s.keys("Enter")
	s.waitFor("step 2 of 7", "pfwd exists (uid 999); Apply repairs it")
	s.keys("Enter", "Enter")
	s.waitFor("step 3 of 7")
	// Two keys pasted at once (bracketed): refused, neither queued, the
	// second never merged into the first one's name.
	s.tmux("load-buffer", "-b", "t", twoFile)
	s.tmux("paste-buffer", "-p", "-d", "-b", "t", "-t", "w")
	scr = s.waitFor("the paste holds 2 keys (bob@laptop, alice@desk)")
	if strings.Contains(scr, "name bob@laptop-ssh") {
		t.Fatalf("the second key was merged into the name:\n%s", scr)
	}
	s.keys("Enter", "Enter")
	scr = s.waitFor("step 3 of 7")
	if strings.Contains(scr, "queued") {
		t.Fatalf("queued from a two-key paste:\n%s", scr)
	}
	s.keys("C-u")
	// The same without bracketed paste: bob's newline is enter, which moves
	// on to the name, and alice's key lands there: refused there.
	s.tmux("load-buffer", "-b", "t", twoFile)
	s.tmux("paste-buffer", "-d", "-b", "t", "-t", "w")
	s.waitFor("the name field holds another public key")
	s.keys("C-u", "BTab", "C-u")
	s.waitFor("paste the .pub line, or a path to it")
	// A private key pasted as a terminal paste (bracketed, several lines).
	s.tmux("load-buffer", "-b", "k", privFile)
	s.tmux("paste-buffer", "-p", "-d", "-b", "k", "-t", "w")
	s.waitFor("this is a PRIVATE key", "ask for the .pub file")
	s.keys("C-u")
	// The .pub pasted without bracketed paste: its newline arrives as
	// enter (tmux turns LF into CR), which must not queue the key before
	// it has a name and an expiry; it moves on to the name.
	s.tmux("load-buffer", "-b", "p", pubFile)
	s.tmux("paste-buffer", "-d", "-b", "p", "-t", "w")
	scr = s.waitFor("ssh-ed25519 256-bit", "name bob@laptop", "enter queues it")
	if strings.Contains(scr, "queued bob") {
		t.Fatalf("the pasted newline added the key:\n%s", scr)
	}
	s.keys("-l", "bob")
	s.keys("Enter")
	s.waitFor("queued bob")
	s.keys("Enter")
	s.waitFor("step 4 of 7", "+++ /etc/ssh/sshd_config.d/10-hardening.conf")
	if _, err := os.Stat(root.Path("/etc/ssh/sshd_config.d/10-hardening.conf")); err == nil {
		t.Fatal("written before apply")
	}
	s.keys("Enter")
	s.waitFor("step 5 of 7", "sshd -t accepts the whole configuration", "applied")
	s.keys("Enter")
	s.waitFor("step 6 of 7")
	s.keys("Enter")
	s.waitFor("step 7 of 7", "pfwd@host.example")
	s.keys("Enter")

	deadline := time.Now().Add(10 * time.Second)
	var rc []byte
	for {
		rc, _ = os.ReadFile(rcFile)
		if len(rc) > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if strings.TrimSpace(string(rc)) != "0" {
		t.Fatalf("exit code %q", rc)
	}
	stdout, _ := os.ReadFile(outFile)
	if !strings.Contains(string(stdout), "ssh -i ~/.ssh/pfwd_key -N -T -o ExitOnForwardFailure=yes -o ServerAliveInterval=60 -o ServerAliveCountMax=2 -p 2222 -L 8009:127.0.0.1:8009 pfwd@host.example\n") ||
		strings.Contains(string(stdout), "\x1b") || strings.Contains(string(stdout), "step 1 of 7") {
		t.Errorf("stdout should hold only the plain summary:\n%q", stdout)
	}
	for _, f := range []string{"10-hardening.conf", "20-pfwd-only.conf"} {
		if _, err := os.Stat(root.Path("/etc/ssh/sshd_config.d/" + f)); err != nil {
			t.Error(err)
		}
	}
	ak, err := os.ReadFile(root.Path("/home/pfwd/.ssh/authorized_keys"))
	if err != nil {
		t.Fatal(err)
	}
	want := `restrict,port-forwarding,permitopen="127.0.0.1:8009" ` + strings.Fields(pub)[0] + " " + strings.Fields(pub)[1] + " bob\n"
	if string(ak) != want {
		t.Errorf("authorized_keys:\n%s\nwant:\n%s", ak, want)
	}
	if bytes.Contains(ak, []byte("PRIVATE")) {
		t.Error("the private key reached authorized_keys")
	}
}

// wizardOnSizelessPty: on a pty whose size was never set (0x0: a serial
// console, script(1) fed from a pipe) the wizard drew only "…" and waited
// forever. It draws the Host check as on 80x24, and ctrl+c still quits.
func wizardOnSizelessPty(t *testing.T, bin, root, sshd string) {
	master, slave := openPty(t)
	defer master.Close()
	if err := unix.IoctlSetWinsize(int(slave.Fd()), unix.TIOCSWINSZ, &unix.Winsize{}); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--root", root, "wizard", "--dry-run", "--sshd", sshd)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "TERM=xterm-256color", "NO_COLOR=1", "HOME=" + t.TempDir()}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd.Start(); err != nil {
		slave.Close()
		t.Fatal(err)
	}
	slave.Close()
	var mu sync.Mutex
	var out bytes.Buffer
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := master.Read(buf)
			mu.Lock()
			out.Write(buf[:n])
			mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer cmd.Process.Kill()
	deadline := time.Now().Add(20 * time.Second)
	for {
		mu.Lock()
		got := out.String()
		mu.Unlock()
		if strings.Contains(got, "step 1 of 4") && strings.Contains(got, "Host check") && strings.Contains(got, "lockout check") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("on a 0x0 pty the Host check never appeared; the terminal got:\n%q", got)
		}
		time.Sleep(50 * time.Millisecond)
	}
	master.Write([]byte{3}) // ctrl+c
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		t.Fatal("ctrl+c did not end the wizard")
	}
}
