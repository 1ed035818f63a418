package wizard

import (
	"context"
	"github.com/pfwdctl/pfwdctl/internal/target"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pfwdctl/pfwdctl/internal/fail"
	"github.com/pfwdctl/pfwdctl/internal/run"
	"github.com/pfwdctl/pfwdctl/internal/testenv"
	"github.com/pfwdctl/pfwdctl/render/rendertest"
	"github.com/pfwdctl/pfwdctl/users"
)

// TestProveCallsVerifySelf: without a stand-in, the Prove step's call is
// verify/self.Run on the address given (no cobra command re-entered, no JSON
// parsed): the throwaway key is installed, verify's error comes back (here
// a closed port: exit 3, refused), and the key is gone afterwards. Under a
// --root tree there is no call at all.
func TestProveCallsVerifySelf(t *testing.T) {
	t.Parallel()
	testenv.Root(t)
	root := rendertest.New(t, rendertest.Tree{Files: map[string]string{
		"/etc/ssh/ssh_host_ed25519_key.pub": rendertest.AdminKey,
	}})
	if _, err := (users.Host{Root: root, Syslog: func(string) {}}).CreateUser(context.Background(), users.CreateRequest{User: "pfwd", Fix: true}); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cfg := Config{Root: root, Runner: run.Exec{}, Getenv: func(string) string { return "" }, Now: time.Now}
	tgt, _ := target.Parse("127.0.0.1:8009")
	rep, err := cfg.verifySelf(context.Background(), "pfwd", []target.Target{tgt}, net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if fail.Code(err) != fail.ExitUnavailable || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("err = %v (exit %d), report %+v", err, fail.Code(err), rep)
	}
	ak, _ := os.ReadFile(root.Path("/home/pfwd/.ssh/authorized_keys"))
	if strings.Contains(string(ak), "pfwdctl-verify-self") {
		t.Errorf("the throwaway key is still installed:\n%s", ak)
	}
	// A tree is not the running sshd: the step is skipped, and says why.
	if cfg.prover() != nil || !strings.Contains(cfg.proveSkip(), "--root names a tree") {
		t.Errorf("under a --root tree the Prove step would run (skip reason %q)", cfg.proveSkip())
	}
	if (Config{}).prover() == nil {
		t.Error("on the host itself the Prove step would not run")
	}
}
