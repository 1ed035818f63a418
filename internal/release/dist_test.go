package release

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/pfwdctl/pfwdctl/internal/testenv"
)

// TestPackages builds the packages once with the real `make dist` (for
// this machine's architecture: a cold arm64 cross-build takes minutes) and
// inspects them: the .deb with dpkg-deb and dpkg --root, the .rpm with
// rpm -qp and rpm --root, the same files in both, the version stamped, no
// maintainer scripts, the units through systemd-analyze verify and the
// cron.d example line by line.
//
// `make dist` runs this test on what it just built, every architecture
// (PFWDCTL_DIST names the directory): then nothing is rebuilt, and a
// foreign architecture's packages get every check but running the binary.
func TestPackages(t *testing.T) {
	testenv.Require(t, "dpkg-deb", "dpkg")
	testenv.Require(t, "rpm", "rpm")
	t.Parallel()
	version, commit := "v1.2.3-rc1", "0123456789ab"
	arches := []string{runtime.GOARCH}
	out := os.Getenv("PFWDCTL_DIST")
	if out != "" {
		version, commit = os.Getenv("PFWDCTL_DIST_VERSION"), os.Getenv("PFWDCTL_DIST_COMMIT")
		arches = strings.Fields(os.Getenv("PFWDCTL_DIST_ARCHES"))
		if version == "" || len(arches) == 0 {
			t.Fatal("PFWDCTL_DIST needs PFWDCTL_DIST_VERSION, _COMMIT and _ARCHES (make dist sets them)")
		}
	} else {
		testenv.Require(t, "make", "make")
		goBin := testenv.Require(t, "go", "golang")
		repo, _ := filepath.Abs(filepath.Join("..", ".."))
		out = t.TempDir()
		cmd := exec.Command("make", "-s", "-C", repo, "dist", "DIST="+out, "DIST_ARCHES="+runtime.GOARCH,
			"VERSION="+version, "COMMIT="+commit, "GO="+goBin, "DIST_CHECK=no")
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("make dist: %v\n%s", err, b)
		}
	}
	pv, pre := PackageVersion(version)
	want := pv
	if pre != "" {
		want += "~" + pre
	}
	for _, arch := range arches {
		t.Run(arch, func(t *testing.T) {
			deb := filepath.Join(out, fmt.Sprintf("pfwdctl_%s_%s.deb", want, arch))
			rpm := filepath.Join(out, fmt.Sprintf("pfwdctl-%s-1.%s.rpm", want, rpmArch[arch]))
			debFiles := checkDeb(t, deb, want, arch)
			rpmFiles := checkRPM(t, rpm, want, arch)
			// One description: the same files (directories aside), but
			// for the zsh completion's distribution-specific folder.
			zsh := strings.NewReplacer("/usr/share/zsh/site-functions/", "/usr/share/zsh/vendor-completions/")
			for i, f := range rpmFiles {
				rpmFiles[i] = zsh.Replace(f)
			}
			if d, r := strings.Join(debFiles, "\n"), strings.Join(rpmFiles, "\n"); d != r {
				t.Errorf("the .deb and the .rpm hold different files:\ndeb:\n%s\nrpm:\n%s", d, r)
			}
			for _, f := range []string{
				"/usr/bin/pfwdctl", "/usr/share/man/man1/pfwdctl.1.gz", "/usr/share/man/man1/pfwdctl-prune.1.gz",
				"/usr/share/bash-completion/completions/pfwdctl", "/usr/share/zsh/vendor-completions/_pfwdctl",
				"/usr/share/fish/vendor_completions.d/pfwdctl.fish", "/usr/share/doc/pfwdctl/copyright",
				"/usr/share/doc/pfwdctl/README.md", "/usr/share/doc/pfwdctl/docs/install.md",
				"/usr/lib/systemd/system/pfwdctl-prune.service", "/usr/lib/systemd/system/pfwdctl-prune.timer",
				"/usr/share/doc/pfwdctl/examples/cron.d/pfwdctl-prune",
			} {
				if !contains(debFiles, f) {
					t.Errorf("the packages lack %s", f)
				}
			}
			for _, f := range debFiles {
				// Nothing under /etc: no live cron file, no enabled timer
				// (a wants/ link), no conffile.
				if !strings.HasPrefix(f, "/usr/") {
					t.Errorf("the packages ship %s, outside /usr", f)
				}
			}
			// The binary is static, for arch, and stamped.
			x := t.TempDir()
			if b, err := exec.Command("dpkg-deb", "-x", deb, x).CombinedOutput(); err != nil {
				t.Fatalf("dpkg-deb -x: %v\n%s", err, b)
			}
			bin := filepath.Join(x, "usr/bin/pfwdctl")
			if b, _ := exec.Command("file", bin).Output(); len(b) > 0 {
				if !strings.Contains(string(b), "statically linked") || !strings.Contains(string(b), fileArch[arch]) {
					t.Errorf("binary is not a static %s one: %s", arch, b)
				}
			}
			// -trimpath keeps -ldflags out of the build info: look for the
			// stamped strings themselves (the only check a foreign
			// architecture's binary gets; the host's also runs --version).
			b, err := os.ReadFile(bin)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range []string{version, commit} {
				if !bytes.Contains(b, []byte(s)) {
					t.Errorf("binary is not stamped with %q", s)
				}
			}
			checkCron(t, x, debFiles)
			if arch != runtime.GOARCH {
				return
			}
			v, err := exec.Command(bin, "--version").Output()
			if got := strings.TrimSpace(string(v)); err != nil || got != fmt.Sprintf("pfwdctl %s (commit %s)", version, commit) {
				t.Errorf("pfwdctl --version = %q, %v", got, err)
			}
			checkUnits(t, x)
			t.Run("dpkg-install", func(t *testing.T) { installDeb(t, deb, version) })
			t.Run("rpm-install", func(t *testing.T) { installRPM(t, rpm, version) })
		})
	}
}

