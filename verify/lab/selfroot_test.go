package lab_test

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pfwdctl/pfwdctl/internal/hostfs"
	"github.com/pfwdctl/pfwdctl/internal/run"
	"github.com/pfwdctl/pfwdctl/internal/target"
	"github.com/pfwdctl/pfwdctl/internal/testenv"
	"github.com/pfwdctl/pfwdctl/render"
	"github.com/pfwdctl/pfwdctl/verify"
	"github.com/pfwdctl/pfwdctl/verify/lab"
	"github.com/pfwdctl/pfwdctl/verify/lab/labtest"
	"github.com/pfwdctl/pfwdctl/verify/self"
)

// A lab started with SelfRoot(dir) and its WriteSelfRoot tree is a host
// that verify --self --root dir proves (bench/self.sh): the throwaway key
// lands where the lab's sshd reads keys, every check passes, the key is
// gone afterwards and the lab's own key still logs in.
func TestSelfRootServesVerifySelf(t *testing.T) {
	t.Parallel()
	s, dir, echo := selfRootLab(t, nil)
	res, err := selfRun(t, s, dir)
	if err != nil || !res.Report.Passed || res.Leftover != nil {
		t.Fatalf("verify --self: %v %+v", err, res)
	}
	ak, _ := os.ReadFile(filepath.Join(dir, "home", s.User, ".ssh", "authorized_keys"))
	if strings.Contains(string(ak), "pfwdctl-verify-self") || !strings.Contains(string(ak), "pfwdctl-lab") {
		t.Errorf("authorized_keys after --self:\n%s", ak)
	}
	if err := labtest.Login(s, s.ClientKey, echo); err != nil {
		t.Errorf("the lab's key no longer logs in: %v", err)
	}
}

func selfRootLab(t *testing.T, edit func([]render.File) []render.File) (*lab.Server, string, *lab.Echo) {
	t.Helper()
	testenv.Root(t)
	dir, err := os.MkdirTemp("", "pfwdctl-selfroot-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	echo := labtest.Echo(t)
	o := lab.Options{Targets: []target.Target{echo.Target}, Edit: edit}
	lab.SelfRoot(dir)(&o)
	s := labtest.New(t, o)
	if err := s.WriteSelfRoot(dir); err != nil {
		t.Fatal(err)
	}
	return s, dir, echo
}

func selfRun(t *testing.T, s *lab.Server, dir string) (self.Result, error) {
	t.Helper()
	return self.Run(context.Background(), self.Options{
		Settings: verify.Settings{Port: s.Port, User: s.User, Timeout: 20 * time.Second},
		Root:     hostfs.MustRoot(dir), Runner: run.Exec{}, Getenv: func(string) string { return "" },
	})
}

// --self reads the account's PermitListen with sshd -T (while the key is
// installed) and asks for each port under every spelling:
// "PermitListen localhost:P" was once asked for as 127.0.0.1:P only, which
// it does not match, and passed.
func TestSelfRootPermitListenIsFound(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	s, dir, _ := selfRootLab(t, lab.ReplaceLine("20-pfwd-only.conf", "AllowTcpForwarding",
		"AllowTcpForwarding yes\n    PermitListen localhost:"+strconv.Itoa(port)))
	res, err := selfRun(t, s, dir)
	if err != nil || res.Leftover != nil {
		t.Fatalf("verify --self: %v %+v", err, res)
	}
	c, _ := res.Report.Check(verify.CheckRemote)
	if c.Status != verify.Fail || !strings.Contains(c.Detail, "localhost:"+strconv.Itoa(port)) {
		t.Fatalf("PermitListen localhost:%d not found: %+v", port, c)
	}
}
