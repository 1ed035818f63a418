package accounts

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pfwdctl/pfwdctl/internal/hostfs"
)

// tree writes /etc/passwd, /etc/shadow and /etc/group under a temp root.
func tree(t *testing.T, files map[string]string) hostfs.Root {
	t.Helper()
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "etc"), 0o755)
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, "etc", name), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return hostfs.MustRoot(dir)
}

const passwd = `root:x:0:0:root:/root:/bin/bash
# a comment:x:1:1:::
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
broken:x:12abc:1::/home/broken:/bin/sh
short:x:5:5
admin:x:1000:1000:Admin,,,:/home/admin:/bin/bash
pfwd:x:999:999::/home/pfwd:/usr/sbin/nologin
`

func TestReadPasswd(t *testing.T) {
	root := tree(t, map[string]string{"passwd": passwd})
	accts, err := ReadPasswd(root)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, a := range accts {
		names = append(names, a.Name)
	}
	// Comments, short lines and non-numeric ids are not accounts.
	if !slices.Equal(names, []string{"root", "daemon", "admin", "pfwd"}) {
		t.Fatalf("names = %v", names)
	}
	if a := accts[2]; a.UID != 1000 || a.GID != 1000 || a.Home != "/home/admin" || a.Shell != "/bin/bash" {
		t.Fatalf("admin = %+v", a)
	}
}

func TestLookup(t *testing.T) {
	root := tree(t, map[string]string{"passwd": passwd, "shadow": "root:*:19000::::::\npfwd:*:19000:0:99999:7:::\nadmin:$y$j9T$abc:19000:0:99999:7:::\n"})
	cases := []struct {
		name                              string
		hasShadow, locked, passwordUsable bool
	}{
		{"pfwd", true, true, false},
		{"admin", true, false, true},
		{"daemon", false, false, false}, // no shadow entry: no password
	}
	for _, c := range cases {
		a, err := Lookup(root, c.name)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if a.HasShadow != c.hasShadow || a.Locked() != c.locked || a.PasswordUsable() != c.passwordUsable {
			t.Errorf("%s: %+v locked=%v usable=%v", c.name, a, a.Locked(), a.PasswordUsable())
		}
	}
	if _, err := Lookup(root, "nobody"); !errors.Is(err, ErrNoAccount) {
		t.Errorf("nobody: %v, want ErrNoAccount", err)
	}
	if _, err := Lookup(root, "broken"); err == nil || !strings.Contains(err.Error(), "non-numeric uid or gid") {
		t.Errorf("broken: %v", err)
	}
}

// Without /etc/shadow (or as a user who may not read it), the passwd
// entry is still known.
func TestLookupWithoutShadow(t *testing.T) {
	root := tree(t, map[string]string{"passwd": passwd})
	a, err := Lookup(root, "pfwd")
	if err != nil || a.HasShadow || a.UID != 999 || !a.NoLogin() {
		t.Fatalf("%+v %v", a, err)
	}
	if a, err := LookupPasswd(root, "admin"); err != nil || a.NoLogin() {
		t.Fatalf("%+v %v", a, err)
	}
}

func TestReadGroups(t *testing.T) {
	root := tree(t, map[string]string{"group": "root:x:0:\ntunnels:x:2000:pfwd,other\nbad\npfwd:x:999:\n"})
	gs, err := ReadGroups(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(gs) != 3 || gs[1].Name != "tunnels" || gs[1].GID != 2000 || !slices.Equal(gs[1].Members, []string{"pfwd", "other"}) || gs[2].Members != nil {
		t.Fatalf("groups = %+v", gs)
	}
}

func TestNoLoginShell(t *testing.T) {
	for shell, want := range map[string]bool{
		"/usr/sbin/nologin": true, "/sbin/nologin": true, "/bin/false": true, "/bin/sync": true,
		// sshd runs /bin/sh for an empty shell field (session.c).
		"":          false,
		"/bin/bash": false, "/bin/sh": false, "/usr/bin/zsh": false,
	} {
		if got := NoLoginShell(shell); got != want {
			t.Errorf("NoLoginShell(%q) = %v", shell, got)
		}
	}
}

func TestValidateName(t *testing.T) {
	good := []string{"pfwd", "_svc", "a", "tunnel-2", strings.Repeat("a", 32)}
	bad := []string{"", "root", "Pfwd", "1abc", "pf wd", "pf\nwd", "pf*", "!pfwd", "pf,wd", "pf?", strings.Repeat("a", 33), "pfwd\nMatch all"}
	for _, u := range good {
		if err := ValidateName(u); err != nil {
			t.Errorf("good_%q: %v", u, err)
		}
	}
	for _, u := range bad {
		if err := ValidateName(u); err == nil {
			t.Errorf("fail_%q: accepted", u)
		}
	}
}
