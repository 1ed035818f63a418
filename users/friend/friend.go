// Package friend assembles what a friend needs to open the tunnel: the
// exact ssh command, an ~/.ssh/config block, the server's host keys as
// known_hosts lines with their fingerprints, and the key's expiry. It
// prints nothing secret: public host keys only (never a private key's
// bytes), and the friend's key by fingerprint. It changes nothing.
package friend

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/pfwdctl/pfwdctl/internal/fail"
	"github.com/pfwdctl/pfwdctl/internal/sshd"
	"github.com/pfwdctl/pfwdctl/internal/target"
	"github.com/pfwdctl/pfwdctl/users"
	"github.com/pfwdctl/pfwdctl/verify/self"
)

// Identity is the private key file the friend's command names: the
// friend's own, kept on their machine.
const Identity = "~/.ssh/pfwd_key"

// Keepalives are the seed guide's client options: a forward that cannot
// open ends ssh instead of leaving a tunnel that forwards nothing, and a
// dead connection is noticed within two minutes.
var Keepalives = []string{"ExitOnForwardFailure=yes", "ServerAliveInterval=60", "ServerAliveCountMax=2"}

// Command is the one command the friend runs, as the seed guide's client
// usage writes it: each target forwarded from the same port on their
// machine, keepalives, and -p when sshd does not listen on 22. The wizard's
// last screen and pfwdctl friend print it.
func Command(user, host string, port int, targets []target.Target) []string {
	words := []string{"ssh -i " + Identity + " -N -T"}
	for _, o := range Keepalives {
		words = append(words, "-o "+o)
	}
	if port != 22 && port != 0 {
		words = append(words, fmt.Sprintf("-p %d", port))
	}
	for _, t := range targets {
		words = append(words, fmt.Sprintf("-L %d:%s", t.Port, t))
	}
	return append(words, user+"@"+host)
}

// OutsidePort is the port a friend connects to: that of the first address
// sshd listens on from outside (a wildcard or a public address, not
// loopback). The wizard's last screen and Build pick it the same way.
func OutsidePort(ls []self.ListenAddr) (int, bool) {
	for _, l := range ls {
		if !l.Loopback {
			return l.Port, true
		}
	}
	return 0, false
}

// Request names the key and how the friend reaches the server.
type Request struct {
	User string
	// Key is the friend's key: its name or fingerprint.
	Key string
	// Host is the name or address the friend connects to (not checked
	// for reachability); Port the ssh port, 0: the port sshd -T names.
	Host string
	Port int
}

// HostKey is one of the server's public host keys.
type HostKey struct {
	Type        string `json:"type"`
	Fingerprint string `json:"fingerprint"`
	// KnownHosts is the known_hosts line for the host as the friend
	// types it ([host]:port when the port is not 22).
	KnownHosts string `json:"known_hosts"`
	File       string `json:"file"` // host path of the .pub read
}

// Bundle is everything the friend is given.
type Bundle struct {
	Account     string    `json:"account"`
	Host        string    `json:"host"`
	Port        int       `json:"port"`
	Name        string    `json:"name"`
	Fingerprint string    `json:"fingerprint"`
	Targets     []string  `json:"targets"`
	Command     string    `json:"command"`
	SSHConfig   string    `json:"ssh_config"`
	Alias       string    `json:"alias"`
	HostKeys    []HostKey `json:"host_keys"`
	Expiry      time.Time `json:"expiry,omitzero"`
	Expired     bool      `json:"expired"`
	Warnings    []string  `json:"warnings,omitempty"`
}

