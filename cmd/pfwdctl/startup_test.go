package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// initCost is one package's line of GODEBUG=inittrace=1: what its
// package-level variables and init functions allocated before main ran.
type initCost struct {
	pkg    string
	allocs int
	bytes  int
}

// parseInittrace reads the runtime's "init PKG @T ms, C ms clock, B bytes,
// A allocs" lines and ignores everything else.
func parseInittrace(out []byte) ([]initCost, error) {
	var costs []initCost
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 11 || f[0] != "init" || f[8] != "bytes," || f[10] != "allocs" {
			continue
		}
		b, err1 := strconv.Atoi(f[7])
		a, err2 := strconv.Atoi(f[9])
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("inittrace line %q", sc.Text())
		}
		costs = append(costs, initCost{pkg: f[1], allocs: a, bytes: b})
	}
	return costs, sc.Err()
}

// TestStartupInitsNothingHeavy keeps pfwdctl's start-up cheap without
// timing anything: every command, even --version, pays for the init of
// every package the binary links, so what those inits allocate is counted
// (GODEBUG=inittrace=1) and bounded. Wall time is bench/startup.sh's job.
//
// It fails when pfwdctl's own packages do work at init again (templates
// parsed, regexps compiled, lipgloss renderers made: use sync.OnceValue),
// when the man-page generator (cobra/doc, which brings blackfriday and its
// tables) is linked into the binary again instead of living in a test, or
// when a new dependency adds a heavy init. Before this test: render's
// templates alone were 3,700 allocations and the binary's total 6,900.
func TestStartupInitsNothingHeavy(t *testing.T) {
	t.Parallel()
	bin := filepath.Join(t.TempDir(), "pfwdctl")
	build := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "--version")
	// A fixed PATH: atotto/clipboard's init looks for its helpers in
	// every directory of it, so a long one would move the count.
	cmd.Env = append(os.Environ(), "GODEBUG=inittrace=1", "PATH=/usr/sbin:/usr/bin:/sbin:/bin")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("pfwdctl --version: %v\n%s", err, stderr.String())
	}
	costs, err := parseInittrace(stderr.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if len(costs) < 20 {
		t.Fatalf("only %d inittrace lines: did the runtime's format change?\n%s", len(costs), stderr.String())
	}

	const (
		// Each of pfwdctl's packages: a few errors.New and small tables.
		ownMax = 16
		// The whole binary; today about 930, most of it x/crypto/ssh and
		// the wizard's TUI libraries (bubbletea, clipboard, runewidth),
		// whose inits cannot be deferred while they are linked. Close to
		// today's, so a new dependency's heavy init is noticed.
		totalMax = 1250
	)
	// Linked only into the test binary (mangen_test.go): their inits build
	// large tables and compile regexps.
	never := []string{"github.com/spf13/cobra/doc", "github.com/cpuguy83/go-md2man/v2/md2man", "github.com/russross/blackfriday/v2"}

	total := 0
	for _, c := range costs {
		total += c.allocs
		if strings.HasPrefix(c.pkg, "github.com/pfwdctl/pfwdctl/") || c.pkg == "main" {
			if c.allocs > ownMax {
				t.Errorf("package %s allocates %d times (%d bytes) at init, want <= %d: move package-level work behind sync.OnceValue", c.pkg, c.allocs, c.bytes, ownMax)
			}
		}
		for _, n := range never {
			if c.pkg == n {
				t.Errorf("package %s is initialised by pfwdctl --version: the man-page generator belongs in a _test.go file", n)
			}
		}
	}
	if total > totalMax {
		sort.Slice(costs, func(i, j int) bool { return costs[i].allocs > costs[j].allocs })
		var top []string
		for _, c := range costs[:min(8, len(costs))] {
			top = append(top, fmt.Sprintf("%s %d", c.pkg, c.allocs))
		}
		t.Errorf("package inits allocate %d times in all, want <= %d; largest: %s", total, totalMax, strings.Join(top, ", "))
	}
}

