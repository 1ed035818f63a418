package jit

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/pfwdctl/pfwdctl/internal/accounts"
	"github.com/pfwdctl/pfwdctl/internal/fail"
	"github.com/pfwdctl/pfwdctl/internal/hostfs"
)

// Settings are the host's JIT settings, written by apply --jit-group.
type Settings struct {
	// Group is the operators' group: its members may file requests.
	Group string `json:"group"`
	// AllowSelfApprove lets an approver approve their own request
	// (apply --allow-self-approve); off, approval takes two people.
	AllowSelfApprove bool `json:"allow_self_approve"`
	// TTLSeconds is how long a pending request can be approved; 0 is
	// DefaultTTL.
	TTLSeconds int64 `json:"ttl_seconds,omitempty"`
}

// TTL is the time-to-live of a pending request.
func (s Settings) TTL() time.Duration {
	if s.TTLSeconds <= 0 {
		return DefaultTTL
	}
	return time.Duration(s.TTLSeconds) * time.Second
}

// LoadSettings reads the settings; none (never set up) are the defaults:
// no group, two people, DefaultTTL. A settings file someone other than
// root could have written is refused: it could allow self-approval.
func LoadSettings(root hostfs.Root) (Settings, error) {
	var s Settings
	p := root.Path(SettingsPath)
	fi, err := os.Lstat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return s, fail.Wrap(fail.Failed, err, "", "read %s", SettingsPath)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); !fi.Mode().IsRegular() || !ok || st.Uid != 0 || fi.Mode().Perm()&0o022 != 0 {
		return s, fail.New(fail.Failed, "run pfwdctl apply --jit-group GROUP again to rewrite it",
			"refusing %s: not a root-owned regular file writable by root only", SettingsPath)
	}
	if err := readJSONFile(p, &s, 64<<10); err != nil {
		return s, fail.Wrap(fail.Failed, err, "run pfwdctl apply --jit-group GROUP again to rewrite it", "read %s", SettingsPath)
	}
	return s, nil
}

// GroupID is the gid of group under root; an unknown group is a usage
// error that says how to make it.
func GroupID(root hostfs.Root, group string) (int, error) { return groupID(root, group) }

// groupID is the gid of group under root.
func groupID(root hostfs.Root, group string) (int, error) {
	gs, err := accounts.ReadGroups(root)
	if err != nil {
		return 0, fail.Wrap(fail.Failed, err, "", "read /etc/group")
	}
	for _, g := range gs {
		if g.Name == group && g.GID >= 0 {
			return g.GID, nil
		}
	}
	return 0, fail.New(fail.Usage, "create it first (groupadd "+group+") and add the operators to it (usermod -aG "+group+" NAME)",
		"no group %q", group)
}

// dataGID is the group the decisions are readable by: the JIT group's, or
// root's when none is set up.
func dataGID(root hostfs.Root) int {
	s, err := LoadSettings(root)
	if err != nil || s.Group == "" {
		return 0
	}
	gid, err := groupID(root, s.Group)
	if err != nil {
		return 0
	}
	return gid
}

// SetupResult says what Setup made.
type SetupResult struct {
	Settings Settings `json:"settings"`
	GID      int      `json:"gid"`
	Spool    string   `json:"spool"`
	Changed  bool     `json:"changed"`
}

// Setup makes the JIT files for s: the spool (root:GROUP 3770: members
// create requests; the sticky bit stops one operator deleting or
// replacing another's; setgid gives each file the group), the decisions
// (root:GROUP 0750), the certificates (root 0700), the hooks directory
// (root 0755) and the settings file (root 0644). Existing directories get
// their owner and mode put right.
func Setup(root hostfs.Root, s Settings) (SetupResult, error) {
	res := SetupResult{Settings: s, Spool: SpoolDir}
	if err := accounts.ValidateName(s.Group); err != nil && s.Group != "root" {
		return res, fail.New(fail.Usage, "give the operators' group, e.g. --jit-group pfwd-operators", "invalid --jit-group %q", s.Group)
	}
	gid, err := groupID(root, s.Group)
	if err != nil {
		return res, err
	}
	res.GID = gid
	old, _ := LoadSettings(root)
	for _, d := range []struct {
		path string
		gid  int
		mode fs.FileMode
	}{
		{StateDir, 0, 0o755},
		{SpoolDir, gid, 0o770 | fs.ModeSetgid | fs.ModeSticky},
		{DecisionsDir, gid, 0o750},
		{CertDir, 0, 0o700},
		{filepath.Dir(SettingsPath), 0, 0o755},
		{HooksDir, 0, 0o755},
	} {
		changed, err := ensureDir(root.Path(d.path), d.gid, d.mode)
		if err != nil {
			return res, fail.Wrap(fail.Failed, err, "", "set up %s", d.path)
		}
		res.Changed = res.Changed || changed
	}
	if old != s {
		data, _ := marshal(s)
		if err := hostfs.WriteFile(root.Path(SettingsPath), data, 0o644, hostfs.RootOwner); err != nil {
			return res, fail.Wrap(fail.Failed, err, "", "write %s", SettingsPath)
		}
		res.Changed = true
	}
	return res, nil
}

// ensureDir makes p a root-owned directory with group gid and mode,
// refusing a symlink in its place.
func ensureDir(p string, gid int, mode fs.FileMode) (bool, error) {
	changed := false
	fi, err := os.Lstat(p)
	if errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return false, err
		}
		if err := os.Mkdir(p, 0o700); err != nil {
			return false, err
		}
		changed = true
		if fi, err = os.Lstat(p); err != nil {
			return false, err
		}
	} else if err != nil {
		return false, err
	}
	if !fi.IsDir() {
		return false, &fs.PathError{Op: "setup", Path: p, Err: errors.New("not a directory (pfwdctl does not follow symlinks here)")}
	}
	st, _ := fi.Sys().(*syscall.Stat_t)
	if st == nil || st.Uid != 0 || int(st.Gid) != gid {
		if err := os.Lchown(p, 0, gid); err != nil {
			return false, err
		}
		changed = true
	}
	want := mode.Perm() | mode&(fs.ModeSetgid|fs.ModeSticky)
	have := fi.Mode().Perm() | fi.Mode()&(fs.ModeSetgid|fs.ModeSticky)
	if have != want || changed {
		if err := os.Chmod(p, mode); err != nil {
			return false, err
		}
		changed = changed || have != want
	}
	return changed, nil
}
