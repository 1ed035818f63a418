package users

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/pfwdctl/pfwdctl/internal/accounts"
	"github.com/pfwdctl/pfwdctl/internal/auditlog"
	"github.com/pfwdctl/pfwdctl/internal/fail"
	"github.com/pfwdctl/pfwdctl/internal/hostfs"
	"github.com/pfwdctl/pfwdctl/internal/run"
	"github.com/pfwdctl/pfwdctl/render"
	"github.com/pfwdctl/pfwdctl/users/keyline"
)

// LockedPassword is the shadow password field pfwdctl gives the account:
// no password can match it, passwd -S reports it as L, and, unlike "!",
// sshd still accepts keys for it with UsePAM no (SSHD-NOTES 6). That is why
// pfwdctl sets it with usermod --password '*' rather than passwd -l or
// usermod -L, which both prepend "!".
const LockedPassword = "*"

// AccountComment is the GECOS field of accounts pfwdctl creates.
const AccountComment = "pfwdctl port-forward account"

// CreateRequest asks for a locked, nologin, forward-only account.
type CreateRequest struct {
	User string
	// Home for a new account; empty: /home/USER.
	Home string
	// Fix repairs an existing account's shell, password field and home.
	Fix bool
	// Adopt is needed as well when the account looks like a person's.
	Adopt bool
}

// CreateResult says what user create found and did.
type CreateResult struct {
	Changed  bool     `json:"changed"`
	Action   string   `json:"action"` // created, fixed, ok
	Account  Account  `json:"account"`
	Problems []string `json:"problems,omitempty"` // found before any fix
	Done     []string `json:"done,omitempty"`     // commands run
	Checks   []string `json:"checks"`             // what was verified afterwards
	Warnings []string `json:"warnings,omitempty"`
}

// NologinShell is the distribution's nologin under the root.
func (h Host) NologinShell() string {
	for _, p := range []string{"/usr/sbin/nologin", "/sbin/nologin"} {
		if fi, err := h.Root.Stat(p); err == nil && !fi.IsDir() {
			return p
		}
	}
	return render.DefaultNologin
}

// prefix is useradd's and usermod's --prefix for a --root tree.
func (h Host) prefix() []string {
	if h.Root.IsHost() {
		return nil
	}
	return []string{"--prefix", h.Root.Dir()}
}

func (h Host) tool(ctx context.Context, name string, args ...string) error {
	_, stderr, err := h.runner().Run(ctx, name, args...)
	if err != nil {
		msg := strings.TrimSpace(string(stderr))
		if errors.Is(err, run.ErrExit) || msg != "" {
			return fail.New(fail.Failed, "", "%s failed: %s", run.Line(name, args...), firstNonEmpty(msg, err.Error()))
		}
		return fail.Wrap(fail.Unavailable, err, "install the passwd package (useradd, usermod)", "run %s", name)
	}
	return nil
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// problems lists what keeps an existing account from being forward-only,
// and whether it looks like a person's.
func (h Host) problems(a Account) (probs []string, person bool, why string) {
	if !a.NoLogin() {
		probs = append(probs, fmt.Sprintf("the shell is %s, not a nologin shell", a.Shell))
	}
	switch {
	case !a.HasShadow:
		probs = append(probs, "no entry in /etc/shadow")
	case a.Password == LockedPassword:
	case a.PasswordUsable():
		probs = append(probs, "the password is usable (it must be \"*\")")
	default:
		probs = append(probs, fmt.Sprintf("the password field starts with %q: locked, but sshd with UsePAM no refuses even keys for it (it must be \"*\")", a.Password[:1]))
	}
	fi, err := h.Root.Stat(a.Home)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		probs = append(probs, fmt.Sprintf("the home %s does not exist", a.Home))
	case err == nil && !fi.IsDir():
		probs = append(probs, fmt.Sprintf("the home %s is not a directory", a.Home))
	case err == nil && fi.Mode().Perm()&0o022 != 0:
		probs = append(probs, fmt.Sprintf("the home %s is group- or world-writable (sshd's StrictModes ignores its keys)", a.Home))
	}
	signs := h.personSigns(a)
	if err == nil {
		if kf, err := h.readKeys(a); err == nil {
			kf.Close()
			n, zone, now := 0, h.systemZone(), h.now()
			for _, e := range kf.Entries() {
				if !h.describe(e, keyline.Match{Zone: zone}, now).Restricted {
					n++
				}
			}
			if n > 0 {
				signs = append(signs, fmt.Sprintf("it has %d key(s) without pfwdctl's restrict prefix", n))
			}
		}
	}
	if len(signs) > 0 {
		person, why = true, strings.Join(signs, "; ")
	}
	return probs, person, why
}

