package audit

import (
	"fmt"
	"net/netip"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/pfwdctl/pfwdctl/internal/sshdconf"
	"github.com/pfwdctl/pfwdctl/render"
	"github.com/pfwdctl/pfwdctl/templates"
)

// connInfo is the connection sshd -T -C was asked about.
type connInfo struct {
	user string
}

// winner returns the line whose value sshd uses for keyword: for a
// connection, the first line in the first Match block that matches it and
// sets the keyword; otherwise (and globally) the first global line. nil
// means no line sets it: sshd's default is in effect.
//
// sshd_config(5): "Unless noted otherwise, for each parameter, the first
// obtained value will be used." Match blocks are applied after the global
// section, each keyword at most once (servconf.c, copy_set_server_options).
func (a *auditor) winner(keyword string, c *connInfo) *sshdconf.Line {
	var global *sshdconf.Line
	for i := range a.cfg.Lines {
		l := &a.cfg.Lines[i]
		if l.Keyword != keyword {
			continue
		}
		if l.Match == "" {
			if global == nil {
				global = l
			}
			continue
		}
		if c != nil && a.matches(l.Match, c.user) {
			return l
		}
	}
	return global
}

// matches evaluates Match criteria for user from localhost/127.0.0.1, as
// sshd -T -C does. Criteria it cannot know (LocalPort, LocalAddress,
// RDomain) do not match, as in sshd when the connection lacks them.
func (a *auditor) matches(criteria, user string) bool {
	f := strings.Fields(criteria)
	if len(f) == 1 && strings.EqualFold(f[0], "all") {
		return true
	}
	if len(f) == 0 {
		return false
	}
	for i := 0; i < len(f); i++ {
		kw := strings.ToLower(f[i])
		if kw == "all" {
			continue
		}
		if i+1 >= len(f) {
			return false
		}
		val := f[i+1]
		i++
		var ok bool
		switch kw {
		case "user":
			ok = matchList(user, val, false)
		case "group":
			ok = a.inGroups(user, val)
		case "host":
			ok = matchList(connHost, val, true)
		case "address":
			ok = matchAddr(connAddr, val)
		case "localaddress":
			ok = matchAddr(connAddr, val)
		case "localport":
			ok = matchList(connPort, val, false)
		default:
			ok = false
		}
		if !ok {
			return false
		}
	}
	return true
}

// matchList is OpenSSH's match_pattern_list: comma-separated wildcard
// patterns, a "!" pattern that matches vetoes the list.
func matchList(s, list string, fold bool) bool {
	if fold {
		s, list = strings.ToLower(s), strings.ToLower(list)
	}
	got := false
	for _, p := range strings.Split(list, ",") {
		neg := strings.HasPrefix(p, "!")
		p = strings.TrimPrefix(p, "!")
		if ok, _ := path.Match(p, s); ok {
			if neg {
				return false
			}
			got = true
		}
	}
	return got
}

func matchAddr(addr, list string) bool {
	ip, _ := netip.ParseAddr(addr)
	got := false
	for _, p := range strings.Split(list, ",") {
		neg := strings.HasPrefix(p, "!")
		p = strings.TrimPrefix(p, "!")
		ok := false
		if pr, err := netip.ParsePrefix(p); err == nil {
			ok = pr.Contains(ip)
		} else {
			ok, _ = path.Match(p, addr)
		}
		if ok {
			if neg {
				return false
			}
			got = true
		}
	}
	return got
}

func (a *auditor) inGroups(user, list string) bool {
	gid := ""
	if user == a.account.Name && a.hasAcct {
		gid = fmt.Sprintf("gid:%d", a.account.GID)
	}
	for name, members := range a.groups {
		if (slices.Contains(members, user) || (gid != "" && slices.Contains(members, gid))) && matchList(name, list, false) {
			return true
		}
	}
	return false
}

// critical keywords fail when they differ; the rest of the baseline warns
// (a different MaxAuthTries or LogLevel weakens, but keeps the promises).
var critical = map[string]bool{
	"permitrootlogin": true, "passwordauthentication": true, "kbdinteractiveauthentication": true,
	"pubkeyauthentication": true, "authenticationmethods": true, "permitemptypasswords": true,
	"x11forwarding": true, "allowagentforwarding": true, "permittunnel": true, "gatewayports": true,
	"allowtcpforwarding": true, "allowstreamlocalforwarding": true, "forcecommand": true,
	"permittty": true, "permitopen": true,
}

