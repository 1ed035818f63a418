package sshd

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
)

// What the running daemon serves is not the file on disk (SSHD-NOTES 11):
// sshd reads its config at start and on SIGHUP only, and a zero exit from
// an init script proves nothing. The functions here ask the daemon itself.

// ServedMethods asks the sshd listening on addr which authentication
// methods it offers user, the way `ssh -v` shows "Authentications that can
// continue": the server's answer to the "none" request. It never
// authenticates and never sends a key or password. The host key is not
// checked: nothing secret is sent, and the answer is only compared with
// what the config on disk says.
func ServedMethods(ctx context.Context, addr, user string) ([]string, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	var (
		methods []string
		asked   bool
	)
	cfg := &ssh.ClientConfig{
		User:            user,
		HostKeyCallback: ssh.InsecureIgnoreHostKey(),
		AuthCallback: func(c *ssh.ClientAuthContext) (ssh.AuthMethod, error) {
			if !asked {
				asked = true
				methods = append([]string{}, c.AllowedMethods...)
			}
			return nil, errStopAuth
		},
		Timeout: 10 * time.Second,
	}
	sc, _, _, err := ssh.NewClientConn(conn, addr, cfg)
	if err == nil {
		// The server let the user in without any authentication: it
		// serves nothing a config of ours would say.
		sc.Close()
		return []string{"none"}, nil
	}
	if !asked {
		return nil, fmt.Errorf("%s did not answer the SSH authentication request: %w", addr, err)
	}
	slices.Sort(methods)
	return methods, nil
}

var errStopAuth = errors.New("pfwdctl: probe only")

// ExpectedMethods is the list of authentication methods sshd offers in its
// first answer for a connection whose effective config (sshd -T -C) is eff.
// Keywords are looked up case-insensitively: OpenSSH 10.4 and later print
// them in mixed case.
func ExpectedMethods(eff map[string][]string) []string {
	get := func(k string) string {
		for key, v := range eff {
			if strings.EqualFold(key, k) && len(v) > 0 {
				return strings.ToLower(v[0])
			}
		}
		return ""
	}
	var m []string
	if get("pubkeyauthentication") == "yes" {
		m = append(m, "publickey")
	}
	if get("passwordauthentication") == "yes" {
		m = append(m, "password")
	}
	// Before 8.7 ChallengeResponseAuthentication (default yes) turns
	// keyboard-interactive on whatever KbdInteractiveAuthentication says.
	if get("kbdinteractiveauthentication") == "yes" || get("challengeresponseauthentication") == "yes" {
		m = append(m, "keyboard-interactive")
	}
	if get("hostbasedauthentication") == "yes" {
		m = append(m, "hostbased")
	}
	if get("gssapiauthentication") == "yes" {
		m = append(m, "gssapi-with-mic")
	}
	// AuthenticationMethods: only the first method of some list is offered
	// at the start.
	if am := get("authenticationmethods"); am != "" && am != "any" {
		first := map[string]bool{}
		for _, list := range strings.Fields(am) {
			f, _, _ := strings.Cut(list, ",")
			f, _, _ = strings.Cut(f, ":")
			first[f] = true
		}
		m = slices.DeleteFunc(m, func(s string) bool { return !first[s] })
	}
	slices.Sort(m)
	return m
}

// MethodsMismatch says how served differs from expected, or "" when the
// daemon offers what the config says. A method the build does not have
// (gssapi-with-mic, hostbased) may be missing from served without blame.
func MethodsMismatch(served, expected []string) string {
	var extra, missing []string
	for _, s := range served {
		if !slices.Contains(expected, s) {
			extra = append(extra, s)
		}
	}
	for _, e := range expected {
		if !slices.Contains(served, e) && e != "gssapi-with-mic" && e != "hostbased" {
			missing = append(missing, e)
		}
	}
	var parts []string
	if len(extra) > 0 {
		parts = append(parts, "offers "+strings.Join(extra, ", ")+", which the config on disk turns off")
	}
	if len(missing) > 0 {
		parts = append(parts, "does not offer "+strings.Join(missing, ", ")+", which the config on disk turns on")
	}
	return strings.Join(parts, "; ")
}

// ProbeAddr turns one ListenAddress value of sshd -T ("0.0.0.0:22",
// "[::]:2222", "192.0.2.1:22") into an address this host can dial: a
// wildcard becomes the loopback address of its family.
func ProbeAddr(listen string) (string, error) {
	host, port, err := net.SplitHostPort(strings.Fields(listen + " ")[0])
	if err != nil {
		return "", fmt.Errorf("listenaddress %q: %w", listen, err)
	}
	switch host {
	case "0.0.0.0", "":
		host = "127.0.0.1"
	case "::":
		host = "::1"
	}
	return net.JoinHostPort(host, port), nil
}

// ListenSockets returns the inodes of the TCP sockets process pid holds
// in the LISTEN state. sshd closes its listeners and re-executes itself on
// SIGHUP, keeping its pid, so a new set of listeners is the daemon's own
// proof that it re-read its config; the pid alone proves nothing. Only
// listeners count: connections and pipes to children come and go.
func ListenSockets(pid int) (map[uint64]bool, error) {
	listening := map[uint64]bool{}
	for _, sock := range listenSocks() {
		listening[sock.inode] = true
	}
	dir := filepath.Join("/proc", strconv.Itoa(pid), "fd")
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	out := map[uint64]bool{}
	for _, e := range ents {
		l, err := os.Readlink(filepath.Join(dir, e.Name()))
		if err != nil || !strings.HasPrefix(l, "socket:[") {
			continue
		}
		n, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimPrefix(l, "socket:["), "]"), 10, 64)
		if err == nil && listening[n] {
			out[n] = true
		}
	}
	return out, nil
}

// Reexecuted reports whether pid listens on new sockets: none of the
// listeners in before is still open, and it holds at least one.
func Reexecuted(pid int, before map[uint64]bool) bool {
	now, err := ListenSockets(pid)
	if err != nil || len(now) == 0 {
		return false
	}
	for s := range before {
		if now[s] {
			return false
		}
	}
	return true
}
