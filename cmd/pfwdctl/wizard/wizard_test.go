package wizard

import (
	"context"
	"crypto/ed25519"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/bubbles/spinner"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"
	"github.com/muesli/termenv"
	"golang.org/x/crypto/ssh"

	"github.com/pfwdctl/pfwdctl/internal/fail"
	"github.com/pfwdctl/pfwdctl/internal/golden"
	"github.com/pfwdctl/pfwdctl/internal/hostfs"
	"github.com/pfwdctl/pfwdctl/internal/run"
	"github.com/pfwdctl/pfwdctl/internal/target"
	"github.com/pfwdctl/pfwdctl/internal/testenv"
	"github.com/pfwdctl/pfwdctl/render"
	"github.com/pfwdctl/pfwdctl/render/rendertest"
	"github.com/pfwdctl/pfwdctl/users"
	"github.com/pfwdctl/pfwdctl/users/keyline"
	"github.com/pfwdctl/pfwdctl/verify"
	"github.com/pfwdctl/pfwdctl/verify/audit"
)

func init() {
	// Golden screens must not depend on the terminal running the tests.
	lipgloss.SetColorProfile(termenv.Ascii)
}

// versionRunner runs everything for real except "-V", whose answer names
// the machine's OpenSSH build: golden screens pin it.
type versionRunner struct{ run.Exec }

func (v versionRunner) Run(ctx context.Context, name string, args ...string) ([]byte, []byte, error) {
	if len(args) == 1 && args[0] == "-V" {
		return nil, []byte("OpenSSH_9.2p1 Debian-2+deb12u3, OpenSSL 3.0.11 19 Sep 2023\n"), nil
	}
	return v.Exec.Run(ctx, name, args...)
}

// friendKey is a fixed ed25519 key, so fingerprints in golden files stay put.
func friendKeys(t *testing.T) (pub, priv string) {
	t.Helper()
	seed := make([]byte, ed25519.SeedSize)
	for i := range seed {
		seed[i] = byte(i)
	}
	k := ed25519.NewKeyFromSeed(seed)
	sp, err := ssh.NewPublicKey(k.Public())
	if err != nil {
		t.Fatal(err)
	}
	blk, err := ssh.MarshalPrivateKey(k, "")
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sp))) + " alice@laptop", string(pem.EncodeToMemory(blk))
}

var fixedNow = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

func testConfig(t *testing.T, root hostfs.Root) Config {
	return Config{
		Root:     root,
		Runner:   versionRunner{},
		SshdBin:  testenv.Sshd(t),
		Getenv:   mapEnv(map[string]string{"SUDO_USER": "admin", "SSH_CONNECTION": "203.0.113.7 51234 198.51.100.1 22", "HOME": t.TempDir()}),
		Now:      func() time.Time { return fixedNow },
		Hostname: "host.example",
		Syslog:   func(string) {},
		// As the command sets it under --root.
		ProveSkip: "--root names a tree, not the running sshd: nothing to log in to",
	}
}

func mapEnv(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

// harness drives the model the way bubbletea does, synchronously: every
// command's message is fed back until none is left. Spinner ticks are
// dropped (they only animate), so a run is deterministic.
type harness struct {
	t    *testing.T
	m    *Model
	root hostfs.Root
	quit bool
}

func newHarness(t *testing.T, cfg Config) *harness {
	h := &harness{t: t, m: New(context.Background(), cfg), root: cfg.Root}
	h.send(tea.WindowSizeMsg{Width: 80, Height: 24})
	return h
}

func (h *harness) send(msgs ...tea.Msg) *harness {
	h.t.Helper()
	for _, msg := range msgs {
		_, cmd := h.m.Update(msg)
		h.run(cmd)
	}
	return h
}

func (h *harness) run(cmd tea.Cmd) {
	if cmd == nil {
		return
	}
	switch msg := cmd().(type) {
	case nil, spinner.TickMsg:
	case tea.QuitMsg:
		h.quit = true
	case tea.BatchMsg:
		for _, c := range msg {
			h.run(c)
		}
	default:
		h.send(msg)
	}
}

func kmsg(t tea.KeyType) tea.KeyMsg { return tea.KeyMsg{Type: t} }

var (
	enter = kmsg(tea.KeyEnter)
	esc   = kmsg(tea.KeyEsc)
	tab   = kmsg(tea.KeyTab)
	clear = kmsg(tea.KeyCtrlU) // textinput: delete before the cursor
	ctrlC = kmsg(tea.KeyCtrlC)
)

func typed(s string) tea.KeyMsg { return tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(s)} }
func pasted(s string) tea.KeyMsg {
	return tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(s), Paste: true}
}

