package release

import (
	"crypto/sha256"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"

	"github.com/pfwdctl/pfwdctl/internal/testenv"
)

// TestDeb runs the real `make dist` for this machine's architecture, checks
// the .deb's contents and control data, then installs it with dpkg into a
// throwaway root (dpkg --root keeps its own database there), runs the
// installed binary, removes the package, and proves the host's /etc/ssh
// never changed.
func TestDeb(t *testing.T) {
	testenv.Require(t, "make", "make")
	testenv.Require(t, "dpkg-deb", "dpkg")
	goBin := testenv.Require(t, "go", "golang")
	t.Parallel()
	repo, _ := filepath.Abs(filepath.Join("..", ".."))
	out := t.TempDir()
	arch := runtime.GOARCH
	cmd := exec.Command("make", "-s", "-C", repo, "dist", "DIST="+out, "DIST_ARCHES="+arch,
		"VERSION=v1.2.3-rc1", "COMMIT=0123456789ab", "GO="+goBin)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make dist: %v\n%s", err, b)
	}

	// The binary is static and stamped.
	bin := filepath.Join(out, "pfwdctl_linux_"+arch)
	v, err := exec.Command(bin, "--version").Output()
	if err != nil || strings.TrimSpace(string(v)) != "pfwdctl v1.2.3-rc1 (commit 0123456789ab)" {
		t.Errorf("pfwdctl --version = %q, %v", v, err)
	}
	if b, _ := exec.Command("file", bin).Output(); len(b) > 0 && !strings.Contains(string(b), "statically linked") {
		t.Errorf("binary is not static: %s", b)
	}

	deb := filepath.Join(out, "pfwdctl_1.2.3+rc1_"+arch+".deb")
	field := func(name string) string {
		b, err := exec.Command("dpkg-deb", "-f", deb, name).Output()
		if err != nil {
			t.Fatalf("dpkg-deb -f %s: %v", name, err)
		}
		return strings.TrimSpace(string(b))
	}
	if got := field("Version"); got != "1.2.3+rc1" {
		t.Errorf("Version %q", got)
	}
	if got := field("Architecture"); got != arch {
		t.Errorf("Architecture %q", got)
	}

	// No maintainer scripts at all: installing cannot run anything.
	ctrl := t.TempDir()
	if b, err := exec.Command("dpkg-deb", "-e", deb, ctrl).CombinedOutput(); err != nil {
		t.Fatalf("dpkg-deb -e: %v\n%s", err, b)
	}
	if names := dirNames(t, ctrl); strings.Join(names, " ") != "control" {
		t.Errorf("control archive holds %v, want only control (no postinst or other scripts)", names)
	}

	list, err := exec.Command("dpkg-deb", "-c", deb).Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"./usr/bin/pfwdctl", "./usr/share/man/man1/pfwdctl.1.gz", "./usr/share/man/man1/pfwdctl-apply.1.gz",
		"./usr/share/bash-completion/completions/pfwdctl", "./usr/share/zsh/vendor-completions/_pfwdctl",
		"./usr/share/fish/vendor_completions.d/pfwdctl.fish",
	} {
		if !strings.Contains(string(list), " "+want+"\n") {
			t.Errorf("package lacks %s:\n%s", want, list)
		}
	}
	for _, l := range strings.Split(strings.TrimSpace(string(list)), "\n") {
		if f := strings.Fields(l); len(f) > 1 && f[1] != "root/root" {
			t.Errorf("not owned by root: %s", l)
		}
		if strings.Contains(l, "./etc/") {
			t.Errorf("the package ships a file under /etc: %s", l)
		}
	}

	t.Run("install", func(t *testing.T) {
		testenv.Root(t)
		testenv.Require(t, "dpkg", "dpkg")
		before := treeHash(t, "/etc/ssh")
		root := t.TempDir()
		for _, d := range []string{"var/lib/dpkg/info", "var/lib/dpkg/updates"} {
			if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(filepath.Join(root, "var/lib/dpkg/status"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		dpkg := func(args ...string) {
			t.Helper()
			if b, err := exec.Command("dpkg", append([]string{"--root=" + root}, args...)...).CombinedOutput(); err != nil {
				t.Fatalf("dpkg %v: %v\n%s", args, err, b)
			}
		}
		dpkg("-i", deb)
		got, err := exec.Command(filepath.Join(root, "usr/bin/pfwdctl"), "--version").Output()
		if err != nil || !strings.Contains(string(got), "v1.2.3-rc1") {
			t.Errorf("installed pfwdctl --version: %q, %v", got, err)
		}
		if _, err := os.Stat(filepath.Join(root, "etc/ssh")); err == nil {
			t.Errorf("installing created /etc/ssh in the target root")
		}
		dpkg("-r", "pfwdctl")
		if _, err := os.Stat(filepath.Join(root, "usr/bin/pfwdctl")); err == nil {
			t.Errorf("dpkg -r left /usr/bin/pfwdctl")
		}
		if after := treeHash(t, "/etc/ssh"); after != before {
			t.Errorf("the host's /etc/ssh changed during install and removal")
		}
	})
}

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		out = append(out, e.Name())
	}
	sort.Strings(out)
	return out
}

// treeHash hashes every path, mode and file content under dir ("" if dir
// is absent), to tell whether anything there changed.
func treeHash(t *testing.T, dir string) string {
	t.Helper()
	h := sha256.New()
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%s %v %d\n", p, fi.Mode(), fi.Size())
		if fi.Mode().IsRegular() {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			h.Write(b)
		}
		return nil
	})
	if os.IsNotExist(err) {
		return ""
	}
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%x", h.Sum(nil))
}
