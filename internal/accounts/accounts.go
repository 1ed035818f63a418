// Package accounts is pfwdctl's one reader of the account databases:
// /etc/passwd, /etc/shadow and /etc/group, parsed here and nowhere else,
// under a hostfs.Root. It also holds the rules about accounts that every
// command shares: which names pfwdctl accepts (ValidateName), which shells
// refuse logins (NoLoginShell), and what a shadow password field allows.
//
// It never writes any of those files (users changes accounts with the
// system's own tools), never returns a password field in JSON, and reads
// nothing outside the root it is given.
package accounts

import (
	"bufio"
	"bytes"
	"errors"
	"io/fs"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/pfwdctl/pfwdctl/internal/fail"
	"github.com/pfwdctl/pfwdctl/internal/hostfs"
)

// DefaultUser is the seed guide's port-forward-only account, and
// DefaultNologin its shell (and ForceCommand).
const (
	DefaultUser    = "pfwd"
	DefaultNologin = "/usr/sbin/nologin"
)

// Account is an /etc/passwd entry, with its shadow password field when
// Lookup read it.
type Account struct {
	Name  string `json:"name"`
	UID   int    `json:"uid"`
	GID   int    `json:"gid"`
	Home  string `json:"home"`
	Shell string `json:"shell"`
	// Comment is the GECOS field (pfwdctl's accounts carry
	// users.AccountComment).
	Comment string `json:"comment,omitempty"`
	// Password is the shadow password field ("*", "!", "!*", a hash, ""),
	// never printed; HasShadow is false when shadow has no entry.
	Password  string `json:"-"`
	HasShadow bool   `json:"-"`
}

// ErrNoAccount means the account is not in /etc/passwd.
var ErrNoAccount = errors.New("no such account")

// entry is one passwd line; ok is false when its uid or gid is not a number.
type entry struct {
	Account
	ok bool
}

// parsePasswd reads passwd(5) lines: name:password:uid:gid:gecos:home:shell.
// Comments and lines with fewer than seven fields are skipped.
func parsePasswd(data []byte) ([]entry, error) {
	var out []entry
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := strings.Split(sc.Text(), ":")
		if len(f) < 7 || strings.HasPrefix(f[0], "#") {
			continue
		}
		uid, err1 := strconv.Atoi(f[2])
		gid, err2 := strconv.Atoi(f[3])
		out = append(out, entry{Account{Name: f[0], UID: uid, GID: gid, Comment: f[4], Home: f[5], Shell: f[6]}, err1 == nil && err2 == nil})
	}
	return out, sc.Err()
}

func readPasswd(root hostfs.Root) ([]entry, error) {
	data, err := root.ReadFile("/etc/passwd")
	if err != nil {
		return nil, err
	}
	return parsePasswd(data)
}

// ReadPasswd returns every well-formed /etc/passwd entry under root, in
// file order, without shadow fields.
func ReadPasswd(root hostfs.Root) ([]Account, error) {
	entries, err := readPasswd(root)
	if err != nil {
		return nil, err
	}
	var out []Account
	for _, e := range entries {
		if e.ok {
			out = append(out, e.Account)
		}
	}
	return out, nil
}

// LookupPasswd returns name's /etc/passwd entry under root, without its
// shadow field (which only root may read). ErrNoAccount when there is none.
func LookupPasswd(root hostfs.Root, name string) (Account, error) {
	entries, err := readPasswd(root)
	if err != nil {
		return Account{}, fail.Wrap(fail.Failed, err, "", "read /etc/passwd")
	}
	for _, e := range entries {
		if e.Name != name {
			continue
		}
		if !e.ok {
			return Account{}, fail.New(fail.Failed, "", "/etc/passwd: entry for %s has a non-numeric uid or gid", name)
		}
		return e.Account, nil
	}
	return Account{}, ErrNoAccount
}

// Lookup returns name's /etc/passwd entry and its /etc/shadow password
// field under root. A missing /etc/shadow leaves HasShadow false.
func Lookup(root hostfs.Root, name string) (Account, error) {
	a, err := LookupPasswd(root, name)
	if err != nil {
		return a, err
	}
	sh, err := root.ReadFile("/etc/shadow")
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return a, fail.Wrap(fail.Failed, err, "run pfwdctl as root", "read /etc/shadow")
	}
	sc := bufio.NewScanner(bytes.NewReader(sh))
	for sc.Scan() {
		f := strings.Split(sc.Text(), ":")
		if len(f) >= 2 && f[0] == name {
			a.Password, a.HasShadow = f[1], true
			break
		}
	}
	return a, nil
}

