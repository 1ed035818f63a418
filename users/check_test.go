package users

import (
	"context"
	"os"
	"strings"
	"testing"
)

// TestCheckAccountAgreesWithCreateUser: CheckAccount (the wizard asks it on
// every keystroke of the account screen) refuses exactly what CreateUser
// with Fix and without Adopt refuses, with the same message for the hard
// refusals, and names a person's account as one.
func TestCheckAccountAgreesWithCreateUser(t *testing.T) {
	t.Parallel()
	h, root := tree(t, nil)
	passwd, _ := os.ReadFile(root.Path("/etc/passwd"))
	os.WriteFile(root.Path("/etc/passwd"), append(passwd, "toor:x:0:0::/root:/bin/bash\n"...), 0o644)
	os.MkdirAll(root.Path("/home/bob"), 0o755) // a new account's home that exists already
	for _, tc := range []struct {
		user, wantErr string
		person        bool
	}{
		{user: "admin", person: true},
		{user: "toor", wantErr: "UID 0"},
		{user: "bob", wantErr: "already exists"},
		{user: "Pf", wantErr: "invalid account name"},
		{user: "pfwd"},
	} {
		c, err := h.CheckAccount(tc.user)
		if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
			t.Errorf("%s: err %v, want %q", tc.user, err, tc.wantErr)
		}
		if (c.Person != "") != tc.person {
			t.Errorf("%s: person %q, want %v", tc.user, c.Person, tc.person)
		}
		_, cerr := h.CreateUser(context.Background(), CreateRequest{User: tc.user, Fix: true})
		if (cerr != nil) != (err != nil || c.Person != "") {
			t.Errorf("%s: CreateUser says %v, CheckAccount %v (person %q)", tc.user, cerr, err, c.Person)
		}
		if err != nil && cerr != nil && err.Error() != cerr.Error() {
			t.Errorf("%s: CheckAccount %q, CreateUser %q", tc.user, err, cerr)
		}
		if tc.person && (cerr == nil || !strings.Contains(cerr.Error(), "looks like a person's ("+c.Person+")")) {
			t.Errorf("%s: CreateUser %v, CheckAccount's reason %q", tc.user, cerr, c.Person)
		}
	}
	if c, err := h.CheckAccount("tunnel"); err != nil || c.Exists {
		t.Errorf("a new account: %+v %v", c, err)
	}
	if c, _ := h.CheckAccount("admin"); !c.Exists || !strings.Contains(strings.Join(c.Problems, ";"), "the shell is /bin/bash") {
		t.Errorf("admin: %+v", c)
	}
}
