package keyline

import (
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pfwdctl/pfwdctl/internal/target"
)

// This file is the one place that says what an authorized_keys line
// allows. list-keys, revoke, prune, audit and audit --layers all ask Judge;
// none of them reads options on its own, so they cannot disagree.

// Severity says whether a problem lets the key do more than pfwdctl grants
// (Fail) or only keeps it from working or is worth a look (Warn).
type Severity string

const (
	Fail Severity = "fail"
	Warn Severity = "warn"
)

// Problem IDs are stable: audit prints them as finding IDs, scripts match
// them in --json output.
const (
	// The line, its key or its option text cannot be read.
	ProblemUnparsable = "key.unparsable"
	// No restrict: everything is on unless turned off one by one.
	ProblemRestrict = "key.restrict"
	// An option turns pty, agent, X11 or ~/.ssh/rc back on after restrict.
	ProblemReenables = "key.reenables"
	// Port forwarding is off: the key cannot open the tunnel.
	ProblemPortForwarding = "key.port-forwarding"
	// permitopen is missing, a wildcard, or outside the Match block.
	ProblemPermitopen = "key.permitopen"
	// permitlisten asks for remote (-R) forwards.
	ProblemPermitlisten = "key.permitlisten"
	ProblemExpired      = "key.expired"
	ProblemCommand      = "key.command"
	ProblemEnvironment  = "key.environment"
	ProblemTunnel       = "key.tunnel"
	ProblemCertAuth     = "key.cert-authority"
	ProblemPrincipals   = "key.principals"
	ProblemUnknown      = "key.unknown-option"
	ProblemDuplicate    = "key.duplicate"
	// The same key (fingerprint) is on more than one line of the file.
	ProblemCopies = "key.copies"
	// A plain (not hardware-backed) key in an account that takes FIDO
	// keys only: sshd refuses it today, and lets it in the day the
	// policy is lifted.
	ProblemNotHardware = "key.not-hardware"
)

// Problem is one thing Judge found wrong with a line.
type Problem struct {
	ID       string   `json:"id"`
	Severity Severity `json:"severity"`
	// Option is the option concerned, lower-case ("" for the line itself).
	Option string `json:"option,omitempty"`
	// Text says what is wrong, without naming the key or the line: callers
	// add that.
	Text string `json:"text"`
}

// Match is the context a line is judged in: the PermitOpen targets of the
// installed Match User block. Empty Targets: no Match block is installed,
// so nothing outside the line narrows what it allows.
type Match struct {
	Targets []string
	// Zone is the time zone sshd runs in (the host's /etc/localtime, see
	// sshd.Zone): sshd reads an expiry-time without Z or UTC in it, not in
	// pfwdctl's $TZ. nil: time.Local.
	Zone *time.Location
	// HardwareOnly: the block takes hardware-backed (FIDO) keys only
	// (apply --hardware-keys-only), so sshd refuses any other key.
	HardwareOnly bool
}

// Verdict is what one line allows once sshd has read its options, and what
// is wrong with that.
type Verdict struct {
	Line Line
	// Fingerprint of the key blob; "" when the line does not parse.
	Fingerprint string

	Restrict bool // restrict given
	// What stays on after all options are applied in order.
	PortForwarding, AgentForwarding, Pty, X11Forwarding, UserRC bool

	Permitopen []string // local (-L) forward targets sshd accepts, as written
	// Written is every permitopen value on the line, also those sshd
	// refuses: what list-keys shows, so nothing on the line is hidden.
	Written      []string
	Permitlisten []string // remote (-R) listen addresses, as written
	Command      string
	HasCommand   bool
	Environment  []string // NAME=value
	Tunnel       string
	// NoTouchRequired and VerifyRequired only matter for FIDO keys; they
	// are reported, never judged.
	NoTouchRequired, VerifyRequired bool
	CertAuthority                   bool
	Principals                      string
	Expiry                          time.Time // zero: none
	// Expired is set only when Judge was given a now.
	Expired bool
	From    []string

	Problems []Problem
}

// Restricted is true when no problem lets the key do more than forward to
// the Match block's targets.
func (v Verdict) Restricted() bool {
	return !slices.ContainsFunc(v.Problems, func(p Problem) bool { return p.Severity == Fail })
}

// Has reports whether a problem with this ID was found.
func (v Verdict) Has(id string) bool {
	return slices.ContainsFunc(v.Problems, func(p Problem) bool { return p.ID == id })
}

