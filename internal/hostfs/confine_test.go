package hostfs

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestPathStaysInTheRoot is issue 12 item 4: symlinks in a --root tree
// (TREE/x -> /, a symlinked sshd_config.d, a relative link climbing up)
// are followed inside the tree, never out of it; with openat2 and with
// the userspace walk used where the kernel lacks it.
func TestPathStaysInTheRoot(t *testing.T) {
	for _, kernel := range []bool{true, false} {
		name := "openat2"
		if !kernel {
			name = "walk"
		}
		t.Run(name, func(t *testing.T) {
			outside := t.TempDir()
			tree := t.TempDir()
			mk := func(p string) {
				if err := os.MkdirAll(filepath.Join(tree, p), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			link := func(target, p string) {
				if err := os.Symlink(target, filepath.Join(tree, p)); err != nil {
					t.Fatal(err)
				}
			}
			mk("home/sec005/.ssh")
			mk("etc/ssh")
			mk("var")
			mk("srv/real")
			link("/", "x")
			link(outside, "etc/ssh/sshd_config.d")
			link("../../../../../../../..", "var/log")
			link("/srv/real", "srv/abs")
			link("loop2", "loop1")
			link("loop1", "loop2")
			r := MustRoot(tree)
			saved := noOpenat2
			noOpenat2 = !kernel
			defer func() { noOpenat2 = saved }()
			for host, want := range map[string]string{
				"/x/home/sec005/.ssh/authorized_keys":  "/home/sec005/.ssh/authorized_keys",
				"/etc/ssh/sshd_config.d/10-a.conf":     outside + "/10-a.conf",
				"/var/log/pfwdctl/audit.jsonl":         "/pfwdctl/audit.jsonl",
				"/srv/abs/file":                        "/srv/real/file",
				"/x/x/x/etc/ssh":                       "/etc/ssh",
				"/home/sec005/../../../../etc/passwd":  "/etc/passwd",
				"/nonexistent/deeper/file":             "/nonexistent/deeper/file",
				"/etc/ssh/sshd_config.d/sub/../b.conf": outside + "/b.conf",
			} {
				got := r.Path(host)
				if got != filepath.Join(tree, want) {
					t.Errorf("Path(%s) = %s, want %s", host, got, filepath.Join(tree, want))
				}
				if !strings.HasPrefix(got, tree+"/") {
					t.Errorf("Path(%s) = %s leaves the tree", host, got)
				}
			}
			if got := r.Path("/loop1/file"); !strings.HasPrefix(got, tree+"/") {
				t.Errorf("a symlink loop leads out: %s", got)
			} else if _, err := os.Stat(filepath.Dir(got)); err == nil {
				t.Errorf("a symlink loop leads to an existing directory: %s", got)
			}
			// The last component is the caller's to judge (O_NOFOLLOW).
			if got := r.Path("/x"); got != filepath.Join(tree, "x") {
				t.Errorf("Path(/x) = %s", got)
			}
		})
	}
}

// TestReadFollowsInsideTheTree: a file read under --root whose last
// component is a symlink (TREE/etc/localtime -> /usr/share/zoneinfo/X is
// the usual one) is read from the tree, never from the host the absolute
// target names.
func TestReadFollowsInsideTheTree(t *testing.T) {
	for _, kernel := range []bool{true, false} {
		saved := noOpenat2
		noOpenat2 = !kernel
		tree := t.TempDir()
		if err := os.MkdirAll(filepath.Join(tree, "etc"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(tree, "etc/hostname"), []byte("tree-only\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink("/etc/hostname", filepath.Join(tree, "etc/login.defs")); err != nil {
			t.Fatal(err)
		}
		r := MustRoot(tree)
		data, err := r.ReadFile("/etc/login.defs")
		if err != nil || string(data) != "tree-only\n" {
			t.Errorf("kernel=%v: ReadFile through an absolute link = %q, %v; want the tree's file", kernel, data, err)
		}
		if fi, err := r.Stat("/etc/login.defs"); err != nil || fi.Size() != int64(len("tree-only\n")) {
			t.Errorf("kernel=%v: Stat through an absolute link = %v, %v", kernel, fi, err)
		}
		noOpenat2 = saved
	}
}

// TestNoReadOfAnUnconfinedPath keeps the class fixed: a read or stat of
// Root.Path (whose last component is not resolved in the tree) would
// follow a final symlink out of it. Reads go through Root.ReadFile and
// Root.Stat; Path is for callers that open with O_NOFOLLOW or Lstat.
func TestNoReadOfAnUnconfinedPath(t *testing.T) {
	bad := regexp.MustCompile(`os\.(ReadFile|Stat|Open)\([^()]*\.Path\(`)
	err := filepath.WalkDir("../..", func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) && p != "../.." {
			return filepath.SkipDir
		}
		if !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for i, line := range strings.Split(string(data), "\n") {
			if bad.MatchString(line) {
				t.Errorf("%s:%d: %s\n\tuse Root.ReadFile / Root.Stat, which resolve the last component inside the root", p, i+1, strings.TrimSpace(line))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
