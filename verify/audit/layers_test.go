package audit

import (
	"context"
	"github.com/pfwdctl/pfwdctl/internal/ca"
	"strings"
	"testing"

	"github.com/pfwdctl/pfwdctl/internal/run"
	"github.com/pfwdctl/pfwdctl/internal/testenv"
	"github.com/pfwdctl/pfwdctl/render"
	"github.com/pfwdctl/pfwdctl/users/keyline"
)

// The layer proof starts real lab sshds and logs in with x/crypto/ssh: it
// must pass on a good setup and name the missing layer on each one-layer
// setup.
func TestLayers(t *testing.T) {
	t.Parallel()
	// As root the lab restricts nobody, whose shell is nologin as on a
	// real host; unprivileged it would be the running user's own shell.
	testenv.Root(t)
	sshd := testenv.Sshd(t)
	hwp := render.DefaultParams()
	hwp.HardwareKeys = &render.HardwareKeys{Algorithms: keyline.HardwareKeyAlgorithms, RequireVerify: true}
	hwFiles, err := render.Render(hwp)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name         string
		files        map[string]string
		hold1, hold2 bool
	}{
		// apply --hardware-keys-only --require-verify with a FIDO key
		// (verify-required): the policy says which keys log in, not what
		// they may do, so the labs (plain keys) prove both layers.
		{"hardware-keys-only account", map[string]string{dropDir + "20-pfwd-only.conf": string(hwFiles[1].Data), keysFile: skKeyLine(t)}, true, true},
		{"good setup", nil, true, true},
		{"keys without options (layer 2 only)", map[string]string{keysFile: keyBlob + " bare\n"}, false, true},
		{"no Match User block (layer 1 only)", map[string]string{dropDir + "20-pfwd-only.conf": ""}, true, false},
		// apply --ca: certificates log in under the principals line's
		// options, so a principals line without the prefix breaks layer 1.
		{"CA principals line with the prefix", map[string]string{ca.TrustedCAPath("pfwd"): keyBlob + " ca\n", ca.PrincipalsPath("pfwd"): `restrict,port-forwarding,permitopen="127.0.0.1:8009" pfwd` + "\n"}, true, true},
		{"CA principals line without the prefix (layer 2 only)", map[string]string{ca.TrustedCAPath("pfwd"): keyBlob + " ca\n", ca.PrincipalsPath("pfwd"): "pfwd\n"}, false, true},
		{"Match block opens every target (layer 1 only)", map[string]string{dropDir + "20-pfwd-only.conf": "Match User pfwd\n    AllowTcpForwarding yes\n    PermitOpen any\nMatch all\n"}, true, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := render.DefaultParams()
			root := tree(t, p, tc.files, nil)
			rep, err := Run(context.Background(), Options{Root: root, Runner: run.Exec{}, SshdBin: sshd, Params: p, Layers: true})
			if err != nil {
				t.Fatal(err)
			}
			if rep.Layers == nil || len(rep.Layers.Layers) != 2 {
				t.Fatalf("no layer report: %+v", rep.Layers)
			}
			l1, l2 := rep.Layers.Layers[0], rep.Layers.Layers[1]
			if l1.Holds != tc.hold1 || l2.Holds != tc.hold2 {
				t.Errorf("layer 1 holds = %v (%s), layer 2 holds = %v (%s); want %v, %v", l1.Holds, l1.Detail, l2.Holds, l2.Detail, tc.hold1, tc.hold2)
			}
			if want := tc.hold1 && tc.hold2; hasID(rep, "layer.key-options") && rep.Passed && !want {
				t.Errorf("report passed with a missing layer")
			}
		})
	}
}

// A lab that cannot start proves nothing either way: the layers are "not
// tested", never "does not hold" (issue 14: a lab sshd that failed to
// start was reported as a layer that does not hold).
func TestLayersUnprovenWhenTheLabCannotStart(t *testing.T) {
	t.Parallel()
	testenv.Root(t)
	sshd := testenv.Sshd(t)
	p := render.DefaultParams()
	base := mustRender(t)["10-hardening.conf"]
	// Valid for sshd -T, but the lab on 127.0.0.1 cannot bind.
	root := tree(t, p, map[string]string{dropDir + "10-hardening.conf": base + "AddressFamily inet6\n"}, nil)
	rep, err := Run(context.Background(), Options{Root: root, Runner: run.Exec{}, SshdBin: sshd, Params: p, Layers: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range rep.Layers.Layers {
		if !l.Unproven || l.Holds || !strings.Contains(l.Detail, "not tested") {
			t.Errorf("%s: unproven=%v holds=%v %q", l.Name, l.Unproven, l.Holds, l.Detail)
		}
	}
	if rep.Passed {
		t.Error("a layer proof that never ran passed")
	}
}
