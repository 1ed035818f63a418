package audit

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
)

// conditionalChecks: a Match block that applies to the account only on
// some connections (Address, LocalAddress, LocalPort, Host, RDomain) is
// invisible on the loopback connection the other checks ask sshd about. A
// `Match Address 10.0.0.0/8` with `PermitOpen any` passes them all while
// every tunnel from that network reaches anything. For each such block a
// connection it matches is derived from its own criteria and sshd -T -C
// asked about it; everything pfwdctl requires for the account must still
// be in effect there.
func (a *auditor) conditionalChecks(ctx context.Context, fwd map[string][]string) {
	u := a.o.Params.User
	want := overlay(a.expectGlobal, a.expectMatch)
	seen := map[string]bool{}
	for _, l := range a.cfg.Lines {
		if l.Keyword != "match" || l.Match == "" || seen[l.MatchAt] {
			continue
		}
		seen[l.MatchAt] = true
		spec, desc, ok := connFor(l.Args, u)
		if !ok {
			continue
		}
		eff, err := a.sshd.Effective(ctx, spec)
		if err != nil {
			continue // sshd.rejects is reported elsewhere
		}
		for _, w := range want {
			wantVal := strings.Join(w.Args, " ")
			got := strings.Join(effectiveValue(eff, w.Keyword), " ")
			base := strings.Join(effectiveValue(fwd, w.Keyword), " ")
			if strings.EqualFold(wantVal, got) || strings.EqualFold(got, base) {
				continue // right, or already reported for every connection
			}
			sev := Warn
			if critical[w.Keyword] {
				sev = Fail
			}
			if got == "" {
				got = "(unset)"
			}
			a.add(Finding{ID: "match.conditional", Severity: sev, File: l.File, Line: l.Num,
				Title:  fmt.Sprintf("on connections %s, %s is %s for %s; pfwdctl wants %s", desc, keywordName(w), got, u, wantVal),
				Detail: "this Match block applies to " + u + " only on such connections, so an audit from loopback alone would not see it (sshd -T -C " + spec + ")",
				Fix:    fmt.Sprintf("delete %s from the block at %s, or narrow the block so it does not match %s (Match User !%s,...)", keywordName(w), l.At(), u, u)})
		}
	}
}

// connFor derives an sshd -T -C connection spec that a Match block's
// criteria select for user, with a description for messages. ok is false
// when the block cannot match user (its User list says so), uses a
// criterion that cannot be derived (Exec), or has no connection criterion
// at all (then the loopback spec already covers it).
func connFor(args []string, user string) (spec, desc string, ok bool) {
	c := map[string]string{"user": user, "host": "localhost", "addr": "127.0.0.1", "laddr": "127.0.0.1", "lport": "22"}
	var parts []string
	conn := false
	for i := 0; i+1 < len(args); i += 2 {
		kw, val := strings.ToLower(args[i]), args[i+1]
		pick := firstPositive(val)
		switch kw {
		case "user":
			if !matchList(user, val, false) {
				return "", "", false
			}
		case "address", "localaddress":
			addr, good := addrFor(pick)
			if !good {
				return "", "", false
			}
			key := map[string]string{"address": "addr", "localaddress": "laddr"}[kw]
			c[key] = addr
			parts = append(parts, kw+" "+addr)
			conn = true
		case "localport":
			c["lport"] = pick
			parts = append(parts, "local port "+pick)
			conn = true
		case "host":
			h := strings.NewReplacer("*", "x", "?", "x").Replace(pick)
			c["host"] = h
			parts = append(parts, "from host "+h)
			conn = true
		case "rdomain":
			c["rdomain"] = pick
			parts = append(parts, "rdomain "+pick)
			conn = true
		case "group":
			// sshd itself looks the account's groups up.
		default:
			return "", "", false // exec, final, canonical, ...: not derivable
		}
	}
	if !conn {
		return "", "", false
	}
	var kv []string
	for _, k := range []string{"user", "host", "addr", "laddr", "lport", "rdomain"} {
		if v, has := c[k]; has {
			kv = append(kv, k+"="+v)
		}
	}
	return strings.Join(kv, ","), strings.Join(parts, ", "), true
}

// firstPositive is the first pattern of a comma list that is not negated.
func firstPositive(list string) string {
	for _, p := range strings.Split(list, ",") {
		if p != "" && !strings.HasPrefix(p, "!") {
			return p
		}
	}
	return ""
}

// addrFor turns an address pattern (an address, a CIDR, or a wildcard
// like 10.1.*) into one address it matches.
func addrFor(p string) (string, bool) {
	if p == "" {
		return "", false
	}
	if pre, err := netip.ParsePrefix(p); err == nil {
		a := pre.Masked().Addr()
		if pre.Bits() < a.BitLen() {
			a = a.Next()
		}
		return a.String(), true
	}
	if a, err := netip.ParseAddr(p); err == nil {
		return a.String(), true
	}
	a := strings.NewReplacer("*", "1", "?", "1").Replace(p)
	if _, err := netip.ParseAddr(a); err == nil {
		return a, true
	}
	return "", false
}
