package hostfs

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// WriteFileAt keeps writing into the directory that was opened, even when
// its path is swapped for a symlink in between (the check-then-write race).
func TestWriteFileAtSurvivesSwappedDir(t *testing.T) {
	base := t.TempDir()
	dir, outside := filepath.Join(base, "d"), filepath.Join(base, "outside")
	os.Mkdir(dir, 0o700)
	os.Mkdir(outside, 0o700)
	d, err := OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	os.Rename(dir, dir+".moved")
	os.Symlink(outside, dir)
	if err := WriteFileAt(d, "f", []byte("new"), 0o600, Owner{-1, -1}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(outside, "f")); err == nil {
		t.Fatal("wrote through the symlink")
	}
	fi, err := os.Stat(filepath.Join(dir+".moved", "f"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("%v %v", fi, err)
	}
	if ents, _ := os.ReadDir(dir + ".moved"); len(ents) != 1 {
		t.Fatalf("temp files left: %v", ents)
	}
	if _, err := OpenDir(dir); !errors.Is(err, ErrSymlink) {
		t.Fatalf("OpenDir of a symlink: %v", err)
	}
	if _, err := OpenDirAt(d, "nothere"); !os.IsNotExist(err) {
		t.Fatalf("OpenDirAt of a missing dir: %v", err)
	}
}