// Texts returns the texts of the problems of one severity.
func (v Verdict) Texts(s Severity) []string {
	var out []string
	for _, p := range v.Problems {
		if p.Severity == s {
			out = append(out, p.Text)
		}
	}
	return out
}

func (v *Verdict) add(id string, s Severity, opt, format string, args ...any) {
	v.Problems = append(v.Problems, Problem{ID: id, Severity: s, Option: opt, Text: fmt.Sprintf(format, args...)})
}

// flagOptions are sshd's on/off options (auth-options.c): restrict turns
// all of them off, each name turns its own back on, "no-"+name turns it off.
var flagOptions = []string{"port-forwarding", "agent-forwarding", "x11-forwarding", "pty", "user-rc"}

// valueOptions take a quoted value.
var valueOptions = []string{"command", "environment", "from", "permitopen", "permitlisten", "principals", "tunnel", "expiry-time"}

// sshdRefusesTwice are the options sshd refuses the whole line for when
// they appear twice ("multiple ... clauses").
var sshdRefusesTwice = []string{"command", "from", "principals"}

// Judge reads one authorized_keys line as sshd does and says what it
// allows and what is wrong, within the Match block m. A zero now skips the
// expiry check (the time is still parsed and reported). Blank and comment
// lines are the caller's to skip.
//
// sshd's rules (authorized_keys(5), auth-options.c): option names are
// case-insensitive; options apply left to right, so restrict turns every
// flag off and a later port-forwarding, pty, agent-forwarding,
// X11-forwarding or user-rc turns that one back on; without restrict
// everything is on unless a no-* option turns it off; an unknown option
// makes sshd refuse the line.
func Judge(raw string, m Match, now time.Time) Verdict {
	l, err := SplitLine(strings.TrimSpace(raw))
	var fp string
	if err == nil {
		fp, err = l.Fingerprint()
	}
	return JudgeSplit(l, fp, err, m, now)
}

