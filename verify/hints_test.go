package verify

import (
	"os"
	"strings"
	"testing"

	"github.com/pfwdctl/pfwdctl/internal/hostfs"
	"github.com/pfwdctl/pfwdctl/internal/sshd"
)

// TestHintsFollowTheServiceManager (issue 15): the refused and auth-failed
// hints named systemctl and journalctl on every host. For this host they
// use its own service manager; for a server pfwdctl cannot look at, both
// forms.
func TestHintsFollowTheServiceManager(t *testing.T) {
	local := sshd.HostService(hostfs.Root{})
	for _, c := range []struct {
		addr   string
		reason Reason
		want   string
	}{
		{"127.0.0.1:22", Refused, local.Status},
		{"[::1]:2222", AuthFailed, local.Log},
		{"192.0.2.1:22", Refused, "systemctl status ssh, or service ssh status without systemd"},
		{"server.example:22", AuthFailed, "journalctl -u ssh, or /var/log/auth.log without systemd"},
	} {
		if h := (&ConnectError{Reason: c.reason, Addr: c.addr}).hint(); !strings.Contains(h, c.want) {
			t.Errorf("%s %s: hint %q lacks %q", c.addr, c.reason, h, c.want)
		}
	}
}

// TestAuthHintNamesOnlyLogsThatExist: on a host without systemd and without
// /var/log/auth.log the auth-failed hint said "server's log
// (/var/log/auth.log (or where syslog puts sshd's messages))": a missing
// file, in nested parentheses. It names only a log file that exists
// (sshd.HostService, TestHostService covers each kind of host), and opens
// no parenthesis inside another.
func TestAuthHintNamesOnlyLogsThatExist(t *testing.T) {
	for _, addr := range []string{"127.0.0.1:22", "server.example:22"} {
		h := (&ConnectError{Reason: AuthFailed, Addr: addr}).hint()
		depth := 0
		for _, r := range h {
			switch r {
			case '(':
				if depth++; depth > 1 {
					t.Errorf("%s: nested parentheses in %q", addr, h)
				}
			case ')':
				depth--
			}
		}
		if addr != "127.0.0.1:22" {
			continue
		}
		for _, f := range []string{"/var/log/auth.log", "/var/log/secure"} {
			if _, err := os.Stat(f); err != nil && strings.Contains(h, f) && !strings.Contains(h, "has no "+f) && !strings.Contains(h, "no /var/log/auth.log or /var/log/secure") {
				t.Errorf("hint names %s, which this host lacks: %q", f, h)
			}
		}
	}
}
