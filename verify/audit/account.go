package audit

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/pfwdctl/pfwdctl/internal/accounts"
	"github.com/pfwdctl/pfwdctl/internal/hostfs"
	"github.com/pfwdctl/pfwdctl/internal/sshd"
	"github.com/pfwdctl/pfwdctl/internal/sshdconf"
	"github.com/pfwdctl/pfwdctl/users"
	"github.com/pfwdctl/pfwdctl/users/keyline"
)

// read reads a host file as the audit sees it: from Options.Overlay when it
// holds the path (a planned change), otherwise under the root.
func (a *auditor) read(hostPath string) ([]byte, error) {
	return sshdconf.ReadFile(a.o.Root, a.o.Overlay, hostPath)
}

// accountChecks: locked with "*" (not "!": with UsePAM no sshd refuses an
// account whose password starts with "!" even for keys, SSHD-NOTES 6) and
// a nologin shell.
func (a *auditor) accountChecks(fwd map[string][]string) {
	if !a.hasAcct {
		a.addMissingAccount()
		return
	}
	acct, u := a.account, a.account.Name
	bad := 0
	if !accounts.NoLoginShell(acct.Shell) {
		bad++
		a.add(Finding{ID: "account.shell", Severity: Fail, File: "/etc/passwd",
			Title:  fmt.Sprintf("%s has the login shell %s", u, acct.Shell),
			Detail: "restrict does not stop commands (SSHD-NOTES 5): with a real shell only ForceCommand stands between a key and a shell",
			Fix:    fmt.Sprintf("usermod -s %s %s", a.o.Params.Nologin, u)})
	}
	usePAM := len(fwd["usepam"]) > 0 && strings.EqualFold(fwd["usepam"][0], "yes")
	switch {
	case !acct.HasShadow:
		bad++
		a.add(Finding{ID: "account.unlocked", Severity: Warn, File: "/etc/shadow",
			Title: fmt.Sprintf("%s has no entry in /etc/shadow, so whether a password works cannot be told", u),
			Fix:   fmt.Sprintf("usermod -p '*' %s", u)})
	case acct.PasswordUsable():
		bad++
		what := "a password"
		if acct.Password == "" {
			what = "an empty password"
		}
		a.add(Finding{ID: "account.unlocked", Severity: Fail, File: "/etc/shadow",
			Title:  fmt.Sprintf("%s has %s", u, what),
			Detail: "the account must not be usable with a password, whatever sshd's settings",
			Fix:    fmt.Sprintf("usermod -p '*' %s   (\"*\": no password, key logins keep working)", u)})
	case strings.HasPrefix(acct.Password, "!"):
		bad++
		sev, why := Warn, "key logins work now because UsePAM is yes, but would stop if UsePAM were turned off"
		if !usePAM {
			sev, why = Fail, "UsePAM is no, so sshd refuses the account as locked, even for public keys: the tunnel cannot log in"
		}
		a.add(Finding{ID: "account.bang-locked", Severity: sev, File: "/etc/shadow",
			Title:  fmt.Sprintf("%s is locked with \"!\" (passwd -l)", u),
			Detail: why,
			Fix:    fmt.Sprintf("usermod -p '*' %s   (\"*\" is locked for passwords but not for keys)", u)})
	}
	if bad == 0 {
		a.ok("account", "%s is locked (\"*\") with the shell %s", u, acct.Shell)
	}
}

// keyFiles resolves the effective AuthorizedKeysFile for the account by
// the one rule add-key, list-keys, revoke and the lockout guard use
// (accounts.KeysFiles): no value means sshd's compiled-in default.
func (a *auditor) keyFiles(fwd map[string][]string) []string {
	if !a.hasAcct {
		return nil
	}
	v := fwd["authorizedkeysfile"]
	var values []string
	for _, x := range v {
		values = append(values, strings.Fields(x)...)
	}
	return accounts.KeysFiles(a.account, values, v != nil)
}

