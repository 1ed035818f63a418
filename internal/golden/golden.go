// Package golden compares test output with files under the repository's
// golden/ folder and rewrites them with `go test ./... -update`. The diffs
// are reviewed like code, never edited by hand.
//
// Every test package must import this package (directly or through
// internal/testenv), because `go test ./... -update` hands the flag to all
// of them and an unknown flag fails the package.
package golden

import (
	"flag"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	udiff "github.com/aymanbagabas/go-udiff"
)

var update = flag.Bool("update", false, "rewrite golden files under golden/")

// Updating reports whether -update was given.
func Updating() bool { return *update }

// Dir is the repository's golden/ folder.
func Dir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "golden")
}

// Check compares got with golden/name, or rewrites it with -update.
func Check(t testing.TB, name string, got []byte) {
	t.Helper()
	p := filepath.Join(Dir(), name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("read golden file (run go test ./... -update to create it): %v", err)
	}
	if string(want) != string(got) {
		t.Errorf("output differs from golden/%s (if intended, run go test ./... -update and review the diff):\n%s",
			name, udiff.Unified("golden/"+name, "got", string(want), string(got)))
	}
}