// CreateUser makes sure the account exists, locked with "*", with a nologin
// shell and a home. An existing correct account is left alone; one with
// problems is fixed only with Fix, and one that looks like a person's only
// with Fix and Adopt.
func (h Host) CreateUser(ctx context.Context, r CreateRequest) (res CreateResult, err error) {
	res = CreateResult{Account: Account{Name: r.User}}
	if err := accounts.ValidateName(r.User); err != nil {
		return res, err
	}
	unlock, err := h.lock()
	if err != nil {
		return res, err
	}
	defer unlock()
	// Every change is audited intent-first: before the first command that
	// changes the account, a line says what is about to run (no line, no
	// change); at the end one line says what was done, also when a later
	// step failed (useradd may have created the account before the check
	// after it refused). This runs before unlock, so audit lines never
	// interleave.
	var chg *auditlog.Change
	var intentAction string
	intent := func(action, what string) error {
		if chg != nil {
			return nil
		}
		intentAction = action
		c, err := h.begin(Event{Action: action, Account: r.User, Detail: "about to: " + what})
		chg = c
		return err
	}
	defer func() {
		if chg == nil {
			return
		}
		if len(res.Done) == 0 && err != nil && intentAction == ActionUserCreate {
			// useradd can fail after writing /etc/passwd (a home it could
			// not create, say): what exists now is the record, not what the
			// tool said.
			if _, lerr := accounts.Lookup(h.Root, r.User); lerr == nil {
				if aerr := chg.Done(Event{Action: ActionUserCreate, Account: r.User, Detail: "useradd failed, but the account exists now: " + err.Error()}); aerr != nil {
					res.Warnings = append(res.Warnings, "the audit log was not completed: "+aerr.Error())
				}
				return
			}
		}
		if len(res.Done) == 0 {
			cause := err
			if cause == nil {
				cause = fmt.Errorf("nothing needed changing")
			}
			if aerr := chg.Abort(cause); aerr != nil {
				res.Warnings = append(res.Warnings, "the audit log was not completed: "+aerr.Error())
			}
			return
		}
		action, detail := ActionUserFix, strings.Join(res.Done, "; ")
		if strings.HasPrefix(res.Done[0], "useradd ") {
			action = ActionUserCreate
		}
		if err != nil {
			detail += "; then failed: " + err.Error()
		}
		if aerr := chg.Done(Event{Action: action, Account: r.User, Detail: detail}); aerr != nil {
			res.Warnings = append(res.Warnings, "the change is made, but its completion was not written to the audit log: "+aerr.Error())
		}
	}()
	a, err := accounts.Lookup(h.Root, r.User)
	nologin := h.NologinShell()
	switch {
	case errors.Is(err, accounts.ErrNoAccount):
		home := r.Home
		if home == "" {
			home = "/home/" + r.User
		}
		if err := h.newHome(r.User, home); err != nil {
			return res, err
		}
		args := append(h.prefix(), "--system", "--create-home", "--home-dir", home, "--shell", nologin,
			"--password", LockedPassword, "--user-group", "--comment", AccountComment, r.User)
		if err := intent(ActionUserCreate, run.Line("useradd", args...)); err != nil {
			return res, err
		}
		if err := h.tool(ctx, "useradd", args...); err != nil {
			return res, err
		}
		res.Done = append(res.Done, run.Line("useradd", args...))
		res.Action = "created"
	case err != nil:
		return res, err
	default:
		if a.UID == 0 {
			return res, fail.New(fail.Failed, "pick a dedicated account such as pfwd", "refusing: %s has UID 0, it is root under another name", r.User)
		}
		// A home that is not the account's own is refused whatever the
		// flags: no --fix or --adopt makes /root a forward account's home.
		if fi, err := h.Root.Stat(a.Home); err == nil {
			if err := h.ownHome(a, fi); err != nil {
				return res, err
			}
		} else if err := checkHomePath(a.Home); err != nil {
			return res, err
		}
		probs, person, why := h.problems(a)
		res.Account, res.Problems = a, probs
		if len(probs) == 0 {
			res.Action = "ok"
			break
		}
		// The hint names only flags the next run accepts: a person's
		// account needs --adopt as well as --fix.
		if person && !r.Adopt {
			flags := "--fix --adopt"
			if r.Fix {
				flags = "--adopt as well"
			}
			return res, fail.New(fail.Failed,
				"pick another --user (pfwdctl user create --user pfwd); only if this account is meant to lose its logins, run again with "+flags,
				"account %s exists but is not forward-only (%s), and it looks like a person's (%s): making it forward-only would lock them out",
				r.User, strings.Join(probs, "; "), why)
		}
		if !r.Fix {
			flags := "--fix"
			if r.Adopt {
				flags = "--fix --adopt"
			}
			return res, fail.New(fail.Failed, "run again with --fix to repair it (pfwdctl user create "+flags+" --user "+r.User+")",
				"account %s exists but is not forward-only: %s", r.User, strings.Join(probs, "; "))
		}
		if err := intent(ActionUserFix, "repair "+r.User+": "+strings.Join(probs, "; ")); err != nil {
			return res, err
		}
		if !a.NoLogin() {
			args := append(h.prefix(), "--shell", nologin, r.User)
			if err := h.tool(ctx, "usermod", args...); err != nil {
				return res, err
			}
			res.Done = append(res.Done, run.Line("usermod", args...))
		}
		if a.HasShadow && a.Password != LockedPassword {
			args := append(h.prefix(), "--password", LockedPassword, r.User)
			if err := h.tool(ctx, "usermod", args...); err != nil {
				return res, err
			}
			res.Done = append(res.Done, run.Line("usermod", args...))
		}
		if err := h.fixHome(a, &res); err != nil {
			return res, err
		}
		res.Action = "fixed"
		if person {
			res.Warnings = append(res.Warnings, "adopted: keys without the restrict prefix are still installed; see pfwdctl list-keys and revoke them")
		}
	}
	if res.Action != "ok" {
		res.Changed = true
	}
	// Check the result the way the guide does, whatever the tools said.
	a, err = accounts.Lookup(h.Root, r.User)
	if err != nil {
		return res, fail.Wrap(fail.Failed, err, "", "account %s after %s", r.User, res.Action)
	}
	res.Account = a
	if probs, _, _ := h.problems(a); len(probs) > 0 {
		return res, fail.New(fail.Failed, "", "account %s is still not forward-only: %s", r.User, strings.Join(probs, "; "))
	}
	res.Checks = append(res.Checks, "password field is \"*\" (locked, no password)", "shell is "+a.Shell, "home "+a.Home+" exists")
	if h.Root.IsHost() {
		out, _, err := h.runner().Run(ctx, "passwd", "-S", r.User)
		f := strings.Fields(string(out))
		if err != nil || len(f) < 2 || f[1] != "L" {
			return res, fail.New(fail.Failed, "", "passwd -S %s does not report the account as locked (L): %s", r.User, strings.TrimSpace(string(out)))
		}
		res.Checks = append(res.Checks, "passwd -S reports L (locked)")
	}
	return res, nil
}