// screen is the current view with the host-specific parts normalised.
func (h *harness) screen() string {
	v := h.m.View()
	v = strings.ReplaceAll(v, h.root.Dir(), "$ROOT")
	return v + "\n"
}

func (h *harness) golden(name string) {
	h.t.Helper()
	s := h.screen()
	checkFits(h.t, s, h.m.width, h.m.height)
	golden.Check(h.t, "wizard/"+name+".txt", []byte(s))
}

func (h *harness) want(sub ...string) {
	h.t.Helper()
	v := h.m.View()
	for _, s := range sub {
		if !strings.Contains(v, s) {
			h.t.Fatalf("screen lacks %q:\n%s", s, v)
		}
	}
}

// wantReview looks at the whole Review text, not just the visible part.
func (h *harness) wantReview(sub ...string) {
	h.t.Helper()
	v := ansi.Strip(h.m.reviewContent())
	for _, s := range sub {
		if !strings.Contains(strings.ReplaceAll(v, "\n", " "), s) {
			h.t.Fatalf("review lacks %q:\n%s", s, v)
		}
	}
}

func checkFits(t *testing.T, s string, w, hgt int) {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
	if len(lines) > hgt {
		t.Errorf("%d lines, the terminal has %d", len(lines), hgt)
	}
	for _, l := range lines {
		if lipgloss.Width(l) > w {
			t.Errorf("line wider than %d: %q", w, l)
		}
	}
}

