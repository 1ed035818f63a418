package main

import (
	"strings"
	"testing"

	"github.com/pfwdctl/pfwdctl/internal/testenv"
	"github.com/pfwdctl/pfwdctl/render/rendertest"
)

// apply compares what sshd will really use with what it rendered, and
// --dry-run returns the exit code the real run would (issue: "apply
// printed success while sshd -T showed passwordauthentication yes").
func TestApplySaysWhatWinsOverIt(t *testing.T) {
	sshd := testenv.Sshd(t)
	stock := string(rendertest.StockSshdConfig)
	const include = "Include /etc/ssh/sshd_config.d/*.conf\n"
	if !strings.Contains(stock, include) {
		t.Fatal("stock config has no Include line")
	}
	moved := "PasswordAuthentication yes\n" + strings.Replace(stock, include, "", 1) + include
	cases := []struct {
		name  string
		tree  rendertest.Tree
		code  int
		wants []string
	}{
		{"fail_line_above_an_include_moved_to_the_bottom", rendertest.Tree{Files: map[string]string{"/etc/ssh/sshd_config": moved}}, 1,
			[]string{"not hardened as rendered", "/etc/ssh/sshd_config:1: PasswordAuthentication is yes, pfwdctl wants no"}},
		{"fail_earlier_drop_in", rendertest.Tree{Files: map[string]string{"/etc/ssh/sshd_config.d/05-local.conf": "PasswordAuthentication yes\n"}}, 1,
			[]string{"/etc/ssh/sshd_config.d/05-local.conf:1: PasswordAuthentication is yes", "dropin.earlier"}},
		{"fail_earlier_match_block", rendertest.Tree{Files: map[string]string{"/etc/ssh/sshd_config.d/05-local.conf": "Match User pfwd\n    PermitOpen any\n"}}, 1,
			[]string{"05-local.conf:2: PermitOpen is any"}},
		{"fail_sshd_rejects", rendertest.Tree{Files: map[string]string{"/etc/ssh/sshd_config.d/05-local.conf": "Bogus yes\n"}}, 1,
			[]string{"Bad configuration option: Bogus"}},
		{"fail_lockout", rendertest.Tree{NoAdminKey: true}, 1, []string{"refusing: after this change no account could log in"}},
		{"good_stock_debian", rendertest.Tree{}, 0, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			root := rendertest.New(t, c.tree)
			before := rendertest.Snapshot(t, root)
			run := func(args ...string) (int, string) {
				env, out, errb := testEnv()
				code := Main(append([]string{"--root", root.Dir(), "apply", "--sshd", sshd, "--no-reload"}, args...), env)
				return code, out.String() + errb.String()
			}
			// The dry run: the same verdict, nothing written.
			code, out := run("--dry-run")
			if code != c.code {
				t.Fatalf("--dry-run: exit %d, want %d\n%s", code, c.code, out)
			}
			for _, w := range c.wants {
				if !strings.Contains(out, w) {
					t.Errorf("--dry-run does not say %q:\n%s", w, out)
				}
			}
			rendertest.Unchanged(t, root, before)
			code, out = run()
			if code != c.code {
				t.Fatalf("apply: exit %d, want %d\n%s", code, c.code, out)
			}
			for _, w := range c.wants {
				if !strings.Contains(out, w) {
					t.Errorf("apply does not say %q:\n%s", w, out)
				}
			}
			if c.name == "fail_sshd_rejects" && !strings.Contains(out, "rolled back: every file is as it was; nothing reloaded") {
				t.Errorf("a refused sshd -t does not show what was tried and rolled back:\n%s", out)
			}
		})
	}
}
