package render

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/pfwdctl/pfwdctl/internal/accounts"
	"github.com/pfwdctl/pfwdctl/internal/fail"
	"github.com/pfwdctl/pfwdctl/internal/hostfs"
	"github.com/pfwdctl/pfwdctl/internal/sshd"
	"github.com/pfwdctl/pfwdctl/users/keyline"
)

// Guard is the lockout check: after hardening (no root login, no passwords)
// someone must still be able to log in with a shell by key. It decides that
// from sshd's own answer for each account (sshd -T -C user=NAME,...), not
// from what pfwdctl renders, so drop-ins it does not own (AllowUsers in a
// 05-*.conf, say) count as sshd counts them.
type Guard struct {
	Root        hostfs.Root
	ForwardUser string
	Getenv      func(string) string
	// Now is the time key expiry is judged at; nil: time.Now.
	Now func() time.Time
}

// Effective is sshd -T -C conn for the configuration as it will be after
// the change: keyword (lower case) -> values, one per output line.
type Effective func(ctx context.Context, conn string) (map[string][]string, error)

// loginable is an account that could still log in with a shell by key.
type loginable struct {
	name string
	sudo bool
}

func (l loginable) String() string {
	if l.sudo {
		return l.name + " (sudo-capable)"
	}
	return l.name + " (not in sudo, wheel or admin)"
}

// Check returns a Failed error saying exactly why the change would lock the
// admins out, or nil. effective answers for the configuration as it WILL
// be, so the check sees the change itself (PermitRootLogin no) too.
func (g Guard) Check(ctx context.Context, effective Effective) error {
	ok, why, order, err := g.survey(ctx, effective)
	if err != nil {
		return err
	}
	hint := "put your own public key in a non-root, sudo-capable account's ~/.ssh/authorized_keys, check that it logs in from a second terminal, then run pfwdctl again (or pass --force if you have console access)"
	if strings.HasPrefix(why["root"], "PermitRootLogin") && g.rootHasKeys() {
		// Root logs in by key today and only the root rule stops it.
		hint = "keep root's key login with --permit-root-login prohibit-password, or " + hint
	}
	if len(ok) == 0 {
		var reasons []string
		for _, n := range order {
			reasons = append(reasons, n+": "+why[n])
		}
		detail := "no account with a login shell"
		if len(reasons) > 0 {
			detail = strings.Join(reasons, "; ")
		}
		return fail.New(fail.Failed, hint,
			"refusing: after this change no account could log in with a shell by public key (password login is turned off): %s", detail)
	}
	return g.checkCaller(ok, why)
}

// survey asks sshd about every account with a login shell except the
// forward account: ok are those that could log in by key, why says for the
// others why not (order is /etc/passwd order).
func (g Guard) survey(ctx context.Context, effective Effective) (ok []loginable, why map[string]string, order []string, err error) {
	const forceHint = "pass --force if you are sure someone can still log in"
	accts, err := accounts.ReadPasswd(g.Root)
	if err != nil {
		return nil, nil, nil, fail.Wrap(fail.Failed, err, forceHint, "lockout check: read /etc/passwd")
	}
	groups, err := accounts.ReadGroups(g.Root)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, nil, nil, fail.Wrap(fail.Failed, err, forceHint, "lockout check: read /etc/group")
	}
	addr := g.clientAddr()
	why = map[string]string{}
	for _, pw := range accts {
		if pw.Name == g.ForwardUser || accounts.NoLoginShell(pw.Shell) {
			continue
		}
		a, err := accounts.Lookup(g.Root, pw.Name)
		if err != nil {
			a = pw
		}
		// host= is the address too: with UseDNS no (the default) sshd
		// matches Host patterns against the address.
		eff, err := effective(ctx, "user="+a.Name+",host="+addr+",addr="+addr)
		if err != nil {
			// sshd refusing the configuration is its own error, with
			// its hint (fix the line it names); --force cannot help.
			return nil, nil, nil, err
		}
		names := accounts.GroupsOf(a, groups)
		if reason := g.judge(a, names, eff, addr); reason != "" {
			why[a.Name] = reason
			order = append(order, a.Name)
			continue
		}
		// "sudo-capable" is only ever said after this check.
		ok = append(ok, loginable{a.Name, a.UID == 0 || len(accounts.AdminGroupsOf(a, groups)) > 0})
	}
	return ok, why, order, nil
}

