package audit

import (
	"strings"
	"testing"

	"github.com/pfwdctl/pfwdctl/render"
)

// apply --permit-root-login prohibit-password: audit judges the host
// against the installed baseline (root by key passes), but another file
// that says yes still fails, and so does prohibit-password where the
// installed baseline says no.
func TestAuditPermitRootLogin(t *testing.T) {
	t.Parallel()
	keys := render.DefaultParams()
	keys.PermitRootLogin = render.RootLoginKeys
	if rep := audit(t, tree(t, keys, nil, nil), render.DefaultParams()); !rep.Passed {
		t.Errorf("installed prohibit-password fails:\n%s", dump(rep))
	}
	for name, c := range map[string]struct {
		p     render.Params
		files map[string]string
	}{
		"fail_yes_above_the_baseline":          {keys, map[string]string{dropDir + "05-local.conf": "PermitRootLogin yes\n"}},
		"fail_prohibit_password_not_installed": {render.DefaultParams(), map[string]string{dropDir + "05-local.conf": "PermitRootLogin prohibit-password\n"}},
	} {
		t.Run(name, func(t *testing.T) {
			rep := audit(t, tree(t, c.p, c.files, nil), render.DefaultParams())
			if rep.Passed || !strings.Contains(strings.ToLower(dump(rep)), "permitrootlogin") {
				t.Errorf("passed, or not for PermitRootLogin:\n%s", dump(rep))
			}
		})
	}
}
