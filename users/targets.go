package users

import (
	"slices"
	"strings"

	"github.com/pfwdctl/pfwdctl/internal/fail"
	"github.com/pfwdctl/pfwdctl/internal/sshd"
	"github.com/pfwdctl/pfwdctl/internal/target"
	"github.com/pfwdctl/pfwdctl/render"
)

// InstalledTargets reads the PermitOpen targets of the "Match User account"
// block in the installed drop-in (render.InstalledTargets). found is false
// when there is no drop-in or no block for the account.
func (h Host) InstalledTargets(account string) (targets []string, found bool, err error) {
	cfg := h.SshdConfig
	if cfg == "" {
		cfg = sshd.DefaultConfig
	}
	return render.InstalledTargets(h.Root, cfg, account)
}

// ResolveTargets decides the key's permitopen targets. The installed Match
// block is the one source of truth: --target may only repeat it, and is
// needed only when no block is installed.
func (h Host) ResolveTargets(account string, flagTargets []string) ([]string, error) {
	given, err := target.ParseList(flagTargets)
	if err != nil {
		return nil, err
	}
	var want []string
	for _, t := range given {
		want = append(want, t.String())
	}
	inst, found, err := h.InstalledTargets(account)
	if err != nil {
		return nil, err
	}
	if !found || len(inst) == 0 {
		if len(want) == 0 {
			return nil, fail.New(fail.Failed,
				"install it first (pfwdctl apply --user "+account+"), or name the target with --target host:port",
				"no Match User %s block with PermitOpen in %s, so the key's targets are unknown", account, h.DropInPath(account))
		}
		return want, nil
	}
	if len(want) > 0 {
		a, b := slices.Clone(want), slices.Clone(inst)
		slices.Sort(a)
		slices.Sort(b)
		if !slices.Equal(a, b) {
			return nil, fail.New(fail.Failed,
				"drop --target to use the installed targets, or change the Match block first: pfwdctl apply --user "+account+" --target ...",
				"--target %s disagrees with PermitOpen %s in %s", strings.Join(want, " "), strings.Join(inst, " "), h.DropInPath(account))
		}
	}
	for _, t := range inst {
		if _, err := target.Parse(t); err != nil {
			return nil, fail.Wrap(fail.Failed, err, "re-install the drop-in with pfwdctl apply", "PermitOpen %s in %s", t, h.DropInPath(account))
		}
	}
	return inst, nil
}
