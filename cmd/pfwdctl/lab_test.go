package main

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pfwdctl/pfwdctl/internal/golden"
	"github.com/pfwdctl/pfwdctl/internal/run"
	"github.com/pfwdctl/pfwdctl/internal/testenv"
	"github.com/pfwdctl/pfwdctl/verify/lab"
)

// runCLI runs Main with buffers and the given environment (stdout piped:
// no colour).
func runCLI(t *testing.T, env map[string]string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	e := &Env{IO: IO{In: strings.NewReader(""), Out: &out, Err: &errb}, Runner: run.Exec{},
		Getenv: func(k string) string { return env[k] }, Now: time.Now}
	code = Main(args, e)
	return out.String(), errb.String(), code
}

var (
	reDurCol  = regexp.MustCompile(`(?m)^(  . [a-z0-9-]+) +[0-9.]+(?:µs|ms|s)  `)
	reDurSum  = regexp.MustCompile(`in [0-9.]+(?:µs|ms|s)`)
	rePort    = regexp.MustCompile(`(127\.0\.0\.1|localhost):[0-9]+`)
	reHostKey = regexp.MustCompile(`SHA256:[A-Za-z0-9+/]+`)
	reLabDir  = regexp.MustCompile(`/[^ ]*/pfwdctl-lab-[0-9]+`)
)

// normalize keeps a lab report stable across runs and machines: ports,
// durations, the host key, the lab directory, and the account and its
// shell (nobody as root, the running user otherwise).
func normalize(t *testing.T, s string) string {
	t.Helper()
	user, err := lab.DefaultUser()
	if err != nil {
		t.Fatal(err)
	}
	s = reDurCol.ReplaceAllString(s, "${1}  [dur]  ")
	s = reDurSum.ReplaceAllString(s, "in [dur]")
	s = rePort.ReplaceAllString(s, "$1:[port]")
	s = reHostKey.ReplaceAllString(s, "SHA256:[hostkey]")
	s = reLabDir.ReplaceAllString(s, "[labdir]")
	s = regexp.MustCompile(`restricting `+user+` \(shell [^)]*\)`).ReplaceAllString(s, "restricting [user] (shell [shell])")
	s = strings.ReplaceAll(s, "verify "+user+"@", "verify [user]@")
	return s
}

// TestLabReportGolden is what `make demo` shows: every check passes.
func TestLabReportGolden(t *testing.T) {
	t.Parallel()
	testenv.Sshd(t)
	out, stderr, code := runCLI(t, nil, "lab")
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, stderr)
	}
	golden.Check(t, "cmd/lab.txt", []byte(normalize(t, out)))
}

// TestLabBreakGolden: with both layers of the forward limit broken, verify
// names the check, the hint, and exit 1.
func TestLabBreakGolden(t *testing.T) {
	t.Parallel()
	testenv.Sshd(t)
	out, stderr, code := runCLI(t, nil, "lab", "--break", "permitopen-any", "--break", "key-bare")
	if code != 1 {
		t.Fatalf("exit %d, want 1\n%s%s", code, out, stderr)
	}
	golden.Check(t, "cmd/lab-break.txt", []byte(normalize(t, out)))
	if !strings.Contains(stderr, "pfwdctl: error: 1 of 9 checks failed: other-ports-prohibited") {
		t.Errorf("stderr: %s", stderr)
	}
}

// TestLabBreaks runs every --break: each starts, and the ones that break
// both layers (or the only layer) are caught by the expected check.
func TestLabBreaks(t *testing.T) {
	t.Parallel()
	testenv.Sshd(t)
	user, _ := lab.DefaultUser()
	realShell := user != "nobody" // as root the lab restricts nobody (nologin)
	want := map[string]string{
		"allowtcpforwarding-yes": "remote-forward-refused",
		"password-auth":          "password-auth-off",
		"no-match-block":         "tunnel-open",
		"early-dropin":           "remote-forward-refused",
	}
	if realShell {
		want["no-forcecommand"] = "shell-blocked"
	}
	for _, b := range lab.Breaks() {
		name := b.Name
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			out, stderr, code := runCLI(t, nil, "lab", "--json", "--break", name)
			w := want[name]
			if w == "" && code != 0 || w != "" && code != 1 {
				t.Fatalf("exit %d (want caught by %q)\n%s%s", code, w, out, stderr)
			}
			if w != "" && !strings.Contains(stderr, w) {
				t.Errorf("want %s to fail: %s", w, stderr)
			}
		})
	}
	_, stderr, code := runCLI(t, nil, "lab", "--break", "nope")
	if code != 2 || !strings.Contains(stderr, `unknown --break "nope"`) || !strings.Contains(stderr, "hint: pick one of: ") {
		t.Errorf("unknown break: exit %d: %s", code, stderr)
	}
	// Two breaks that together open the forward limit.
	_, stderr, code = runCLI(t, nil, "lab", "--break", "no-forcecommand", "--break", "internal-sftp")
	if code != 1 || !strings.Contains(stderr, "shell-blocked") {
		t.Errorf("no-forcecommand+internal-sftp: exit %d: %s", code, stderr)
	}
}
