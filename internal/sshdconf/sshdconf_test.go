package sshdconf

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pfwdctl/pfwdctl/internal/hostfs"
)

func TestParseForms(t *testing.T) {
	lines, err := Parse([]byte("# c\n  PermitOpen=127.0.0.1:1 [::1]:2\nForceCommand \"/usr/sbin/no login\" # trailing\nMaxAuthTries\t3\n\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"permitopen|127.0.0.1:1|[::1]:2", "forcecommand|/usr/sbin/no login", "maxauthtries|3"}
	if len(lines) != len(want) {
		t.Fatalf("got %d lines", len(lines))
	}
	for i, l := range lines {
		if got := l.Keyword + "|" + strings.Join(l.Args, "|"); got != want[i] {
			t.Errorf("line %d = %q, want %q", i, got, want[i])
		}
	}
	if lines[0].Num != 2 || lines[2].Num != 4 {
		t.Errorf("line numbers %d %d", lines[0].Num, lines[2].Num)
	}
	if _, err := Parse([]byte("Banner \"unterminated\n")); err == nil {
		t.Error("unterminated quote accepted")
	}
}

func write(t *testing.T, root hostfs.Root, files map[string]string) {
	for p, c := range files {
		os.MkdirAll(filepath.Dir(root.Path(p)), 0o755)
		os.WriteFile(root.Path(p), []byte(c), 0o644)
	}
}

// Include globs are read in sorted order, relative paths from /etc/ssh, and
// a Match left open in a drop-in ends with that file (OpenSSH 8.2+).
func TestLoadIncludeOrderAndMatchScope(t *testing.T) {
	root := hostfs.MustRoot(t.TempDir())
	write(t, root, map[string]string{
		"/etc/ssh/sshd_config":                "Include sshd_config.d/*.conf\nX11Forwarding yes\nMatch User bob\nPermitTTY no\n",
		"/etc/ssh/sshd_config.d/20-b.conf":    "Match User pfwd\nPermitOpen 127.0.0.1:8009\n",
		"/etc/ssh/sshd_config.d/10-a.conf":    "PasswordAuthentication no\n",
		"/etc/ssh/sshd_config.d/.tmp-x.conf":  "PasswordAuthentication yes\n", // dot files: glob * skips them
		"/etc/ssh/sshd_config.d/30-c.conf.bk": "PasswordAuthentication yes\n",
	})
	c, err := Load(root, "/etc/ssh/sshd_config")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, l := range c.Lines {
		got = append(got, l.At()+" "+l.Keyword+" ["+l.Match+"]")
	}
	want := []string{
		"/etc/ssh/sshd_config:1 include []",
		"/etc/ssh/sshd_config.d/10-a.conf:1 passwordauthentication []",
		"/etc/ssh/sshd_config.d/20-b.conf:1 match [User pfwd]",
		"/etc/ssh/sshd_config.d/20-b.conf:2 permitopen [User pfwd]",
		"/etc/ssh/sshd_config:2 x11forwarding []",
		"/etc/ssh/sshd_config:3 match [User bob]",
		"/etc/ssh/sshd_config:4 permittty [User bob]",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestIncludesFile(t *testing.T) {
	drop := "/etc/ssh/sshd_config.d/10-hardening.conf"
	for cfg, want := range map[string]bool{
		"Include /etc/ssh/sshd_config.d/*.conf\n":                 true,
		"include sshd_config.d/*.conf\n":                          true,
		"Include=/etc/ssh/sshd_config.d/10-*.conf\n":              true,
		"Include /etc/other/*.conf /etc/ssh/sshd_config.d/*\n":    true,
		"#Include /etc/ssh/sshd_config.d/*.conf\n":                false,
		"Match User x\nInclude /etc/ssh/sshd_config.d/*.conf\n":   false,
		"Match all\nInclude /etc/ssh/sshd_config.d/*.conf\n":      true,
		"Include /etc/ssh/sshd_config.d/*.cfg\n":                  false,
		"Match User x\nMatch all\nInclude sshd_config.d/*.conf\n": true,
	} {
		root := hostfs.MustRoot(t.TempDir())
		write(t, root, map[string]string{"/etc/ssh/sshd_config": cfg})
		_, ok, err := IncludesFile(root, "/etc/ssh/sshd_config", drop)
		if err != nil || ok != want {
			t.Errorf("%q: got %v %v, want %v", cfg, ok, err, want)
		}
	}
}

// LoadOverlay explains the configuration as it will be once a plan is
// written: a planned file joins the glob in its sorted place, a planned
// edit replaces the file on disk, a planned removal drops it, dot-named
// planned files stay unread as sshd's glob leaves them, and every line keeps
// its real host path.
func TestLoadOverlay(t *testing.T) {
	root := hostfs.MustRoot(t.TempDir())
	write(t, root, map[string]string{
		"/etc/ssh/sshd_config":             "Include sshd_config.d/*.conf\nX11Forwarding yes\n",
		"/etc/ssh/sshd_config.d/05-a.conf": "PasswordAuthentication yes\n",
		"/etc/ssh/sshd_config.d/30-c.conf": "PermitTTY no\n",
		"/etc/ssh/sshd_config.d/40-d.conf": "MaxAuthTries 6\n",
	})
	before, err := Load(root, "/etc/ssh/sshd_config")
	if err != nil {
		t.Fatal(err)
	}
	c, err := LoadOverlay(root, "/etc/ssh/sshd_config", map[string][]byte{
		"/etc/ssh/sshd_config.d/10-b.conf":   []byte("# planned\nPasswordAuthentication no\n"),
		"/etc/ssh/sshd_config.d//30-c.conf":  []byte("\n\nPermitTTY yes\n"),
		"/etc/ssh/sshd_config.d/40-d.conf":   nil,
		"/etc/ssh/sshd_config.d/.10-x.conf":  []byte("Banner none\n"),
		"/etc/ssh/sshd_config.d/60-e.conf.x": []byte("Banner none\n"),
	})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, l := range c.Lines {
		got = append(got, l.At()+" "+l.Keyword+" "+strings.Join(l.Args, " "))
	}
	want := []string{
		"/etc/ssh/sshd_config:1 include sshd_config.d/*.conf",
		"/etc/ssh/sshd_config.d/05-a.conf:1 passwordauthentication yes",
		"/etc/ssh/sshd_config.d/10-b.conf:2 passwordauthentication no",
		"/etc/ssh/sshd_config.d/30-c.conf:3 permittty yes",
		"/etc/ssh/sshd_config:2 x11forwarding yes",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if len(before.Lines) != 5 || before.Lines[2].File != "/etc/ssh/sshd_config.d/30-c.conf" {
		t.Errorf("Load without the overlay changed: %v", before.Lines)
	}
	if _, err := os.Stat(root.Path("/etc/ssh/sshd_config.d/10-b.conf")); err == nil {
		t.Error("the overlay was written")
	}
	if _, err := ReadFile(root, map[string][]byte{"/etc/ssh/sshd_config": nil}, "/etc/ssh/sshd_config"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a planned removal reads as %v", err)
	}
	l, ok, err := IncludesFileOverlay(root, map[string][]byte{"/etc/ssh/sshd_config": []byte("X11Forwarding no\n")}, "/etc/ssh/sshd_config", "/etc/ssh/sshd_config.d/10-b.conf")
	if ok || err != nil {
		t.Errorf("IncludesFileOverlay read the main file from disk: %v %v %v", l, ok, err)
	}
}