// rootHasKeys says root's ~/.ssh/authorized_keys holds a key line.
func (g Guard) rootHasKeys() bool {
	home := "/root"
	if a, err := accounts.Lookup(g.Root, "root"); err == nil && a.Home != "" {
		home = a.Home
	}
	data, err := g.Root.ReadFile(home + "/.ssh/authorized_keys")
	if err != nil {
		return false
	}
	for _, l := range strings.Split(string(data), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			return true
		}
	}
	return false
}

// clientAddr is the address sshd is asked about (addr= and host=, and what
// from= key options are matched against). The admin's own client address
// from SSH_CONNECTION is where they will come back from; without an SSH
// session (a console), loopback is the one address we can name, and Match
// Address or from= rules for other addresses are not judged.
func (g Guard) clientAddr() string {
	if g.Getenv != nil {
		if f := strings.Fields(g.Getenv("SSH_CONNECTION")); len(f) > 0 && net.ParseIP(f[0]) != nil {
			return f[0]
		}
	}
	return "127.0.0.1"
}

func (g Guard) now() time.Time {
	if g.Now == nil {
		return time.Now()
	}
	return g.Now()
}

// first returns the first value of kw, lower-cased, or def.
func first(eff map[string][]string, kw, def string) string {
	if v := eff[kw]; len(v) > 0 {
		return strings.ToLower(strings.TrimSpace(v[0]))
	}
	return def
}

// words flattens every value of kw into whitespace-separated words.
func words(eff map[string][]string, kw string) []string {
	var out []string
	for _, v := range eff[kw] {
		out = append(out, strings.Fields(v)...)
	}
	return out
}

// judge returns why a cannot log in with a shell by public key under eff,
// or "" when it can. The order follows sshd: allowed_user (lock, users and
// groups), then the root rule, the method, and the keys.
func (g Guard) judge(a accounts.Account, groups []string, eff map[string][]string, addr string) string {
	// auth.c allowed_user: with UsePAM no, a password field starting with
	// "!" is a locked account, refused even for keys.
	if first(eff, "usepam", "no") == "no" && a.HasShadow && strings.HasPrefix(a.Password, "!") {
		return "the account is locked (! in /etc/shadow) and UsePAM is no"
	}
	if g.Root.IsHost() {
		// sshd refuses an account whose shell does not exist.
		if fi, err := os.Stat(a.Shell); err != nil || fi.IsDir() {
			return "its shell " + a.Shell + " does not exist"
		}
	}
	if r := allowedUser(a.Name, groups, addr, eff); r != "" {
		return r
	}
	if a.UID == 0 {
		switch prl := first(eff, "permitrootlogin", "prohibit-password"); prl {
		case "yes", "prohibit-password", "without-password":
		default:
			return "PermitRootLogin " + prl
		}
	}
	if first(eff, "pubkeyauthentication", "yes") == "no" {
		return "PubkeyAuthentication no"
	}
	if !keyOnlyMethods(words(eff, "authenticationmethods")) {
		return "AuthenticationMethods " + strings.Join(words(eff, "authenticationmethods"), " ") + " needs more than a key (a password or keyboard-interactive, which are off)"
	}
	if c := first(eff, "authorizedkeyscommand", "none"); c != "none" && c != "" {
		// pfwdctl cannot know what the command returns; trust it rather
		// than refuse every LDAP- or IAM-keyed host.
		return ""
	}
	return g.keysReason(a, eff, addr)
}

