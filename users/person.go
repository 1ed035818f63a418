package users

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/pfwdctl/pfwdctl/internal/accounts"
	"github.com/pfwdctl/pfwdctl/internal/fail"
	"github.com/pfwdctl/pfwdctl/internal/hostfs"
)

// DefaultUIDMin is login.defs' UID_MIN when the file does not set it: the
// first uid useradd gives a person (Debian, Ubuntu, RHEL).
const DefaultUIDMin = 1000

// uidMin reads UID_MIN from login.defs under the root.
func (h Host) uidMin() int {
	data, err := h.Root.ReadFile("/etc/login.defs")
	if err != nil {
		return DefaultUIDMin
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 2 && f[0] == "UID_MIN" {
			if n, err := strconv.Atoi(f[1]); err == nil {
				return n
			}
		}
	}
	return DefaultUIDMin
}

// adminGroupsOf lists the sudo/wheel/admin groups the account is in, as a
// supplementary member or by its primary gid.
func (h Host) adminGroupsOf(a Account) []string {
	groups, err := accounts.ReadGroups(h.Root)
	if err != nil {
		return nil
	}
	return accounts.AdminGroupsOf(a, groups)
}

// homeOwners lists the other accounts whose home is home.
func (h Host) homeOwners(home, except string) []string {
	return accounts.SharesHome(h.Root, home, except)
}

// personSigns says why an existing account looks like a person's rather
// than a forward-only one; empty when nothing does. Turning a person's
// account into a nologin one locks them out, so each sign needs --adopt.
func (h Host) personSigns(a Account) []string {
	var why []string
	if min := h.uidMin(); a.UID >= min {
		why = append(why, fmt.Sprintf("uid %d is at least UID_MIN %d, a person's range", a.UID, min))
	}
	if g := h.adminGroupsOf(a); len(g) > 0 {
		why = append(why, "it is in the "+strings.Join(g, ", ")+" group(s)")
	}
	if !a.NoLogin() {
		if a.PasswordUsable() {
			why = append(why, "it has a login shell and a usable password")
		} else if fi, err := h.Root.Stat(a.Home); err == nil && fi.IsDir() && a.Home != "/" {
			why = append(why, fmt.Sprintf("it has the login shell %s and the home %s", a.Shell, a.Home))
		}
	}
	// Other ways in that pfwdctl does not manage.
	for _, f := range []string{".ssh/authorized_keys2", ".ssh/rc", ".k5login", ".rhosts", ".shosts"} {
		if _, err := os.Lstat(h.Root.Path(filepath.Join(a.Home, f))); err == nil {
			why = append(why, "it has ~/"+f)
		}
	}
	return why
}

// checkHomePath refuses a home that is not a clean absolute path: a ".."
// in it (/home/../etc) means another directory than the one it names.
func checkHomePath(home string) error {
	if !filepath.IsAbs(home) || filepath.Clean(home) != home || home == "/" {
		return fail.New(fail.Usage, "give a plain absolute path such as /home/pfwd",
			"refusing the home %q: not a clean absolute path", home)
	}
	return nil
}

// newHome checks the --home of an account about to be created: it must
// not exist yet (an existing directory belongs to someone or something
// else, and add-key would later put keys there) nor be another account's.
func (h Host) newHome(user, home string) error {
	if err := checkHomePath(home); err != nil {
		return err
	}
	if o := h.homeOwners(home, user); len(o) > 0 {
		return fail.New(fail.Failed, "give the account its own home, e.g. --home /home/"+user,
			"refusing the home %s: it is the home of %s", home, strings.Join(o, ", "))
	}
	if _, err := os.Lstat(h.Root.Path(home)); err == nil {
		return fail.New(fail.Failed, "give the account a new directory, e.g. --home /home/"+user+" (useradd creates it)",
			"refusing the home %s: it already exists and is not %s's own", home, user)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fail.Wrap(fail.Failed, err, "", "check %s", home)
	}
	return nil
}

// ownHome refuses an existing account's home that is not its own: shared
// with another account, or owned by another uid. add-key would otherwise
// write (and chown) keys in someone else's directory, such as /root/.ssh.
// In a --root tree made by an unprivileged user, that user stands in.
func (h Host) ownHome(a Account, fi fs.FileInfo) error {
	if err := checkHomePath(a.Home); err != nil {
		return err
	}
	if o := h.homeOwners(a.Home, a.Name); len(o) > 0 {
		return fail.New(fail.Failed, "give "+a.Name+" its own home (usermod --home /home/"+a.Name+" --move-home "+a.Name+")",
			"refusing: the home %s of %s is also the home of %s", a.Home, a.Name, strings.Join(o, ", "))
	}
	uid := hostfs.OwnerOf(fi).UID
	if uid != a.UID && !(!h.Root.IsHost() && uid == hostfs.Euid()) {
		return fail.New(fail.Failed, "give "+a.Name+" its own home (usermod --home /home/"+a.Name+" --move-home "+a.Name+")",
			"refusing: the home %s of %s is owned by uid %d, not by %s", a.Home, a.Name, uid, a.Name)
	}
	return nil
}