var (
	rpmArch  = map[string]string{"amd64": "x86_64", "arm64": "aarch64"}
	fileArch = map[string]string{"amd64": "x86-64", "arm64": "ARM aarch64"}
)

// checkDeb checks the .deb's control data and returns its files (no
// directories), sorted, as absolute paths.
func checkDeb(t *testing.T, deb, version, arch string) []string {
	t.Helper()
	field := func(name string) string {
		b, err := exec.Command("dpkg-deb", "-f", deb, name).Output()
		if err != nil {
			t.Fatalf("dpkg-deb -f %s: %v", name, err)
		}
		return strings.TrimSpace(string(b))
	}
	for name, want := range map[string]string{"Package": "pfwdctl", "Version": version, "Architecture": arch,
		"Recommends": "openssh-server", "Suggests": "openssh-client", "Section": "admin"} {
		if got := field(name); got != want {
			t.Errorf("deb %s: %q, want %q", name, got, want)
		}
	}
	// No maintainer scripts at all: installing cannot run anything.
	ctrl := t.TempDir()
	if b, err := exec.Command("dpkg-deb", "-e", deb, ctrl).CombinedOutput(); err != nil {
		t.Fatalf("dpkg-deb -e: %v\n%s", err, b)
	}
	if names := dirNames(t, ctrl); strings.Join(names, " ") != "control md5sums" {
		t.Errorf("control archive holds %v, want only control and md5sums (no postinst, prerm or conffiles)", names)
	}
	list, err := exec.Command("dpkg-deb", "-c", deb).Output()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range strings.Split(strings.TrimSpace(string(list)), "\n") {
		f := strings.Fields(l)
		if len(f) < 6 {
			t.Fatalf("dpkg-deb -c line %q", l)
		}
		if f[1] != "root/root" {
			t.Errorf("not owned by root: %s", l)
		}
		if !strings.HasPrefix(f[0], "d") {
			out = append(out, strings.TrimPrefix(f[5], "."))
		}
	}
	sort.Strings(out)
	return out
}