// keyOnlyMethods reports whether some AuthenticationMethods list is
// satisfied by public keys alone (password and keyboard-interactive are
// what the hardening turns off).
func keyOnlyMethods(lists []string) bool {
	if len(lists) == 0 {
		return true
	}
	for _, l := range lists {
		if l == "any" {
			return true
		}
		all := true
		for _, m := range strings.Split(l, ",") {
			if m != "publickey" {
				all = false
			}
		}
		if all {
			return true
		}
	}
	return false
}

// allowedUser is sshd's auth.c allowed_user for users and groups: DenyUsers
// beats AllowUsers, and a set AllowUsers admits only those listed; then the
// same for groups. Each word is one pattern (match.c match_user): USER or
// USER@HOST, where HOST is a pattern list matched against the address.
func allowedUser(user string, groups []string, addr string, eff map[string][]string) string {
	for _, p := range words(eff, "denyusers") {
		if matchUser(user, addr, p) {
			return "listed in DenyUsers " + p
		}
	}
	if allow := words(eff, "allowusers"); len(allow) > 0 {
		if !slices.ContainsFunc(allow, func(p string) bool { return matchUser(user, addr, p) }) {
			return "not in AllowUsers " + strings.Join(allow, " ")
		}
	}
	for _, p := range words(eff, "denygroups") {
		for _, gr := range groups {
			if matchPattern(gr, p) {
				return "group " + gr + " is in DenyGroups " + p
			}
		}
	}
	if allow := words(eff, "allowgroups"); len(allow) > 0 {
		if !slices.ContainsFunc(allow, func(p string) bool {
			return slices.ContainsFunc(groups, func(gr string) bool { return matchPattern(gr, p) })
		}) {
			return "none of its groups (" + strings.Join(groups, " ") + ") is in AllowGroups " + strings.Join(allow, " ")
		}
	}
	return ""
}

// matchUser is match.c match_user: the user part is one wildcard pattern,
// the part after the last @ a host/address pattern list.
func matchUser(user, addr, pattern string) bool {
	i := strings.LastIndex(pattern, "@")
	if i < 0 {
		return matchPattern(user, pattern)
	}
	return matchPattern(user, pattern[:i]) && matchHostAndIP(addr, pattern[i+1:]) == 1
}

// matchHostAndIP is match.c match_host_and_ip with the host name unknown
// (UseDNS no): the comma-separated list is matched against the address,
// as CIDR or wildcard; a matching !pattern denies (-1), a match without
// one allows (1), none is 0.
func matchHostAndIP(addr, list string) int {
	ip := net.ParseIP(addr)
	res := 0
	for _, p := range strings.Split(list, ",") {
		neg := strings.HasPrefix(p, "!")
		p = strings.TrimPrefix(p, "!")
		hit := false
		if _, n, err := net.ParseCIDR(p); err == nil {
			hit = ip != nil && n.Contains(ip)
		} else {
			hit = matchPattern(strings.ToLower(addr), strings.ToLower(p))
		}
		if hit && neg {
			return -1
		}
		if hit {
			res = 1
		}
	}
	return res
}

