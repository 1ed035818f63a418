package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// termQuery matches the sequences a program writes to ask the terminal
// something (and then waits for the answer): OSC colour queries (OSC 10/11/
// 12/4 ...;?), device status and cursor position reports (CSI 6n, CSI ?996n),
// device attributes (CSI c, CSI >c, CSI =c), mode reports (DECRQM, CSI ...$p),
// the kitty keyboard query (CSI ?u), window-size reports (CSI 14t, 18t)
// and DCS queries (XTGETTCAP ESC P+q, DECRQSS ESC P$q).
var termQuery = regexp.MustCompile(`\x1b\][0-9;]*\?|\x1b\[\??[0-9;]*n|\x1b\[[>=]?[0-9;]*c|\x1b\[\??[0-9;]*\$p|\x1b\[\?u|\x1b\[[0-9;]*t|\x1bP[+$]q`)

// openPty opens a pseudo-terminal pair with nothing but ourselves on the
// master side: no terminal emulator will ever answer a query.
func openPty(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	master = os.NewFile(uintptr(m), "/dev/ptmx")
	if err := unix.IoctlSetPointerInt(m, unix.TIOCSPTLCK, 0); err != nil {
		master.Close()
		t.Fatalf("unlockpt: %v", err)
	}
	n, err := unix.IoctlGetUint32(m, unix.TIOCGPTN)
	if err != nil {
		master.Close()
		t.Fatalf("ptsname: %v", err)
	}
	slave, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		master.Close()
		t.Fatalf("open pts: %v", err)
	}
	unix.IoctlSetWinsize(int(slave.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 24, Col: 80})
	return master, slave
}

// onPty runs bin with args as the session leader of a fresh pty (stdin,
// stdout and stderr all on it, so it is the controlling terminal and the
// process is in the foreground, as in an interactive shell) and returns
// every byte it wrote. The master is only drained, never written to.
func onPty(t *testing.T, bin string, env []string, args ...string) []byte {
	t.Helper()
	master, slave := openPty(t)
	defer master.Close()
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd.Start(); err != nil {
		slave.Close()
		t.Fatal(err)
	}
	slave.Close()
	var out bytes.Buffer
	done := make(chan struct{})
	go func() {
		// Ends with EIO once the last slave descriptor is closed.
		io.Copy(&out, master)
		close(done)
	}()
	cmd.Wait() // exit codes vary by command; the bytes are what matter
	<-done
	return out.Bytes()
}

// Issue 15 item 1: on a terminal that never answers, every command used to
// write an OSC 11 background query and a cursor position request (bubbletea
// v1's init calling lipgloss.HasDarkBackground), then wait 5 s for the
// answer, even with NO_COLOR and for a plain error. Only the wizard may
// query the terminal: every other command styles from NO_COLOR, TERM and
// isatty alone. This asserts on the bytes written, not on the time taken.
func TestNoTerminalQueries(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bin := filepath.Join(dir, "pfwdctl")
	build := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	root, _, _, _, _ := hostileKeysTree(t) // unrestricted keys: list-keys prints its ✗ lines styled

	// An interactive session's environment, whatever the test runs under:
	// termenv skips its queries when CI is set or TERM is screen/tmux/dumb,
	// which would hide the defect.
	base := []string{"TERM=xterm-256color", "COLORTERM=truecolor"}
	for _, kv := range os.Environ() {
		switch strings.SplitN(kv, "=", 2)[0] {
		case "CI", "TERM", "COLORTERM", "NO_COLOR", "COLORFGBG", "TMUX", "STY", "CLICOLOR_FORCE":
			continue
		}
		base = append(base, kv)
	}
	for _, args := range [][]string{
		{"add-key", "/nonexist"},
		{"render"},
		{"--version"},
		{"--help"},
		{"list-keys", "--root", root},
	} {
		for _, noColor := range []bool{false, true} {
			env := base
			if noColor {
				env = append(env[:len(env):len(env)], "NO_COLOR=1")
			}
			name := fmt.Sprintf("%s/NO_COLOR=%v", strings.Join(args[:1], " "), noColor)
			t.Run(name, func(t *testing.T) {
				out := onPty(t, bin, env, args...)
				if len(out) == 0 {
					t.Fatal("nothing written to the terminal")
				}
				if q := termQuery.FindAll(out, -1); q != nil {
					t.Errorf("pfwdctl %s queried the terminal: %q\nall output:\n%q", strings.Join(args, " "), q, out)
				}
				if noColor && bytes.Contains(out, []byte("\x1b[")) {
					t.Errorf("escape sequences with NO_COLOR:\n%q", out)
				}
			})
		}
	}
}
