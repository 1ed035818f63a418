package render

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/crypto/ssh"

	"github.com/pfwdctl/pfwdctl/internal/accounts"
	"github.com/pfwdctl/pfwdctl/internal/fail"
	"github.com/pfwdctl/pfwdctl/internal/hostfs"
)

// shellKeys counts the keys in an account's authorized_keys that could start
// a shell: any key without a forced command.
func shellKeys(root hostfs.Root, home string) int {
	n := 0
	for _, f := range []string{".ssh/authorized_keys", ".ssh/authorized_keys2"} {
		data, err := os.ReadFile(root.Path(filepath.Join(home, f)))
		if err != nil {
			continue
		}
		for len(data) > 0 {
			_, _, opts, rest, err := ssh.ParseAuthorizedKey(data)
			if err != nil {
				break
			}
			data = rest
			if !slices.ContainsFunc(opts, func(o string) bool { return strings.HasPrefix(strings.ToLower(o), "command=") }) {
				n++
			}
		}
	}
	return n
}

// Guard is the lockout check: after hardening (no root login, no passwords)
// someone must still be able to log in with a shell by key.
type Guard struct {
	Root        hostfs.Root
	ForwardUser string
	Getenv      func(string) string
}

// Check returns a Failed error saying exactly why the change would lock the
// admins out, or nil.
func (g Guard) Check() error {
	accts, err := accounts.ReadPasswd(g.Root)
	if err != nil {
		return fail.Wrap(fail.Failed, err, "pass --force if you are sure someone can still log in", "lockout check: read /etc/passwd")
	}
	var ok []string
	rootKeys := 0
	for _, a := range accts {
		n := shellKeys(g.Root, a.Home)
		switch {
		case a.UID == 0:
			rootKeys += n
		case a.Name == g.ForwardUser || accounts.NoLoginShell(a.Shell):
		case n > 0:
			ok = append(ok, a.Name)
		}
	}
	const hint = "put your own public key in a non-root, sudo-capable account's ~/.ssh/authorized_keys, check that it logs in from a second terminal, then run pfwdctl again (or pass --force if you have console access)"
	if len(ok) == 0 {
		why := "no account other than root has an authorized key"
		if rootKeys > 0 {
			why = "only root has an authorized key, and PermitRootLogin no shuts root out"
		}
		return fail.New(fail.Failed, hint,
			"refusing: after this change no account could log in with a shell by public key (%s; password login is turned off)", why)
	}
	return g.checkCaller(ok)
}

// checkCaller looks at the admin's own SSH session, when there is one: if it
// was authenticated by password, or its account has no key, the admin would
// not get back in the same way.
func (g Guard) checkCaller(keyed []string) error {
	if !g.Root.IsHost() || g.Getenv == nil || g.Getenv("SSH_CONNECTION") == "" {
		return nil
	}
	// ExposeAuthInfo makes sshd write the methods used to this file.
	if p := g.Getenv("SSH_USER_AUTH"); p != "" {
		if data, err := os.ReadFile(p); err == nil && len(bytes.Fields(data)) > 0 && !bytes.Contains(data, []byte("publickey")) {
			return fail.New(fail.Failed, "log in with a key first (ssh -o PreferredAuthentications=publickey), then run pfwdctl again, or pass --force",
				"refusing: your current SSH session was authenticated by %s, which this change turns off", strings.Fields(string(data))[0])
		}
	}
	who := g.Getenv("SUDO_USER")
	if who == "" {
		who = g.Getenv("USER")
	}
	if who != "" && who != "root" && !slices.Contains(keyed, who) {
		return fail.New(fail.Failed, "add your public key to ~"+who+"/.ssh/authorized_keys and log in with it, then run pfwdctl again, or pass --force",
			"refusing: you are connected over SSH as %s, who has no authorized key; with password login off you could not log in again", who)
	}
	return nil
}
