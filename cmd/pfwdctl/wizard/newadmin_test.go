package wizard

// Regression tests for what a new-admin tester found with the landed
// binary: each would fail on the code before the fix.

import (
	"strings"
	"testing"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"

	"github.com/pfwdctl/pfwdctl/render/rendertest"
	"github.com/pfwdctl/pfwdctl/users/keyline"
)

// flat is the screen with wrapped lines joined: what a test looks for may
// be folded at any width.
func (h *harness) flat() string { return strings.Join(strings.Fields(h.m.View()), " ") }

func (h *harness) wantFlat(sub ...string) {
	h.t.Helper()
	for _, s := range sub {
		if !strings.Contains(h.flat(), s) {
			h.t.Fatalf("screen lacks %q:\n%s", s, h.m.View())
		}
	}
}

// TestUnknownSizeIs80x24: a pty whose size was never set (serial console,
// script fed from a pipe) reports 0x0. The wizard drew a one-column "too
// small" notice ("…") and waited forever; an unknown size is 80x24.
func TestUnknownSizeIs80x24(t *testing.T) {
	t.Parallel()
	root := rendertest.New(t, rendertest.Tree{})
	h := newHarness(t, testConfig(t, root))
	h.send(tea.WindowSizeMsg{Width: 0, Height: 0})
	h.want("step 1 of 7", "Host check", "lockout check:")
	if h.m.width != 80 || h.m.height != 24 {
		t.Errorf("size %dx%d, want 80x24", h.m.width, h.m.height)
	}
	checkFits(t, h.m.View(), 80, 24)
	h.send(enter)
	h.want("step 2 of 7") // keys are not held back as "too small"
	// One unknown dimension: the known one is kept.
	h.send(tea.WindowSizeMsg{Width: 100, Height: 0})
	if h.m.width != 100 || h.m.height != 24 {
		t.Errorf("size %dx%d, want 100x24", h.m.width, h.m.height)
	}
	// A real size below the minimum still shows the notice.
	h.send(tea.WindowSizeMsg{Width: 40, Height: 12})
	if v := strings.Join(strings.Fields(h.m.View()), " "); !strings.Contains(v, "terminal is too small (40x12)") {
		t.Errorf("no notice at 40x12:\n%s", h.m.View())
	}
}

// TestPasteTwoKeys: `cat bob.pub alice.pub` pasted at once became one key
// named "bob@laptop-ssh-ed25519-AAAAC3…" (textinput turns newlines into
// spaces), the second key lost without a word. It is refused, as add-key
// refuses it, and nothing is queued; so is the second key landing in the
// name field when the paste is not bracketed (its newline is enter).
func TestPasteTwoKeys(t *testing.T) {
	t.Parallel()
	root := rendertest.New(t, rendertest.Tree{})
	bob, alice := agentKey(t, "bob@laptop"), agentKey(t, "alice@desk")
	h := newHarness(t, testConfig(t, root))
	h.send(enter, enter, enter)
	h.want("step 3 of 7")

	for _, sep := range []string{"\n", "\r\n", "\r"} {
		h.send(pasted(bob + sep + alice + sep))
		h.want("the paste holds 2 keys (bob@laptop, alice@desk)", "one key at a time")
		if sep == "\n" {
			h.golden("03-key-two-keys")
		}
		if v := h.m.View(); strings.Contains(v, "name bob@laptop-ssh") || strings.Contains(v, "✓ ssh-ed25519") {
			t.Fatalf("the second key was merged into the first:\n%s", v)
		}
		h.send(enter, tab, typed("x"), enter)
		if len(h.m.friends) != 0 {
			t.Fatalf("queued %+v", h.m.friends)
		}
		h.send(clear, kmsg(tea.KeyShiftTab), clear)
		if h.m.keyIn.Value() != "" || h.m.keyFocus != 0 {
			t.Fatalf("not cleared: %q, focus %d", h.m.keyIn.Value(), h.m.keyFocus)
		}
	}
	// A private key pasted with a public one: the private key's warning.
	_, priv := friendKeys(t)
	h.send(pasted(bob + "\n" + priv))
	h.want("this is a PRIVATE key")
	h.send(clear)

	// Without bracketed paste: bob, enter (moves on to the name), alice
	// typed into the name field, enter.
	h.send(typed(bob), enter, typed(alice), enter)
	h.wantFlat("the name field holds another public key (ssh-ed25519 SHA256:", "was a second key pasted?")
	if len(h.m.friends) != 0 {
		t.Fatalf("the second key became the first one's name: %+v", h.m.friends)
	}
	h.send(clear, typed("bob"), enter)
	h.want("queued bob")
	h.send(pasted(alice), enter, enter)
	h.want("queued alice@desk")
	if len(h.m.friends) != 2 || h.m.friends[0].Name != "bob" || h.m.friends[1].Name != "alice@desk" {
		t.Fatalf("friends %+v", h.m.friends)
	}
	// One key with its newline, pasted after another paste was refused,
	// is judged on its own.
	h.send(pasted(bob+"\n"+alice), clear, pasted(agentKey(t, "carol")+"\n"))
	h.want("name carol")
}

