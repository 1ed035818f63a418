package render

import (
	"path/filepath"
	"sort"
	"strings"

	"github.com/pfwdctl/pfwdctl/internal/fail"
	"github.com/pfwdctl/pfwdctl/internal/hostfs"
	"github.com/pfwdctl/pfwdctl/internal/sshd"
	"github.com/pfwdctl/pfwdctl/internal/sshdconf"
	"github.com/pfwdctl/pfwdctl/templates"
)

// managedHeader starts every file pfwdctl renders.
const managedHeader = "# Managed by pfwdctl"

// InstalledTargets reads the PermitOpen targets of the "Match User account"
// block in the account's installed drop-in (templates.ForwardFile) next to
// mainConfig. found is false when there is no drop-in or no block for the
// account. The installed block is the source of truth for an account's
// targets: apply without --target keeps them, and add-key writes them into
// each key.
func InstalledTargets(root hostfs.Root, mainConfig, account string) (targets []string, found bool, err error) {
	b, found, err := installedBlock(root, mainConfig, account)
	if err != nil || !found {
		return nil, false, err
	}
	return append(targets, b.targets...), true, nil
}

// installedBlock is the account's "Match User account" block in its
// installed drop-in (or managed block); found is false when there is none.
func installedBlock(root hostfs.Root, mainConfig, account string) (b matchBlock, found bool, err error) {
	l, err := ReadLayout(root, mainConfig)
	if err != nil {
		return b, false, err
	}
	name := templates.ForwardFile(account)
	data, ok, err := l.Read(name)
	if err != nil || !ok {
		return b, false, err
	}
	blocks, err := matchBlocks(data)
	if err != nil {
		return b, false, fail.Wrap(fail.Failed, err, "re-install it with pfwdctl apply", "read %s", l.At(name))
	}
	for _, b := range blocks {
		if b.account == account {
			return b, true, nil
		}
	}
	return b, false, nil
}

// Account is one forward-only account pfwdctl manages on a host: its
// drop-in (or managed block) and the targets of its Match block.
type Account struct {
	User    string   `json:"user"`
	File    string   `json:"file"` // host path
	Targets []string `json:"targets"`
}

// InstalledAccounts lists the forward-only accounts whose Match drop-in
// (or managed block) pfwdctl installed for mainConfig, sorted by name. A
// drop-in whose Match block names another account than its file name (an
// older pfwdctl wrote every account into 20-pfwd-only.conf) is an error
// with the fix: two files for one account would disagree.
func InstalledAccounts(root hostfs.Root, mainConfig string) ([]Account, error) {
	l, err := ReadLayout(root, mainConfig)
	if err != nil {
		return nil, err
	}
	names, err := l.Names()
	if err != nil {
		return nil, err
	}
	var out []Account
	for _, name := range names {
		want, ok := templates.ForwardAccount(name)
		if !ok {
			continue
		}
		data, _, err := l.Read(name)
		if err != nil {
			return nil, err
		}
		if !strings.HasPrefix(string(data), managedHeader) {
			continue // not ours
		}
		blocks, err := matchBlocks(data)
		if err != nil {
			return nil, fail.Wrap(fail.Failed, err, "re-install it with pfwdctl apply", "read %s", l.At(name))
		}
		for _, b := range blocks {
			if b.account != want {
				return nil, misplaced(l.Path(name), b.account)
			}
			out = append(out, Account{User: b.account, File: l.Path(name), Targets: b.targets})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].User < out[j].User })
	return out, nil
}

// misplaced is the error for a Match block in another account's file.
func misplaced(path, account string) error {
	return fail.New(fail.Failed,
		"move the block to its own file, check it, then run pfwdctl again:\n    mv "+path+" "+filepath.Join(filepath.Dir(path), templates.ForwardFile(account))+"\n    sshd -t",
		"%s holds the Match block of %s (written by an older pfwdctl, which kept one file for every account)", path, account)
}

// CheckPlacement refuses when an installed pfwdctl drop-in holds account's
// Match block under another file name: applying would install a second
// block for the same account.
func CheckPlacement(root hostfs.Root, mainConfig string) error {
	_, err := InstalledAccounts(root, mainConfig)
	return err
}

type matchBlock struct {
	account string
	targets []string
	// algorithms and authOptions are the block's PubkeyAcceptedAlgorithms
	// (split at commas) and PubkeyAuthOptions (apply --hardware-keys-only).
	algorithms, authOptions []string
	// algKeyword is how the block spells the algorithms keyword.
	algKeyword string
}

// matchBlocks reads each single-account "Match User NAME" block and its
// PermitOpen.
func matchBlocks(data []byte) ([]matchBlock, error) {
	lines, err := sshdconf.Parse(data)
	if err != nil {
		return nil, err
	}
	var out []matchBlock
	in := -1
	for _, l := range lines {
		if l.Keyword == "match" {
			in = -1
			if len(l.Args) == 2 && strings.EqualFold(l.Args[0], "user") {
				out = append(out, matchBlock{account: l.Args[1]})
				in = len(out) - 1
			}
			continue
		}
		if in < 0 {
			continue
		}
		switch l.Keyword {
		case "permitopen":
			out[in].targets = append(out[in].targets, l.Args...)
		case "pubkeyacceptedalgorithms", "pubkeyacceptedkeytypes":
			out[in].algKeyword = AlgorithmsKeyword
			if l.Keyword == "pubkeyacceptedkeytypes" {
				out[in].algKeyword = OldAlgorithmsKeyword
			}
			for _, a := range l.Args {
				out[in].algorithms = append(out[in].algorithms, strings.Split(a, ",")...)
			}
		case "pubkeyauthoptions":
			out[in].authOptions = append(out[in].authOptions, l.Args...)
		}
	}
	return out, nil
}

// InstalledRootLogin is the PermitRootLogin value of the baseline pfwdctl
// installed (drop-in or managed block), when it is one apply writes; else
// "" (nothing installed, or a value pfwdctl did not write). A plain apply
// keeps it, as it keeps the targets and the CA: turning root's key logins
// off behind the admin's back could lock out a host run as root. audit
// judges the host against it.
func InstalledRootLogin(root hostfs.Root, mainConfig string) string {
	if mainConfig == "" {
		mainConfig = sshd.DefaultConfig
	}
	l, err := ReadLayout(root, mainConfig)
	if err != nil {
		return ""
	}
	data, found, err := l.Read(templates.Hardening)
	if err != nil || !found || !strings.HasPrefix(string(data), managedHeader) {
		return ""
	}
	lines, err := sshdconf.Parse(data)
	if err != nil {
		return ""
	}
	for _, ln := range lines {
		if ln.Keyword == "permitrootlogin" && len(ln.Args) == 1 {
			switch v := strings.ToLower(ln.Args[0]); v {
			case RootLoginNo, RootLoginKeys:
				return v
			}
			return ""
		}
	}
	return ""
}