// JudgeSplit is Judge for a line already split and fingerprinted (err is
// what SplitLine or Fingerprint returned), so a caller that has read a
// whole file that way (users' Entries) does not do it a second time.
func JudgeSplit(l Line, fingerprint string, err error, m Match, now time.Time) Verdict {
	var v Verdict
	v.Line = l
	if err != nil {
		v.add(ProblemUnparsable, Fail, "", "unreadable line: %v", err)
		return v
	}
	v.Fingerprint = fingerprint
	opts, err := ParseOptions(l.Options)
	if err != nil {
		v.add(ProblemUnparsable, Fail, "", "options do not parse: %v", err)
		return v
	}
	// Without restrict everything starts on.
	on := map[string]bool{}
	for _, f := range flagOptions {
		on[f] = true
	}
	seen := map[string]int{}
	seenExact := map[Option]bool{}
	for _, o := range opts {
		name := o.Name
		seen[name]++
		if seenExact[o] {
			v.add(ProblemDuplicate, Warn, name, "option %s is given twice", optText(o))
		} else if seen[name] > 1 && slices.Contains(sshdRefusesTwice, name) {
			v.add(ProblemDuplicate, Warn, name, "option %s is given twice: sshd refuses the whole line", name)
		} else if seen[name] > 1 && (name == "expiry-time" || name == "tunnel") {
			v.add(ProblemDuplicate, Warn, name, "option %s is given twice", name)
		}
		seenExact[o] = true

		neg := strings.TrimPrefix(name, "no-")
		switch {
		case name == "restrict" || slices.Contains(flagOptions, neg) || name == "cert-authority" || name == "no-touch-required" || name == "verify-required":
			if o.HasValue {
				v.add(ProblemUnparsable, Fail, name, "option %s takes no value", name)
				continue
			}
		case slices.Contains(valueOptions, name):
			if !o.HasValue {
				v.add(ProblemUnparsable, Fail, name, "option %s needs a quoted value", name)
				continue
			}
		case name == "":
			v.add(ProblemUnparsable, Fail, "", "empty option (two commas in a row?)")
			continue
		default:
			v.add(ProblemUnknown, Fail, name, "unknown option %s: sshd refuses the line, and a newer sshd may give it a meaning pfwdctl cannot check", ellipsis(name, 40))
			continue
		}
		switch {
		case name == "restrict":
			v.Restrict = true
			for _, f := range flagOptions {
				on[f] = false
			}
		case slices.Contains(flagOptions, name):
			on[name] = true
		case name != neg && slices.Contains(flagOptions, neg):
			on[neg] = false
		case name == "cert-authority":
			v.CertAuthority = true
		case name == "no-touch-required":
			v.NoTouchRequired = true
		case name == "verify-required":
			v.VerifyRequired = true
		case name == "permitopen":
			v.Written = append(v.Written, o.Value)
			if !validPermit(o.Value, false) {
				v.add(ProblemUnparsable, Fail, name, "permitopen %q is not host:port (sshd refuses the line)", o.Value)
				continue
			}
			v.Permitopen = append(v.Permitopen, o.Value)
		case name == "permitlisten":
			if !validPermit(o.Value, true) {
				v.add(ProblemUnparsable, Fail, name, "permitlisten %q is not [host:]port (sshd refuses the line)", o.Value)
				continue
			}
			v.Permitlisten = append(v.Permitlisten, o.Value)
		case name == "command":
			v.Command, v.HasCommand = o.Value, true
		case name == "environment":
			v.Environment = append(v.Environment, o.Value)
		case name == "tunnel":
			v.Tunnel = o.Value
		case name == "principals":
			v.Principals = o.Value
		case name == "from":
			v.From = strings.Split(o.Value, ",")
		case name == "expiry-time":
			zone := m.Zone
			if zone == nil {
				zone = time.Local
			}
			t, err := ParseExpiryTimeIn(o.Value, zone)
			if err != nil {
				v.add(ProblemUnparsable, Fail, name, "expiry-time %q does not parse, sshd refuses the key", o.Value)
				continue
			}
			// Given twice, sshd keeps the earlier time.
			if v.Expiry.IsZero() || t.Before(v.Expiry) {
				v.Expiry = t
			}
		}
	}
	v.PortForwarding, v.AgentForwarding, v.Pty = on["port-forwarding"], on["agent-forwarding"], on["pty"]
	v.X11Forwarding, v.UserRC = on["x11-forwarding"], on["user-rc"]

	if !v.Restrict {
		v.add(ProblemRestrict, Fail, "restrict", "no restrict prefix: the key may open a shell, pty or any forward the Match block allows")
	} else {
		for _, f := range []string{"agent-forwarding", "pty", "x11-forwarding", "user-rc"} {
			if on[f] {
				v.add(ProblemReenables, Fail, f, "%s turns %s back on after restrict", f, reenabled[f])
			}
		}
	}
	if !v.PortForwarding {
		v.add(ProblemPortForwarding, Warn, "port-forwarding", "port forwarding is off (restrict without port-forwarding, or no-port-forwarding): the key cannot open the tunnel")
	} else if len(v.Permitopen) == 0 {
		v.add(ProblemPermitopen, Fail, "permitopen", "port-forwarding without permitopen: any target the Match block allows")
	}
	for _, t := range v.Permitopen {
		// A wildcard ("*:8009", "10.0.0.1:*") opens more than one service
		// whatever the Match block says, and with no Match block installed
		// nothing else would catch it.
		if _, err := target.Parse(t); err != nil {
			v.add(ProblemPermitopen, Fail, "permitopen", "permitopen %s is not a single host:port", t)
			continue
		}
		if len(m.Targets) > 0 && !slices.Contains(m.Targets, t) {
			v.add(ProblemPermitopen, Fail, "permitopen", "permitopen %s is not in the Match block's PermitOpen (%s)", t, strings.Join(m.Targets, " "))
		}
	}
	if len(v.Permitlisten) > 0 {
		v.add(ProblemPermitlisten, Warn, "permitlisten", "permitlisten %s asks for remote (-R) forwards, which pfwdctl never grants", strings.Join(v.Permitlisten, ","))
	}
	if v.HasCommand {
		v.add(ProblemCommand, Warn, "command", "command=%q is not pfwdctl's (the Match block's ForceCommand takes precedence over it)", ellipsis(v.Command, 60))
	}
	if len(v.Environment) > 0 {
		v.add(ProblemEnvironment, Fail, "environment", "environment=%q sets variables in the session wherever PermitUserEnvironment allows it", ellipsis(strings.Join(v.Environment, " "), 60))
	}
	if v.Tunnel != "" {
		v.add(ProblemTunnel, Fail, "tunnel", "tunnel=%q asks for tun device forwarding", v.Tunnel)
	}
	if v.CertAuthority {
		v.add(ProblemCertAuth, Fail, "cert-authority", "cert-authority trusts every certificate this key signs, not one key")
	} else if v.Principals != "" {
		v.add(ProblemPrincipals, Warn, "principals", "principals=%q without cert-authority has no effect", ellipsis(v.Principals, 60))
	}
	if m.HardwareOnly && !IsHardware(l.Type) {
		v.add(ProblemNotHardware, Warn, "", "a plain %s key, but the account takes hardware-backed (FIDO) keys only: sshd refuses it, and would let it in if the policy were lifted", l.Type)
	}
	if !v.Expiry.IsZero() && !now.IsZero() && !v.Expiry.After(now) {
		v.Expired = true
		v.add(ProblemExpired, Warn, "expiry-time", "expired on %s: sshd refuses it", v.Expiry.Local().Format("2006-01-02 15:04"))
	}
	return v
}

