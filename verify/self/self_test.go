package self_test

import (
	"context"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/pfwdctl/pfwdctl/internal/fail"
	"github.com/pfwdctl/pfwdctl/internal/run"
	"github.com/pfwdctl/pfwdctl/internal/testenv"
	"github.com/pfwdctl/pfwdctl/render/rendertest"
	"github.com/pfwdctl/pfwdctl/users"
	"github.com/pfwdctl/pfwdctl/verify"
	"github.com/pfwdctl/pfwdctl/verify/self"
)

// closedPort is a loopback port nothing listens on.
func closedPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return port
}

// Against a closed port: the throwaway key is installed, verify cannot
// connect (exit 3, refused), and the key is gone afterwards. (The full
// login against a real sshd is cmd/pfwdctl's TestVerifySelf; the signals
// are TestVerifySelfSignals.)
func TestRunRemovesTheKey(t *testing.T) {
	t.Parallel()
	testenv.Root(t)
	root := rendertest.New(t, rendertest.Tree{Files: map[string]string{
		"/etc/ssh/ssh_host_ed25519_key.pub": rendertest.AdminKey,
	}})
	if _, err := (users.Host{Root: root, Syslog: func(string) {}}).CreateUser(context.Background(), users.CreateRequest{User: "pfwd", Fix: true}); err != nil {
		t.Fatal(err)
	}
	res, err := self.Run(context.Background(), self.Options{
		Settings: verify.Settings{Port: closedPort(t), User: "pfwd", Targets: []string{"127.0.0.1:8009"}, Timeout: verify.DefaultTimeout},
		Root:     root, Runner: run.Exec{}, Getenv: func(string) string { return "" }, Now: time.Now,
	})
	if fail.Code(err) != fail.ExitUnavailable || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("err = %v (exit %d), result %+v", err, fail.Code(err), res)
	}
	if !res.Installed || !strings.HasPrefix(res.Fingerprint, "SHA256:") || res.Leftover != nil || res.User != "pfwd" {
		t.Fatalf("result %+v", res)
	}
	if d := time.Until(res.Expiry); d <= 0 || d > self.KeyLifetime {
		t.Errorf("expiry %s is not within the key's lifetime", res.Expiry)
	}
	ak, _ := os.ReadFile(root.Path("/home/pfwd/.ssh/authorized_keys"))
	if strings.Contains(string(ak), "pfwdctl-verify-self") {
		t.Errorf("the throwaway key is still installed:\n%s", ak)
	}
}

// Refusals that come before anything is installed.
func TestRunRefuses(t *testing.T) {
	t.Parallel()
	root := rendertest.New(t, rendertest.Tree{})
	for _, tc := range []struct {
		name string
		s    verify.Settings
		want string
	}{
		{"fail_key", verify.Settings{Key: "id", Port: 22, User: "pfwd", Timeout: time.Second}, "--self and --key exclude each other"},
		{"fail_port", verify.Settings{Port: 70000, User: "pfwd", Timeout: time.Second}, "invalid --port"},
	} {
		res, err := self.Run(context.Background(), self.Options{Settings: tc.s, Root: root, Runner: &run.Stub{T: t}})
		if fail.Code(err) != fail.ExitUsage || !strings.Contains(err.Error(), tc.want) || res.Installed {
			t.Errorf("%s: err = %v, result %+v", tc.name, err, res)
		}
	}
}