// effectiveChecks compares sshd -T with what render produces, for
// everyone, for an ordinary account and for the forward account.
func (a *auditor) effectiveChecks(global, fwd, other map[string][]string) {
	u := a.o.Params.User
	type ctx struct {
		label string
		eff   map[string][]string
		conn  *connInfo
		want  []sshdconf.Line
	}
	fwdWant := overlay(a.expectGlobal, a.expectMatch)
	ctxs := []ctx{
		{"globally", global, nil, a.expectGlobal},
		{"for " + a.rep.OtherUser, other, &connInfo{a.rep.OtherUser}, a.expectGlobal},
		{"for " + u, fwd, &connInfo{u}, fwdWant},
	}
	bad := 0
	for _, c := range ctxs {
		for _, w := range c.want {
			if w.Keyword == "hostkey" {
				continue // many values, in order: hostKeyOrder
			}
			if hardwareKeywords[w.Keyword] {
				continue // what they mean: hardwareChecks
			}
			want := strings.Join(w.Args, " ")
			got := strings.Join(effectiveValue(c.eff, w.Keyword), " ")
			if a.sameValue(want, got) || sameRootLogin(w.Keyword, want, got) {
				continue
			}
			if w.Keyword == "loglevel" && atLeastVerbose(got) {
				continue // DEBUG logs the key fingerprints too
			}
			bad++
			a.mismatch(w, want, got, c.label, c.conn)
		}
	}
	bad += a.hostKeyOrder(global)
	if bad == 0 {
		a.ok("effective", "sshd -T: all %d baseline directives in effect globally and for %s, and all %d Match block directives for %s", len(a.expectGlobal), a.rep.OtherUser, len(a.expectMatch), u)
	}
}

// sameRootLogin: sshd -T prints PermitRootLogin prohibit-password under
// its older name, without-password, before OpenSSH 9.4 or so; both mean
// root by key only.
func sameRootLogin(kw, want, got string) bool {
	if kw != "permitrootlogin" {
		return false
	}
	norm := func(v string) string {
		if strings.EqualFold(v, "without-password") {
			return "prohibit-password"
		}
		return strings.ToLower(v)
	}
	return norm(want) == norm(got)
}

// atLeastVerbose: sshd logs the fingerprint of each accepted key at this
// LogLevel (VERBOSE or one of the DEBUG levels).
func atLeastVerbose(level string) bool {
	switch strings.ToUpper(level) {
	case "VERBOSE", "DEBUG", "DEBUG1", "DEBUG2", "DEBUG3":
		return true
	}
	return false
}

// sshdAliases are keywords sshd -T prints under another name on some
// releases: from 8.7 ChallengeResponseAuthentication is read as
// KbdInteractiveAuthentication and -T prints only that.
var sshdAliases = map[string][]string{
	"challengeresponseauthentication": {"kbdinteractiveauthentication"},
}

// effectiveValue is what sshd -T says for kw, under an alias when this
// release prints it so.
func effectiveValue(eff map[string][]string, kw string) []string {
	kw = strings.ToLower(kw)
	if v, ok := eff[kw]; ok {
		return v
	}
	for _, a := range sshdAliases[kw] {
		if v, ok := eff[a]; ok {
			return v
		}
	}
	return nil
}

// overlay is the baseline with the Match block's values on top.
func overlay(base, match []sshdconf.Line) []sshdconf.Line {
	out := slices.Clone(base)
	for _, m := range match {
		i := slices.IndexFunc(out, func(l sshdconf.Line) bool { return l.Keyword == m.Keyword })
		if i >= 0 {
			out[i] = m
		} else {
			out = append(out, m)
		}
	}
	return out
}

