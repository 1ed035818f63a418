package lab_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pfwdctl/pfwdctl/internal/hostfs"
	"github.com/pfwdctl/pfwdctl/internal/run"
	"github.com/pfwdctl/pfwdctl/internal/target"
	"github.com/pfwdctl/pfwdctl/internal/testenv"
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
	testenv.Root(t)
	dir, err := os.MkdirTemp("", "pfwdctl-selfroot-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	echo := labtest.Echo(t)
	o := lab.Options{Targets: []target.Target{echo.Target}}
	lab.SelfRoot(dir)(&o)
	s := labtest.New(t, o)
	if err := s.WriteSelfRoot(dir); err != nil {
		t.Fatal(err)
	}
	res, err := self.Run(context.Background(), self.Options{
		Settings: verify.Settings{Port: s.Port, User: s.User, Timeout: 20 * time.Second},
		Root:     hostfs.MustRoot(dir), Runner: run.Exec{}, Getenv: func(string) string { return "" },
	})
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
