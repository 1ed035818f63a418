package users

import (
	"errors"

	"github.com/pfwdctl/pfwdctl/internal/accounts"
	"github.com/pfwdctl/pfwdctl/internal/fail"
)

// Account is an /etc/passwd entry with its shadow password field, as
// package accounts reads it.
type Account = accounts.Account

// account looks name up and refuses root, UID 0 and unknown accounts.
func (h Host) account(name string) (Account, error) {
	if err := accounts.ValidateName(name); err != nil {
		return Account{}, err
	}
	a, err := accounts.Lookup(h.Root, name)
	if errors.Is(err, accounts.ErrNoAccount) {
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
