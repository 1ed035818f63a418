package users

import (
	"errors"

	"github.com/pfwdctl/pfwdctl/internal/accounts"
	"github.com/pfwdctl/pfwdctl/internal/fail"
)

// AccountCheck is CreateUser's verdict on an account, reached before it
// would change anything.
type AccountCheck struct {
	// Exists: the account is in /etc/passwd (Account is then its record);
	// otherwise CreateUser would create it with useradd --system.
	Exists  bool
	Account Account
	// Problems keep an existing account from being forward-only; Fix
	// repairs them.
	Problems []string
	// Person says why the account looks like a person's; when set (and
	// Problems too), CreateUser refuses it unless Adopt is given, since
	// making it forward-only would lock that person out.
	Person string
}

// CheckAccount judges user the way CreateUser does before it runs
// anything, and changes nothing: no lock, no audit line, no command, so a
// front end (the wizard's account screen) can ask on every keystroke. The
// error is what CreateUser refuses whatever the flags: a name accounts
// refuses, UID 0, an existing account's home that is not its own, or a
// new account's home (/home/USER) that exists already or is another's.
func (h Host) CheckAccount(user string) (AccountCheck, error) {
	c := AccountCheck{Account: Account{Name: user}}
	if err := accounts.ValidateName(user); err != nil {
		return c, err
	}
	a, err := accounts.Lookup(h.Root, user)
	switch {
	case errors.Is(err, accounts.ErrNoAccount):
		return c, h.newHome(user, "/home/"+user)
	case err != nil:
		return c, err
	}
	c.Exists, c.Account = true, a
	if a.UID == 0 {
		return c, fail.New(fail.Failed, "pick a dedicated account such as pfwd", "refusing: %s has UID 0, it is root under another name", user)
	}
	if fi, err := h.Root.Stat(a.Home); err == nil {
		if err := h.ownHome(a, fi); err != nil {
			return c, err
		}
	} else if err := checkHomePath(a.Home); err != nil {
		return c, err
	}
	probs, person, why := h.problems(a)
	c.Problems = probs
	if person && len(probs) > 0 {
		c.Person = why
	}
	return c, nil
}
