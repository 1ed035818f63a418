// Package render turns pfwdctl's parameters into the sshd drop-ins and
// installs them in one transaction (Applier): lockout guard, atomic writes,
// sshd -t over the whole config with rollback, then reload. Running sshd
// and reloading it are internal/sshd's job; render only calls it.
//
// It never writes outside the hostfs.Root it is given, never builds config text
// except from the embedded templates, and never leaves a config on disk that
// sshd -t rejected.
package render

import (
	"fmt"
	"net"
	"net/netip"
	"regexp"
	"strconv"
	"strings"

	"github.com/pfwdctl/pfwdctl/internal/accounts"
	"github.com/pfwdctl/pfwdctl/internal/fail"
)

// DefaultUser and DefaultTarget are the seed guide's account and service.
const (
	DefaultUser    = "pfwd"
	DefaultTarget  = "127.0.0.1:8009"
	DefaultNologin = "/usr/sbin/nologin"
)

// Target is one host:port the account may forward to.
type Target struct {
	Host string // an IP literal (without brackets) or a DNS name
	Port int
}

// String renders the target the way sshd's PermitOpen and the key option
// permitopen read it: IPv6 literals in brackets.
func (t Target) String() string {
	return net.JoinHostPort(t.Host, strconv.Itoa(t.Port))
}

var hostnameRE = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$`)

// ParseTarget validates "host:port". Only characters that can never end a
// directive or a quoted key option are accepted, so a target cannot inject
// config.
func ParseTarget(s string) (Target, error) {
	bad := func(why string) (Target, error) {
		return Target{}, fail.New(fail.Usage,
			`give the target as host:port, e.g. 127.0.0.1:8009 or [::1]:8009`,
			"invalid target %q: %s", s, why)
	}
	if strings.ContainsFunc(s, func(r rune) bool { return r <= ' ' || r == '"' || r == '\'' || r == '\\' || r == ',' || r == 0x7f }) {
		return bad("it contains spaces, quotes, commas or control characters")
	}
	host, portStr, err := net.SplitHostPort(s)
	if err != nil {
		return bad("not host:port")
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 1 || port > 65535 || portStr != strconv.Itoa(port) {
		return bad("the port must be a number from 1 to 65535")
	}
	if host == "" {
		return bad("the host is empty")
	}
	if host == "*" {
		return bad(`"*" would allow every host; name the one service`)
	}
	if addr, err := netip.ParseAddr(host); err == nil {
		if addr.Zone() != "" {
			return bad("zoned IPv6 addresses are not supported")
		}
		if addr.Is4() && strings.Contains(s, "[") {
			return bad("only IPv6 addresses go in brackets")
		}
		return Target{Host: addr.String(), Port: port}, nil
	}
	if strings.Contains(s, "[") {
		return bad("the bracketed part is not an IPv6 address")
	}
	if len(host) > 253 || !hostnameRE.MatchString(host) {
		return bad("the host is neither an IP address nor a valid DNS name")
	}
	return Target{Host: strings.ToLower(host), Port: port}, nil
}

// ParseTargets parses each and refuses duplicates.
func ParseTargets(ss []string) ([]Target, error) {
	var out []Target
	seen := map[string]bool{}
	for _, s := range ss {
		t, err := ParseTarget(s)
		if err != nil {
			return nil, err
		}
		if seen[t.String()] {
			return nil, fail.New(fail.Usage, "give each target once", "target %s is given twice", t)
		}
		seen[t.String()] = true
		out = append(out, t)
	}
	return out, nil
}

// Params are everything the drop-ins depend on.
type Params struct {
	User    string
	Targets []Target
	// Nologin is the shell and ForceCommand for the account.
	Nologin string
	// Crypto, when set, adds the crypto drop-in (apply --crypto). Nil
	// renders exactly the two drop-ins, as before.
	Crypto *Crypto
}

// Crypto is the algorithm policy for the crypto drop-in. render does not
// choose algorithms: the caller fills this in from a policy (verify/audit's
// CryptoPolicy) for the sshd version at hand.
type Crypto struct {
	SshdVersion       string // e.g. "9.2", for the file's comment
	Source            string // the public reference the policy follows
	KexAlgorithms     []string
	Ciphers           []string
	MACs              []string
	HostKeyAlgorithms []string
}

// algRE is an SSH algorithm name (RFC 4251 section 6): no spaces, commas or
// quotes can reach the config.
var algRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9@._+-]{0,63}$`)

// sourceRE keeps the comment line to one line of plain text.
var sourceRE = regexp.MustCompile(`^[A-Za-z0-9 ,.:/()'_+-]{0,200}$`)

// Validate refuses empty lists and names that are not algorithm names.
func (c *Crypto) Validate() error {
	for _, l := range []struct {
		kw   string
		algs []string
	}{{"KexAlgorithms", c.KexAlgorithms}, {"Ciphers", c.Ciphers}, {"MACs", c.MACs}, {"HostKeyAlgorithms", c.HostKeyAlgorithms}} {
		if len(l.algs) == 0 {
			return fail.New(fail.Usage, "", "crypto policy: %s is empty", l.kw)
		}
		for _, a := range l.algs {
			if !algRE.MatchString(a) {
				return fail.New(fail.Usage, "", "crypto policy: %s: invalid algorithm name %q", l.kw, a)
			}
		}
	}
	if !sourceRE.MatchString(c.Source) || !sourceRE.MatchString(c.SshdVersion) {
		return fail.New(fail.Usage, "", "crypto policy: invalid source or version text")
	}
	return nil
}

// DefaultParams is the seed guide's setup.
func DefaultParams() Params {
	t, _ := ParseTarget(DefaultTarget)
	return Params{User: DefaultUser, Targets: []Target{t}, Nologin: DefaultNologin}
}

// NewParams validates a user and raw targets; empty targets mean the default.
func NewParams(user string, targets []string) (Params, error) {
	p := DefaultParams()
	if user != "" {
		p.User = user
	}
	if err := accounts.ValidateName(p.User); err != nil {
		return p, err
	}
	if len(targets) > 0 {
		ts, err := ParseTargets(targets)
		if err != nil {
			return p, err
		}
		p.Targets = ts
	}
	return p, nil
}

// Validate re-checks params built by hand.
func (p Params) Validate() error {
	if err := accounts.ValidateName(p.User); err != nil {
		return err
	}
	if len(p.Targets) == 0 {
		return fail.New(fail.Usage, "give at least one --target host:port", "no forward target")
	}
	for _, t := range p.Targets {
		if _, err := ParseTarget(t.String()); err != nil {
			return err
		}
	}
	if !strings.HasPrefix(p.Nologin, "/") || strings.ContainsFunc(p.Nologin, func(r rune) bool { return r <= ' ' || r == '"' }) {
		return fail.New(fail.Usage, "", "invalid nologin path %q", p.Nologin)
	}
	if p.Crypto != nil {
		return p.Crypto.Validate()
	}
	return nil
}

// TargetStrings returns the targets as host:port strings.
func (p Params) TargetStrings() []string {
	out := make([]string, len(p.Targets))
	for i, t := range p.Targets {
		out[i] = t.String()
	}
	return out
}

// Command is the pfwdctl invocation that renders these params, for the
// files' "re-render with" header.
func (p Params) Command() string {
	var b strings.Builder
	b.WriteString("pfwdctl apply --user " + p.User)
	for _, t := range p.Targets {
		fmt.Fprintf(&b, " --target %s", t)
	}
	return b.String()
}
