package render

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pfwdctl/pfwdctl/internal/hostfs"
	"github.com/pfwdctl/pfwdctl/internal/run"
	"github.com/pfwdctl/pfwdctl/internal/sshd"
	"github.com/pfwdctl/pfwdctl/internal/testenv"
	"github.com/pfwdctl/pfwdctl/render/rendertest"
)

// dsaKey is an ssh-dss public key: sshd 9.2 no longer accepts the type.
const dsaKey = "ssh-dss AAAAB3NzaC1kc3MAAACBAN9FTcBcYh1EiuyHA+MhSy+7g47TFXoKy1kvXO/yxAV9Ihy9FZ7EYhE8mxe7kvNxCRgz3BvIg9ocU7KuIFW0w7jJu3PvS0aao0ce4v4qttYpmmmJIeDt1uvO/swqBHT93+5kCrwnFHVcwSZF1WKBKUAVKHUYQKKceEGtkQ1iB8NJAAAAFQDjaK/rDTjoEzZxEjaiY6eHVLVBHwAAAIB9lFBV6+ysrQ3WnJwiy1n9lgB0X3Xv31YrQU4uxqWAjdFpasUviyhompThNJ+Cv2HpgknkXTjktT2IFC4y7dpZnPBrkopHp7AkVOZ2lbDrkrDtSb+6PJVPGjE12zMnj2MhOFEbYiFja+pFwX3hnYpMUWKMEY3k1ZG45A1eT02NqQAAAIAOcFG7IwG5ICUumFkJmse3EqKci54JQhlL1KRRul+yqrmxI8ZmRSw9sfz8XCujX8crk4znAU8AaEEfJ0WLvWyp3btOZ9P0NoFIaUlqSRAU7jdZYzHqSUlUvjBC7/LUazkGvITTcNhsi01wYk7yCXD+ZM17L7TDUYOvxPumsr4/vw== admin@old\n"

// guardCase is one host the lockout guard judges, with the rendered
// drop-ins written in (cmd/pfwdctl/apply_guard_test.go runs apply on such hosts).
type guardCase struct {
	name  string
	tree  rendertest.Tree
	setup func(t *testing.T, root hostfs.Root)
	want  string // "" = allowed
}

const adminShadowLocked = "root:*:19000:0:99999:7:::\nadmin:!$y$j9T$abc$def:19000:0:99999:7:::\npfwd:*:19000:0:99999:7:::\n"

func dropIn(s string) map[string]string {
	return map[string]string{"/etc/ssh/sshd_config.d/05-local.conf": s}
}

