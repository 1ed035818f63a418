package self_test

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
	"github.com/pfwdctl/pfwdctl/render"
	"github.com/pfwdctl/pfwdctl/users/keyline"
	"github.com/pfwdctl/pfwdctl/verify"
	"github.com/pfwdctl/pfwdctl/verify/lab"
	"github.com/pfwdctl/pfwdctl/verify/lab/labtest"
	"github.com/pfwdctl/pfwdctl/verify/self"
)

// verify --self on an account applied with --hardware-keys-only
// --require-verify (a real sshd whose Match block refuses every plain key
// and every signature without the PIN bit): the throwaway key is a
// software FIDO one, every check passes, and it is gone afterwards.
func TestSelfOnHardwareKeysOnlyAccount(t *testing.T) {
	testenv.Root(t)
	dir, err := os.MkdirTemp("", "pfwdctl-selfroot-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	echo := labtest.Echo(t)
	user, err := lab.DefaultUser()
	if err != nil {
		t.Fatal(err)
	}
	ts := []target.Target{echo.Target}
	files, err := render.Render(render.Params{User: user, Targets: ts, Nologin: render.DefaultNologin,
		HardwareKeys: &render.HardwareKeys{Algorithms: keyline.HardwareKeyAlgorithms, RequireVerify: true}})
	if err != nil {
		t.Fatal(err)
	}
	o := lab.Options{User: user, Targets: ts, DropIns: files}
	lab.SelfRoot(dir)(&o)
	s := labtest.New(t, o)
	if err := s.WriteSelfRoot(dir); err != nil {
		t.Fatal(err)
	}
	// The lab's own plain key is refused here: only --self's key can pass.
	if err := labtest.Login(s, s.ClientKey, echo); err == nil {
		t.Fatal("a plain key logged in to the hardware-keys-only account")
	}
	res, err := self.Run(context.Background(), self.Options{
		Settings: verify.Settings{Port: s.Port, User: s.User, Timeout: 20 * time.Second},
		Root:     hostfs.MustRoot(dir), Runner: run.Exec{}, Getenv: func(string) string { return "" },
	})
	if err != nil || res.Report == nil || !res.Report.Passed || res.Leftover != nil {
		t.Fatalf("verify --self: %v %+v", err, res)
	}
	if !res.Hardware {
		t.Error("--self did not use a FIDO key")
	}
	ak, _ := os.ReadFile(filepath.Join(dir, "home", s.User, ".ssh", "authorized_keys"))
	if strings.Contains(string(ak), "pfwdctl-verify-self") {
		t.Errorf("the throwaway key is still there:\n%s", ak)
	}
}
