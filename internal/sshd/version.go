package sshd

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pfwdctl/pfwdctl/internal/fail"
	"github.com/pfwdctl/pfwdctl/internal/hostfs"
)

// Version is an OpenSSH release, e.g. 9.2.
type Version struct{ Major, Minor int }

func (v Version) String() string { return fmt.Sprintf("%d.%d", v.Major, v.Minor) }

// AtLeast reports whether v is o or newer.
func (v Version) AtLeast(o Version) bool {
	return v.Major > o.Major || v.Major == o.Major && v.Minor >= o.Minor
}

var versionRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`OpenSSH_(\d+)\.(\d+)`) })

// ParseVersion finds "OpenSSH_9.2" in what sshd -V or ssh -V print.
func ParseVersion(s string) (Version, bool) {
	m := versionRE().FindStringSubmatch(s)
	if m == nil {
		return Version{}, false
	}
	maj, _ := strconv.Atoi(m[1])
	min, _ := strconv.Atoi(m[2])
	return Version{maj, min}, true
}

// VersionLine returns the line starting with "OpenSSH" in what sshd -V or
// ssh -V printed (stderr first), or "". Releases that do not know -V print
// their usage around it, so only such a line counts.
func VersionLine(stderr, stdout []byte) string {
	for _, l := range strings.Split(string(stderr)+"\n"+string(stdout), "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "OpenSSH") {
			return strings.TrimSpace(l)
		}
	}
	return ""
}

// bin is the sshd to run: Bin, or the one Find finds.
func (s Binary) bin() (string, error) {
	if s.Bin != "" {
		return s.Bin, nil
	}
	return Find()
}

// Version asks the sshd binary for its release. sshd -V prints it on
// stderr (OpenSSH 9.x); older releases do not know -V and print it in the
// usage text, with a non-zero exit, which is fine here.
func (s Binary) Version(ctx context.Context) (Version, error) {
	bin, err := s.bin()
	if err != nil {
		return Version{}, err
	}
	stdout, stderr, err := s.Runner.Run(ctx, bin, "-V")
	if v, ok := ParseVersion(string(stderr) + string(stdout)); ok {
		return v, nil
	}
	if err == nil {
		err = fmt.Errorf("no OpenSSH version in %q", strings.TrimSpace(string(stderr)))
	}
	return Version{}, fail.Wrap(fail.Unavailable, err, "check that --sshd names OpenSSH's sshd", "find the sshd version")
}

// VersionText is the whole version line sshd -V prints, e.g.
// "OpenSSH_9.2p1 Debian-2+deb12u3, OpenSSL 3.0.15 3 Sep 2024", for people
// to read; "" with an error when sshd says none.
func (s Binary) VersionText(ctx context.Context) (string, error) {
	bin, err := s.bin()
	if err != nil {
		return "", err
	}
	stdout, stderr, err := s.Runner.Run(ctx, bin, "-V")
	if l := VersionLine(stderr, stdout); l != "" {
		return l, nil
	}
	if err == nil {
		err = fmt.Errorf("no OpenSSH version in %q", strings.TrimSpace(string(stderr)))
	}
	return "", err
}

// Zone is the time zone sshd runs in: /etc/localtime of the host (or the
// --root tree), never this process's $TZ, which sshd does not see. sshd
// reads an expiry-time without Z or UTC in it. Without a readable
// /etc/localtime glibc uses UTC, and so does this.
func Zone(root hostfs.Root) *time.Location {
	data, err := root.ReadFile("/etc/localtime")
	if err != nil {
		return time.UTC
	}
	loc, err := time.LoadLocationFromTZData("system", data)
	if err != nil {
		return time.UTC
	}
	return loc
}