// keySourceChecks: pfwdctl manages one key file; any other source of keys
// for the account bypasses the key options it writes.
func (a *auditor) keySourceChecks(fwd map[string][]string) {
	u := a.o.Params.User
	c := &connInfo{u}
	bad := 0
	if v := fwd["authorizedkeysfile"]; len(v) > 0 {
		w := a.winner("authorizedkeysfile", c)
		for _, p := range strings.Fields(v[0]) {
			std := p == ".ssh/authorized_keys" || p == "%h/.ssh/authorized_keys"
			// authorized_keys2 is in sshd's built-in default: only a
			// problem when the file exists (checked below with the keys).
			dflt := w == nil && p == ".ssh/authorized_keys2"
			if std || dflt || p == "none" {
				continue
			}
			bad++
			f := Finding{ID: "keys.other-file", Severity: Fail,
				Title:  fmt.Sprintf("AuthorizedKeysFile for %s also reads %s", u, p),
				Detail: "keys there are not managed by pfwdctl and need not carry restrict or permitopen",
				Fix:    "set AuthorizedKeysFile .ssh/authorized_keys only"}
			if w != nil {
				f.File, f.Line = w.File, w.Num
				f.Fix = fmt.Sprintf("change %s to: AuthorizedKeysFile .ssh/authorized_keys", w.At())
			}
			a.add(f)
		}
	}
	for _, kw := range []struct{ key, name string }{
		{"authorizedkeyscommand", "AuthorizedKeysCommand"},
		{"authorizedprincipalsfile", "AuthorizedPrincipalsFile"},
		{"authorizedprincipalscommand", "AuthorizedPrincipalsCommand"},
	} {
		v := fwd[kw.key]
		if len(v) == 0 || v[0] == "none" {
			continue
		}
		// pfwdctl's own principals file (apply --ca) is judged by keys.ca.
		if mine, _ := a.pfwdctlCA(fwd); mine && kw.key == "authorizedprincipalsfile" {
			continue
		}
		bad++
		f := Finding{ID: "keys.other-source", Severity: Fail,
			Title:  fmt.Sprintf("%s %s is in effect for %s", kw.name, v[0], u),
			Detail: "it can authorize keys or certificates that pfwdctl never sees",
			Fix:    fmt.Sprintf("remove %s (or set it to none in pfwdctl's Match block scope)", kw.name)}
		if w := a.winner(kw.key, c); w != nil {
			f.File, f.Line = w.File, w.Num
			f.Fix = fmt.Sprintf("delete %s at %s", kw.name, w.At())
		}
		a.add(f)
	}
	if bad == 0 {
		a.ok("keys.source", "%s's keys come only from ~/.ssh/authorized_keys", u)
	}
}

// keyChecks: StrictModes on every file and directory (SSHD-NOTES 7), and
// every key line carries restrict, port-forwarding and only permitopen
// targets the Match block allows.
func (a *auditor) keyChecks(fwd map[string][]string) {
	if !a.hasAcct {
		return
	}
	u := a.account.Name
	strict := !(len(fwd["strictmodes"]) > 0 && strings.EqualFold(fwd["strictmodes"][0], "no"))
	if !strict {
		f := Finding{ID: "strict.off", Severity: Warn, Title: "StrictModes is off",
			Detail: "sshd would read a key file anyone can write to", Fix: "delete the StrictModes no line"}
		if w := a.winner("strictmodes", &connInfo{u}); w != nil {
			f.File, f.Line = w.File, w.Num
		}
		a.add(f)
	}
	files := a.keyFiles(fwd)
	total, strictBad, keyBad := 0, 0, 0
	for _, kf := range files {
		fi, err := os.Lstat(a.o.Root.Path(kf))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if filepath.Base(kf) == "authorized_keys2" && filepath.Dir(kf) == filepath.Join(a.account.Home, ".ssh") {
			a.add(Finding{ID: "keys.other-file", Severity: Warn, File: kf,
				Title:  kf + " exists and sshd reads it (sshd's default AuthorizedKeysFile includes it)",
				Detail: "pfwdctl manages only authorized_keys; its lines are checked below all the same",
				Fix:    fmt.Sprintf("move its keys with pfwdctl add-key, then delete it, or set AuthorizedKeysFile .ssh/authorized_keys")})
		}
		strictBad += a.strictModes(kf, fi)
		data, err := a.read(kf)
		if err != nil {
			continue
		}
		n, b := a.keyLines(kf, data)
		total += n
		keyBad += b
	}
	if total == 0 {
		a.add(Finding{ID: "keys.none", Severity: Warn, File: filepath.Join(a.account.Home, ".ssh/authorized_keys"),
			Title: fmt.Sprintf("%s has no key installed: nobody can open the tunnel yet", u),
			Fix:   "pfwdctl add-key --user " + u + " --name NAME FRIEND.pub"})
	}
	if strictBad == 0 && total > 0 {
		a.ok("strict", "%s's home, .ssh and key files pass StrictModes", u)
	}
	if keyBad == 0 && total > 0 {
		a.ok("key", "all %d key lines of %s carry restrict, port-forwarding and permitopen within the Match block", total, u)
	}
}

