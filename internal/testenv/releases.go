package testenv

import (
	"os"
	"path/filepath"
	"sort"
	"testing"
)

// DefaultOpenSSHCache is where build-openssh.sh puts the releases of
// ../shared/openssh; PFWDCTL_OPENSSH_CACHE overrides it.
const DefaultOpenSSHCache = "/var/cache/pfwdctl/openssh"

// Release is one OpenSSH build the compatibility suite runs against.
type Release struct {
	Name string // "9.6p1", or "system"
	Sshd string // its sshd binary
}

// Releases are the builds make test-compat made, oldest first, then the
// system's sshd. The suite runs only under make test-compat
// (PFWDCTL_COMPAT=1), where an empty cache fails: it would prove nothing.
// Elsewhere the tests skip, saying how to run them.
func Releases(t testing.TB) []Release {
	t.Helper()
	if os.Getenv("PFWDCTL_COMPAT") != "1" {
		t.Skip("the OpenSSH release suite runs with make test-compat")
	}
	cache := os.Getenv("PFWDCTL_OPENSSH_CACHE")
	if cache == "" {
		cache = DefaultOpenSSHCache
	}
	ents, _ := os.ReadDir(cache)
	var out []Release
	for _, e := range ents {
		dir := filepath.Join(cache, e.Name())
		if _, err := os.Stat(filepath.Join(dir, ".complete")); err != nil {
			continue
		}
		out = append(out, Release{Name: e.Name(), Sshd: filepath.Join(dir, "sbin", "sshd")})
	}
	sort.Slice(out, func(i, j int) bool { return versionLess(out[i].Name, out[j].Name) })
	if len(out) == 0 {
		t.Fatalf("no OpenSSH release built in %s: run make test-compat (it builds them from ../shared/openssh)", cache)
	}
	return append(out, Release{Name: "system", Sshd: Sshd(t)})
}

// versionLess orders "8.9p1" before "10.0p2" by their numbers.
func versionLess(a, b string) bool {
	na, nb := nums(a), nums(b)
	for i := 0; i < len(na) && i < len(nb); i++ {
		if na[i] != nb[i] {
			return na[i] < nb[i]
		}
	}
	return len(na) < len(nb)
}

func nums(s string) []int {
	var out []int
	n, in := 0, false
	for _, c := range s {
		if c >= '0' && c <= '9' {
			n, in = n*10+int(c-'0'), true
			continue
		}
		if in {
			out = append(out, n)
		}
		n, in = 0, false
	}
	if in {
		out = append(out, n)
	}
	return out
}