// SameKey finds a key that is on several lines of one file. fps[i] is the
// fingerprint of the i-th key line ("" when it does not parse) and nums[i]
// its 1-based line number; the result maps i to the problem to report for
// it. list-keys and audit both call it, so they flag the same lines.
//
// sshd tries the lines in order and takes the first whose options let the
// connection in (auth2-pubkeyfile.c): a from= or expiry-time on one line
// does not stop a copy of the key on another, so every copy counts.
func SameKey(fps []string, nums []int) map[int]Problem {
	byFP := map[string][]int{}
	for i, fp := range fps {
		if fp != "" {
			byFP[fp] = append(byFP[fp], i)
		}
	}
	out := map[int]Problem{}
	for _, idx := range byFP {
		if len(idx) < 2 {
			continue
		}
		for _, i := range idx {
			var others []string
			for _, j := range idx {
				if j != i {
					others = append(others, strconv.Itoa(nums[j]))
				}
			}
			out[i] = Problem{ID: ProblemCopies, Severity: Warn,
				Text: fmt.Sprintf("the same key is also on line %s: sshd lets it in under whichever line allows more", strings.Join(others, ", "))}
		}
	}
	return out
}

var reenabled = map[string]string{
	"agent-forwarding": "agent forwarding",
	"pty":              "terminals (a shell with a pty)",
	"x11-forwarding":   "X11 forwarding",
	"user-rc":          "~/.ssh/rc",
}

func optText(o Option) string {
	if !o.HasValue {
		return o.Name
	}
	return o.Name + "=" + strconv.Quote(ellipsis(o.Value, 40))
}

// validPermit is sshd's own check of a permitopen or permitlisten value
// (auth-options.c handle_permit): host:port with host possibly in
// brackets, port a number or "*"; permitlisten may give the port alone.
func validPermit(s string, listen bool) bool {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		if !listen {
			return false
		}
		host, port = "", s
	}
	if listen && host == "" && strings.Contains(s, ":") && !strings.HasPrefix(s, ":") {
		return false
	}
	if !listen && host == "" {
		return false
	}
	if port == "*" {
		return true
	}
	n, err := strconv.Atoi(port)
	return err == nil && n > 0 && n <= 65535
}

// Prefix is the option text pfwdctl writes in front of a key: restrict
// turns everything off, port-forwarding turns TCP forwarding back on, one
// permitopen per target caps it, then expiry-time and from when given, and
// for a FIDO key verify-required and no-touch-required when asked.
// Build writes it; the lab and audit --layers use it for the standard line.
func Prefix(o Options) (string, error) {
	if len(o.Targets) == 0 {
		return "", refuse("give at least one --target host:port", "no forward target for the key")
	}
	opts := []string{"restrict", "port-forwarding"}
	for _, t := range o.Targets {
		// target.Parse admits no quote, comma, space or control character,
		// so the value cannot end the option early.
		tt, err := target.Parse(t)
		if err != nil {
			return "", err
		}
		opts = append(opts, `permitopen="`+tt.String()+`"`)
	}
	if !o.Expiry.IsZero() {
		opts = append(opts, `expiry-time="`+FormatExpiry(o.Expiry, o.Zone)+`"`)
	}
	if len(o.From) > 0 {
		from, err := ParseFrom(o.From)
		if err != nil {
			return "", err
		}
		opts = append(opts, `from="`+strings.Join(from, ",")+`"`)
	}
	// Last, so the restriction prefix reads as it always has.
	if o.VerifyRequired {
		opts = append(opts, "verify-required")
	}
	if o.NoTouchRequired {
		opts = append(opts, "no-touch-required")
	}
	return strings.Join(opts, ","), nil
}
