package audit

import (
	"context"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/pfwdctl/pfwdctl/internal/sshdconf"
)

// conditionalChecks: a Match block that applies to the account only on
// some connections (Address, LocalAddress, LocalPort, Host, RDomain) is
// invisible on the loopback connection the other checks ask sshd about. A
// `Match Address 10.0.0.0/8` with `PermitOpen any` passes them all while
// every tunnel from that network reaches anything.
//
// Which connections a block selects is sshd's answer, not pfwdctl's
// reading of its patterns (negations, wildcards, CIDRs): for each such
// block, connections are derived from every pattern of its criteria (each
// address of a CIDR's edges, each negated address's neighbours, wildcards
// filled in several ways, a pool of ordinary addresses) and sshd -T -C is
// asked about each. On every one, everything pfwdctl requires must still
// be in effect, and no other source of keys or way around the key options
// may appear that the loopback connection does not have. A block sshd
// cannot be asked about is a warning, never a silent pass.
func (a *auditor) conditionalChecks(ctx context.Context, fwd map[string][]string) {
	u := a.o.Params.User
	want := overlay(a.expectGlobal, a.expectMatch)
	seen := map[string]bool{}
	cache := map[string]map[string][]string{}
	reported := map[string]bool{}
	asked := 0
	for _, l := range a.cfg.Lines {
		if l.Keyword != "match" || l.Match == "" || seen[l.MatchAt] {
			continue
		}
		seen[l.MatchAt] = true
		conns, ok := connsFor(l.Args, u)
		if !ok {
			if kws := a.blockKeywords(l.MatchAt); len(kws) > 0 {
				a.add(Finding{ID: "match.conditional", Severity: Warn, File: l.File, Line: l.Num,
					Title:  fmt.Sprintf("Match %s at %s cannot be judged for %s: no connection to ask sshd about can be made from its criteria", l.Match, l.At(), u),
					Detail: "it sets " + strings.Join(kws, ", ") + "; whether it weakens the account on some connections is unknown",
					Fix:    fmt.Sprintf("narrow it so it cannot match %s (Match User !%s,...)", u, u)})
			}
			continue
		}
		for _, c := range conns {
			eff, done := cache[c.spec]
			if !done {
				if asked >= maxConditionalConns {
					a.add(Finding{ID: "match.conditional", Severity: Warn, File: l.File, Line: l.Num,
						Title: fmt.Sprintf("not every connection the Match blocks select was judged (%d asked)", asked),
						Fix:   "fewer or narrower conditional Match blocks"})
					return
				}
				asked++
				var err error
				if eff, err = a.sshd.Effective(ctx, c.spec); err != nil {
					eff = nil // sshd.rejects is reported elsewhere
				}
				cache[c.spec] = eff
			}
			if eff != nil {
				a.judgeConn(l, c, eff, fwd, want, reported)
			}
		}
	}
}

// maxConditionalConns bounds the sshd -T runs (about 30 ms each).
const maxConditionalConns = 160