// strictModes walks from the key file up to the home directory, as sshd's
// safe_path does: each must be owned by root or the account and not group-
// or world-writable, and the file must be a regular file.
func (a *auditor) strictModes(kf string, fi fs.FileInfo) int {
	bad := 0
	report := func(p, what, fix string) {
		bad++
		a.add(Finding{ID: "strict.mode", Severity: Fail, File: p,
			Title:  fmt.Sprintf("%s %s", p, what),
			Detail: "StrictModes makes sshd ignore " + kf + " (and it would let someone else add keys)",
			Fix:    fix})
	}
	if !fi.Mode().IsRegular() {
		report(kf, "is not a regular file", "replace it by a regular file (mode 600, owned by "+a.account.Name+")")
		return bad
	}
	home := filepath.Clean(a.account.Home)
	for p := kf; ; p = filepath.Dir(p) {
		st, err := a.o.Root.Stat(p)
		if err != nil {
			break
		}
		o := hostfs.OwnerOf(st)
		if !a.ownerOK(o.UID) {
			report(p, fmt.Sprintf("is owned by uid %d, not by %s or root", o.UID, a.account.Name), fmt.Sprintf("chown %s %s", a.account.Name, p))
		}
		if st.Mode().Perm()&0o022 != 0 {
			report(p, fmt.Sprintf("is group- or world-writable (%v)", st.Mode().Perm()), "chmod go-w "+p)
		}
		if p == home || p == "/" || p == "." {
			break
		}
	}
	return bad
}

// ownerOK is sshd's rule; a --root tree made by an unprivileged user is
// owned by that user, who stands in for root there.
func (a *auditor) ownerOK(uid int) bool {
	return accounts.StrictOwnerOK(a.o.Root, uid, a.account)
}

// keyLines checks each line of one authorized_keys file with keyline's
// verdict, the same one list-keys prints; it returns the number of keys
// and of findings.
func (a *auditor) keyLines(kf string, data []byte) (keys, bad int) {
	allowed := a.rep.Targets
	now, zone := a.o.Now(), sshd.Zone(a.o.Root)
	prefix, _ := keyline.Prefix(keyline.Options{Targets: allowed})
	reinstall := "re-install it with pfwdctl add-key (it writes " + prefix + " ...)"
	type judged struct {
		num int
		v   keyline.Verdict
	}
	var lines []judged
	for i, raw := range strings.Split(string(data), "\n") {
		line := strings.TrimSpace(raw)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		lines = append(lines, judged{i + 1, keyline.Judge(line, keyline.Match{Targets: allowed, Zone: zone, HardwareOnly: a.o.Params.HardwareKeys != nil}, now)})
		a.verdicts = append(a.verdicts, lines[len(lines)-1].v)
	}
	// The same key on several lines: keyline.SameKey, as list-keys.
	fps, nums := make([]string, len(lines)), make([]int, len(lines))
	for i, l := range lines {
		fps[i], nums[i] = l.v.Fingerprint, l.num
	}
	copies := keyline.SameKey(fps, nums)
	granted := map[string]bool{}
	if dormant, err := (users.Host{Root: a.o.Root}).DormantKeys(a.account.Name); err == nil {
		for _, d := range dormant {
			granted[d.Fingerprint] = true
		}
	}
	for i, l := range lines {
		keys++
		num, v := l.num, l.v
		name := v.Line.Comment
		if name == "" {
			name = v.Line.Type
		}
		problems := v.Problems
		if p, ok := copies[i]; ok {
			problems = append(problems, p)
		}
		for _, p := range problems {
			bad++
			sev := Warn
			if p.Severity == keyline.Fail {
				sev = Fail
			}
			title := fmt.Sprintf("line %d: %s", num, p.Text)
			if name != "" {
				title = fmt.Sprintf("key %q: %s", name, p.Text)
			}
			a.add(Finding{ID: p.ID, Severity: sev, File: kf, Line: num, Title: title, Fix: keyFix(p, num, prefix, reinstall, a.account.Name)})
		}
		// Not a problem with the line, so not counted in bad: a warning
		// to plan the rotation (the same rule as list-keys'). A
		// just-in-time grant's window ending is the point, not a key to
		// rotate (users.ListResult's Granted, from the dormant registry).
		if !v.Expired && keyline.ExpiresWithin(v.Expiry, now, keyline.ExpiringSoon) && !granted[v.Fingerprint] {
			// By fingerprint: the name is the key's comment, free text
			// that pasted into a shell could run something.
			sel := v.Fingerprint
			a.add(Finding{ID: "keys.expiring-soon", Severity: Warn, File: kf, Line: num,
				Title: fmt.Sprintf("key %q expires %s (within %d days): sshd refuses it from then on", name, v.Expiry.UTC().Format("2006-01-02 15:04 UTC"), int(keyline.ExpiringSoon.Hours()/24)),
				Fix:   fmt.Sprintf("get the friend's new key and run pfwdctl rotate --user %s %s NEW.pub, or extend it with pfwdctl add-key --expires", a.account.Name, sel)})
		}
	}
	return keys, bad
}

