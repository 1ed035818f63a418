package verify

import (
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
		if h := (&ConnectError{Reason: c.reason, Addr: c.addr}).hint(); !strings.Contains(h, "("+c.want+")") {
			t.Errorf("%s %s: hint %q lacks %q", c.addr, c.reason, h, c.want)
		}
	}
}