// judgeConn compares the account's effective config on one derived
// connection with what pfwdctl requires and with the loopback connection's.
// Each keyword is reported once per block.
func (a *auditor) judgeConn(l sshdconf.Line, c conn, eff, fwd map[string][]string, want []sshdconf.Line, reported map[string]bool) {
	u := a.o.Params.User
	report := func(kw, name, got string, sev Severity, why string) {
		key := l.MatchAt + "\x00" + kw
		if reported[key] {
			return
		}
		reported[key] = true
		if got == "" {
			got = "(unset)"
		}
		f := Finding{ID: "match.conditional", Severity: sev, File: l.File, Line: l.Num,
			Title:  fmt.Sprintf("on connections %s, %s is %s for %s; %s", c.desc, name, got, u, why),
			Detail: "a Match block applies to " + u + " only on such connections, so an audit from loopback alone would not see it (sshd -T -C " + c.spec + ")",
			Fix:    fmt.Sprintf("delete %s from the Match block that sets it, or narrow that block so it does not match %s (Match User !%s,...)", name, u, u)}
		// The finding sits at the block whose patterns gave the
		// connection; its fix names the line when the block sets the
		// keyword itself (otherwise another block that also applies
		// there does, and the title's connection finds it).
		if b, ok := a.blockLine(l.MatchAt, kw); ok {
			f.Fix = fmt.Sprintf("delete %s at %s, or narrow the block at %s so it does not match %s (Match User !%s,...)", name, b.At(), l.At(), u, u)
		}
		a.add(f)
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
		report(w.Keyword, keywordName(w), got, sev, "pfwdctl wants "+wantVal)
	}
	// Sources of keys and ways around the key options that pfwdctl does
	// not set (so a later block's value wins too): any change from the
	// loopback connection's is a way in pfwdctl's checks never saw.
	for _, k := range bypassKeywords {
		got := strings.Join(effectiveValue(eff, k.key), " ")
		base := strings.Join(effectiveValue(fwd, k.key), " ")
		if strings.EqualFold(got, base) || !k.weaker(got, base) {
			continue
		}
		report(k.key, k.name, got, Fail, k.why)
	}
}

// bypassKeywords are keywords outside pfwdctl's Match block whose value
// on some connection lets keys or logins in that the key file's options
// do not hold; weaker says whether a value does.
var bypassKeywords = []struct {
	key, name, why string
	weaker         func(got, base string) bool
}{
	{"authorizedkeysfile", "AuthorizedKeysFile", "keys there are not managed by pfwdctl", func(v, _ string) bool {
		for _, p := range strings.Fields(v) {
			if p != ".ssh/authorized_keys" && p != "%h/.ssh/authorized_keys" && p != "none" {
				return true
			}
		}
		return false
	}},
	{"authorizedkeyscommand", "AuthorizedKeysCommand", "it can authorize keys pfwdctl never sees", notNone},
	{"authorizedprincipalsfile", "AuthorizedPrincipalsFile", "it can authorize certificates pfwdctl never sees", notNone},
	{"authorizedprincipalscommand", "AuthorizedPrincipalsCommand", "it can authorize certificates pfwdctl never sees", notNone},
	{"trustedusercakeys", "TrustedUserCAKeys", "certificates from these CAs log in without the key options", notNone},
	{"revokedkeys", "RevokedKeys", "keys and certificates pfwdctl revoked may log in again", func(got, base string) bool { return notNone(base, "") }},
	{"hostbasedauthentication", "HostbasedAuthentication", "host-based logins use no key line at all", isYes},
	{"gssapiauthentication", "GSSAPIAuthentication", "GSSAPI logins use no key line at all", isYes},
	{"permituserrc", "PermitUserRC", "~/.ssh/rc runs a command at login", isYes},
	{"pubkeyacceptedalgorithms", "PubkeyAcceptedAlgorithms", "key types log in that do not on loopback (a hardware-keys-only policy does not hold there)", func(got, base string) bool {
		had := map[string]bool{}
		for _, x := range strings.Split(strings.ToLower(base), ",") {
			had[x] = true
		}
		for _, x := range strings.Split(strings.ToLower(got), ",") {
			if !had[x] {
				return true
			}
		}
		return false
	}},
}

func notNone(v, _ string) bool { return v != "" && !strings.EqualFold(v, "none") }
func isYes(v, _ string) bool   { return strings.EqualFold(v, "yes") }

// blockLine is the line of the Match block at matchAt that sets kw.
func (a *auditor) blockLine(matchAt, kw string) (sshdconf.Line, bool) {
	for _, m := range a.cfg.Lines {
		if m.MatchAt == matchAt && m.Keyword == kw {
			return m, true
		}
	}
	return sshdconf.Line{}, false
}