// keywordName is the keyword as the templates spell it.
func keywordName(l sshdconf.Line) string {
	for _, name := range []string{"PermitRootLogin", "PasswordAuthentication", "KbdInteractiveAuthentication", "PubkeyAuthentication",
		"AuthenticationMethods", "PermitEmptyPasswords", "MaxAuthTries", "LoginGraceTime", "X11Forwarding", "AllowAgentForwarding",
		"PermitTunnel", "GatewayPorts", "AllowTcpForwarding", "AllowStreamLocalForwarding", "ClientAliveInterval", "ClientAliveCountMax",
		"LogLevel", "ChallengeResponseAuthentication", "HostbasedAuthentication", "IgnoreRhosts", "IgnoreUserKnownHosts",
		"PermitUserEnvironment", "StrictModes", "MaxStartups", "Compression", "TCPKeepAlive", "ForceCommand", "PermitTTY", "PermitOpen", "DisableForwarding", "AuthorizedKeysFile", "AuthorizedKeysCommand",
		"AuthorizedPrincipalsFile", "KexAlgorithms", "Ciphers", "MACs", "HostKeyAlgorithms"} {
		if strings.EqualFold(name, l.Keyword) {
			return name
		}
	}
	return l.Keyword
}

// mismatch reports one directive that is not in effect, with the line that
// set the winning value and why it won.
func (a *auditor) mismatch(want sshdconf.Line, wantVal, got, label string, c *connInfo) {
	name := keywordName(want)
	w := a.winner(want.Keyword, c)
	sev := Warn
	if critical[want.Keyword] {
		sev = Fail
	}
	if got == "" {
		got = "(unset)"
	}
	key := want.Keyword + "|" + got + "|"
	if w != nil {
		key += w.At()
	}
	if i, ok := a.reported[key]; ok {
		a.rep.Findings[i].Title += ", " + label
		return
	}
	f := Finding{Severity: sev,
		Title: fmt.Sprintf("%s is %s, pfwdctl wants %s: %s", name, got, wantVal, label)}

	ours := want.File // a rendered name: 10-hardening.conf or the account's 20-USER-only.conf
	// Before apply, pfwdctl's unit is simply not there: every finding
	// then says so, not that some line "is read before" a file that does
	// not exist, nor to check an Include finding that passed.
	_, readErr := sshdconf.ReadFile(a.o.Root, a.o.Overlay, a.layout.Path(ours))
	installed := readErr == nil
	notRead := "run pfwdctl apply (and check the Include finding)"
	if a.include != nil {
		notRead = "run pfwdctl apply"
	}
	switch {
	case !installed && (w == nil || !a.ours(ours, w)):
		f.ID = "effective.unset"
		if w != nil {
			f.ID = "effective.mismatch"
		}
		f.Detail = fmt.Sprintf("pfwdctl's %s is not installed (pfwdctl apply has not run, or it was removed)", ours)
		if w != nil {
			f.Detail += fmt.Sprintf("; %s sets it", w.At())
		}
		f.Fix = "run pfwdctl apply (it shows the diff first)"
		if w == nil {
			f.File = a.layout.Path(ours)
		}
	case w == nil:
		f.ID = "effective.unset"
		f.Detail = fmt.Sprintf("no line sets %s, so sshd's default is in effect: %s is not read", name, ours)
		f.File = a.layout.Path(ours)
		f.Fix = notRead
	case w.File == a.mainConfig() && w.Match == "" && a.include != nil && w.Num < a.include.Num:
		f.ID = "include.order"
		what := "the Include"
		if a.layout.Mode == render.ModeManaged {
			what = "pfwdctl's managed baseline block"
		}
		f.Detail = fmt.Sprintf("it sits above %s at line %d, so it beats pfwdctl's lines (sshd keeps the first value it reads)", what, a.include.Num)
		f.Fix = fmt.Sprintf("delete line %d of %s, or move it below %s", w.Num, w.File, what)
	case w.Match != "" && !a.ours(a.forwardFile(), w):
		f.ID = "match.override"
		f.Detail = fmt.Sprintf("the Match %s block at %s matches %s and sets %s; among matching blocks the first wins, and a Match block overrides the global value", w.Match, w.MatchAt, strings.TrimPrefix(label, "for "), name)
		if c == nil {
			f.Detail = fmt.Sprintf("the line is inside the Match %s block at %s", w.Match, w.MatchAt)
		}
		f.Fix = fmt.Sprintf("delete %s at %s (or narrow that Match block so it does not match %s)", name, w.At(), strings.TrimPrefix(label, "for "))
	case a.layout.Mode == render.ModeDropIns && !a.ours(ours, w) && isDropIn(a, w.File) && filepath.Base(w.File) < ours:
		f.ID = "dropin.earlier"
		f.Detail = fmt.Sprintf("%s sorts before %s, and sshd keeps the first value it reads", filepath.Base(w.File), ours)
		f.Fix = fmt.Sprintf("delete %s at %s (or the whole file if it is not needed)", name, w.At())
	case a.ours(ours, w):
		f.ID = "dropin.edited"
		f.Detail = fmt.Sprintf("pfwdctl's own %s says %s here", a.unitWord(), strings.Join(w.Args, " "))
		f.Fix = "run pfwdctl apply to restore the drop-in (it shows the diff first)"
	default:
		f.ID = "effective.mismatch"
		f.Detail = fmt.Sprintf("%s sets it and is read before %s", w.At(), ours)
		f.Fix = fmt.Sprintf("delete %s at %s", name, w.At())
	}
	if w != nil {
		f.File, f.Line = w.File, w.Num
	}
	if want.Keyword == "loglevel" {
		// Said whatever line wins, so the admin knows what is lost.
		f.Detail += "; below VERBOSE sshd does not log which key logged in, so pfwdctl sessions cannot name keys and revoke --kill-sessions cannot tell one friend's tunnel from another's"
	}
	a.reported[key] = len(a.rep.Findings)
	a.add(f)
}

