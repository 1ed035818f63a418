package self

import (
	"bufio"
	"encoding/hex"
	"net"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/pfwdctl/pfwdctl/internal/target"
	"github.com/pfwdctl/pfwdctl/verify"
)

// Listeners is the whole local space a forward could reach: every
// listening TCP socket on the host (IPv4 and IPv6, every bound address;
// a wildcard listener is tried on loopback and on each local address),
// and every target's port on every local address. --self tries each as a
// forward that must be refused; a sample would let a second permitted
// port (a database, a metrics endpoint) pass unnoticed. procNet is /proc/net.
func Listeners(procNet string, targets []target.Target) []verify.Destination {
	locals := localAddrs()
	var out []verify.Destination
	seen := map[string]bool{}
	add := func(host string, port int, why string) {
		t := target.Target{Host: host, Port: port}
		if seen[t.String()] {
			return
		}
		seen[t.String()] = true
		out = append(out, verify.Destination{Host: host, Port: port, Why: why})
	}
	for _, f := range []string{"tcp", "tcp6"} {
		for _, ap := range listening(procNet + "/" + f) {
			a, port := ap.Addr(), int(ap.Port())
			switch {
			case a.IsUnspecified():
				// [::] is dual-stack on Linux (net.ipv6.bindv6only=0):
				// it answers on IPv4 addresses too.
				for _, l := range locals {
					if a.Is6() || l.Is4() {
						add(l.String(), port, "a listener on every address")
					}
				}
			default:
				add(a.String(), port, "a listening socket")
			}
		}
	}
	for _, t := range targets {
		for _, l := range locals {
			add(l.String(), t.Port, "the target's port on another local address")
		}
	}
	return out
}

// UnixListeners are the host's listening Unix stream sockets with a path
// (abstract ones have none a forward could name), for streamlocal-refused.
func UnixListeners(procNet string) []string {
	f, err := os.Open(procNet + "/unix")
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Scan() // header
	for sc.Scan() {
		// Num RefCount Protocol Flags Type St Inode Path
		fs := strings.Fields(sc.Text())
		if len(fs) < 8 || fs[3] != "00010000" || fs[4] != "0001" || !strings.HasPrefix(fs[7], "/") {
			continue
		}
		if !slices.Contains(out, fs[7]) {
			out = append(out, fs[7])
		}
	}
	slices.Sort(out)
	return out
}

// listening parses /proc/net/tcp or tcp6 for sockets in the LISTEN state.
func listening(file string) []netip.AddrPort {
	f, err := os.Open(file)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []netip.AddrPort
	sc := bufio.NewScanner(f)
	sc.Scan()
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) < 4 || fs[3] != "0A" {
			continue
		}
		host, port, ok := strings.Cut(fs[1], ":")
		if !ok {
			continue
		}
		raw, err := hex.DecodeString(host)
		p, perr := strconv.ParseUint(port, 16, 16)
		if err != nil || perr != nil {
			continue
		}
		// The kernel prints each 32-bit word in host byte order (little
		// endian here): reverse the bytes of every word.
		for i := 0; i+4 <= len(raw); i += 4 {
			raw[i], raw[i+1], raw[i+2], raw[i+3] = raw[i+3], raw[i+2], raw[i+1], raw[i]
		}
		a, ok := netip.AddrFromSlice(raw)
		if !ok {
			continue
		}
		out = append(out, netip.AddrPortFrom(a.Unmap(), uint16(p)))
	}
	return out
}

// localAddrs are the host's own addresses, loopback first.
func localAddrs() []netip.Addr {
	out := []netip.Addr{netip.MustParseAddr("127.0.0.1")}
	ifs, err := net.InterfaceAddrs()
	if err != nil {
		return out
	}
	for _, ia := range ifs {
		p, err := netip.ParsePrefix(ia.String())
		if err != nil {
			continue
		}
		a := p.Addr()
		if a.IsLinkLocalUnicast() || slices.Contains(out, a) {
			continue // fe80:: needs a zone, which permitopen cannot name
		}
		out = append(out, a)
	}
	return out
}