// blockKeywords are the keywords a Match block sets.
func (a *auditor) blockKeywords(matchAt string) []string {
	var kws []string
	for _, m := range a.cfg.Lines {
		if m.MatchAt == matchAt && m.Keyword != "match" {
			kws = append(kws, keywordName(m))
		}
	}
	return kws
}

// conn is one connection to ask sshd -T -C about, with a description for
// messages.
type conn struct{ spec, desc string }

// connsFor derives the connections to ask sshd about for a Match block's
// criteria and user: for each connection criterion, candidates from each
// of its patterns (negated ones too: their neighbours are what the block
// may still select), varied one criterion at a time. ok is false when the
// block cannot match user (its User list says so: none to ask) or uses a
// criterion no connection can be derived for; with no connection
// criterion at all, the loopback connection already covers it (none).
func connsFor(args []string, user string) (conns []conn, ok bool) {
	base := map[string]string{"user": user, "host": "localhost", "addr": "127.0.0.1", "laddr": "127.0.0.1", "lport": "22"}
	type crit struct{ key, label string }
	var crits []crit
	var cands [][]string
	// base is each criterion's value while another one varies: a
	// candidate its own list accepts (pfwdctl's reading, only to pick it;
	// sshd still decides), so two criteria that both start with a negated
	// pattern are not each held at a value the other excludes.
	var bases []string
	for i := 0; i < len(args); i++ {
		kw := strings.ToLower(args[i])
		if kw == "all" {
			continue
		}
		if i+1 >= len(args) {
			return nil, false
		}
		val := args[i+1]
		i++
		switch kw {
		case "user":
			if !matchList(user, val, false) {
				return nil, true // never this account: nothing to judge
			}
		case "group":
			// sshd itself looks the account's groups up.
		case "address", "localaddress":
			key := map[string]string{"address": "addr", "localaddress": "laddr"}[kw]
			crits = append(crits, crit{key, kw})
			cands = append(cands, addrCandidates(val))
			bases = append(bases, accepted(cands[len(cands)-1], func(c string) bool { return matchAddr(c, val) }))
		case "localport":
			crits = append(crits, crit{"lport", "local port"})
			cands = append(cands, portCandidates(val))
			bases = append(bases, accepted(cands[len(cands)-1], func(c string) bool { return matchList(c, val, false) }))
		case "host":
			crits = append(crits, crit{"host", "from host"})
			cands = append(cands, hostCandidates(val))
			bases = append(bases, accepted(cands[len(cands)-1], func(c string) bool { return matchList(c, val, true) }))
		case "rdomain":
			crits = append(crits, crit{"rdomain", "rdomain"})
			cands = append(cands, patternCandidates(val, "default"))
			bases = append(bases, accepted(cands[len(cands)-1], func(c string) bool { return matchList(c, val, false) }))
		default:
			return nil, false // not a criterion sshd -T -C can be given
		}
	}
	if len(crits) == 0 {
		return nil, true
	}
	make1 := func(vals map[string]string) conn {
		var kv, parts []string
		for _, k := range []string{"user", "host", "addr", "laddr", "lport", "rdomain"} {
			if v, has := vals[k]; has {
				kv = append(kv, k+"="+v)
			}
		}
		for _, c := range crits {
			parts = append(parts, c.label+" "+vals[c.key])
		}
		return conn{strings.Join(kv, ","), strings.Join(parts, ", ")}
	}
	seen := map[string]bool{}
	// Each criterion's candidates in turn, the others at their first.
	for i := range crits {
		for _, v := range cands[i] {
			vals := map[string]string{}
			for k, x := range base {
				vals[k] = x
			}
			for j, c := range crits {
				vals[c.key] = bases[j]
			}
			vals[crits[i].key] = v
			c := make1(vals)
			if !seen[c.spec] {
				seen[c.spec] = true
				conns = append(conns, c)
			}
		}
	}
	return conns, true
}

