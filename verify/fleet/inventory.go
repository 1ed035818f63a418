// Package fleet verifies many hosts at once: it reads a list of hosts
// (pfwdctl's own one-host-per-line format, or the host lines of an Ansible
// INI inventory) and runs verify's checks against them with a bound on
// concurrency, one result per host.
//
// fleet never changes a server (it only calls verify, which does not) and
// never writes a file; the concurrency runner knows nothing about SSH.
package fleet

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// Host is one host to verify, with what the inventory says about it. Empty
// fields mean "use the command line's value".
type Host struct {
	Name    string `json:"name"`               // as written in the inventory (an Ansible alias, or host[:port])
	Addr    string `json:"addr"`               // host name or IP to connect to
	Port    int    `json:"port,omitempty"`     // 0: the command line's --port
	User    string `json:"user,omitempty"`     // the forward-only account to log in as
	Key     string `json:"key,omitempty"`      // private key file
	HostKey string `json:"host_key,omitempty"` // pinned SHA256: fingerprint
	Line    int    `json:"line"`               // where it was read, for error messages
}

// Target is host:port for display and for joining with net.JoinHostPort.
func (h Host) Target(defaultPort int) string {
	p := h.Port
	if p == 0 {
		p = defaultPort
	}
	return net.JoinHostPort(h.Addr, strconv.Itoa(p))
}

// ParseError is a bad inventory line.
type ParseError struct {
	File string
	Line int
	Msg  string
}

func (e *ParseError) Error() string {
	if e.File == "" {
		return fmt.Sprintf("line %d: %s", e.Line, e.Msg)
	}
	return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
}

// ReadFile parses the inventory at path.
func ReadFile(path string) ([]Host, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return Parse(f, path)
}

// The native format's keys, and the Ansible variables that mean the same.
// ansible_user and ansible_ssh_private_key_file are deliberately not among
// them: they name the admin account Ansible logs in with, and verifying as
// that account would test the wrong restrictions (a pass would prove
// nothing about the forward-only account). Set pfwdctl_user/pfwdctl_key.
var varField = map[string]string{
	"user":             "user",
	"key":              "key",
	"host-key":         "host-key",
	"ansible_host":     "addr",
	"ansible_ssh_host": "addr",
	"ansible_port":     "port",
	"ansible_ssh_port": "port",
	"pfwdctl_user":     "user",
	"pfwdctl_key":      "key",
	"pfwdctl_host_key": "host-key",
}