func with(m map[string]string, kv ...string) map[string]string {
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

var guardCases = []guardCase{
	{name: "good_stock_admin_ed25519", want: ""},
	{name: "fail_allowusers_excludes_admin", tree: rendertest.Tree{Files: dropIn("AllowUsers root pfwd\n")},
		want: "admin: not in AllowUsers root pfwd"},
	{name: "good_admin_in_allowusers", tree: rendertest.Tree{Files: dropIn("AllowUsers admin pfwd\n")}},
	{name: "good_allowusers_pattern", tree: rendertest.Tree{Files: dropIn("AllowUsers ad?in@127.0.0.0/8 pfwd\n")}},
	{name: "fail_allowusers_other_address", tree: rendertest.Tree{Files: dropIn("AllowUsers admin@10.0.0.0/8 pfwd\n")},
		want: "admin: not in AllowUsers admin@10.0.0.0/8 pfwd"},
	{name: "fail_denyusers_beats_allowusers", tree: rendertest.Tree{Files: dropIn("AllowUsers admin\nDenyUsers adm*\n")},
		want: "admin: listed in DenyUsers adm*"},
	{name: "fail_allowgroups", tree: rendertest.Tree{Files: with(dropIn("AllowGroups wheel\n"), "/etc/group", "root:x:0:\nsudo:x:27:admin\nadmin:x:1000:\n")},
		want: "admin: none of its groups (sudo admin) is in AllowGroups wheel"},
	{name: "good_allowgroups_supplementary", tree: rendertest.Tree{Files: with(dropIn("AllowGroups sudo\n"), "/etc/group", "root:x:0:\nsudo:x:27:admin\nadmin:x:1000:\n")}},
	{name: "fail_denygroups", tree: rendertest.Tree{Files: with(dropIn("DenyGroups sudo\n"), "/etc/group", "root:x:0:\nsudo:x:27:admin\nadmin:x:1000:\n")},
		want: "admin: group sudo is in DenyGroups sudo"},
	{name: "fail_only_key_dsa", tree: rendertest.Tree{Files: map[string]string{"/home/admin/.ssh/authorized_keys": dsaKey}},
		want: "sshd does not accept ssh-dss keys"},
	{name: "fail_home_0775", setup: func(t *testing.T, root hostfs.Root) { chmod(t, root, "/home/admin", 0o775) },
		want: "StrictModes ignores /home/admin/.ssh/authorized_keys (/home/admin is group- or world-writable"},
	{name: "fail_ssh_dir_0777", setup: func(t *testing.T, root hostfs.Root) { chmod(t, root, "/home/admin/.ssh", 0o777) },
		want: "/home/admin/.ssh is group- or world-writable"},
	{name: "good_home_0775_strictmodes_no", tree: rendertest.Tree{Files: dropIn("StrictModes no\n")},
		setup: func(t *testing.T, root hostfs.Root) { chmod(t, root, "/home/admin", 0o775) }},
	{name: "fail_expired", tree: rendertest.Tree{Files: map[string]string{"/home/admin/.ssh/authorized_keys": `expiry-time="20200101" ` + rendertest.AdminKey}},
		want: "the key expired on 2020-01-01"},
	{name: "fail_from_other_address", tree: rendertest.Tree{Files: map[string]string{"/home/admin/.ssh/authorized_keys": `from="10.9.9.9" ` + rendertest.AdminKey}},
		want: `from=10.9.9.9 does not match your address 127.0.0.1`},
	{name: "fail_from_negated", tree: rendertest.Tree{Files: map[string]string{"/home/admin/.ssh/authorized_keys": `from="!127.0.0.1,*" ` + rendertest.AdminKey}},
		want: `does not match your address`},
	{name: "good_from_loopback", tree: rendertest.Tree{Files: map[string]string{"/home/admin/.ssh/authorized_keys": `from="127.0.0.0/8" ` + rendertest.AdminKey}}},
	{name: "fail_forced_command", tree: rendertest.Tree{Files: map[string]string{"/home/admin/.ssh/authorized_keys": `command="/usr/bin/backup" ` + rendertest.AdminKey}},
		want: "the key has a forced command"},
	{name: "fail_methods_need_password", tree: rendertest.Tree{Files: dropIn("Match User admin\n\tAuthenticationMethods publickey,password\n")},
		want: "admin: AuthenticationMethods publickey,password needs more than a key"},
	{name: "good_methods_one_list_key_only", tree: rendertest.Tree{Files: dropIn("AuthenticationMethods publickey,password publickey\n")}},
	{name: "fail_root_only_permitrootlogin_no", tree: rendertest.Tree{NoAdminKey: true, Files: map[string]string{"/root/.ssh/authorized_keys": rendertest.AdminKey}},
		want: "root: PermitRootLogin no"},
	{name: "good_root_prohibit_password", tree: rendertest.Tree{NoAdminKey: true, Files: with(dropIn("PermitRootLogin prohibit-password\n"), "/root/.ssh/authorized_keys", rendertest.AdminKey)}},
	{name: "fail_root_forced_commands_only", tree: rendertest.Tree{NoAdminKey: true, Files: with(dropIn("PermitRootLogin forced-commands-only\n"), "/root/.ssh/authorized_keys", rendertest.AdminKey)},
		want: "root: PermitRootLogin forced-commands-only"},
	{name: "fail_locked_usepam_no", tree: rendertest.Tree{Files: with(dropIn("UsePAM no\n"), "/etc/shadow", adminShadowLocked)},
		want: "admin: the account is locked (! in /etc/shadow) and UsePAM is no"},
	{name: "good_locked_usepam_yes", tree: rendertest.Tree{Files: map[string]string{"/etc/shadow": adminShadowLocked}}},
	{name: "fail_authorizedkeysfile_none", tree: rendertest.Tree{Files: dropIn("AuthorizedKeysFile none\n")},
		want: "admin: no authorized key"},
	{name: "good_authorizedkeysfile_tokens", tree: rendertest.Tree{NoAdminKey: true, Files: with(dropIn("AuthorizedKeysFile /etc/ssh/keys/%u .ssh/none\n"), "/etc/ssh/keys/admin", rendertest.AdminKey)}},
	{name: "fail_no_keys", tree: rendertest.Tree{NoAdminKey: true}, want: "root: PermitRootLogin no; admin: no authorized key"},
}

func chmod(t *testing.T, root hostfs.Root, p string, m os.FileMode) {
	t.Helper()
	if err := os.Chmod(root.Path(p), m); err != nil {
		t.Fatal(err)
	}
}

// staged is sshd -T over the tree with the rendered drop-ins written in:
// the configuration as it will be after apply.
func staged(t *testing.T, root hostfs.Root) Effective {
	t.Helper()
	files, err := Render(DefaultParams())
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if err := os.WriteFile(root.Path(filepath.Join("/etc/ssh/sshd_config.d", f.Name)), f.Data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return sshd.Binary{Bin: testenv.Sshd(t), Runner: run.Exec{}, Root: root}.Effective
}

func TestGuardJudgesTheEffectiveConfig(t *testing.T) {
	t.Parallel()
	for _, c := range guardCases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			root := rendertest.New(t, c.tree)
			if c.setup != nil {
				c.setup(t, root)
			}
			g := Guard{Root: root, ForwardUser: "pfwd", Getenv: func(string) string { return "" }}
			err := g.Check(context.Background(), staged(t, root))
			switch {
			case c.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
				t.Fatalf("err = %v\nwant %q", err, c.want)
			}
		})
	}
}

