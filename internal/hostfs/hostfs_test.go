package hostfs

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestRootPath(t *testing.T) {
	for _, c := range []struct{ root, in, want string }{
		{"", "/etc/ssh", "/etc/ssh"},
		{"/", "/etc/ssh", "/etc/ssh"},
		{"/tmp/r", "/etc/ssh", "/tmp/r/etc/ssh"},
		{"/tmp/r", "etc/ssh", "/tmp/r/etc/ssh"},
		{"/tmp/r", "/../../etc", "/tmp/r/etc"}, // cannot climb out of the root
	} {
		if got := MustRoot(c.root).Path(c.in); got != c.want {
			t.Errorf("Root(%q).Path(%q) = %q, want %q", c.root, c.in, got, c.want)
		}
	}
	if got := MustRoot("/tmp/r").HostPath("/tmp/r/etc/x"); got != "/etc/x" {
		t.Errorf("HostPath = %q", got)
	}
}

// A relative root is made absolute once, at construction, so every path
// under it is absolute whatever directory a later program runs in.
func TestNewRootMakesRelativeAbsolute(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	os.Mkdir("tree", 0o755)
	for _, in := range []string{"tree", "./tree", "tree/", "tree/../tree", "./tree/./"} {
		r, err := NewRoot(in)
		if err != nil {
			t.Fatal(err)
		}
		abs := MustRoot(filepath.Join(dir, "tree"))
		if r != abs || r.Dir() != filepath.Join(dir, "tree") {
			t.Errorf("NewRoot(%q) = %q, want %q", in, r.Dir(), abs.Dir())
		}
		if got := r.Path("/etc/ssh/sshd_config"); !filepath.IsAbs(got) || got != abs.Path("/etc/ssh/sshd_config") {
			t.Errorf("NewRoot(%q).Path = %q", in, got)
		}
	}
	for _, in := range []string{"", "/", "//", "/./"} {
		if r := MustRoot(in); !r.IsHost() || r != (Root{}) || r.Dir() != "/" {
			t.Errorf("NewRoot(%q) = %q, want the host", in, r.Dir())
		}
	}
}

func TestWriteFileSetsModeAndReplaces(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f.conf")
	os.WriteFile(p, []byte("old"), 0o666)
	if err := WriteFile(p, []byte("new"), 0o644, Owner{os.Getuid(), os.Getgid()}); err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(p)
	data, _ := os.ReadFile(p)
	if string(data) != "new" || fi.Mode().Perm() != 0o644 {
		t.Fatalf("got %q %v", data, fi.Mode())
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("temp files left behind: %v", entries)
	}
}

func TestSnapshotRestore(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "a")
	os.WriteFile(p, []byte("before"), 0o640)
	s, err := Take(p)
	if err != nil {
		t.Fatal(err)
	}
	WriteFile(p, []byte("after"), 0o644, Owner{-1, -1})
	if err := s.Restore(); err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(p)
	if data, _ := os.ReadFile(p); string(data) != "before" || fi.Mode().Perm() != 0o640 {
		t.Fatalf("restored %q %v", data, fi.Mode())
	}
	missing := filepath.Join(dir, "b")
	s, _ = Take(missing)
	os.WriteFile(missing, []byte("x"), 0o644)
	if err := s.Restore(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(missing); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("restore of a new file did not remove it")
	}
}

func TestTakeRefusesSymlink(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "target"), nil, 0o644)
	os.Symlink(filepath.Join(dir, "target"), filepath.Join(dir, "link"))
	if _, err := Take(filepath.Join(dir, "link")); !errors.Is(err, ErrSymlink) || !strings.Contains(err.Error(), "symlink") {
		t.Fatalf("err = %v", err)
	}
}

func TestLockExcludes(t *testing.T) {
	r := MustRoot(t.TempDir())
	unlock, err := r.Lock(time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Lock(50 * time.Millisecond); !errors.Is(err, ErrLocked) {
		t.Fatalf("second lock: %v", err)
	}
	unlock()
	unlock2, err := r.Lock(time.Second)
	if err != nil {
		t.Fatalf("after unlock: %v", err)
	}
	unlock2()
}