// TestWalkthrough goes through every screen on a stock Debian 12 tree with
// the real sshd -t and the real users library, and checks what was written.
func TestWalkthrough(t *testing.T) {
	t.Parallel()
	testenv.Root(t)
	root := rendertest.New(t, rendertest.Tree{})
	pub, priv := friendKeys(t)
	h := newHarness(t, testConfig(t, root))

	h.want("step 1 of 7", "Host check", "Include: sshd reads", "over SSH from 203.0.113.7", "lockout check:")
	h.golden("01-host")

	h.send(enter)
	h.want("step 2 of 7", "pfwd exists (uid 999); Apply repairs it", "PermitOpen 127.0.0.1:8009")
	h.golden("02-account")
	// Validation as you type, with render's own validators.
	h.send(clear, typed("Pf"))
	h.want(`invalid account name "Pf"`)
	h.golden("02-account-invalid")
	h.send(clear, typed("pfwd"), enter, typed(",127.0.0.1:*"))
	h.want(`invalid target "127.0.0.1:*"`)
	h.send(enter) // refused: still here
	h.want("step 2 of 7")
	h.send(clear, typed("127.0.0.1:8009"), enter)

	h.want("step 3 of 7", "Friend's key")
	// A pasted private key is refused by keyline, with the explanation.
	h.send(pasted(priv))
	h.want("this is a PRIVATE key", "ask for the .pub file")
	h.golden("03-key-private")
	h.send(enter)
	h.want("step 3 of 7")
	h.send(clear, pasted(pub))
	h.want("ssh-ed25519 256-bit SHA256:", "name alice@laptop")
	h.send(tab, typed("alice"), tab, typed("2026-12-31"), tab, typed("203.0.113.0/24"))
	h.want("name alice", "expires 2026-12-31", "only from 203.0.113.0/24")
	h.golden("03-key")
	h.send(enter)
	h.want("queued alice")
	h.send(enter)

	h.want("step 4 of 7", "Review", "+++ /etc/ssh/sshd_config.d/10-hardening.conf", "enter applies")
	h.golden("04-review")
	h.wantReview(`restrict,port-forwarding,permitopen="127.0.0.1:8009"`, "account pfwd", "lockout check passed")
	h.send(kmsg(tea.KeyPgDown), kmsg(tea.KeyPgDown), kmsg(tea.KeyPgDown))
	h.want("account pfwd")
	h.golden("04-review-scrolled")
	if _, err := os.Stat(root.Path("/etc/ssh/sshd_config.d/10-hardening.conf")); err == nil {
		t.Fatal("a drop-in was written before apply")
	}

	h.send(enter)
	h.want("step 5 of 7", "sshd -t accepts the whole configuration", "applied")
	h.golden("05-apply")
	h.send(enter)
	h.want("step 6 of 7", "skipped")
	h.golden("06-prove")
	h.send(enter)
	h.want("step 7 of 7", "-o ServerAliveCountMax=2 \\\n      -L 8009:127.0.0.1:8009 pfwd@host.example")
	h.golden("07-done")
	h.send(enter)
	if !h.quit || !h.m.Outcome().Applied {
		t.Fatalf("quit=%v outcome=%+v", h.quit, h.m.Outcome())
	}
	if !strings.Contains(h.m.Outcome().Summary, "ssh -i ~/.ssh/pfwd_key -N -T -o ExitOnForwardFailure=yes -o ServerAliveInterval=60 -o ServerAliveCountMax=2 -L 8009:127.0.0.1:8009 pfwd@host.example\n") || strings.Contains(h.m.Outcome().Summary, "\x1b[") {
		t.Errorf("summary:\n%s", h.m.Outcome().Summary)
	}

	for _, f := range []string{"10-hardening.conf", "20-pfwd-only.conf"} {
		data, err := os.ReadFile(root.Path("/etc/ssh/sshd_config.d/" + f))
		if err != nil {
			t.Fatal(err)
		}
		golden.Check(t, "render/default/"+f, data)
	}
	ak, err := os.ReadFile(root.Path("/home/pfwd/.ssh/authorized_keys"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(ak), `restrict,port-forwarding,permitopen="127.0.0.1:8009",expiry-time="20261231`) ||
		!strings.Contains(string(ak), `from="203.0.113.0/24"`) || !strings.HasSuffix(strings.TrimSpace(string(ak)), " alice") {
		t.Errorf("authorized_keys:\n%s", ak)
	}
	if _, err := os.Stat(root.Path("/var/log/pfwdctl/audit.jsonl")); err != nil {
		t.Errorf("audit log: %v", err)
	}
}

// TestLockout: an admin without a key would be locked out; the host check
// says so, Review refuses to apply, and nothing is written.
func TestLockout(t *testing.T) {
	t.Parallel()
	root := rendertest.New(t, rendertest.Tree{NoAdminKey: true})
	before := rendertest.Snapshot(t, root)
	h := newHarness(t, testConfig(t, root))
	h.want("LOCKOUT WARNING", "root: no authorized key; admin: no authorized", "Apply will refuse")
	h.golden("01-host-lockout")
	h.send(enter, enter, enter, enter)
	h.want("step 4 of 7", "LOCKOUT WARNING", "cannot apply")
	h.send(enter)
	h.want("step 4 of 7")
	h.send(ctrlC)
	if !h.quit || !h.m.Outcome().Quit {
		t.Fatalf("ctrl+c: quit=%v %+v", h.quit, h.m.Outcome())
	}
	rendertest.Unchanged(t, root, before)

	// Fixed in another terminal, r checks again.
	h = newHarness(t, testConfig(t, root))
	if err := os.MkdirAll(root.Path("/home/admin/.ssh"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(root.Path("/home/admin/.ssh/authorized_keys"), []byte(rendertest.AdminKey), 0o600); err != nil {
		t.Fatal(err)
	}
	h.want("LOCKOUT WARNING")
	h.send(typed("r"))
	h.want("lockout check: after hardening")
}

// TestDryRun stops at Review; q quits and nothing is written.
func TestDryRun(t *testing.T) {
	t.Parallel()
	root := rendertest.New(t, rendertest.Tree{})
	before := rendertest.Snapshot(t, root)
	cfg := testConfig(t, root)
	cfg.DryRun = true
	h := newHarness(t, cfg)
	h.want("step 1 of 4", "dry run")
	h.send(enter, enter, enter, enter)
	h.want("step 4 of 4", "dry run: nothing has been written")
	h.golden("04-review-dry-run")
	h.send(enter)
	h.want("step 4 of 4")
	h.send(typed("q"))
	if !h.quit || !h.m.Outcome().Quit {
		t.Fatal("q did not quit")
	}
	rendertest.Unchanged(t, root, before)
}

// TestBackAndQuit: esc goes back through the screens keeping what was
// typed; ctrl+c on any screen before Apply changes nothing.
func TestBackAndQuit(t *testing.T) {
	t.Parallel()
	root := rendertest.New(t, rendertest.Tree{})
	before := rendertest.Snapshot(t, root)
	h := newHarness(t, testConfig(t, root))
	h.send(esc)
	h.want("step 1 of 7")
	h.send(enter, clear, typed("fwd2"), enter, enter)
	h.want("step 3 of 7")
	h.send(esc)
	h.want("step 2 of 7", "fwd2")
	h.send(esc)
	h.want("step 1 of 7")
	h.send(typed("?"))
	h.want("quit without changes", "check again")
	h.send(enter, enter, enter) // the account screen kept its focus on targets
	h.want("step 4 of 7")
	h.wantReview("create account fwd2")
	h.send(ctrlC)
	if !h.quit || !h.m.Outcome().Quit || !strings.Contains(h.m.Outcome().Summary, "nothing changed") {
		t.Fatalf("%+v", h.m.Outcome())
	}
	rendertest.Unchanged(t, root, before)
}

// toorAppears adds toor with UID 0 once the wizard is on Review: the
// account screen refuses a UID 0 account as it is typed (users.CheckAccount),
// so only an account that changes between that screen and Apply makes the
// account step fail after sshd -t.
func toorAppears(t *testing.T, root hostfs.Root) {
	t.Helper()
	passwd, _ := os.ReadFile(root.Path("/etc/passwd"))
	if err := os.WriteFile(root.Path("/etc/passwd"), append(passwd, "toor:x:0:0::/root:/bin/bash\n"...), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestRollback: the account step fails after sshd -t accepted the drop-ins
// (toor has UID 0 by then, which users refuses); the drop-ins are put back
// byte-for-byte before sshd ever reloads, and the screen says so.
func TestRollback(t *testing.T) {
	t.Parallel()
	testenv.Root(t)
	root := rendertest.New(t, rendertest.Tree{Files: map[string]string{
		"/etc/ssh/sshd_config.d/10-hardening.conf": "# an older pfwdctl drop-in\n",
	}})
	h := newHarness(t, testConfig(t, root))
	h.send(enter, clear, typed("toor"), enter, enter, enter)
	h.want("step 4 of 7", "update /etc/ssh/sshd_config.d/10-hardening.conf")
	toorAppears(t, root)
	before := rendertest.Snapshot(t, root)
	h.send(enter)
	h.want("UID 0", "rolled back: the drop-ins are restored byte-for-byte", "apply failed")
	h.golden("05-apply-rollback")
	rendertest.Unchanged(t, root, before)
	h.send(enter)
	if !h.quit || !h.m.Outcome().Failed || !strings.Contains(h.m.Outcome().Summary, "rolled back") {
		t.Fatalf("%+v", h.m.Outcome())
	}
}

// TestRollbackRemovesTheDirItCreated: on a host without sshd_config.d the
// apply step creates it; when the account step then fails, the rollback is
// the Applier's own, so the directory goes too (the wizard's old copy of the
// transaction left it behind, and restored without the lock).
func TestRollbackRemovesTheDirItCreated(t *testing.T) {
	t.Parallel()
	testenv.Root(t)
	root := rendertest.New(t, rendertest.Tree{})
	if err := os.Remove(root.Path("/etc/ssh/sshd_config.d")); err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, testConfig(t, root))
	h.send(enter, clear, typed("toor"), enter, enter, enter)
	h.want("step 4 of 7", "create /etc/ssh/sshd_config.d/10-hardening.conf")
	toorAppears(t, root)
	before := rendertest.Snapshot(t, root)
	h.send(enter)
	h.want("UID 0", "rolled back: the drop-ins are restored byte-for-byte", "apply failed")
	rendertest.Unchanged(t, root, before)
	if _, err := os.Lstat(root.Path("/etc/ssh/sshd_config.d")); !os.IsNotExist(err) {
		t.Fatalf("rollback left sshd_config.d behind (%v)", err)
	}
}

// TestKeyFromPath reads a .pub file named on the key line, as add-key FILE.
func TestKeyFromPath(t *testing.T) {
	t.Parallel()
	root := rendertest.New(t, rendertest.Tree{})
	pub, priv := friendKeys(t)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "friend.pub"), []byte(pub+"\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "friend"), []byte(priv), 0o600)
	h := newHarness(t, testConfig(t, root))
	h.send(enter, enter, enter)
	h.send(typed(filepath.Join(dir, "friend.pub")))
	h.want("ssh-ed25519 256-bit")
	h.send(clear, typed(filepath.Join(dir, "friend")))
	h.want("PRIVATE key")
	h.send(clear, typed(filepath.Join(dir, "nothing.pub")))
	h.want("read the key")
}

// TestResize: every screen fits the terminal, large or small.
func TestResize(t *testing.T) {
	t.Parallel()
	root := rendertest.New(t, rendertest.Tree{})
	pub, _ := friendKeys(t)
	for _, sz := range [][2]int{{80, 24}, {120, 40}, {60, 20}} {
		h := newHarness(t, testConfig(t, root))
		h.send(tea.WindowSizeMsg{Width: sz[0], Height: sz[1]})
		for i := 0; i < 4; i++ {
			if i == 2 {
				h.send(pasted(pub))
				checkFits(t, h.m.View(), sz[0], sz[1])
				h.send(enter)
			}
			checkFits(t, h.m.View(), sz[0], sz[1])
			h.send(typed("?"))
			checkFits(t, h.m.View(), sz[0], sz[1])
			h.send(typed("?"), enter)
		}
	}
}

// TestNoColor: without colour the screens carry no escape sequences; with
// it they do.
func TestNoColor(t *testing.T) {
	t.Parallel()
	root := rendertest.New(t, rendertest.Tree{})
	cfg := testConfig(t, root)
	if v := New(context.Background(), cfg).View(); strings.Contains(v, "\x1b[") {
		t.Errorf("escape sequences without colour:\n%q", v)
	}
	cfg.Color = true
	if v := New(context.Background(), cfg).View(); !strings.Contains(v, "\x1b[") {
		t.Errorf("no colour with Color set")
	}
}

// TestProve: the Prove screen shows verify's check table, and a failed
// check makes the outcome a failure.
func TestProve(t *testing.T) {
	t.Parallel()
	testenv.Root(t)
	for _, tc := range []struct {
		name   string
		report *verify.Report
		err    error
	}{
		{"06-prove-passed", &verify.Report{Host: "127.0.0.1", Passed: true, Checks: []verify.Result{
			{Name: "shell-blocked", Status: verify.Pass, Detail: "shell, exec and sftp ran nothing; pty refused"},
			{Name: "tunnel-open", Status: verify.Pass, Detail: "127.0.0.1:8009 opens"},
			{Name: "other-ports-prohibited", Status: verify.Pass, Detail: "127.0.0.1:22, 127.0.0.1:8010, localhost:8009 refused"},
			{Name: "password-not-offered", Status: verify.Pass, Detail: "server offers: publickey"},
		}}, nil},
		{"06-prove-failed", &verify.Report{Host: "127.0.0.1", Checks: []verify.Result{
			{Name: "shell-blocked", Status: verify.Fail, Detail: "the canary came back from exec", Hint: "put ForceCommand back in the Match block"},
			{Name: "tunnel-open", Status: verify.Warn, Detail: "permitted, but nothing answers at 127.0.0.1:8009"},
		}}, fail.New(fail.Failed, "each failed check above says what to fix", "1 of 2 checks failed: shell-blocked")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			root := rendertest.New(t, rendertest.Tree{})
			cfg := testConfig(t, root)
			var gotUser string
			cfg.SelfVerify = func(_ context.Context, user string, targets []target.Target, addr string) (*verify.Report, error) {
				gotUser = user + " " + targets[0].String() + " " + addr
				return tc.report, tc.err
			}
			h := newHarness(t, cfg)
			h.send(enter, enter, enter, enter, enter, enter)
			h.want("step 6 of 7", "shell-blocked")
			h.golden(tc.name)
			if gotUser != "pfwd 127.0.0.1:8009 127.0.0.1:22" {
				t.Errorf("verify --self called with %q", gotUser)
			}
			h.send(enter, enter)
			if h.m.Outcome().ProveFailed != (tc.err != nil) {
				t.Errorf("%+v", h.m.Outcome())
			}
		})
	}
}

// TestOverrideStopsAndRollsBack: a 05- drop-in turns passwords back on.
// sshd -t accepts the drop-ins, but they would not harden the host, so the
// write step fails naming the line and the files are put back (the old
// wizard said ✓ and went on to reload).
func TestOverrideStopsAndRollsBack(t *testing.T) {
	t.Parallel()
	testenv.Root(t)
	root := rendertest.New(t, rendertest.Tree{Files: map[string]string{
		"/etc/ssh/sshd_config.d/05-cloud.conf": "PasswordAuthentication yes\n",
	}})
	before := rendertest.Snapshot(t, root)
	cfg := testConfig(t, root)
	cfg.Overrides = func(ctx context.Context, p render.Params, overlay map[string][]byte) (fails, warns []string, err error) {
		fs, err := audit.Overrides(ctx, audit.Options{Root: root, Runner: run.Exec{}, SshdBin: cfg.SshdBin, Params: p, Overlay: overlay, Now: cfg.Now})
		for _, f := range fs {
			if f.Severity == audit.Fail {
				fails = append(fails, f.String())
			}
		}
		return fails, nil, err
	}
	h := newHarness(t, cfg)
	h.send(enter, enter, enter, enter)
	h.want("step 4 of 7")
	h.send(enter)
	h.want("05-cloud.conf", "rolled back", "apply failed")
	rendertest.Unchanged(t, root, before)
}

// TestProvePort (issue 15): the Prove step assumed port 22 and failed with
// "refused" on a host whose sshd listens elsewhere, with no way to retry.
// Now it proves on the port sshd -T names, the admin can type another and
// press r, and the friend's command carries -p, the guide's keepalives
// and ExitOnForwardFailure, without pointing at a key nobody added.
func TestProvePort(t *testing.T) {
	t.Parallel()
	testenv.Root(t)
	root := rendertest.New(t, rendertest.Tree{SshdConfig: append([]byte("Port 2222\n"), rendertest.StockSshdConfig...)})
	cfg := testConfig(t, root)
	var addrs []string
	cfg.SelfVerify = func(_ context.Context, _ string, _ []target.Target, addr string) (*verify.Report, error) {
		addrs = append(addrs, addr)
		if addr != "127.0.0.1:2200" {
			return nil, fail.New(fail.Unavailable, "nothing listens there", "cannot verify %s: refused", addr)
		}
		return &verify.Report{Host: "127.0.0.1", Passed: true, Checks: []verify.Result{{Name: "tunnel-open", Status: verify.Pass, Detail: "127.0.0.1:8009 opens"}}}, nil
	}
	h := newHarness(t, cfg)
	h.want("listens on [::]:2222, 0.0.0.0:2222 (sshd -T)")
	h.send(enter, enter, enter, enter, enter, enter)
	h.want("step 6 of 7", "cannot verify 127.0.0.1:2222: refused", "port     2222", "press r to try again")
	h.golden("06-prove-port")
	if fmt.Sprint(addrs) != "[127.0.0.1:2222]" {
		t.Fatalf("proved on %v, want sshd -T's port 2222", addrs)
	}
	// Only digits reach the field; r retries on the port typed.
	h.send(kmsg(tea.KeyBackspace), kmsg(tea.KeyBackspace), typed("x0"), typed("0"), typed("0"), typed("r"))
	if fmt.Sprint(addrs) != "[127.0.0.1:2222 127.0.0.1:2200]" {
		t.Fatalf("retry proved on %v", addrs)
	}
	h.want("pfwd@127.0.0.1:2200 can forward to 127.0.0.1:8009")
	if h.m.Outcome().ProveFailed {
		t.Errorf("a passing retry left the outcome failed: %+v", h.m.Outcome())
	}
	h.send(enter)
	h.want("step 7 of 7")
	sum := h.m.doneText(false)
	want := "ssh -i ~/.ssh/pfwd_key -N -T -o ExitOnForwardFailure=yes -o ServerAliveInterval=60 -o ServerAliveCountMax=2 -p 2222 -L 8009:127.0.0.1:8009 pfwd@host.example\n"
	if !strings.Contains(sum, want) {
		t.Errorf("summary lacks %q:\n%s", want, sum)
	}
	if strings.Contains(sum, "the key you added") || !strings.Contains(sum, "pfwdctl add-key --user pfwd FRIEND.pub") {
		t.Errorf("no key was added, yet:\n%s", sum)
	}
	checkFits(t, h.m.View(), 80, 24)
}

// TestKeyScreen (issue 15): ? opened nothing on the key screen (it was
// typed), a pasted .pub ending in a newline was queued before it could be
// named, a queued key could not be removed, and Review said "add" for a key
// already installed.
func TestKeyScreen(t *testing.T) {
	t.Parallel()
	cfg, pub := aliceInstalled(t)
	other := agentKey(t, "carol@desk")
	h := newHarness(t, cfg)
	h.send(enter, enter, enter)
	h.want("step 3 of 7")

	h.send(typed("?"))
	if h.m.keyIn.Value() != "" || !h.m.help.ShowAll {
		t.Fatalf("? was typed (%q) instead of opening the help", h.m.keyIn.Value())
	}
	h.want("shift+tab previous field") // in the full help only
	h.send(typed("?"))

	// A terminal without bracketed paste sends the .pub's newline as enter.
	h.send(typed(other), enter)
	if len(h.m.friends) != 0 || h.m.keyFocus != 1 {
		t.Fatalf("the newline queued the key (%d queued, focus %d)", len(h.m.friends), h.m.keyFocus)
	}
	h.send(typed("carol"), tab, typed("30d"), enter)
	h.want("queued carol")
	// A bracketed paste keeps its newline out of the field.
	h.send(pasted(pub + "\n"))
	if strings.ContainsAny(h.m.keyIn.Value(), "\r\n ") && strings.HasSuffix(h.m.keyIn.Value(), " ") {
		t.Errorf("the pasted newline reached the field: %q", h.m.keyIn.Value())
	}
	// The installed key under its own name is fine; its name for another
	// key is not (add-key would refuse it without --replace), nor a name
	// already in the list.
	h.send(enter, typed("carol"))
	h.want(`another key in the list is named "carol"`)
	h.send(clear, typed("alice"))
	h.want("name alice")
	h.send(enter)
	h.want("queued alice")
	if len(h.m.friends) != 2 {
		t.Fatalf("queued %d", len(h.m.friends))
	}
	h.m.friends = h.m.friends[:1]
	h.send(pasted(agentKey(t, "x")), enter, typed("alice"))
	h.want(`pfwd already has a key named "alice"`)
	h.send(clear, kmsg(tea.KeyShiftTab), clear)
	h.send(pasted(pub), enter, enter)
	h.want("queued alice")

	// ctrl+x takes the last key off the list.
	h.send(kmsg(tea.KeyCtrlX))
	h.want("removed alice")
	if len(h.m.friends) != 1 || h.m.friends[0].Name != "carol" {
		t.Fatalf("after ctrl+x: %+v", h.m.friends)
	}
	h.send(pasted(pub), enter, enter)
	h.send(enter)
	h.want("step 4 of 7")
	h.wantReview("add key carol to ~pfwd/.ssh/authorized_keys", "update key alice@laptop in ~pfwd/.ssh/authorized_keys (installed as alice, line 1)")

	// G and End go to the end of the diff, g and Home back to the top.
	h.send(typed("G"))
	if !h.m.review.AtBottom() {
		t.Error("G did not reach the end")
	}
	h.send(typed("g"))
	if !h.m.review.AtTop() {
		t.Error("g did not go back to the top")
	}
	h.send(kmsg(tea.KeyEnd))
	if !h.m.review.AtBottom() {
		t.Error("End did not reach the end")
	}
}

// aliceInstalled is a tree where pfwd exists and has friendKeys' key
// installed under the name alice.
func aliceInstalled(t *testing.T) (Config, string) {
	t.Helper()
	testenv.Root(t)
	root := rendertest.New(t, rendertest.Tree{})
	cfg := testConfig(t, root)
	uh := users.Host{Root: root, Runner: cfg.Runner, Now: cfg.Now, Getenv: cfg.Getenv, Syslog: func(string) {}}
	if _, err := uh.CreateUser(context.Background(), users.CreateRequest{User: "pfwd", Fix: true}); err != nil {
		t.Fatal(err)
	}
	pub, _ := friendKeys(t)
	k, _, err := keyline.ParsePublic([]byte(pub))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := uh.AddKey(context.Background(), users.AddKeyRequest{User: "pfwd", Key: k, Name: "alice", Targets: []string{"127.0.0.1:8009"}}); err != nil {
		t.Fatal(err)
	}
	return cfg, pub
}

// TestReviewRefusesATakenName: a key queued for one account, then the
// account changed to one whose installed key has that name; Review refuses
// to apply instead of failing the keys step after sshd -t.
func TestReviewRefusesATakenName(t *testing.T) {
	t.Parallel()
	cfg, _ := aliceInstalled(t)
	before := rendertest.Snapshot(t, cfg.Root)
	h := newHarness(t, cfg)
	h.send(enter, clear, typed("other"), enter, enter)
	h.want("step 3 of 7")
	h.send(pasted(agentKey(t, "x")), enter, typed("alice"), enter)
	h.want("queued alice")
	h.send(esc, tab, clear, typed("pfwd"), enter, enter, enter)
	h.want("step 4 of 7", "cannot apply")
	h.wantReview(`pfwd already has a key named "alice"`)
	h.send(enter)
	h.want("step 4 of 7")
	rendertest.Unchanged(t, cfg.Root, before)
}

// agentKey is a fresh public key line.
func agentKey(t *testing.T, comment string) string {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	sp, _ := ssh.NewPublicKey(pub)
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sp))) + " " + comment
}