// "sudo-capable" is said only of accounts in sudo, wheel or admin, or root.
func TestGuardSudoCapableIsChecked(t *testing.T) {
	t.Parallel()
	root := rendertest.New(t, rendertest.Tree{Files: map[string]string{
		"/etc/passwd":                    "root:x:0:0:root:/root:/bin/bash\nadmin:x:1000:1000::/home/admin:/bin/bash\nbob:x:1001:1001::/home/bob:/bin/bash\npfwd:x:999:999::/home/pfwd:/usr/sbin/nologin\n",
		"/etc/group":                     "root:x:0:\nwheel:x:10:admin\nadmin:x:1000:\nbob:x:1001:\n",
		"/home/bob/.ssh/authorized_keys": rendertest.AdminKey,
	}})
	g := Guard{Root: root, ForwardUser: "pfwd"}
	ok, _, _, err := g.survey(context.Background(), staged(t, root))
	if err != nil {
		t.Fatal(err)
	}
	want := []loginable{{"admin", true}, {"bob", false}}
	if !slices.Equal(ok, want) {
		t.Fatalf("loginable = %v, want %v", ok, want)
	}
	if s := (loginable{"bob", false}).String(); strings.Contains(s, "sudo-capable") {
		t.Errorf("bob is called %q", s)
	}
}

// The caller check names who can still log in.
func TestGuardCallerNamesWhoCanLogIn(t *testing.T) {
	env := map[string]string{"SSH_CONNECTION": "10.0.0.2 5555 10.0.0.1 22", "SUDO_USER": "carol"}
	g := Guard{Root: hostfs.MustRoot("/"), Getenv: func(k string) string { return env[k] }}
	err := g.checkCaller([]loginable{{"admin", true}, {"bob", false}}, map[string]string{"carol": "not in AllowUsers admin bob"})
	want := "(not in AllowUsers admin bob); with password login off you could not log in again; can still log in: admin (sudo-capable), bob (not in sudo, wheel or admin)"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("err = %v\nwant %q", err, want)
	}
}

func TestMatchHostAndIP(t *testing.T) {
	cases := []struct {
		addr, list string
		want       int
	}{
		{"127.0.0.1", "127.0.0.1", 1},
		{"127.0.0.1", "127.0.0.0/8", 1},
		{"127.0.0.1", "10.*", 0},
		{"127.0.0.1", "127.0.0.*", 1},
		{"127.0.0.1", "!127.0.0.1,*", -1},
		{"10.1.2.3", "!127.0.0.1,*", 1},
		{"::1", "::1", 1},
	}
	for _, c := range cases {
		if got := matchHostAndIP(c.addr, c.list); got != c.want {
			t.Errorf("matchHostAndIP(%q, %q) = %d, want %d", c.addr, c.list, got, c.want)
		}
	}
}
