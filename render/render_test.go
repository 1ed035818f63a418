package render

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/pfwdctl/pfwdctl/internal/golden"
	"github.com/pfwdctl/pfwdctl/internal/sshdconf"
	"github.com/pfwdctl/pfwdctl/internal/target"
)

func TestRenderGolden(t *testing.T) {
	cases := []struct {
		dir       string
		user      string
		targets   []string
		rootLogin string
	}{
		{"default", "", nil, ""},
		{"several-targets", "tunnel", []string{"127.0.0.1:8009", "[::1]:8009", "inference.internal:443"}, ""},
		// apply --permit-root-login prohibit-password (cloud images).
		{"root-key", "", nil, RootLoginKeys},
	}
	for _, c := range cases {
		t.Run(c.dir, func(t *testing.T) {
			p, err := NewParams(c.user, c.targets)
			if err != nil {
				t.Fatal(err)
			}
			p.PermitRootLogin = c.rootLogin
			files, err := Render(p)
			if err != nil {
				t.Fatal(err)
			}
			if len(files) != 2 {
				t.Fatalf("got %d files", len(files))
			}
			for _, f := range files {
				golden.Check(t, filepath.Join("render", c.dir, f.Name), f.Data)
			}
		})
	}
}

// The rendered files must say every directive of the seed guide, and the
// Match block must be closed so nothing appended later joins it.
func TestRenderHasEveryGuideDirective(t *testing.T) {
	files, err := Render(DefaultParams())
	if err != nil {
		t.Fatal(err)
	}
	hard, _ := sshdconf.Parse(files[0].Data)
	want := []string{"permitrootlogin no", "passwordauthentication no", "kbdinteractiveauthentication no",
		"pubkeyauthentication yes", "authenticationmethods publickey", "permitemptypasswords no",
		"maxauthtries 3", "logingracetime 30", "x11forwarding no", "allowagentforwarding no",
		"permittunnel no", "gatewayports no", "allowtcpforwarding no", "allowstreamlocalforwarding no",
		"clientaliveinterval 300", "clientalivecountmax 2", "loglevel verbose"}
	got := map[string]bool{}
	for _, l := range hard {
		got[l.Keyword+" "+strings.ToLower(strings.Join(l.Args, " "))] = true
	}
	for _, w := range want {
		if !got[w] {
			t.Errorf("10-hardening.conf lacks %q", w)
		}
	}
	fwd, _ := sshdconf.Parse(files[1].Data)
	if fwd[0].Keyword != "match" || strings.Join(fwd[0].Args, " ") != "User pfwd" {
		t.Errorf("first directive = %v, want Match User pfwd", fwd[0])
	}
	last := fwd[len(fwd)-1]
	if last.Keyword != "match" || strings.Join(last.Args, " ") != "all" {
		t.Errorf("last directive = %v, want Match all", last)
	}
	for _, f := range files {
		if !strings.HasPrefix(string(f.Data), "# Managed by pfwdctl") || !strings.Contains(string(f.Data), "Re-render with: pfwdctl apply") {
			t.Errorf("%s lacks the managed-by header", f.Name)
		}
	}
}

func TestRenderRefusesHandBuiltBadParams(t *testing.T) {
	p := DefaultParams()
	p.User = "pfwd\nPermitRootLogin yes"
	if _, err := Render(p); err == nil {
		t.Fatal("rendered a user name with a newline")
	}
	p = DefaultParams()
	p.Targets = []target.Target{{Host: "127.0.0.1 any", Port: 1}}
	if _, err := Render(p); err == nil {
		t.Fatal("rendered a target with a space")
	}
}

func TestPermitRootLoginValues(t *testing.T) {
	for v, ok := range map[string]bool{"": true, "no": true, "prohibit-password": true, "yes": false, "without-password": false, "forced-commands-only": false} {
		p := DefaultParams()
		p.PermitRootLogin = v
		if err := p.Validate(); (err == nil) != ok {
			t.Errorf("PermitRootLogin %q: %v", v, err)
		}
	}
}
