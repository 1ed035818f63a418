// Package testenv finds the real programs the end-to-end tests need. In CI
// (CI=true) a missing program fails the test: a test that skips silently
// there proves nothing. Elsewhere it skips with the package to install.
package testenv

import (
	"os"
	"os/exec"
	"testing"
)

// CI reports whether the tests run in CI.
func CI() bool { return os.Getenv("CI") == "true" }

// Require returns the path of program, or fails (CI) / skips (elsewhere).
func Require(t testing.TB, program, pkg string) string {
	t.Helper()
	for _, p := range []string{"/usr/sbin/" + program, "/usr/bin/" + program} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath(program); err == nil {
		return p
	}
	if CI() {
		t.Fatalf("%s not found and CI=true: install %s (make test does this as root)", program, pkg)
	}
	t.Skipf("%s not found: install %s to run this test", program, pkg)
	return ""
}

// Sshd returns the sshd binary. As root it also makes sure the privilege
// separation directory exists, as the ssh service does at start: sshd -t and
// a root-run sshd refuse to work without it.
func Sshd(t testing.TB) string {
	t.Helper()
	p := Require(t, "sshd", "openssh-server")
	if os.Geteuid() == 0 {
		if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
			t.Fatalf("create /run/sshd: %v", err)
		}
	}
	return p
}

// Root skips (or, in CI running as root, never skips) tests that need root.
func Root(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		if CI() {
			t.Fatalf("this test needs root and CI=true")
		}
		t.Skip("needs root")
	}
}