// matchPattern is match.c match_pattern: * and ? wildcards, nothing else.
func matchPattern(s, p string) bool {
	ok, err := path.Match(strings.NewReplacer(`\`, `\\`, `[`, `\[`, `]`, `\]`).Replace(p), s)
	if err != nil {
		return false
	}
	// path.Match's * stops at '/', which sshd's does not; names and
	// addresses never hold one.
	return ok
}

// keysFiles is the effective AuthorizedKeysFile list for a
// (accounts.KeysFiles, the one rule).
func keysFiles(a accounts.Account, eff map[string][]string) []string {
	return accounts.KeysFiles(a, words(eff, "authorizedkeysfile"), eff["authorizedkeysfile"] != nil)
}

// algorithms are the PubkeyAcceptedAlgorithms names a key type can sign
// with: an RSA key works with any of the three.
func algorithms(keyType string) []string {
	if keyType == "ssh-rsa" {
		return []string{"rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"}
	}
	return []string{keyType}
}

// keysReason returns "" when one of a's key lines would open a shell for
// a connection from addr, else why none does (the first reason found).
func (g Guard) keysReason(a accounts.Account, eff map[string][]string, addr string) string {
	strict := first(eff, "strictmodes", "yes") == "yes"
	accepted := strings.Split(first(eff, "pubkeyacceptedalgorithms", first(eff, "pubkeyacceptedkeytypes", "")), ",")
	now := g.now()
	var reason string
	note := func(s string) {
		if reason == "" {
			reason = s
		}
	}
	for _, kf := range keysFiles(a, eff) {
		fi, err := g.Root.Stat(kf)
		if err != nil || !fi.Mode().IsRegular() {
			continue
		}
		if strict {
			if err := g.strictPath(a, kf, fi); err != nil {
				note(fmt.Sprintf("StrictModes ignores %s (%v)", kf, strings.TrimPrefix(err.Error(), "refusing: ")))
				continue
			}
		}
		data, err := g.Root.ReadFile(kf)
		if err != nil {
			note(fmt.Sprintf("%s cannot be read: %v", kf, err))
			continue
		}
		zone := sshd.Zone(g.Root)
		for n, raw := range strings.Split(string(data), "\n") {
			s := strings.TrimSpace(raw)
			if s == "" || s[0] == '#' {
				continue
			}
			where := fmt.Sprintf("%s:%d", kf, n+1)
			v := keyline.Judge(s, keyline.Match{Zone: zone}, now)
			switch {
			case v.Has(keyline.ProblemUnparsable) || v.Has(keyline.ProblemUnknown):
				note(where + ": sshd refuses the line")
			case v.CertAuthority:
				note(where + ": a cert-authority line, not a key")
			case v.HasCommand:
				note(where + ": the key has a forced command")
			case v.Expired:
				note(where + ": the key expired on " + v.Expiry.Format("2006-01-02"))
			case len(v.From) > 0 && matchHostAndIP(addr, strings.Join(v.From, ",")) != 1:
				note(where + ": from=" + strings.Join(v.From, ",") + " does not match your address " + addr)
			case accepted[0] != "" && !slices.ContainsFunc(algorithms(v.Line.Type), func(t string) bool { return slices.Contains(accepted, t) }):
				note(where + ": sshd does not accept " + v.Line.Type + " keys (PubkeyAcceptedAlgorithms)")
			default:
				return ""
			}
		}
	}
	if reason == "" {
		reason = "no authorized key"
	}
	return reason
}

// strictPath is sshd's auth_secure_path: the key file, then every
// directory up to and including the home (or up to / for a file outside
// it), by the rules add-key uses (accounts.StrictNode, StrictDirs).
func (g Guard) strictPath(a accounts.Account, file string, fi fs.FileInfo) error {
	if err := accounts.StrictNode(g.Root, file, fi, a); err != nil {
		return err
	}
	return accounts.StrictDirs(g.Root, path.Dir(file), a)
}

// checkCaller looks at the admin's own SSH session, when there is one: if it
// was authenticated by password, or its account could not log in by key
// after the change, the admin would not get back in the same way.
func (g Guard) checkCaller(ok []loginable, why map[string]string) error {
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
	if who == "" || who == "root" || slices.ContainsFunc(ok, func(l loginable) bool { return l.name == who }) {
		return nil
	}
	reason := why[who]
	if reason == "" {
		reason = "no authorized key"
	}
	can := make([]string, len(ok))
	for i, l := range ok {
		can[i] = l.String()
	}
	return fail.New(fail.Failed, "add your public key to ~"+who+"/.ssh/authorized_keys and log in with it, then run pfwdctl again, or pass --force",
		"refusing: you are connected over SSH as %s, who has no authorized key that works after this change (%s); with password login off you could not log in again; can still log in: %s",
		who, reason, strings.Join(can, ", "))
}