// checkRPM checks the .rpm's header and returns its files, sorted.
func checkRPM(t *testing.T, rpm, version, arch string) []string {
	t.Helper()
	q := func(args ...string) string {
		b, err := exec.Command("rpm", append([]string{"-qp"}, append(args, rpm)...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("rpm -qp %v: %v\n%s", args, err, b)
		}
		return strings.TrimSpace(string(b))
	}
	if got, want := q("--qf", "%{NAME} %{VERSION} %{RELEASE} %{ARCH}"), fmt.Sprintf("pfwdctl %s 1 %s", version, rpmArch[arch]); got != want {
		t.Errorf("rpm header: %q, want %q", got, want)
	}
	if info := q("-i"); !strings.Contains(info, "Installing this package changes nothing") {
		t.Errorf("rpm -qpi lacks the description:\n%s", info)
	}
	if s := q("--scripts"); s != "" {
		t.Errorf("rpm has scriptlets:\n%s", s)
	}
	if s := q("--triggers"); s != "" {
		t.Errorf("rpm has triggers:\n%s", s)
	}
	if got := q("--recommends"); got != "openssh-server" {
		t.Errorf("rpm Recommends: %q", got)
	}
	var out []string
	for _, l := range strings.Split(q("--qf", "[%{FILEUSERNAME}:%{FILEGROUPNAME} %{FILEMODES:perms} %{FILENAMES}\n]"), "\n") {
		f := strings.Fields(l)
		if len(f) != 3 {
			t.Fatalf("rpm file line %q", l)
		}
		if f[0] != "root:root" {
			t.Errorf("not owned by root: %s", l)
		}
		if !strings.HasPrefix(f[1], "d") {
			out = append(out, f[2])
		}
	}
	if list := strings.Fields(q("-l")); len(list) != len(out) {
		t.Errorf("rpm -qpl lists %d paths, the header %d", len(list), len(out))
	}
	sort.Strings(out)
	return out
}

// checkUnits runs systemd-analyze verify on the units as shipped, but for
// ExecStart's path: it points at the extracted binary, since verify wants
// the command to exist (no systemd has to run).
func checkUnits(t *testing.T, x string) {
	t.Helper()
	sa := testenv.Require(t, "systemd-analyze", "systemd")
	src := filepath.Join(x, "usr/lib/systemd/system")
	dir := t.TempDir()
	bin := filepath.Join(x, "usr/bin/pfwdctl")
	var exec_ string
	for _, name := range []string{"pfwdctl-prune.service", "pfwdctl-prune.timer"} {
		b, err := os.ReadFile(filepath.Join(src, name))
		if err != nil {
			t.Fatal(err)
		}
		s := string(b)
		if m := regexp.MustCompile(`(?m)^ExecStart=(.*)$`).FindStringSubmatch(s); m != nil {
			exec_ = m[1]
		}
		s = strings.ReplaceAll(s, "ExecStart=/usr/bin/pfwdctl ", "ExecStart="+bin+" ")
		if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// Only prune: what housekeeping later needs happens inside it.
	if exec_ != "/usr/bin/pfwdctl prune --kill-sessions" {
		t.Errorf("ExecStart=%s, want /usr/bin/pfwdctl prune --kill-sessions", exec_)
	}
	timer, _ := os.ReadFile(filepath.Join(src, "pfwdctl-prune.timer"))
	service, _ := os.ReadFile(filepath.Join(src, "pfwdctl-prune.service"))
	for _, l := range []string{"OnCalendar=hourly", "Persistent=true", "RandomizedDelaySec=5min", "WantedBy=timers.target"} {
		if !strings.Contains(string(timer), "\n"+l+"\n") {
			t.Errorf("timer lacks %s", l)
		}
	}
	for _, l := range []string{"Type=oneshot", "ProtectSystem=true", "PrivateTmp=true", "NoNewPrivileges=true"} {
		if !strings.Contains(string(service), "\n"+l+"\n") {
			t.Errorf("service lacks %s", l)
		}
	}
	// Settings that would stop prune writing /home/*/.ssh or /etc, or
	// seeing the sessions it must end.
	for _, bad := range []string{"ProtectHome=", "ProtectSystem=full", "ProtectSystem=strict", "ProtectProc=", "ProcSubset=", "PrivateUsers=", "CapabilityBoundingSet=", "PrivateNetwork="} {
		if strings.Contains(string(service), "\n"+bad) {
			t.Errorf("service sets %s: prune could no longer do its work", bad)
		}
	}
	// --man=no: Documentation=man:pfwdctl-prune(1) is in the package, not
	// on this machine's MANPATH.
	cmd := exec.Command(sa, "verify", "--man=no", filepath.Join(dir, "pfwdctl-prune.service"), filepath.Join(dir, "pfwdctl-prune.timer"))
	// Any output is a finding: verify warns about unknown keys but exits 0.
	if b, err := cmd.CombinedOutput(); err != nil || len(b) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, b)
	}
	// The command line parses: the flags exist in this binary.
	args := append(strings.Fields(exec_)[1:], "--help")
	if b, err := exec.Command(bin, args...).CombinedOutput(); err != nil {
		t.Errorf("%s %v: %v\n%s", bin, args, err, b)
	}
}

var cronField = regexp.MustCompile(`^(\*|[0-9]+(-[0-9]+)?)(/[0-9]+)?(,(\*|[0-9]+(-[0-9]+)?)(/[0-9]+)?)*$`)

