package main

import (
	"os"
	"strings"
	"testing"

	"github.com/pfwdctl/pfwdctl/internal/testenv"
	"github.com/pfwdctl/pfwdctl/render/rendertest"
)

// dsaKey is an ssh-dss public key, a type sshd 9.2 refuses.
const dsaKey = "ssh-dss AAAAB3NzaC1kc3MAAACBAN9FTcBcYh1EiuyHA+MhSy+7g47TFXoKy1kvXO/yxAV9Ihy9FZ7EYhE8mxe7kvNxCRgz3BvIg9ocU7KuIFW0w7jJu3PvS0aao0ce4v4qttYpmmmJIeDt1uvO/swqBHT93+5kCrwnFHVcwSZF1WKBKUAVKHUYQKKceEGtkQ1iB8NJAAAAFQDjaK/rDTjoEzZxEjaiY6eHVLVBHwAAAIB9lFBV6+ysrQ3WnJwiy1n9lgB0X3Xv31YrQU4uxqWAjdFpasUviyhompThNJ+Cv2HpgknkXTjktT2IFC4y7dpZnPBrkopHp7AkVOZ2lbDrkrDtSb+6PJVPGjE12zMnj2MhOFEbYiFja+pFwX3hnYpMUWKMEY3k1ZG45A1eT02NqQAAAIAOcFG7IwG5ICUumFkJmse3EqKci54JQhlL1KRRul+yqrmxI8ZmRSw9sfz8XCujX8crk4znAU8AaEEfJ0WLvWyp3btOZ9P0NoFIaUlqSRAU7jdZYzHqSUlUvjBC7/LUazkGvITTcNhsi01wYk7yCXD+ZM17L7TDUYOvxPumsr4/vw== admin@old\n"

// Issue 11 item 3: each host below would lock every admin out once
// passwords are off; apply refuses (exit 1), names the account and why,
// and leaves every file byte for byte as it was. The good variants apply.
func TestApplyRefusesRealLockouts(t *testing.T) {
	sshd := testenv.Sshd(t)
	keys := func(s string) map[string]string { return map[string]string{"/home/admin/.ssh/authorized_keys": s} }
	local := func(s string, more ...string) map[string]string {
		m := map[string]string{"/etc/ssh/sshd_config.d/05-local.conf": s}
		for i := 0; i+1 < len(more); i += 2 {
			m[more[i]] = more[i+1]
		}
		return m
	}
	cases := []struct {
		name  string
		tree  rendertest.Tree
		chmod map[string]os.FileMode
		want  string // "" = applies
		// override: the guard lets it through, but another file wins over
		// the drop-ins: installed, and exit 1 naming that file.
		override string
	}{
		{name: "fail_allowusers_excludes_admin", tree: rendertest.Tree{Files: local("AllowUsers root pfwd\n")}, want: "admin: not in AllowUsers root pfwd"},
		{name: "fail_only_key_dsa", tree: rendertest.Tree{Files: keys(dsaKey)}, want: "sshd does not accept ssh-dss keys"},
		{name: "fail_home_0775", chmod: map[string]os.FileMode{"/home/admin": 0o775}, want: "/home/admin is group- or world-writable"},
		{name: "fail_expired", tree: rendertest.Tree{Files: keys(`expiry-time="20200101" ` + rendertest.AdminKey)}, want: "the key expired on 2020-01-01"},
		{name: "fail_from_other_address", tree: rendertest.Tree{Files: keys(`from="192.0.2.1" ` + rendertest.AdminKey)}, want: "from=192.0.2.1 does not match"},
		{name: "fail_methods_need_password", tree: rendertest.Tree{Files: local("Match User admin\n\tAuthenticationMethods publickey,password\n")}, want: "admin: AuthenticationMethods publickey,password"},
		{name: "fail_root_only_permitrootlogin_no", tree: rendertest.Tree{NoAdminKey: true, Files: local("PermitRootLogin no\n", "/root/.ssh/authorized_keys", rendertest.AdminKey)}, want: "root: PermitRootLogin no"},
		{name: "fail_locked_usepam_no", tree: rendertest.Tree{Files: local("UsePAM no\n", "/etc/shadow", "root:*:19000:0:99999:7:::\nadmin:!$y$j9T$abc$def:19000:0:99999:7:::\npfwd:*:19000:0:99999:7:::\n")},
			want: "admin: the account is locked"},
		{name: "good_admin_in_allowusers", tree: rendertest.Tree{Files: local("AllowUsers admin pfwd\n")}},
		{name: "good_ed25519", tree: rendertest.Tree{}},
		{name: "good_root_prohibit_password", tree: rendertest.Tree{NoAdminKey: true, Files: local("PermitRootLogin prohibit-password\n", "/root/.ssh/authorized_keys", rendertest.AdminKey)},
			override: "/etc/ssh/sshd_config.d/05-local.conf:1: PermitRootLogin is "},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			root := rendertest.New(t, c.tree)
			for p, m := range c.chmod {
				if err := os.Chmod(root.Path(p), m); err != nil {
					t.Fatal(err)
				}
			}
			before := rendertest.Snapshot(t, root)
			env, out, errb := testEnv()
			code := Main([]string{"--root", root.Dir(), "apply", "--sshd", sshd, "--no-reload"}, env)
			if c.override != "" {
				if code != 1 || strings.Contains(errb.String(), "refusing") || !strings.Contains(errb.String(), "not hardened as rendered") || !strings.Contains(errb.String(), c.override) {
					t.Fatalf("exit %d, want 1 with the override %q and no lockout refusal\n%s%s", code, c.override, out, errb)
				}
				return
			}
			if c.want == "" {
				if code != 0 {
					t.Fatalf("exit %d, want 0\n%s%s", code, out, errb)
				}
				return
			}
			if code != 1 || !strings.Contains(errb.String(), c.want) || !strings.Contains(errb.String(), "pfwdctl: hint:") {
				t.Fatalf("exit %d, want 1 with %q and a hint\n%s%s", code, c.want, out, errb)
			}
			rendertest.Unchanged(t, root, before)
		})
	}
}
