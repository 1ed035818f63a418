package render

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/pfwdctl/pfwdctl/internal/fail"
	"github.com/pfwdctl/pfwdctl/internal/hostfs"
	"github.com/pfwdctl/pfwdctl/internal/sshdconf"
	"github.com/pfwdctl/pfwdctl/templates"
)

// InstalledTargets reads the PermitOpen targets of the "Match User account"
// block in the installed drop-in next to mainConfig. found is false when
// there is no drop-in or no block for the account. The installed block is
// the source of truth for an account's targets: apply without --target
// keeps them, and add-key writes them into each key.
func InstalledTargets(root hostfs.Root, mainConfig, account string) (targets []string, found bool, err error) {
	p := filepath.Join(DropInDir(mainConfig), templates.Forward)
	data, err := os.ReadFile(root.Path(p))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fail.Wrap(fail.Failed, err, "", "read %s", p)
	}
	lines, err := sshdconf.Parse(data)
	if err != nil {
		return nil, false, fail.Wrap(fail.Failed, err, "re-install it with pfwdctl apply", "read %s", p)
	}
	in := false
	for _, l := range lines {
		if l.Keyword == "match" {
			in = len(l.Args) == 2 && strings.EqualFold(l.Args[0], "user") && l.Args[1] == account
			found = found || in
			continue
		}
		if in && l.Keyword == "permitopen" {
			targets = append(targets, l.Args...)
		}
	}
	return targets, found, nil
}