func TestParseInittrace(t *testing.T) {
	out := []byte("init runtime @0.34 ms, 2.2 ms clock, 0 bytes, 0 allocs\n" +
		"pfwdctl dev\n" +
		"init github.com/pfwdctl/pfwdctl/render @67 ms, 2.8 ms clock, 286120 bytes, 3704 allocs\n")
	got, err := parseInittrace(out)
	if err != nil {
		t.Fatal(err)
	}
	want := []initCost{{"runtime", 0, 0}, {"github.com/pfwdctl/pfwdctl/render", 3704, 286120}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

// Every registered name is the name its command is called by: reached
// picks a command by that name, so a mismatch would leave it unreachable.
func TestRegisteredNamesAreCommandNames(t *testing.T) {
	g := &Globals{Env: manEnv()}
	for _, c := range commands {
		if got := c.build(g).Name(); got != c.name {
			t.Errorf("register(%q, ...) builds a command named %q", c.name, got)
		}
	}
}

// The tree built for a command line reaches the same command, with the
// same arguments, as the whole tree: building only what args name must
// never change which command runs. A bare --version builds no command.
func TestReachedTreeFindsWhatTheWholeTreeFinds(t *testing.T) {
	lines := [][]string{
		{"add-key", "friend.pub"},
		{"--root", "/tmp", "add-key", "-"},
		{"--root", "add-key", "list-keys"}, // --root's value is not the command
		{"--json", "list-keys", "--user", "pfwd"},
		{"--bogus", "add-key", "revoke", "x"}, // an unknown flag takes a value, as cobra reads it
		{"user", "create", "--user", "pfwd"},
		{"ca", "sign", "f.pub"},
		{"sessions", "kill", "bob"},
		{"verify", "--self"},
		{"revoke", "--", "add-key"},
		{"-h"}, {"help", "add-key"}, {"bogus"}, {"ad-key"}, {"completion", "bash"},
		{"__complete", "revoke", ""}, {},
	}
	path := func(c *cobra.Command, args []string, err error) string {
		return fmt.Sprintf("%s %q %v", c.CommandPath(), args, err)
	}
	for _, args := range lines {
		whole := NewRootCmd(&Globals{Env: manEnv()})
		want := path(whole.Find(args))
		lazy := NewRootCmd(&Globals{Env: manEnv(), args: args})
		if got := path(lazy.Find(args)); got != want {
			t.Errorf("%q: the tree for the line finds %s, the whole tree %s", args, got, want)
		}
		if n := len(lazy.Commands()); n != 1 && n != len(whole.Commands()) {
			t.Errorf("%q: %d top-level commands built, want 1 or all %d", args, n, len(whole.Commands()))
		}
	}
	for _, args := range [][]string{{"--version"}, {"-v"}} {
		if n := len(NewRootCmd(&Globals{Env: manEnv(), args: args}).Commands()); n != 0 {
			t.Errorf("%q builds %d commands, want none", args, n)
		}
	}
}

// pfwdctl --version does no more than print: the command tree is not
// built (reached) and nothing else is set up. Counted in allocations, not
// timed: about 180 today, 1,220 when every command's flags were built.
func TestVersionAllocatesLittle(t *testing.T) {
	const max = 400
	n := testing.AllocsPerRun(10, func() {
		env := &Env{IO: IO{In: &bytes.Buffer{}, Out: &bytes.Buffer{}, Err: &bytes.Buffer{}}, Getenv: func(string) string { return "" }}
		if code := mainContext(context.Background(), []string{"--version"}, env); code != 0 {
			t.Fatalf("--version: exit %d", code)
		}
	})
	if n > max {
		t.Errorf("pfwdctl --version allocates %.0f times in main, want <= %d: is the whole command tree built again?", n, max)
	}
}
