package friend

import (
	"strings"
	"testing"

	"github.com/pfwdctl/pfwdctl/internal/target"
)

func TestCommandAndConfig(t *testing.T) {
	ts := []target.Target{{Host: "127.0.0.1", Port: 8009}, {Host: "::1", Port: 9000}}
	for _, tc := range []struct {
		port       int
		cmd, block string
	}{
		{22, "ssh -i ~/.ssh/pfwd_key -N -T -o ExitOnForwardFailure=yes -o ServerAliveInterval=60 -o ServerAliveCountMax=2 -L 8009:127.0.0.1:8009 -L 9000:[::1]:9000 pfwd@gw.example",
			"Host pfwd-gw.example\n    HostName gw.example\n    User pfwd\n    IdentityFile ~/.ssh/pfwd_key\n    IdentitiesOnly yes\n    RequestTTY no\n    ExitOnForwardFailure yes\n    ServerAliveInterval 60\n    ServerAliveCountMax 2\n    LocalForward 8009 127.0.0.1:8009\n    LocalForward 9000 [::1]:9000\n"},
		{2222, "ssh -i ~/.ssh/pfwd_key -N -T -o ExitOnForwardFailure=yes -o ServerAliveInterval=60 -o ServerAliveCountMax=2 -p 2222 -L 8009:127.0.0.1:8009 -L 9000:[::1]:9000 pfwd@gw.example",
			"    Port 2222\n"},
	} {
		if got := strings.Join(Command("pfwd", "gw.example", tc.port, ts), " "); got != tc.cmd {
			t.Errorf("port %d: command\n%s\nwant\n%s", tc.port, got, tc.cmd)
		}
		block := sshConfig(alias("gw.example"), "pfwd", "gw.example", tc.port, ts)
		if !strings.Contains(block, tc.block) || (tc.port == 22) == strings.Contains(block, "Port ") {
			t.Errorf("port %d: config block\n%s", tc.port, block)
		}
	}
}
