package render_test

import (
	"os"
	"strings"
	"testing"

	"github.com/pfwdctl/pfwdctl/render"
	"github.com/pfwdctl/pfwdctl/render/rendertest"
)

// apply --permit-root-login prohibit-password on a host whose only admin
// is root with a key (a cloud image): the lockout guard refuses the
// default (PermitRootLogin no would lock root out) and accepts
// prohibit-password, which a plain apply then keeps; without a key in
// root's authorized_keys, root is no way in and the guard refuses.
func TestApplyPermitRootLoginAndTheGuard(t *testing.T) {
	t.Parallel()
	root := rendertest.New(t, rendertest.Tree{NoAdminKey: true, Files: map[string]string{"/root/.ssh/authorized_keys": rendertest.AdminKey}})
	a := applier(t, root)
	_, err := apply(t, a, render.DefaultParams(), render.ApplyOptions{})
	if err == nil || !strings.Contains(err.Error(), "root: PermitRootLogin no") {
		t.Fatalf("default apply on a root-only host: %v", err)
	}
	p := render.DefaultParams()
	p.PermitRootLogin = render.RootLoginKeys
	res, err := apply(t, a, p, render.ApplyOptions{})
	if err != nil || !res.Changed {
		t.Fatalf("apply --permit-root-login prohibit-password: %+v %v", res, err)
	}
	data, _ := os.ReadFile(root.Path("/etc/ssh/sshd_config.d/10-hardening.conf"))
	if !strings.Contains(string(data), "\nPermitRootLogin prohibit-password\n") {
		t.Fatalf("baseline:\n%s", data)
	}
	if got := render.InstalledRootLogin(root, ""); got != render.RootLoginKeys {
		t.Errorf("InstalledRootLogin = %q", got)
	}
	// No choice given: the installed one is kept, nothing changes.
	if res, err := apply(t, a, render.DefaultParams(), render.ApplyOptions{}); err != nil || res.Changed {
		t.Fatalf("plain apply after prohibit-password: %+v %v", res, err)
	}

	bare := rendertest.New(t, rendertest.Tree{NoAdminKey: true})
	if _, err := apply(t, applier(t, bare), p, render.ApplyOptions{}); err == nil || !strings.Contains(err.Error(), "root: no authorized key") {
		t.Fatalf("prohibit-password without root's key: %v", err)
	}
}
