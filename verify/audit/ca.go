package audit

import (
	"fmt"
	"slices"
	"strings"

	"github.com/pfwdctl/pfwdctl/internal/ca"
	"github.com/pfwdctl/pfwdctl/render"
	"github.com/pfwdctl/pfwdctl/users/keyline"
)

// installedCA is the CA apply --ca installed for the account, so that the
// rendered Match block (with its CA lines) is what the host should have;
// nil when none is installed or it does not parse.
func (a *auditor) installedCA() *render.CA {
	data, err := a.o.Root.ReadFile(ca.TrustedCAPath(a.o.Params.User))
	if err != nil {
		return nil
	}
	// A throwaway line is judged by pfwdctlCA, not taken for the CA.
	data, _ = ca.WithoutThrowaway(data)
	c, err := render.ParseCA(data)
	if err != nil {
		return nil
	}
	return c
}

// pfwdctlCA says whether the certificate setup in effect for the account is
// pfwdctl's own (apply --ca): TrustedUserCAKeys and AuthorizedPrincipalsFile
// name pfwdctl's files, and every principals line carries the restriction
// prefix (restrict first, port-forwarding, only the account's targets), so
// certificates are held by layer 1 like keys. mine is false for any other
// setup; problem says why pfwdctl's own files do not restrict.
func (a *auditor) pfwdctlCA(fwd map[string][]string) (mine bool, problem string) {
	u := a.o.Params.User
	first := func(kw string) string {
		if v := fwd[kw]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	if first("trustedusercakeys") != ca.TrustedCAPath(u) || first("authorizedprincipalsfile") != ca.PrincipalsPath(u) {
		return false, ""
	}
	trusted := ca.TrustedCAPath(u)
	if data, err := a.o.Root.ReadFile(trusted); err == nil {
		if _, n := ca.WithoutThrowaway(data); n > 0 {
			return true, fmt.Sprintf("%s also trusts %d throwaway CA(s) that verify --self --certificate adds for its run (a run killed before removing it, or one still running)", trusted, n)
		}
	}
	path := ca.PrincipalsPath(u)
	data, err := a.o.Root.ReadFile(path)
	if err != nil {
		return true, fmt.Sprintf("%s cannot be read: %v", path, err)
	}
	if fi, err := a.o.Root.Stat(path); err == nil && fi.Mode().Perm()&0o022 != 0 {
		return true, fmt.Sprintf("%s is writable by others (mode %04o)", path, fi.Mode().Perm())
	}
	targets := a.o.Params.TargetStrings()
	n := 0
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		n++
		sp := strings.LastIndexAny(line, " \t")
		if sp < 0 {
			return true, fmt.Sprintf("%s line %d names principal %q without the restrict prefix", path, i+1, line)
		}
		opts, err := keyline.ParseOptions(strings.TrimSpace(line[:sp]))
		if err != nil || len(opts) == 0 || opts[0].Name != "restrict" {
			return true, fmt.Sprintf("%s line %d does not start with restrict", path, i+1)
		}
		permit := 0
		for _, o := range opts {
			switch o.Name {
			case "restrict", "port-forwarding", "expiry-time", "from":
			case "permitopen":
				if !slices.Contains(targets, o.Value) {
					return true, fmt.Sprintf("%s line %d permits %s, not one of the account's targets", path, i+1, o.Value)
				}
				permit++
			default:
				return true, fmt.Sprintf("%s line %d turns %s back on", path, i+1, o.Name)
			}
		}
		if permit == 0 {
			return true, fmt.Sprintf("%s line %d has no permitopen: any target is open", path, i+1)
		}
	}
	if n == 0 {
		return true, path + " names no principal"
	}
	return true, ""
}

// principalsOptions is the option text of each line of pfwdctl's principals
// file for the account (apply --ca), as written; none without a CA.
func (a *auditor) principalsOptions() []string {
	if a.installedCA() == nil {
		return nil
	}
	data, err := a.o.Root.ReadFile(ca.PrincipalsPath(a.o.Params.User))
	if err != nil {
		return nil
	}
	var out []string
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		opts := "" // a bare principal: no options at all
		if sp := strings.LastIndexAny(line, " \t"); sp >= 0 {
			opts = strings.TrimSpace(line[:sp])
		}
		if !slices.Contains(out, opts) {
			out = append(out, opts)
		}
	}
	return out
}

// revocations judges the revocation list sshd checks the account's
// certificates against, with pfwdctl's CA in effect: ca revoke writes
// pfwdctl's KRL, so a revoked certificate stays out only while sshd reads
// that file (an earlier Match block's RevokedKeys wins over apply's) and
// the file is a KRL sshd can read (an unreadable one refuses every key).
func (a *auditor) revocations(inEffect string, at func(*Finding, string)) {
	u := a.o.Params.User
	want := ca.KRLPath(u)
	if inEffect != want {
		shown := inEffect
		if shown == "" {
			shown = "none"
		}
		f := Finding{ID: "ca.revocations", Severity: Fail,
			Title:  fmt.Sprintf("sshd checks %s's certificates against RevokedKeys %s, not pfwdctl's revocation list %s", u, shown, want),
			Detail: "a certificate pfwdctl ca revoke revoked (written to " + want + ") logs in again",
			Fix:    "run pfwdctl apply so pfwdctl's Match block sets RevokedKeys " + want}
		at(&f, "revokedkeys")
		a.add(f)
		return
	}
	data, err := a.o.Root.ReadFile(want)
	if err == nil {
		var k *ca.KRL
		if k, err = ca.ParseKRL(data); err == nil {
			a.ok("ca.revocations", "sshd checks %s's certificates against pfwdctl's revocation list %s (version %d)", u, want, k.Version)
			return
		}
	}
	detail := "sshd refuses every key and certificate of " + u + " while its RevokedKeys file is missing or unreadable"
	if data != nil {
		// sshd reads a file without the KRL header as a plain list of
		// revoked keys: logins may work, but it is not what ca revoke
		// writes, and pfwdctl cannot tell what it revokes.
		detail = "it is not a KRL: sshd reads it as a plain list of revoked keys, ca revoke cannot add to it, and pfwdctl cannot tell which certificates it revokes"
	}
	a.add(Finding{ID: "ca.revocations", Severity: Fail,
		Title:  fmt.Sprintf("pfwdctl's revocation list %s cannot be used: %v", want, err),
		Detail: detail,
		Fix:    "restore " + want + " from a backup; or move it aside and run pfwdctl apply --ca CA.pub for an empty one (its revocations are lost: revoke them again)"})
}