// checkCron reads the cron.d example as cron would: variables, then one
// job line with five time fields in range, the user root, and a command
// whose program is in the package and whose flags parse.
func checkCron(t *testing.T, x string, files []string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(x, "usr/share/doc/pfwdctl/examples/cron.d/pfwdctl-prune"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(string(b), "\n") {
		t.Errorf("cron.d file does not end in a newline (cron ignores the last line)")
	}
	var jobs [][]string
	for _, l := range strings.Split(string(b), "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") || regexp.MustCompile(`^[A-Z_]+=`).MatchString(l) {
			continue
		}
		jobs = append(jobs, strings.Fields(l))
	}
	if len(jobs) != 1 || len(jobs[0]) < 7 {
		t.Fatalf("cron.d file: want one job line, got %q", jobs)
	}
	job := jobs[0]
	limits := [][2]int{{0, 59}, {0, 23}, {1, 31}, {1, 12}, {0, 7}}
	for i, lim := range limits {
		if !cronField.MatchString(job[i]) {
			t.Errorf("cron field %d %q", i+1, job[i])
		}
		for _, n := range regexp.MustCompile(`[0-9]+`).FindAllString(strings.Split(job[i], "/")[0], -1) {
			if v, _ := strconv.Atoi(n); v < lim[0] || v > lim[1] {
				t.Errorf("cron field %d %q out of %d-%d", i+1, job[i], lim[0], lim[1])
			}
		}
	}
	if job[5] != "root" {
		t.Errorf("cron user %q, want root", job[5])
	}
	cmd := strings.Join(job[6:], " ")
	m := regexp.MustCompile(`(/usr/bin/pfwdctl) (prune --kill-sessions)( |$)`).FindStringSubmatch(cmd)
	if m == nil {
		t.Fatalf("cron command %q does not run /usr/bin/pfwdctl prune --kill-sessions", cmd)
	}
	if !contains(files, m[1]) {
		t.Errorf("cron runs %s, not in the package", m[1])
	}
	if !strings.HasPrefix(cmd, "test -x /usr/bin/pfwdctl && ") {
		t.Errorf("cron command %q: without test -x, cron mails an error every hour once the package is removed", cmd)
	}
}

// installDeb installs the .deb with dpkg into a throwaway root (dpkg
// --root keeps its own database there), runs the installed binary,
// removes the package, and proves the host's /etc/ssh never changed and
// nothing was enabled.
func installDeb(t *testing.T, deb, version string) {
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
	if err != nil || !strings.Contains(string(got), version) {
		t.Errorf("installed pfwdctl --version: %q, %v", got, err)
	}
	if _, err := os.Stat(filepath.Join(root, "usr/lib/systemd/system/pfwdctl-prune.timer")); err != nil {
		t.Errorf("timer not installed: %v", err)
	}
	if _, err := os.Stat(filepath.Join(root, "etc")); err == nil {
		t.Errorf("installing created /etc in the target root (an enabled unit, a cron file, sshd config?)")
	}
	dpkg("-r", "pfwdctl")
	if _, err := os.Stat(filepath.Join(root, "usr/bin/pfwdctl")); err == nil {
		t.Errorf("dpkg -r left /usr/bin/pfwdctl")
	}
	if after := treeHash(t, "/etc/ssh"); after != before {
		t.Errorf("the host's /etc/ssh changed during install and removal")
	}
}

// installRPM installs the .rpm into a scratch root with Debian's rpm
// (--nodeps: the root has no openssh-server and no rpm database of
// Debian's packages), checks what landed, and removes it again.
func installRPM(t *testing.T, rpm, version string) {
	testenv.Root(t)
	before := treeHash(t, "/etc/ssh")
	root := t.TempDir()
	run := func(args ...string) string {
		t.Helper()
		b, err := exec.Command("rpm", append([]string{"--root", root, "--dbpath", "/var/lib/rpm"}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("rpm %v: %v\n%s", args, err, b)
		}
		return string(b)
	}
	run("--nodeps", "-i", rpm)
	got, err := exec.Command(filepath.Join(root, "usr/bin/pfwdctl"), "--version").Output()
	if err != nil || !strings.Contains(string(got), version) {
		t.Errorf("installed pfwdctl --version: %q, %v", got, err)
	}
	if q := run("-q", "pfwdctl"); !strings.HasPrefix(q, "pfwdctl-") {
		t.Errorf("rpm -q pfwdctl: %q", q)
	}
	if v := run("-V", "pfwdctl"); strings.TrimSpace(v) != "" {
		t.Errorf("rpm -V: installed files differ from the package:\n%s", v)
	}
	if _, err := os.Stat(filepath.Join(root, "etc")); err == nil {
		t.Errorf("installing created /etc in the target root")
	}
	run("-e", "pfwdctl")
	if _, err := os.Stat(filepath.Join(root, "usr/bin/pfwdctl")); err == nil {
		t.Errorf("rpm -e left /usr/bin/pfwdctl")
	}
	if after := treeHash(t, "/etc/ssh"); after != before {
		t.Errorf("the host's /etc/ssh changed during install and removal")
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
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