// TestTooSmall (issue 15): below the minimum size the fields were cut off
// without a word; now the screen says so and keys wait for a larger one.
func TestTooSmall(t *testing.T) {
	t.Parallel()
	root := rendertest.New(t, rendertest.Tree{})
	h := newHarness(t, testConfig(t, root))
	h.send(tea.WindowSizeMsg{Width: 40, Height: 12})
	if v := strings.Join(strings.Fields(h.m.View()), " "); !strings.Contains(v, "terminal is too small (40x12); it needs at least 60x20") {
		t.Fatalf("no notice:\n%s", h.m.View())
	}
	checkFits(t, h.m.View(), 40, 12)
	h.send(enter)
	h.send(tea.WindowSizeMsg{Width: 80, Height: 24})
	h.want("step 1 of 7")
	h.send(tea.WindowSizeMsg{Width: 40, Height: 12}, ctrlC)
	if !h.quit || !h.m.Outcome().Quit {
		t.Fatalf("ctrl+c did not quit: %+v", h.m.Outcome())
	}
}

// The host check says how the write step will install: the Include it
// will add to a main config without one, or managed blocks where
// sshd_config already holds them (OpenSSH 8.0/8.2 hosts).
func TestHostCheckInstallMode(t *testing.T) {
	t.Parallel()
	testenv.Root(t)
	noInclude := rendertest.New(t, rendertest.Tree{SshdConfig: []byte("PermitRootLogin prohibit-password\n")})
	h := newHarness(t, testConfig(t, noInclude))
	h.want("Host check", "no Include of /etc/ssh/sshd_config.d/*.conf yet: the write step adds it")

	managed := rendertest.New(t, rendertest.Tree{SshdConfig: []byte("# BEGIN pfwdctl 10-hardening.conf\nPasswordAuthentication no\n# END pfwdctl 10-hardening.conf\nPermitRootLogin no\n")})
	h = newHarness(t, testConfig(t, managed))
	h.want("Host check", "install: managed blocks in /etc/ssh/sshd_config")
}