// fixHome creates a missing home (0755, owned by the account) or takes
// group and world write off it; neither touches /etc/passwd.
func (h Host) fixHome(a Account, res *CreateResult) error {
	p := h.Root.Path(a.Home)
	fi, err := os.Stat(p)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return fail.Wrap(fail.Failed, err, "", "create %s", filepath.Dir(a.Home))
		}
		if err := os.Mkdir(p, 0o755); err != nil {
			return fail.Wrap(fail.Failed, err, "", "create %s", a.Home)
		}
		if err := os.Chown(p, a.UID, a.GID); err != nil && !(errors.Is(err, syscall.EPERM) && hostfs.Euid() != 0) {
			return fail.Wrap(fail.Failed, err, "", "chown %s", a.Home)
		}
		os.Chmod(p, 0o755)
		res.Done = append(res.Done, fmt.Sprintf("mkdir -m 755 %s && chown %d:%d %s", a.Home, a.UID, a.GID, a.Home))
	case err != nil:
		return fail.Wrap(fail.Failed, err, "", "check %s", a.Home)
	case fi.IsDir() && fi.Mode().Perm()&0o022 != 0:
		if err := os.Chmod(p, fi.Mode().Perm()&^0o022); err != nil {
			return fail.Wrap(fail.Failed, err, "", "chmod go-w %s", a.Home)
		}
		res.Done = append(res.Done, "chmod go-w "+a.Home)
	}
	return nil
}