// keyFix says how to mend one problem keyline found on line num.
func keyFix(p keyline.Problem, num int, prefix, reinstall, user string) string {
	switch p.ID {
	case keyline.ProblemRestrict:
		return fmt.Sprintf("prefix line %d with %s, or %s", num, prefix, reinstall)
	case keyline.ProblemPortForwarding:
		return fmt.Sprintf("add port-forwarding after restrict on line %d", num)
	case keyline.ProblemExpired:
		return "pfwdctl prune --user " + user + " removes expired keys"
	case keyline.ProblemUnparsable:
		return fmt.Sprintf("delete or fix line %d, or %s", num, reinstall)
	case keyline.ProblemCopies:
		return "pfwdctl add-key --user " + user + " with this key collapses its lines into one restricted line (or revoke it)"
	case keyline.ProblemNotHardware:
		return "pfwdctl revoke --user " + user + " with its fingerprint, and add the friend's hardware-backed key instead (ssh-keygen -t ed25519-sk; docs/hardware-keys.md)"
	case keyline.ProblemPermitopen:
		return fmt.Sprintf("give line %d only the Match block's targets: %s", num, reinstall)
	}
	if p.Option != "" {
		return fmt.Sprintf("remove %s from line %d, or %s", p.Option, num, reinstall)
	}
	return reinstall
}