// TestPersonAccountRefusedAtOnce: typing a person's account (admin, uid
// 1000, /bin/bash) said "valid account name", and Review then showed a
// lockout warning suggesting --force, which the wizard does not have. The
// account screen now says at once that it is refused and why, and no
// screen offers a flag the wizard lacks.
func TestPersonAccountRefusedAtOnce(t *testing.T) {
	t.Parallel()
	root := rendertest.New(t, rendertest.Tree{})
	h := newHarness(t, testConfig(t, root))
	h.send(enter, clear, typed("admin"))
	v := strings.Join(strings.Fields(h.m.View()), " ")
	for _, want := range []string{"admin is a person's account (uid 1000 is at least UID_MIN 1000", "it has a login shell and a usable password", "the wizard refuses it", "would lock them out"} {
		if !strings.Contains(v, want) {
			t.Fatalf("account screen lacks %q:\n%s", want, h.m.View())
		}
	}
	h.golden("02-account-person")
	if strings.Contains(v, "valid account name") || strings.Contains(v, "--force") || strings.Contains(v, "--adopt") {
		t.Fatalf("account screen:\n%s", v)
	}
	h.send(enter, enter, enter)
	h.want("step 2 of 7")
	h.send(tab, clear, typed("tunnel"))
	h.want("valid account name; Apply creates it")
	h.send(enter, enter, enter)
	h.want("step 4 of 7")
	h.wantReview("create account tunnel")
}

