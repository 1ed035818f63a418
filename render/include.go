package render

import (
	"errors"
	"fmt"
	"path/filepath"

	"github.com/pfwdctl/pfwdctl/internal/fail"
	"github.com/pfwdctl/pfwdctl/internal/hostfs"
	"github.com/pfwdctl/pfwdctl/internal/sshdconf"
	"github.com/pfwdctl/pfwdctl/templates"
)

// ErrNoInclude is returned when sshd would never read the drop-ins.
var ErrNoInclude = errors.New("no Include")

// CheckInclude refuses when the main config has no global Include picking up
// the drop-in directory: the drop-ins would be silently ignored.
// names are the drop-ins to check (default: the baseline and the default
// account's Match block).
func CheckInclude(root hostfs.Root, mainConfig string, names ...string) error {
	dropDir := DropInDir(mainConfig)
	if len(names) == 0 {
		names = []string{templates.Hardening, templates.Forward}
	}
	for _, f := range names {
		_, ok, err := sshdconf.IncludesFile(root, mainConfig, filepath.Join(dropDir, f))
		if err != nil {
			return fail.Wrap(fail.Failed, err, "pass --sshd-config PATH if the main config lives elsewhere", "read %s", mainConfig)
		}
		if !ok {
			return &fail.Error{Kind: fail.Failed, Err: ErrNoInclude,
				Msg:  fmt.Sprintf("%s does not include %s/*.conf, so sshd would never read pfwdctl's drop-ins", mainConfig, dropDir),
				Hint: fmt.Sprintf("add this line at the top of %s (above any other directive, outside any Match block), then run pfwdctl again:\n    Include %s/*.conf", mainConfig, dropDir)}
		}
	}
	return nil
}

// DropInDir is the sshd_config.d directory next to the main config.
func DropInDir(mainConfig string) string {
	return filepath.Join(filepath.Dir(mainConfig), "sshd_config.d")
}
