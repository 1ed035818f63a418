package sshd

import (
	"context"
	"strings"
	"testing"

	"github.com/pfwdctl/pfwdctl/internal/run"
	"github.com/pfwdctl/pfwdctl/internal/testenv"
)

func TestParseVersion(t *testing.T) {
	for in, want := range map[string]Version{
		"OpenSSH_9.2, OpenSSL 3.0.19 27 Jan 2026":   {9, 2},
		"OpenSSH_9.9p1 Ubuntu-3ubuntu3, OpenSSL 3":  {9, 9},
		"unknown option -- V\nOpenSSH_8.4p1 Debian": {8, 4},
	} {
		if got, ok := ParseVersion(in); !ok || got != want {
			t.Errorf("ParseVersion(%q) = %v, %v", in, got, ok)
		}
	}
}

// VersionText keeps the whole line for people to read; releases that do
// not know -V print it inside their usage text, with a non-zero exit.
func TestVersionText(t *testing.T) {
	cases := []struct {
		name           string
		stdout, stderr string
		err            error
		want           string
	}{
		{"good_9x_stderr", "", "OpenSSH_9.2p1 Debian-2+deb12u3, OpenSSL 3.0.15 3 Sep 2024\n", nil, "OpenSSH_9.2p1 Debian-2+deb12u3, OpenSSL 3.0.15 3 Sep 2024"},
		{"good_old_usage", "", "unknown option -- V\nOpenSSH_8.4p1 Debian-5, OpenSSL 1.1.1\nusage: sshd [-46DdeiqTt]\n", run.ErrExit, "OpenSSH_8.4p1 Debian-5, OpenSSL 1.1.1"},
		{"fail_not_openssh", "", "dropbear v2022.83\n", run.ErrExit, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := (&run.Stub{T: t}).Expect("/usr/sbin/sshd -V", c.stdout, c.stderr, c.err)
			got, err := Binary{Bin: "/usr/sbin/sshd", Runner: s}.VersionText(context.Background())
			if got != c.want || (c.want == "") != (err != nil) {
				t.Fatalf("VersionText = %q, %v; want %q", got, err, c.want)
			}
			s.Done()
		})
	}
}

// The real sshd says which release it is.
func TestVersionRealSshd(t *testing.T) {
	b := Binary{Bin: testenv.Sshd(t), Runner: run.Exec{}}
	v, err := b.Version(context.Background())
	if err != nil || v.Major < 7 {
		t.Fatalf("Version = %v, %v", v, err)
	}
	text, err := b.VersionText(context.Background())
	if err != nil || !strings.HasPrefix(text, "OpenSSH_"+v.String()) {
		t.Fatalf("VersionText = %q, %v (Version %v)", text, err, v)
	}
}

// An sshd pfwdctl cannot prove anything with is refused with the reason,
// in any install mode: older than the oldest tested release, or one whose
// sshd -T does not print what pfwdctl judges by.
func TestCapsUnsupported(t *testing.T) {
	for _, c := range []struct {
		caps Caps
		want string
	}{
		{Caps{Include: true, MatchInInclude: true, Version: Version{9, 2}}, ""},
		{Caps{Version: Version{8, 0}}, ""},
		{Caps{Version: Version{7, 4}}, "OpenSSH 7.4 is older than 8.0"},
		{Caps{Version: Version{7, 4}, Missing: []string{"permitlisten"}}, "has no permitlisten"},
	} {
		got := c.caps.Unsupported()
		if (c.want == "") != (got == "") || !strings.Contains(got, c.want) {
			t.Errorf("%+v: %q, want %q", c.caps, got, c.want)
		}
	}
	if got := (Caps{Include: false}).Why(); !strings.Contains(got, "Include") {
		t.Errorf("Why without Include: %q", got)
	}
}
