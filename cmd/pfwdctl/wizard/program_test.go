package wizard_test

// TestProgram runs the wizard in a real bubbletea program with
// charmbracelet/x/exp/teatest, next to the package's Update-driven tests.
// teatest's x/exp/golden registers the same -update flag as
// internal/golden; internal/golden reuses it instead of defining a second
// one, so both live in one test binary.

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/exp/teatest"
	"github.com/muesli/termenv"
	"golang.org/x/crypto/ssh"

	"github.com/pfwdctl/pfwdctl/cmd/pfwdctl/wizard"
	"github.com/pfwdctl/pfwdctl/internal/golden"
	"github.com/pfwdctl/pfwdctl/internal/run"
	"github.com/pfwdctl/pfwdctl/internal/testenv"
	"github.com/pfwdctl/pfwdctl/render/rendertest"
)

type versionRunner struct{ run.Exec }

func (v versionRunner) Run(ctx context.Context, name string, args ...string) ([]byte, []byte, error) {
	if len(args) == 1 && args[0] == "-V" {
		return nil, []byte("OpenSSH_9.2p1 Debian-2+deb12u3, OpenSSL 3.0.11 19 Sep 2023\n"), nil
	}
	return v.Exec.Run(ctx, name, args...)
}

func TestProgram(t *testing.T) {
	testenv.Root(t)
	sshd := testenv.Sshd(t)
	lipgloss.SetColorProfile(termenv.Ascii)
	root := rendertest.New(t, rendertest.Tree{})
	seed := make([]byte, ed25519.SeedSize)
	for i := range seed {
		seed[i] = byte(i)
	}
	sp, _ := ssh.NewPublicKey(ed25519.NewKeyFromSeed(seed).Public())
	pub := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sp))) + " alice@laptop"
	env := map[string]string{"SUDO_USER": "admin", "SSH_CONNECTION": "203.0.113.7 51234 198.51.100.1 22"}
	m := wizard.New(context.Background(), wizard.Config{
		Root: root, Runner: versionRunner{}, SshdBin: sshd,
		Getenv:   func(k string) string { return env[k] },
		Now:      func() time.Time { return time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC) },
		Hostname: "host.example", Syslog: func(string) {},
	})
	tm := teatest.NewTestModel(t, m, teatest.WithInitialTermSize(80, 24))
	wait := func(s string) {
		t.Helper()
		teatest.WaitFor(t, tm.Output(), func(b []byte) bool { return bytes.Contains(b, []byte(s)) },
			teatest.WithDuration(20*time.Second), teatest.WithCheckInterval(20*time.Millisecond))
	}
	enter := tea.KeyMsg{Type: tea.KeyEnter}
	tab := tea.KeyMsg{Type: tea.KeyTab}
	wait("step 1 of 7")
	tm.Send(enter)
	wait("step 2 of 7")
	tm.Send(enter)
	tm.Send(enter)
	wait("step 3 of 7")
	tm.Send(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(pub), Paste: true})
	wait("256-bit")
	tm.Send(tab)
	tm.Type("alice")
	tm.Send(tab)
	tm.Type("2026-12-31")
	tm.Send(tab)
	tm.Type("203.0.113.0/24")
	wait("only from 203.0.113.0/24")
	tm.Send(enter)
	wait("queued alice")
	tm.Send(enter)
	wait("step 4 of 7")
	tm.Send(enter)
	wait("applied")
	tm.Send(enter)
	wait("step 6 of 7")
	tm.Send(enter)
	wait("step 7 of 7")
	tm.Send(enter)
	fm := tm.FinalModel(t, teatest.WithFinalTimeout(10*time.Second)).(*wizard.Model)
	if !fm.Outcome().Applied {
		t.Fatalf("%+v", fm.Outcome())
	}
	got := strings.ReplaceAll(fm.View(), root.Dir(), "$ROOT") + "\n"
	if golden.Updating() {
		return // TestWalkthrough rewrites the file; this one only compares
	}
	want, err := os.ReadFile(filepath.Join(golden.Dir(), "wizard", "07-done.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("final screen differs from golden/wizard/07-done.txt:\n%s", got)
	}
	if _, err := os.Stat(root.Path("/home/pfwd/.ssh/authorized_keys")); err != nil {
		t.Fatal(err)
	}
}