// bypassChecks: ways in for the account that do not go through the key
// options pfwdctl writes (layer 1). A certificate from a CA in
// TrustedUserCAKeys logs in under the CA's options, not the line's;
// host-based and GSSAPI logins use no key line at all, which matters only
// when AuthenticationMethods lets them be used.
func (a *auditor) bypassChecks(fwd map[string][]string) {
	u := a.o.Params.User
	c := &connInfo{u}
	first := func(kw string) string {
		if v := fwd[kw]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	at := func(f *Finding, kw string) {
		if w := a.winner(kw, c); w != nil {
			f.File, f.Line = w.File, w.Num
			f.Fix = fmt.Sprintf("delete the line at %s (or set it in a Match block that excludes %s)", w.At(), u)
		}
	}
	bad := 0
	mine, problem := a.pfwdctlCA(fwd)
	if mine {
		a.revocations(first("revokedkeys"), at)
	}
	if mine && problem == "" {
		a.ok("keys.ca", "certificates for %s come only from pfwdctl's CA, and its principals line carries the key restrictions", u)
	} else if ca := first("trustedusercakeys"); ca != "" && !strings.EqualFold(ca, "none") {
		bad++
		f := Finding{ID: "keys.ca", Severity: Fail,
			Title:  fmt.Sprintf("TrustedUserCAKeys %s is in effect for %s", ca, u),
			Detail: "a certificate signed by one of these CAs for a principal " + u + " logs in without the restrict, permitopen and expiry options of any key line (layer 1)",
			Fix:    "remove TrustedUserCAKeys, or set TrustedUserCAKeys none inside pfwdctl's Match block scope"}
		at(&f, "trustedusercakeys")
		if mine {
			f.Detail = "pfwdctl's CA setup, but " + problem + ": a certificate logs in without the key restrictions (layer 1)"
			f.Fix = "run pfwdctl apply to rewrite pfwdctl's CA files"
		}
		a.add(f)
	}
	methods := strings.Fields(strings.ReplaceAll(first("authenticationmethods"), ",", " "))
	allows := func(m string) bool {
		if len(methods) == 0 || methods[0] == "any" {
			return true
		}
		for _, x := range methods {
			if x == m || strings.HasPrefix(x, m+":") {
				return true
			}
		}
		return false
	}
	for _, m := range []struct{ kw, method, name string }{
		{"hostbasedauthentication", "hostbased", "HostbasedAuthentication"},
		{"gssapiauthentication", "gssapi-with-mic", "GSSAPIAuthentication"},
	} {
		if !strings.EqualFold(first(m.kw), "yes") || !allows(m.method) {
			continue
		}
		bad++
		f := Finding{ID: "auth." + m.method, Severity: Fail,
			Title:  fmt.Sprintf("%s yes is in effect for %s and AuthenticationMethods allows %s", m.name, u, m.method),
			Detail: "that login uses no key line, so none of the key options (layer 1) apply",
			Fix:    m.name + " no (pfwdctl's baseline sets AuthenticationMethods publickey)"}
		at(&f, m.kw)
		a.add(f)
	}
	if bad == 0 {
		a.ok("bypass", "no certificate authority, host-based or GSSAPI login for %s gets around the key options", u)
	}
}

// loginChecks: the tunnel cannot work at all when sshd refuses the
// account before any key is looked at, reads no key, takes none of the
// installed keys' types, or every key has expired. That is a failure with
// its cause, not a pass with no findings.
func (a *auditor) loginChecks(fwd map[string][]string) {
	if !a.hasAcct {
		return
	}
	u := a.account.Name
	c := &connInfo{u}
	var causes []string
	where := map[string]*sshdconf.Line{}
	block := func(kw, why string) {
		causes = append(causes, why)
		if _, ok := where[why]; !ok {
			where[why] = a.winner(kw, c)
		}
	}
	mine := append([]string{u}, a.groupsOf(u)...)
	matchUser := func(pats []string, names []string) bool {
		for _, p := range pats {
			for _, pat := range strings.Fields(p) {
				pat, _, _ = strings.Cut(pat, "@")
				for _, n := range names {
					if ok, _ := filepath.Match(pat, n); ok {
						return true
					}
				}
			}
		}
		return false
	}
	if v := fwd["allowusers"]; len(v) > 0 && !matchUser(v, []string{u}) {
		block("allowusers", "AllowUsers does not list "+u)
	}
	if v := fwd["denyusers"]; len(v) > 0 && matchUser(v, []string{u}) {
		block("denyusers", "DenyUsers lists "+u)
	}
	if v := fwd["allowgroups"]; len(v) > 0 && !matchUser(v, mine[1:]) {
		block("allowgroups", "AllowGroups lists none of "+u+"'s groups")
	}
	if v := fwd["denygroups"]; len(v) > 0 && matchUser(v, mine[1:]) {
		block("denygroups", "DenyGroups lists a group of "+u)
	}
	if v := fwd["pubkeyauthentication"]; len(v) > 0 && strings.EqualFold(v[0], "no") {
		block("pubkeyauthentication", "PubkeyAuthentication is no")
	}
	if v := fwd["authorizedkeysfile"]; len(v) > 0 && strings.EqualFold(strings.TrimSpace(v[0]), "none") {
		if cmd := fwd["authorizedkeyscommand"]; len(cmd) == 0 || strings.EqualFold(cmd[0], "none") {
			block("authorizedkeysfile", "AuthorizedKeysFile is none (sshd reads no key)")
		}
	}
	if len(a.verdicts) > 0 {
		accepted := strings.Split(strings.Join(fwd["pubkeyacceptedalgorithms"], ","), ",")
		if len(fwd["pubkeyacceptedalgorithms"]) == 0 {
			accepted = strings.Split(strings.Join(fwd["pubkeyacceptedkeytypes"], ","), ",")
		}
		usable, alive := 0, 0
		for _, v := range a.verdicts {
			if v.Expired {
				continue
			}
			alive++
			if len(accepted) == 1 && accepted[0] == "" || keyTypeAccepted(v.Line.Type, accepted) {
				usable++
			}
		}
		switch {
		case alive == 0:
			causes = append(causes, "every installed key has expired")
		case usable == 0:
			block("pubkeyacceptedalgorithms", "PubkeyAcceptedAlgorithms takes none of the installed keys' types")
		}
	}
	if len(causes) == 0 {
		a.ok("login", "sshd lets %s log in by key (no AllowUsers/DenyUsers/AllowGroups/DenyGroups, key type or expiry stops it)", u)
		return
	}
	for _, why := range causes {
		f := Finding{ID: "login.blocked", Severity: Fail,
			Title:  fmt.Sprintf("the tunnel cannot work: %s", why),
			Detail: "sshd refuses " + u + " before (or instead of) accepting any installed key",
			Fix:    "change the line named so it lets " + u + " in, or add a key with pfwdctl add-key"}
		if w := where[why]; w != nil {
			f.File, f.Line = w.File, w.Num
		}
		a.add(f)
	}
}

// keyTypeAccepted: an RSA key is used with the rsa-sha2-* signatures (or
// ssh-rsa); every other type by its own name.
func keyTypeAccepted(typ string, accepted []string) bool {
	for _, a := range accepted {
		if a == typ || typ == "ssh-rsa" && (a == "rsa-sha2-256" || a == "rsa-sha2-512") {
			return true
		}
	}
	return false
}

// groupsOf lists the groups u is a member of (its primary group too).
func (a *auditor) groupsOf(u string) []string {
	var out []string
	for g, members := range a.groups {
		for _, m := range members {
			if m == u || m == "gid:"+strconv.Itoa(a.account.GID) {
				out = append(out, g)
				break
			}
		}
	}
	return out
}

// writeChecks: who can change what sshd reads or runs. The main config,
// every included file and each Include's directory (a new file there is
// read too), the host keys, and the programs named by ForceCommand and
// Subsystem must be writable by root alone, and so must every directory
// above them (whoever can write a directory can replace what is in it;
// a sticky one, like /tmp, only protects files already there, so it is
// fine above a file and not as an Include directory). Anyone else who can
// write them can hand the account a shell.
func (a *auditor) writeChecks(global, fwd map[string][]string) {
	type target struct{ path, what string }
	var ts []target
	seen := map[string]bool{}
	add := func(p, what string) {
		if p == "" || !filepath.IsAbs(p) || seen[p] {
			return
		}
		seen[p] = true
		ts = append(ts, target{filepath.Clean(p), what})
	}
	add(a.mainConfig(), "the main sshd config")
	for _, l := range a.cfg.Lines {
		add(l.File, "a file sshd reads")
		if l.Keyword == "include" {
			for _, pat := range l.Args {
				if !filepath.IsAbs(pat) {
					pat = filepath.Join("/etc/ssh", pat)
				}
				add(filepath.Dir(pat)+"/", "a directory sshd includes every matching file of")
			}
		}
	}
	for _, k := range global["hostkey"] {
		add(k, "a host key")
	}
	if v := fwd["forcecommand"]; len(v) > 0 && v[0] != "none" {
		add(strings.Fields(v[0])[0], "the ForceCommand the account runs")
	}
	for _, v := range global["subsystem"] {
		if f := strings.Fields(v); len(f) > 1 {
			add(f[1], "a Subsystem program")
		}
	}
	bad := 0
	for _, t := range ts {
		p := strings.TrimSuffix(t.path, "/")
		isIncludeDir := strings.HasSuffix(t.path, "/")
		for cur, first := p, true; ; cur, first = filepath.Dir(cur), false {
			fi, err := a.o.Root.Stat(cur)
			if err != nil {
				break // a missing file is another check's business
			}
			o := hostfs.OwnerOf(fi)
			perm := fi.Mode().Perm()
			sticky := fi.Mode()&os.ModeSticky != 0 && fi.IsDir()
			ownerOK := o.UID == 0 || (!a.o.Root.IsHost() && o.UID == hostfs.Euid())
			writable := perm&0o022 != 0 && !(sticky && !(first && isIncludeDir))
			if !ownerOK || writable {
				bad++
				why := fmt.Sprintf("owned by uid %d", o.UID)
				fix := "chown root " + cur
				if ownerOK {
					why, fix = fmt.Sprintf("group- or world-writable (%v)", perm), "chmod go-w "+cur
				}
				what := t.what
				if cur != p {
					what = "a directory above " + p + " (" + t.what + ")"
				}
				a.add(Finding{ID: "write.other", Severity: Fail, File: cur,
					Title:  fmt.Sprintf("%s is %s: someone other than root can change %s", cur, why, what),
					Detail: "whoever can change what sshd reads or runs can give the forward account a shell or any forward",
					Fix:    fix})
				break
			}
			if cur == "/" {
				break
			}
		}
	}
	if bad == 0 {
		a.ok("write", "only root can change the %d files, directories and programs sshd reads or runs (config, Includes, host keys, ForceCommand, Subsystem)", len(ts))
	}
}