// Build gathers the bundle for one key of the account. h reads the keys
// (users.Host.ListKeys, under h.Root); sshd -T over h's config names the
// ports and host keys.
func Build(ctx context.Context, h users.Host, r Request) (Bundle, error) {
	b := Bundle{Account: r.User, Host: r.Host, HostKeys: []HostKey{}}
	if _, err := target.Parse(net.JoinHostPort(r.Host, "22")); err != nil || r.Host == "" {
		return b, fail.New(fail.Usage, "pass --host with the name or address your friend connects to", "invalid --host %q", r.Host)
	}
	list, err := h.ListKeys(r.User)
	if err != nil {
		return b, err
	}
	ki, err := pick(list, r.Key)
	if err != nil {
		return b, err
	}
	b.Name, b.Fingerprint, b.Expiry, b.Expired = ki.Name, ki.Fingerprint, ki.Expiry, ki.Expired
	if !ki.Restricted {
		return b, fail.New(fail.Failed, "revoke it and add it again with pfwdctl add-key, then run pfwdctl friend again",
			"refusing: the key %s is UNRESTRICTED (%s)", ki.Fingerprint, strings.Join(ki.Problems, "; "))
	}
	b.Targets = ki.Targets
	if len(b.Targets) == 0 {
		b.Targets = list.MatchTargets
	}
	ts, err := target.ParseList(b.Targets)
	if err != nil || len(ts) == 0 {
		return b, fail.New(fail.Failed, "pfwdctl list-keys --user "+r.User+" shows the key's targets; pfwdctl add-key rewrites them",
			"the key %s names no target pfwdctl can print a forward for", ki.Fingerprint)
	}
	bin := sshd.Binary{Bin: h.SshdBin, Runner: h.Runner, Root: h.Root, Config: h.SshdConfig}
	b.Port = r.Port
	if b.Port == 0 {
		ls, err := self.ListenAddrs(ctx, bin)
		if err != nil {
			return b, err
		}
		b.Port = ls[0].Port
		if p, ok := OutsidePort(ls); ok {
			b.Port = p
		}
	}
	b.Command = strings.Join(Command(r.User, r.Host, b.Port, ts), " ")
	b.Alias = alias(r.Host)
	b.SSHConfig = sshConfig(b.Alias, r.User, r.Host, b.Port, ts)
	eff, err := bin.Effective(ctx, "")
	if err != nil {
		return b, fail.Wrap(fail.Unavailable, err, "check that sshd -T runs (pass --sshd PATH)", "ask sshd for its host keys")
	}
	for _, p := range eff["hostkey"] {
		// Under --root sshd -T names the tree's files by their real path.
		if !h.Root.IsHost() {
			if rel, ok := strings.CutPrefix(p, h.Root.Dir()); ok && strings.HasPrefix(rel, "/") {
				p = rel
			}
		}
		hk, err := hostKey(h, p+".pub", r.Host, b.Port)
		if err != nil {
			b.Warnings = append(b.Warnings, fmt.Sprintf("host key %s left out: %v", p, err))
			continue
		}
		b.HostKeys = append(b.HostKeys, hk)
	}
	if len(b.HostKeys) == 0 {
		return b, fail.New(fail.Failed, "make sure each HostKey has its .pub file next to it (ssh-keygen -y -f KEY > KEY.pub)",
			"no public host key could be read: the friend could not check the server's identity")
	}
	switch {
	case b.Expired:
		b.Warnings = append(b.Warnings, "the key has expired: sshd refuses it (pfwdctl add-key --expires gives it a new expiry)")
	case ki.ExpiresSoon:
		b.Warnings = append(b.Warnings, "the key expires within 7 days: plan its rotation (pfwdctl rotate)")
	}
	return b, nil
}

// pick is the one key named by name or fingerprint.
func pick(list users.ListResult, sel string) (users.KeyInfo, error) {
	sel = strings.TrimSpace(sel)
	var byFP, byName []users.KeyInfo
	for _, k := range list.Keys {
		switch {
		case k.Fingerprint == "":
		case k.Fingerprint == sel || k.Fingerprint == "SHA256:"+sel:
			byFP = append(byFP, k)
		case k.Name == sel:
			byName = append(byName, k)
		}
	}
	if len(byFP) > 0 {
		return byFP[0], nil
	}
	fps := map[string]bool{}
	for _, k := range byName {
		fps[k.Fingerprint] = true
	}
	switch {
	case len(fps) == 0:
		return users.KeyInfo{}, fail.New(fail.Failed, "see pfwdctl list-keys --user "+list.Account+" for fingerprints and names",
			"no key %q in the authorized_keys of %s", sel, list.Account)
	case len(fps) > 1:
		var l []string
		for fp := range fps {
			l = append(l, fp)
		}
		return users.KeyInfo{}, fail.New(fail.Failed, "name the key by fingerprint", "%d keys are named %q: %s", len(fps), sel, strings.Join(l, ", "))
	}
	return byName[0], nil
}

// hostKey reads one public host key (never the private file) and writes
// its known_hosts line for host:port as the friend's ssh looks it up.
func hostKey(h users.Host, pubPath, host string, port int) (HostKey, error) {
	data, err := h.Root.ReadFile(pubPath)
	if err != nil {
		return HostKey{}, err
	}
	pub, _, _, _, err := ssh.ParseAuthorizedKey(data)
	if err != nil {
		return HostKey{}, fmt.Errorf("%s: %w", pubPath, err)
	}
	addr := knownhosts.Normalize(net.JoinHostPort(host, strconv.Itoa(port)))
	return HostKey{Type: pub.Type(), Fingerprint: ssh.FingerprintSHA256(pub), KnownHosts: knownhosts.Line([]string{addr}, pub), File: pubPath}, nil
}

// alias is the Host name of the ~/.ssh/config block.
func alias(host string) string {
	return "pfwd-" + strings.NewReplacer(":", "-", "[", "", "]", "").Replace(host)
}

// sshConfig is the Host block that makes "ssh -N ALIAS" the same command.
func sshConfig(alias, user, host string, port int, ts []target.Target) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Host %s\n", alias)
	fmt.Fprintf(&b, "    HostName %s\n", host)
	fmt.Fprintf(&b, "    User %s\n", user)
	if port != 22 {
		fmt.Fprintf(&b, "    Port %d\n", port)
	}
	fmt.Fprintf(&b, "    IdentityFile %s\n", Identity)
	b.WriteString("    IdentitiesOnly yes\n")
	b.WriteString("    RequestTTY no\n")
	for _, o := range Keepalives {
		k, v, _ := strings.Cut(o, "=")
		fmt.Fprintf(&b, "    %s %s\n", k, v)
	}
	for _, t := range ts {
		fmt.Fprintf(&b, "    LocalForward %d %s\n", t.Port, t)
	}
	return b.String()
}