func isDropIn(a *auditor, file string) bool {
	return filepath.Dir(file) == render.DropInDir(a.mainConfig())
}

// forwardingChecks: DisableForwarding yes overrides every other forwarding
// setting and silently kills the tunnel.
func (a *auditor) forwardingChecks(fwd map[string][]string) {
	if v := fwd["disableforwarding"]; len(v) > 0 && strings.EqualFold(v[0], "yes") {
		f := Finding{ID: "forwarding.disabled", Severity: Fail,
			Title:  "DisableForwarding yes is in effect for " + a.o.Params.User + ": the tunnel cannot open",
			Detail: "DisableForwarding overrides AllowTcpForwarding and the key's port-forwarding option",
			Fix:    "delete the DisableForwarding line (pfwdctl's baseline already turns forwarding off for everyone else)"}
		if w := a.winner("disableforwarding", &connInfo{a.o.Params.User}); w != nil {
			f.File, f.Line = w.File, w.Num
			f.Fix = fmt.Sprintf("delete DisableForwarding at %s (pfwdctl's baseline already turns forwarding off for everyone else)", w.At())
		}
		a.add(f)
	}
}

// includeChecks: the drop-in directory is included at global scope, or,
// in the managed-block mode, the baseline block is in sshd_config.
func (a *auditor) includeChecks() {
	if a.layout.Mode == render.ModeManaged {
		r, ok := a.layout.Region(templates.Hardening)
		if !ok {
			return // dropInChecks reports the missing unit
		}
		a.include = &sshdconf.Line{File: a.mainConfig(), Num: r.Begin}
		a.ok("include", "pfwdctl's baseline is the managed block at %s:%d (install mode managed-block)", a.mainConfig(), r.Begin)
		return
	}
	dir := render.DropInDir(a.mainConfig())
	l, ok, err := sshdconf.IncludesFileOverlay(a.o.Root, a.o.Overlay, a.mainConfig(), filepath.Join(dir, templates.Hardening))
	if err != nil || !ok {
		a.add(Finding{ID: "include.missing", Severity: Fail, File: a.mainConfig(),
			Title:  fmt.Sprintf("%s does not include %s/*.conf", a.mainConfig(), dir),
			Detail: "sshd never reads pfwdctl's drop-ins",
			Fix:    "run pfwdctl apply: it adds the line at the top of " + a.mainConfig() + " (above any other directive, outside any Match block):\nInclude " + dir + "/*.conf"})
		return
	}
	a.include = &l
	a.ok("include", "%s includes the drop-ins at %s", a.mainConfig(), l.At())
}

// unitWord is what pfwdctl's units are called in this install mode.
func (a *auditor) unitWord() string {
	if a.layout.Mode == render.ModeManaged {
		return "managed block"
	}
	return "drop-in"
}