var (
	sectionRe = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^\[([A-Za-z0-9_.-]+)(?::(vars|children))?\]$`) })
	rangeRe   = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`\[([0-9]+):([0-9]+)(?::([0-9]+))?\]`) })
)

type rawHost struct {
	name   string
	vars   map[string]string
	line   int
	groups []string
}

// Parse reads an inventory. The format is pfwdctl's own unless the file
// has a [section] header or an ansible_ variable, in which case it is read
// as an Ansible INI inventory: unknown variables are then ignored (they
// belong to Ansible), [group:vars] apply to the group's hosts (and to
// hosts of its :children groups), and host vars win over group vars, as in
// Ansible. In the native format an unknown key is an error, so a typo such
// as hostkey= cannot silently turn off host-key pinning.
func Parse(r io.Reader, file string) ([]Host, error) {
	type line struct {
		n    int
		text string
	}
	var lines []line
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	ansible := false
	n := 0
	for sc.Scan() {
		n++
		t := strings.TrimSpace(stripComment(sc.Text()))
		if t == "" {
			continue
		}
		if isSection(t) || strings.Contains(t, "ansible_") {
			ansible = true
		}
		lines = append(lines, line{n, t})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", file, err)
	}
	perr := func(n int, format string, a ...any) error {
		return &ParseError{File: file, Line: n, Msg: fmt.Sprintf(format, a...)}
	}
	if len(lines) > 0 && looksYAML(lines[0].text) {
		return nil, perr(lines[0].n, "this looks like a YAML inventory; pfwdctl reads INI inventories and its own host-per-line format")
	}

	var hosts []*rawHost
	byName := map[string]*rawHost{}
	groupVars := map[string]map[string]string{}
	children := map[string][]string{} // group -> child groups
	section, kind := "ungrouped", ""
	for _, l := range lines {
		if isSection(l.text) {
			m := sectionRe().FindStringSubmatch(l.text)
			if m == nil {
				return nil, perr(l.n, "bad section header %q", l.text)
			}
			section, kind = m[1], m[2]
			continue
		}
		switch kind {
		case "vars":
			k, v, ok := strings.Cut(l.text, "=")
			if !ok {
				return nil, perr(l.n, "expected key=value in [%s:vars], got %q", section, l.text)
			}
			if groupVars[section] == nil {
				groupVars[section] = map[string]string{}
			}
			groupVars[section][strings.TrimSpace(k)] = unquote(strings.TrimSpace(v))
			continue
		case "children":
			children[section] = append(children[section], strings.Fields(l.text)[0])
			continue
		}
		fields := splitFields(l.text)
		vars := map[string]string{}
		for _, f := range fields[1:] {
			k, v, ok := strings.Cut(f, "=")
			if !ok || k == "" {
				return nil, perr(l.n, "expected key=value after the host, got %q", f)
			}
			if _, known := varField[k]; !known && !ansible {
				return nil, perr(l.n, "unknown key %q (known: user=, key=, host-key=)", k)
			}
			vars[k] = unquote(v)
		}
		names, err := expandRange(fields[0])
		if err != nil {
			return nil, perr(l.n, "%v", err)
		}
		for _, name := range names {
			h := byName[name]
			if h == nil {
				h = &rawHost{name: name, vars: map[string]string{}, line: l.n}
				byName[name] = h
				hosts = append(hosts, h)
			} else if !ansible {
				return nil, perr(l.n, "host %s is listed twice (first on line %d)", name, h.line)
			}
			// In Ansible a host may sit in several groups; its own
			// variables merge, later lines winning, as Ansible does.
			for k, v := range vars {
				h.vars[k] = v
			}
			h.groups = append(h.groups, section)
		}
	}

	out := make([]Host, 0, len(hosts))
	for _, h := range hosts {
		vars := map[string]string{}
		// Lowest precedence first: all, then parent groups, then the
		// host's own groups, then the host line.
		for _, g := range groupOrder(h.groups, children) {
			for k, v := range groupVars[g] {
				vars[k] = v
			}
		}
		for k, v := range h.vars {
			vars[k] = v
		}
		host, err := toHost(h.name, vars, ansible)
		if err != nil {
			return nil, perr(h.line, "%v", err)
		}
		host.Line = h.line
		out = append(out, host)
	}
	return out, nil
}

// groupOrder lists "all" and every group the host belongs to, directly or
// through :children, deepest ancestors first so nearer groups override.
func groupOrder(direct []string, children map[string][]string) []string {
	parents := map[string][]string{}
	for p, cs := range children {
		for _, c := range cs {
			parents[c] = append(parents[c], p)
		}
	}
	depth := map[string]int{}
	var walk func(g string, d int)
	walk = func(g string, d int) {
		if old, seen := depth[g]; seen && old <= d {
			return
		}
		depth[g] = d
		for _, p := range parents[g] {
			if d < 32 { // a cycle in :children must not hang us
				walk(p, d+1)
			}
		}
	}
	for _, g := range direct {
		walk(g, 0)
	}
	groups := make([]string, 0, len(depth)+1)
	for g := range depth {
		if g != "all" {
			groups = append(groups, g)
		}
	}
	sort.Slice(groups, func(i, j int) bool {
		if depth[groups[i]] != depth[groups[j]] {
			return depth[groups[i]] > depth[groups[j]]
		}
		return groups[i] < groups[j]
	})
	return append([]string{"all"}, groups...)
}

func toHost(name string, vars map[string]string, ansible bool) (Host, error) {
	h := Host{Name: name}
	addr, port, err := splitHostPort(name)
	if err != nil {
		return h, err
	}
	h.Addr, h.Port = addr, port
	// Native keys and pfwdctl_ variables win over the ansible_ ones
	// because map order is random and both may be set.
	keys := make([]string, 0, len(vars))
	for k := range vars {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		return rank(keys[i]) < rank(keys[j]) || rank(keys[i]) == rank(keys[j]) && keys[i] < keys[j]
	})
	for _, k := range keys {
		v := vars[k]
		switch varField[k] {
		case "addr":
			if v == "" {
				return h, fmt.Errorf("%s is empty", k)
			}
			h.Addr = v
		case "port":
			p, err := strconv.Atoi(v)
			if err != nil || p < 1 || p > 65535 {
				return h, fmt.Errorf("%s=%q is not a port number (1-65535)", k, v)
			}
			h.Port = p
		case "user":
			h.User = v
		case "key":
			h.Key = v
		case "host-key":
			if !strings.HasPrefix(v, "SHA256:") || len(v) < len("SHA256:")+40 {
				return h, fmt.Errorf("%s=%q is not a SHA256: fingerprint (see ssh-keygen -lf)", k, v)
			}
			h.HostKey = v
		}
	}
	if h.Addr == "" {
		return h, fmt.Errorf("empty host name")
	}
	return h, nil
}

func rank(k string) int {
	switch {
	case strings.HasPrefix(k, "ansible_"):
		return 0
	case strings.HasPrefix(k, "pfwdctl_"):
		return 1
	}
	return 2
}

// splitHostPort accepts host, host:port, [v6]:port and a bare IPv6 address.
func splitHostPort(s string) (string, int, error) {
	if strings.HasPrefix(s, "[") || strings.Count(s, ":") == 1 {
		h, p, err := net.SplitHostPort(s)
		if err != nil {
			if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
				return s[1 : len(s)-1], 0, nil
			}
			return "", 0, fmt.Errorf("bad host %q: %v", s, err)
		}
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return "", 0, fmt.Errorf("bad port in %q (1-65535)", s)
		}
		return h, n, nil
	}
	return s, 0, nil
}

// expandRange expands Ansible's numeric host ranges: web[01:03].example
// is web01, web02, web03 (leading zeros keep their width).
func expandRange(s string) ([]string, error) {
	m := rangeRe().FindStringSubmatchIndex(s)
	if m == nil {
		return []string{s}, nil
	}
	lo, hi := s[m[2]:m[3]], s[m[4]:m[5]]
	step := 1
	if m[6] >= 0 {
		step, _ = strconv.Atoi(s[m[6]:m[7]])
	}
	a, _ := strconv.Atoi(lo)
	b, _ := strconv.Atoi(hi)
	if step < 1 || b < a || (b-a)/step > 10000 {
		return nil, fmt.Errorf("bad host range %q", s[m[0]:m[1]])
	}
	width := 0
	if len(lo) > 1 && lo[0] == '0' {
		width = len(lo)
	}
	var out []string
	for i := a; i <= b; i += step {
		rest, err := expandRange(s[m[1]:])
		if err != nil {
			return nil, err
		}
		for _, r := range rest {
			out = append(out, fmt.Sprintf("%s%0*d%s", s[:m[0]], width, i, r))
		}
	}
	return out, nil
}

func isSection(t string) bool {
	if !strings.HasPrefix(t, "[") || !strings.HasSuffix(t, "]") {
		return false
	}
	// [::1] is a host, not a section.
	return net.ParseIP(t[1:len(t)-1]) == nil
}

// stripComment drops "# ..." and Ansible's "; ..." comments: at the start
// of a line, or after whitespace (a # inside a value stays).
func stripComment(s string) string {
	t := strings.TrimSpace(s)
	if strings.HasPrefix(t, "#") || strings.HasPrefix(t, ";") {
		return ""
	}
	for i := 1; i < len(s); i++ {
		if s[i] == '#' && (s[i-1] == ' ' || s[i-1] == '\t') {
			return s[:i]
		}
	}
	return s
}

// splitFields splits on blanks outside quotes, as Ansible's shlex does for
// host lines (some_var="a b" is one field).
func splitFields(s string) []string {
	var out []string
	var cur strings.Builder
	var quote byte
	in := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
			cur.WriteByte(c)
		case c == '"' || c == '\'':
			quote = c
			in = true
			cur.WriteByte(c)
		case c == ' ' || c == '\t':
			if in {
				out = append(out, cur.String())
				cur.Reset()
				in = false
			}
		default:
			in = true
			cur.WriteByte(c)
		}
	}
	if in {
		out = append(out, cur.String())
	}
	return out
}

func unquote(v string) string {
	if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
		return v[1 : len(v)-1]
	}
	return v
}

func looksYAML(first string) bool {
	if first == "---" {
		return true
	}
	return strings.HasSuffix(first, ":") && !strings.ContainsAny(first, " =[") && net.ParseIP(first) == nil
}
