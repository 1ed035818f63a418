// Package golden compares test output with files under the repository's
// golden/ folder and rewrites them with `go test PKG -update` (`make
// golden` runs it on exactly the packages that import this package or
// teatest). The diffs are reviewed like code, never edited by hand.
//
// Only the test packages that compare golden files import it: -update is
// given to those packages alone, never to ./..., so no other package has
// to know the flag.
package golden

import (
	"flag"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	udiff "github.com/aymanbagabas/go-udiff"
)

// update is -update. charmbracelet/x/exp/golden (imported by teatest)
// defines a flag of the same name and panics if it already exists; Go
// initialises it first (its import path sorts first), so this package
// reuses the flag it finds rather than defining a clashing one, and a
// wizard test binary with both has one -update that drives both.
var update = func() *flag.Flag {
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite golden files under golden/")
	}
	return flag.Lookup("update")
}()

// Updating reports whether -update was given.
func Updating() bool { return update.Value.String() == "true" }

// Dir is the repository's golden/ folder.
func Dir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "golden")
}

// Check compares got with golden/name, or rewrites it with -update.
func Check(t testing.TB, name string, got []byte) {
	t.Helper()
	p := filepath.Join(Dir(), name)
	if Updating() {
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
		t.Fatalf("read golden file (run make golden to create it): %v", err)
	}
	if string(want) != string(got) {
		t.Errorf("output differs from golden/%s (if intended, run make golden and review the diff):\n%s",
			name, udiff.Unified("golden/"+name, "got", string(want), string(got)))
	}
}