// dropInChecks: pfwdctl's drop-ins are installed as render produces them.
func (a *auditor) dropInChecks() {
	files, err := render.Render(a.o.Params)
	if err != nil {
		return
	}
	good := 0
	for _, f := range files {
		p, line := a.layout.Path(f.Name), 0
		if r, ok := a.layout.Region(f.Name); ok {
			line = r.Begin
		}
		data, found := a.unit(f.Name)
		switch {
		case !found:
			a.add(Finding{ID: "dropin.missing", Severity: Fail, File: p,
				Title: a.layout.At(f.Name) + " is not installed", Fix: "run pfwdctl apply"})
		case string(data) != string(f.Data):
			a.add(Finding{ID: "dropin.changed", Severity: Warn, File: p, Line: line,
				Title:  a.layout.At(f.Name) + " differs from what pfwdctl renders for " + a.o.Params.User + " → " + strings.Join(a.rep.Targets, " "),
				Detail: "the effective checks show whether the difference matters",
				Fix:    "pfwdctl apply --dry-run shows the diff; pfwdctl apply restores it"})
		default:
			good++
		}
	}
	// The crypto drop-in is optional; when present it must not be in a
	// Match block, which its template guarantees.
	if good == len(files) {
		a.ok("dropin", "the %ss are installed exactly as pfwdctl renders them", a.unitWord())
	}
	for i := range a.cfg.Lines {
		l := &a.cfg.Lines[i]
		if l.Keyword == "match" && a.ours(a.forwardFile(), l) && l.Match != "" && a.matches(l.Match, a.o.Params.User) && a.ourMatch == nil {
			a.ourMatch = l
		}
	}
}

// trailingMatchChecks: in the main file, a line below a Match block that
// looks meant for everyone (not indented like the block, or set apart by
// a blank line) still belongs to that block: only "Match all" or another
// Match ends it.
func (a *auditor) trailingMatchChecks() {
	main := a.mainConfig()
	data, err := a.read(main)
	if err != nil {
		return
	}
	raw := strings.Split(string(data), "\n")
	lines, err := sshdconf.Parse(data)
	if err != nil {
		return
	}
	var block *sshdconf.Line
	indented, prevNum := false, 0
	n := 0
	for i := range lines {
		l := lines[i]
		l.File = main
		if l.Keyword == "match" {
			if strings.EqualFold(strings.Join(l.Args, " "), "all") {
				block = nil
			} else {
				b := l
				block = &b
			}
			prevNum, indented = l.Num, false
			continue
		}
		if block == nil {
			continue
		}
		text := raw[l.Num-1]
		isIndented := strings.HasPrefix(text, " ") || strings.HasPrefix(text, "\t")
		first := prevNum == block.Num
		gap := false
		for j := prevNum; j < l.Num-1 && j < len(raw); j++ {
			if strings.TrimSpace(raw[j]) == "" {
				gap = true
			}
		}
		if first {
			indented = isIndented
		} else if (indented && !isIndented) || gap {
			n++
			a.add(Finding{ID: "match.trailing", Severity: Fail, File: main, Line: l.Num,
				Title:  fmt.Sprintf("%s at line %d belongs to the Match %s block at line %d, not to every connection", keywordName(l), l.Num, strings.Join(block.Args, " "), block.Num),
				Detail: "a Match block runs to the next Match line or the end of the file; lines appended at the end join it",
				Fix:    fmt.Sprintf("move line %d above the first Match block of %s (or put a line \"Match all\" just above it)", l.Num, main)})
		}
		prevNum = l.Num
	}
	if n == 0 {
		a.ok("match.trailing", "no line of %s sits unintended inside a trailing Match block", main)
	}
}

// earlierMatchChecks: another Match block that also matches the forward
// account and comes before pfwdctl's wins for every keyword it sets.
func (a *auditor) earlierMatchChecks() {
	u := a.o.Params.User
	want := overlay(a.expectGlobal, a.expectMatch)
	n := 0
	for i := range a.cfg.Lines {
		l := &a.cfg.Lines[i]
		if l.Keyword != "match" || l.Match == "" {
			continue
		}
		if a.ours(a.forwardFile(), l) {
			break
		}
		if !a.matches(l.Match, u) {
			continue
		}
		n++
		var kws, weaker []string
		for _, m := range a.cfg.Lines {
			if m.MatchAt == l.At() && m.Keyword != "match" {
				kws = append(kws, keywordName(m))
				// Its value is the one in effect for the account: one
				// that is not what pfwdctl requires, for a keyword that
				// holds the tunnel in, is a failure, not a note. (On a
				// --root tree, sshd -T cannot see the tree's groups, so
				// this reading is the only one that does.)
				for _, w := range want {
					if w.Keyword == m.Keyword && critical[w.Keyword] && !a.sameValue(strings.Join(m.Args, " "), strings.Join(w.Args, " ")) {
						weaker = append(weaker, keywordName(m)+" "+strings.Join(m.Args, " "))
					}
				}
			}
		}
		f := Finding{ID: "match.earlier", Severity: Warn, File: l.File, Line: l.Num,
			Title:  fmt.Sprintf("Match %s at %s also matches %s and comes before pfwdctl's block", l.Match, l.At(), u),
			Detail: fmt.Sprintf("among matching Match blocks the first wins, for every keyword it sets (%s)", strings.Join(kws, ", ")),
			Fix:    fmt.Sprintf("narrow it so it does not match %s (e.g. Match User !%s,...), or move its lines into pfwdctl's block by re-running pfwdctl apply", u, u)}
		if len(weaker) > 0 {
			f.Severity = Fail
			f.Title = fmt.Sprintf("Match %s at %s also matches %s, comes before pfwdctl's block, and sets %s", l.Match, l.At(), u, strings.Join(weaker, ", "))
		}
		a.add(f)
	}
	if n == 0 {
		a.ok("match.earlier", "no other Match block matches %s before pfwdctl's", u)
	}
}

