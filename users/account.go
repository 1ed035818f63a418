package users

import (
	"bufio"
	"bytes"
	"errors"
	"io/fs"
	"os"
	"strconv"
	"strings"

	"github.com/pfwdctl/pfwdctl/internal/fail"
	"github.com/pfwdctl/pfwdctl/internal/hostfs"
	"github.com/pfwdctl/pfwdctl/render"
)

// Account is an /etc/passwd entry with its shadow password field.
type Account struct {
	Name  string `json:"name"`
	UID   int    `json:"uid"`
	GID   int    `json:"gid"`
	Home  string `json:"home"`
	Shell string `json:"shell"`
	// Password is the shadow password field ("*", "!", "!*", a hash, ""),
	// never printed; HasShadow is false when shadow has no entry.
	Password  string `json:"-"`
	HasShadow bool   `json:"-"`
}

// ErrNoAccount means the account is not in /etc/passwd.
var ErrNoAccount = errors.New("no such account")

// LookupAccount reads the account from /etc/passwd and /etc/shadow under root.
func LookupAccount(root hostfs.Root, name string) (Account, error) {
	data, err := os.ReadFile(root.Path("/etc/passwd"))
	if err != nil {
		return Account{}, fail.Wrap(fail.Failed, err, "", "read /etc/passwd")
	}
	var a Account
	found := false
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Split(line, ":")
		if len(f) < 7 || f[0] != name {
			continue
		}
		uid, err1 := strconv.Atoi(f[2])
		gid, err2 := strconv.Atoi(f[3])
		if err1 != nil || err2 != nil {
			return Account{}, fail.New(fail.Failed, "", "/etc/passwd: entry for %s has a non-numeric uid or gid", name)
		}
		a, found = Account{Name: name, UID: uid, GID: gid, Home: f[5], Shell: f[6]}, true
		break
	}
	if !found {
		return Account{}, ErrNoAccount
	}
	sh, err := os.ReadFile(root.Path("/etc/shadow"))
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
func (a Account) NoLogin() bool { return render.NoLoginShell(a.Shell) }

// account looks name up and refuses root, UID 0 and unknown accounts.
func (h Host) account(name string) (Account, error) {
	if err := render.ValidateUser(name); err != nil {
		return Account{}, err
	}
	a, err := LookupAccount(h.Root, name)
	if errors.Is(err, ErrNoAccount) {
		return a, fail.New(fail.Failed, "create it first: pfwdctl user create --user "+name, "no account %s in /etc/passwd", name)
	}
	if err != nil {
		return a, err
	}
	if a.UID == 0 {
		return a, fail.New(fail.Failed, "pick a dedicated account such as pfwd", "refusing: %s has UID 0, it is root under another name", name)
	}
	return a, nil
}
