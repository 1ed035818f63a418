package lab

import (
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/crypto/ssh"
)

// SelfRoot returns an Options edit that makes the lab read the account's
// keys from dir's home (dir/home/%u/.ssh/authorized_keys), the file
// `pfwdctl --root dir verify --self` installs its throwaway key in. Call
// WriteSelfRoot on the started server to fill dir.
func SelfRoot(dir string) func(*Options) {
	return func(o *Options) {
		o.AuthorizedKeysFile = filepath.Join(dir, "home", "%u", ".ssh", "authorized_keys")
	}
}

// WriteSelfRoot fills dir with what `pfwdctl --root dir verify --self
// --user USER --port PORT` reads of a host: the account in /etc/passwd
// and /etc/shadow, the server's host key, an sshd_config that Includes
// the drop-ins in /etc/ssh/sshd_config.d, and the account's home with the lab's client key
// installed with the standard prefix (so ssh with the lab's key still logs
// in, as the reference of bench/self.sh). The lab must have been started
// with SelfRoot(dir). dir must be traversable by the account (as root,
// sshd reads the keys as the account).
func (s *Server) WriteSelfRoot(dir string) error {
	u, err := user.Lookup(s.User)
	if err != nil {
		return err
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	files := map[string]string{
		"/etc/passwd":                       fmt.Sprintf("root:x:0:0:root:/root:/bin/bash\n%s:x:%d:%d::/home/%s:%s\n", s.User, uid, gid, s.User, s.Shell()),
		"/etc/shadow":                       "root:*:19000:0:99999:7:::\n" + s.User + ":*:19000:0:99999:7:::\n",
		"/etc/ssh/ssh_host_ed25519_key.pub": string(ssh.MarshalAuthorizedKey(s.HostKey)),
	}
	// The host's view: the main file Includes the drop-ins, whose Match
	// block names the keys relative to the home, as apply writes it (the
	// lab's own copy names the tree's absolute path). --self runs sshd -T
	// on it, as on a host, to find the keys file and PermitListen.
	files["/etc/ssh/sshd_config"] = "Include /etc/ssh/sshd_config.d/*.conf\n"
	abs := "AuthorizedKeysFile " + filepath.Join(dir, "home", "%u", ".ssh", "authorized_keys") + "\n"
	for _, f := range s.DropIns {
		files["/etc/ssh/sshd_config.d/"+f.Name] = strings.ReplaceAll(string(f.Data), abs, "AuthorizedKeysFile .ssh/authorized_keys\n")
	}
	for p, data := range files {
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(full, []byte(data), 0o644); err != nil {
			return err
		}
	}
	hostKey, err := os.ReadFile(filepath.Join(s.Dir, "ssh_host_ed25519_key"))
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "etc", "ssh", "ssh_host_ed25519_key"), hostKey, 0o600); err != nil {
		return err
	}
	home := filepath.Join(dir, "home", s.User)
	sshDir := filepath.Join(home, ".ssh")
	// Traversable down to the home, as on a host; .ssh the account's own.
	if err := os.MkdirAll(home, 0o755); err != nil {
		return err
	}
	if err := os.Mkdir(sshDir, 0o700); err != nil && !os.IsExist(err) {
		return err
	}
	line, err := s.StandardKeyLine(s.ClientKey.PublicKey(), "pfwdctl-lab")
	if err != nil {
		return err
	}
	ak := filepath.Join(sshDir, "authorized_keys")
	if err := os.WriteFile(ak, []byte(line), 0o600); err != nil {
		return err
	}
	if os.Geteuid() == 0 {
		for _, p := range []string{home, sshDir, ak} {
			if err := os.Chown(p, uid, gid); err != nil {
				return err
			}
		}
	}
	return nil
}