// sameValue says two values of a keyword are the same: equal ignoring
// case, or two absolute paths that are one file in the tree (on a
// merged-/usr system /sbin/nologin is /usr/sbin/nologin).
func (a *auditor) sameValue(x, y string) bool {
	if strings.EqualFold(x, y) {
		return true
	}
	if !filepath.IsAbs(x) || !filepath.IsAbs(y) || strings.ContainsAny(x+y, " \t") {
		return false
	}
	fx, errx := a.o.Root.Stat(x)
	fy, erry := a.o.Root.Stat(y)
	return errx == nil && erry == nil && os.SameFile(fx, fy)
}

// shadowChecks: a global line that sets one of the baseline's keywords to
// another value, but is read after the line that wins (sshd keeps the first
// value it reads), changes nothing: it is not a failure, but an admin who
// reads it in a file should learn that it is shadowed, and by what (e.g.
// Debian's own "X11Forwarding yes" below pfwdctl's drop-in).
func (a *auditor) shadowChecks() {
	for _, w := range a.expectGlobal {
		var first *sshdconf.Line
		for i := range a.cfg.Lines {
			l := &a.cfg.Lines[i]
			if l.Keyword != w.Keyword || l.Match != "" {
				continue
			}
			if first == nil {
				first = l
				continue
			}
			if strings.EqualFold(strings.Join(l.Args, " "), strings.Join(first.Args, " ")) {
				continue
			}
			a.add(Finding{ID: "shadowed", Severity: OK, File: l.File, Line: l.Num,
				Title: fmt.Sprintf("%s %s at %s is shadowed by %s %s at %s (sshd keeps the first value it reads)",
					keywordName(w), strings.Join(l.Args, " "), l.At(), keywordName(w), strings.Join(first.Args, " "), first.At())})
		}
	}
}

// hostKeyOrder: the host keys pfwdctl's crypto unit names are the first
// sshd loads, in its order (HostKey adds to a list instead of keeping the
// first value). It returns the number of findings.
func (a *auditor) hostKeyOrder(global map[string][]string) int {
	var want []sshdconf.Line
	for _, w := range a.expectGlobal {
		if w.Keyword == "hostkey" && len(w.Args) == 1 {
			want = append(want, w)
		}
	}
	if len(want) == 0 {
		return 0
	}
	var got []string
	for _, p := range global["hostkey"] {
		if !a.o.Root.IsHost() {
			p = a.o.Root.HostPath(p)
		}
		got = append(got, p)
	}
	for i, w := range want {
		if i < len(got) && got[i] == w.Args[0] {
			continue
		}
		var names []string
		for _, x := range want {
			names = append(names, x.Args[0])
		}
		f := Finding{ID: "crypto.hostkey-order", Severity: Warn,
			Title:  "sshd loads its host keys as " + strings.Join(got, ", ") + ", pfwdctl wants " + strings.Join(names, ", ") + " first",
			Detail: "HostKey lines add to a list: the first ones read are offered first, and an ECDSA key (NIST curve) should not be among them",
			Fix:    "run pfwdctl apply --crypto, or move the HostKey lines above " + a.layout.At(templates.Crypto)}
		if l := a.winner("hostkey", nil); l != nil {
			f.File, f.Line = l.File, l.Num
		}
		a.add(f)
		return 1
	}
	return 0
}