// accepted is the first candidate ok takes, or the first candidate.
func accepted(cands []string, ok func(string) bool) string {
	for _, c := range cands {
		if ok(c) {
			return c
		}
	}
	return cands[0]
}

// ordinaryAddrs are addresses a client may well come from, asked about
// for every address criterion besides those derived from its patterns.
var ordinaryAddrs = []string{"10.9.8.7", "192.168.1.10", "172.16.5.4", "100.64.1.1", "192.0.2.1", "203.0.113.9",
	"127.0.0.2", "::1", "2001:db8::7", "fe80::1"}

// addrCandidates: for each pattern of an address list (negated or not),
// addresses at and around it: a CIDR's first, second, second-to-last and
// last addresses, an address and its neighbours, a wildcard filled in with
// 0, 1, 9 and 255; then ordinaryAddrs. Only valid addresses are kept.
func addrCandidates(list string) []string {
	var out []string
	seen := map[string]bool{}
	add := func(a netip.Addr) {
		if a.IsValid() && !seen[a.String()] {
			seen[a.String()] = true
			out = append(out, a.String())
		}
	}
	for _, p := range strings.Split(list, ",") {
		p = strings.TrimPrefix(strings.TrimSpace(p), "!")
		if p == "" {
			continue
		}
		if pre, err := netip.ParsePrefix(p); err == nil {
			first := pre.Masked().Addr()
			last := lastAddr(pre)
			add(first.Next())
			add(first)
			add(last.Prev())
			add(last)
			continue
		}
		if a, err := netip.ParseAddr(p); err == nil {
			add(a)
			add(a.Prev())
			add(a.Next())
			continue
		}
		for _, fill := range []string{"1", "0", "9", "255"} {
			filled := strings.NewReplacer("?", fill[:1], "*", fill).Replace(p)
			if a, err := netip.ParseAddr(filled); err == nil {
				add(a)
				continue
			}
			// "10.*" stands for any number of octets: fill the rest.
			for strings.Count(filled, ".") < 3 && !strings.Contains(filled, ":") {
				filled += "." + fill
			}
			if a, err := netip.ParseAddr(filled); err == nil {
				add(a)
			}
		}
	}
	for _, s := range ordinaryAddrs {
		add(netip.MustParseAddr(s))
	}
	return out
}

// lastAddr is the highest address of a prefix.
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// portCandidates: each port a LocalPort list names (negated too) and its
// neighbours, then the usual ports.
func portCandidates(list string) []string {
	var out []string
	seen := map[string]bool{}
	add := func(n int) {
		if s := strconv.Itoa(n); n > 0 && n < 65536 && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	for _, p := range strings.Split(list, ",") {
		p = strings.TrimPrefix(strings.TrimSpace(p), "!")
		if n, err := strconv.Atoi(p); err == nil {
			add(n)
			add(n + 1)
			add(n - 1)
		}
	}
	for _, n := range []int{22, 2222, 443, 8022} {
		add(n)
	}
	return out
}

// hostCandidates: each Host pattern with its wildcards filled in, then
// ordinary names.
func hostCandidates(list string) []string {
	out := patternCandidates(list, "localhost", "client.example.org", "10.9.8.7")
	return out
}

// patternCandidates: each pattern of a list (negated too) with '*' and '?'
// filled in two ways, then extra.
func patternCandidates(list string, extra ...string) []string {
	var out []string
	seen := map[string]bool{}
	add := func(s string) {
		if s != "" && !seen[s] && !strings.ContainsAny(s, ", \t=") {
			seen[s] = true
			out = append(out, s)
		}
	}
	for _, p := range strings.Split(list, ",") {
		p = strings.TrimPrefix(strings.TrimSpace(p), "!")
		add(strings.NewReplacer("*", "x", "?", "x").Replace(p))
		add(strings.NewReplacer("*", "a1", "?", "b").Replace(p))
	}
	for _, e := range extra {
		add(e)
	}
	return out
}
