// Package target is the forward target: one host:port the port-forward-only
// account may reach, as sshd's PermitOpen and the key option permitopen
// read it. render, users, verify and the lab share this one type and its
// parser.
//
// It never resolves names and never accepts a character that could end a
// config directive or a quoted key option, so a parsed Target is safe to
// write into both.
package target

import (
	"net"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/pfwdctl/pfwdctl/internal/fail"
)

// Default is the seed guide's service.
const Default = "127.0.0.1:8009"

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

var hostnameRE = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$`)
})

// Parse validates "host:port". Only characters that can never end a
// directive or a quoted key option are accepted, so a target cannot inject
// config.
func Parse(s string) (Target, error) {
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
	if len(host) > 253 || !hostnameRE().MatchString(host) {
		return bad("the host is neither an IP address nor a valid DNS name")
	}
	return Target{Host: strings.ToLower(host), Port: port}, nil
}

// ParseList parses each and refuses duplicates.
func ParseList(ss []string) ([]Target, error) {
	var out []Target
	seen := map[string]bool{}
	for _, s := range ss {
		t, err := Parse(s)
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

// SameSet reports whether two lists of host:port strings name the same
// targets, in any order, duplicates aside: how a key's permitopen values
// and a Match block's PermitOpen are compared.
func SameSet(a, b []string) bool {
	x, y := slices.Clone(a), slices.Clone(b)
	slices.Sort(x)
	slices.Sort(y)
	return slices.Equal(slices.Compact(x), slices.Compact(y))
}