// Locked reports whether the password field is the form pfwdctl wants: "*",
// no password at all. "!..." is locked too, but with UsePAM no sshd refuses
// such an account even for keys (SSHD-NOTES 6).
func (a Account) Locked() bool { return a.HasShadow && a.Password == "*" }

// PasswordUsable reports whether someone could log in with a password.
func (a Account) PasswordUsable() bool {
	if !a.HasShadow {
		return false // "x" in passwd and no shadow entry: no password
	}
	return !strings.HasPrefix(a.Password, "!") && !strings.HasPrefix(a.Password, "*")
}

// NoLogin reports whether the shell refuses interactive logins.
func (a Account) NoLogin() bool { return NoLoginShell(a.Shell) }

// NoLoginShell reports whether a shell refuses interactive logins. An
// empty shell field is not one: sshd (and login) run /bin/sh for it.
func NoLoginShell(shell string) bool {
	return shell != "" && slices.Contains([]string{"nologin", "false", "sync", "halt", "shutdown"}, filepath.Base(shell))
}

// Group is one /etc/group entry.
type Group struct {
	Name    string
	GID     int
	Members []string // the supplementary members listed in the file
}

// ReadGroups returns every /etc/group entry under root, in file order.
// Lines with fewer than four fields are skipped; a non-numeric gid reads
// as -1, which matches no account's primary group.
func ReadGroups(root hostfs.Root) ([]Group, error) {
	data, err := root.ReadFile("/etc/group")
	if err != nil {
		return nil, err
	}
	var out []Group
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Split(line, ":")
		if len(f) < 4 {
			continue
		}
		gid, err := strconv.Atoi(f[2])
		if err != nil {
			gid = -1
		}
		g := Group{Name: f[0], GID: gid}
		if f[3] != "" {
			g.Members = strings.Split(f[3], ",")
		}
		out = append(out, g)
	}
	return out, nil
}

// nameRE is the portable POSIX account name (useradd's default check, also
// safe inside "Match User" where *, ?, ! and , are pattern syntax).
var nameRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z_][a-z0-9_-]{0,31}$`) })

// ValidateName refuses names that are not plain POSIX account names, and
// root: the forward-only account must never be the admin's.
func ValidateName(u string) error {
	if !nameRE().MatchString(u) {
		return fail.New(fail.Usage,
			"use a lowercase account name: a letter or _, then letters, digits, _ or -, at most 32 characters",
			"invalid account name %q", u)
	}
	if u == "root" {
		return fail.New(fail.Usage, "pick a dedicated account such as pfwd", "refusing to restrict root")
	}
	return nil
}

// AdminGroups are the groups distributions give sudo to: sudo on Debian
// and Ubuntu, wheel on RHEL and Arch, admin on old Ubuntu. An account in
// one of them (or uid 0) is an administrator's; nothing else is called
// "sudo-capable".
var AdminGroups = []string{"sudo", "wheel", "admin"}

// GroupsOf returns the names of the groups a is in: its primary group
// (by gid) and every group that lists it as a member, in file order.
func GroupsOf(a Account, groups []Group) []string {
	var out []string
	for _, g := range groups {
		if g.GID == a.GID || slices.Contains(g.Members, a.Name) {
			out = append(out, g.Name)
		}
	}
	return out
}

// AdminGroupsOf returns the AdminGroups a is in.
func AdminGroupsOf(a Account, groups []Group) []string {
	var out []string
	for _, n := range GroupsOf(a, groups) {
		if slices.Contains(AdminGroups, n) {
			out = append(out, n)
		}
	}
	return out
}

// SharesHome returns the accounts other than except whose home is home.
func SharesHome(root hostfs.Root, home, except string) []string {
	accts, err := ReadPasswd(root)
	if err != nil {
		return nil
	}
	var out []string
	for _, a := range accts {
		if a.Name != except && a.Home != "" && filepath.Clean(a.Home) == filepath.Clean(home) {
			out = append(out, a.Name)
		}
	}
	return out
}