// TestNoForceHint: the lockout warning's hint (render.Guard's, written for
// apply) offered --force, which the wizard does not have.
func TestNoForceHint(t *testing.T) {
	t.Parallel()
	root := rendertest.New(t, rendertest.Tree{NoAdminKey: true})
	h := newHarness(t, testConfig(t, root))
	h.want("LOCKOUT WARNING", "run pfwdctl again")
	if v := h.m.View(); strings.Contains(v, "pass --force") {
		t.Errorf("the host check offers --force:\n%s", v)
	}
	for in, want := range map[string]string{
		"put your key in ~/.ssh/authorized_keys, then run pfwdctl again (or pass --force if you have console access)":  "put your key in ~/.ssh/authorized_keys, then run pfwdctl again",
		"log in with a key first (ssh -o PreferredAuthentications=publickey), then run pfwdctl again, or pass --force": "log in with a key first (ssh -o PreferredAuthentications=publickey), then run pfwdctl again",
		"pass --force if you are sure someone can still log in":                                                        "",
		"give the account a new directory, e.g. --home /home/bob (useradd creates it)":                                 "pick another account name: the wizard gives a new account the home /home/NAME",
		"give bob its own home (usermod --home /home/bob --move-home bob)":                                             "give bob its own home (usermod --home /home/bob --move-home bob)",
	} {
		if got := wizardHint(in); got != want {
			t.Errorf("wizardHint(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestDryRunSaysQueued: with --dry-run a key was reported "✓ added
// bob-laptop" although nothing is ever written. It is queued (until Apply
// writes it), and the queued line shows its expiry.
func TestDryRunSaysQueued(t *testing.T) {
	t.Parallel()
	root := rendertest.New(t, rendertest.Tree{})
	cfg := testConfig(t, root)
	cfg.DryRun = true
	h := newHarness(t, cfg)
	h.send(enter, enter, enter)
	h.send(pasted(agentKey(t, "bob@laptop")), tab, typed("bob-laptop"), tab, typed("30d"), enter)
	e, err := keyline.ParseExpires("30d", fixedNow)
	if err != nil {
		t.Fatal(err)
	}
	exp := e.Local().Format("2006-01-02 15:04")
	h.want("queued bob-laptop", "expires "+exp)
	h.send(pasted(agentKey(t, "carol")), enter, enter)
	v := h.flat()
	if strings.Contains(v, "added") || !strings.Contains(v, "• queued bob-laptop ssh-ed25519 SHA256:") || !strings.Contains(v, "• queued carol ssh-ed25519") {
		t.Fatalf("key screen:\n%s", h.m.View())
	}
	for _, l := range strings.Split(strings.ReplaceAll(h.m.View(), "\n  ", " "), "\n") {
		if strings.Contains(l, "• queued bob-laptop ssh-") && !strings.Contains(l, "expires "+exp) ||
			strings.Contains(l, "• queued carol ssh-") && !strings.Contains(l, "no expiry") {
			t.Errorf("the queued line lacks its expiry: %q", l)
		}
	}
	h.send(enter)
	h.want("step 4 of 4", "dry run: nothing has been written")
}

// TestReviewDiffNarrow: at 60x20 long diff lines were folded onto lines
// without their leading + or -, which read as lines of the file. Each
// line of the diff is one screen line, cut with "…", and the screen says
// lines are cut.
func TestReviewDiffNarrow(t *testing.T) {
	t.Parallel()
	root := rendertest.New(t, rendertest.Tree{})
	h := newHarness(t, testConfig(t, root))
	h.send(tea.WindowSizeMsg{Width: 60, Height: 20})
	h.send(enter, enter, enter, enter)
	h.want("step 4 of 7")
	checkFits(t, h.m.View(), 60, 20)
	content := strings.Split(ansi.Strip(h.m.reviewContent()), "\n")
	cut := 0
	for _, c := range h.m.plan {
		if c.Diff == "" {
			continue
		}
		want := strings.Split(strings.TrimSuffix(c.Diff, "\n"), "\n")
		start := -1
		for i, l := range content {
			if i > 0 && l == want[1] { // +++ PATH: the file's own diff
				start = i - 1
				break
			}
		}
		if start < 0 || start+len(want) > len(content) {
			t.Fatalf("%s: diff not found in the review:\n%s", c.Path, strings.Join(content, "\n"))
		}
		for i, w := range want {
			got := content[start+i]
			if lipgloss.Width(got) > 60 {
				t.Errorf("wider than 60: %q", got)
			}
			if got != w && !(strings.HasSuffix(got, "…") && strings.HasPrefix(w, strings.TrimSuffix(got, "…"))) {
				t.Errorf("diff line %d of %s is %q on screen, want %q (or its start and …)", i, c.Path, got, w)
			}
			if got != w {
				cut++
			}
		}
	}
	if cut == 0 {
		t.Fatal("no line was long enough to be cut at 60 columns: the test proves nothing")
	}
	h.wantReview("lines cut at the terminal's width end in …")
	// At 120 columns nothing is cut, and no note.
	h.send(tea.WindowSizeMsg{Width: 120, Height: 40})
	if strings.Contains(h.m.reviewContent(), "lines cut") {
		t.Error("the cut note at 120 columns")
	}
}

// TestProveSkippedCommands: under --root the skipped Prove step said "prove
// it from outside with: pfwdctl verify --self", but --self runs on the
// server. It gives both commands, each where it runs, with -port when sshd
// does not listen on 22.
func TestProveSkippedCommands(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		cfg     []byte
		outside string
	}{
		{nil, "pfwdctl verify --host host.example --user pfwd --key ~/.ssh/pfwd_key"},
		{append([]byte("Port 2222\n"), rendertest.StockSshdConfig...), "pfwdctl verify --host host.example --port 2222 --user pfwd --key ~/.ssh/pfwd_key"},
	} {
		root := rendertest.New(t, rendertest.Tree{SshdConfig: tc.cfg})
		h := newHarness(t, testConfig(t, root))
		h.m.screen = scrProve
		h.m.resize()
		v := strings.Join(strings.Fields(strings.ReplaceAll(h.m.View(), "\\\n", "")), " ")
		for _, want := range []string{"skipped", "on the server, as root", "pfwdctl verify --self --user pfwd", "from a friend's machine", tc.outside} {
			if !strings.Contains(v, want) {
				t.Errorf("Prove screen lacks %q:\n%s", want, h.m.View())
			}
		}
		if strings.Contains(v, "from outside with: pfwdctl verify --self") {
			t.Errorf("--self offered from outside:\n%s", h.m.View())
		}
		checkFits(t, h.m.View(), 80, 24)
	}
	// Other targets than the default are passed on.
	root := rendertest.New(t, rendertest.Tree{})
	h := newHarness(t, testConfig(t, root))
	h.send(enter, tab, clear, typed("127.0.0.1:9000"), enter)
	h.m.screen = scrProve
	if v := h.m.View(); !strings.Contains(v, "pfwdctl verify --self --user pfwd --target 127.0.0.1:9000") {
		t.Errorf("targets not passed on:\n%s", v)
	}
}

// TestWrapKeepsWords: a word too long for the line (a key's base64 on
// Review at 60 columns) was broken and its pieces joined again with a
// space, so the screen showed a key that is not the one to be written.
func TestWrapKeepsWords(t *testing.T) {
	t.Parallel()
	word := "X" + strings.Repeat("AbCd", 30)
	for _, in := range []string{
		"  restrict,port-forwarding,permitopen=\"127.0.0.1:8009\" ssh-ed25519 " + word + " bob",
		"✓ " + word + " and then some words after it to wrap as well",
	} {
		got := wrap(in, 60)
		var joined strings.Builder
		for _, l := range strings.Split(got, "\n") {
			if lipgloss.Width(l) > 60 {
				t.Errorf("wider than 60: %q", l)
			}
			joined.WriteString(strings.TrimSpace(l))
		}
		if !strings.Contains(joined.String(), word) {
			t.Errorf("the long word was changed by wrapping:\n%s", got)
		}
	}
}
