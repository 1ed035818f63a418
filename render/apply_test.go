package render_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pfwdctl/pfwdctl/internal/fail"
	"github.com/pfwdctl/pfwdctl/internal/hostfs"
	"github.com/pfwdctl/pfwdctl/internal/run"
	"github.com/pfwdctl/pfwdctl/internal/sshd"
	"github.com/pfwdctl/pfwdctl/internal/testenv"
	"github.com/pfwdctl/pfwdctl/render"
	"github.com/pfwdctl/pfwdctl/render/rendertest"
)

// These tests drive the real sshd (sshd -t and sshd -T) over trees under
// t.TempDir(); nothing on the host is read or written except the sshd binary.

func applier(t *testing.T, root hostfs.Root) render.Applier {
	return render.Applier{Root: root, Runner: run.Exec{}, SshdBin: testenv.Sshd(t), Getenv: func(string) string { return "" }}
}

func apply(t *testing.T, a render.Applier, p render.Params, o render.ApplyOptions) (render.ApplyResult, error) {
	t.Helper()
	o.Params = p
	return a.Apply(context.Background(), o)
}

func TestApplyThenEffectiveConfig(t *testing.T) {
	t.Parallel()
	root := rendertest.New(t, rendertest.Tree{})
	a := applier(t, root)
	res, err := apply(t, a, render.DefaultParams(), render.ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Changed || !res.Validated || res.Reload == nil || res.Reload.Method != sshd.ReloadNone {
		t.Fatalf("result = %+v", res)
	}
	for _, f := range res.Files {
		fi, err := os.Stat(root.Path(f.Path))
		if err != nil || fi.Mode().Perm() != 0o644 {
			t.Fatalf("%s: %v %v", f.Path, fi, err)
		}
	}
	bin := sshd.Binary{Bin: testenv.Sshd(t), Runner: run.Exec{}, Root: root}
	eff, err := bin.Effective(context.Background(), "user=pfwd,host=localhost,addr=127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	for kw, want := range map[string]string{
		"permitopen":             "127.0.0.1:8009",
		"forcecommand":           "/usr/sbin/nologin",
		"permittty":              "no",
		"allowtcpforwarding":     "local",
		"passwordauthentication": "no",
		"permitrootlogin":        "no",
		"x11forwarding":          "no", // the drop-in beats Debian's "X11Forwarding yes" below the Include
		"authenticationmethods":  "publickey",
	} {
		if got := strings.Join(eff[kw], ","); got != want {
			t.Errorf("pfwd: %s = %q, want %q", kw, got, want)
		}
	}
	other, err := bin.Effective(context.Background(), "user=admin,host=localhost,addr=127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	for kw, want := range map[string]string{"allowtcpforwarding": "no", "permittty": "yes", "permitopen": "any"} {
		if got := strings.Join(other[kw], ","); got != want {
			t.Errorf("admin: %s = %q, want %q", kw, got, want)
		}
	}
	if got := strings.Join(other["forcecommand"], ","); got != "none" {
		t.Errorf("admin: forcecommand = %q, want none", got)
	}
}

func TestApplyTwiceIsNoOp(t *testing.T) {
	t.Parallel()
	root := rendertest.New(t, rendertest.Tree{})
	a := applier(t, root)
	if _, err := apply(t, a, render.DefaultParams(), render.ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	before := rendertest.Snapshot(t, root)
	res, err := apply(t, a, render.DefaultParams(), render.ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Changed || res.Reload != nil {
		t.Fatalf("second apply changed something: %+v", res)
	}
	rendertest.Unchanged(t, root, before)
}

func TestApplySeveralTargetsAndUser(t *testing.T) {
	t.Parallel()
	root := rendertest.New(t, rendertest.Tree{})
	p, err := render.NewParams("tunnel", []string{"127.0.0.1:8009", "[::1]:9000"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := apply(t, applier(t, root), p, render.ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	eff, err := sshd.Binary{Bin: testenv.Sshd(t), Runner: run.Exec{}, Root: root}.Effective(context.Background(), "user=tunnel,host=localhost,addr=127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(eff["permitopen"], ","); got != "127.0.0.1:8009 [::1]:9000" {
		t.Errorf("permitopen = %q", got)
	}
}

// A drop-in that sorts before ours and breaks sshd -t: apply must write,
// fail validation, and put every file back byte-for-byte.
func TestApplyRollsBackWhenSshdRejects(t *testing.T) {
	t.Parallel()
	for _, existing := range []bool{false, true} {
		root := rendertest.New(t, rendertest.Tree{Files: map[string]string{
			"/etc/ssh/sshd_config.d/05-local.conf": "Bogus yes\n",
		}})
		if existing {
			// An older pfwdctl drop-in with another target: rollback must
			// restore it, not delete it.
			os.WriteFile(root.Path("/etc/ssh/sshd_config.d/20-pfwd-only.conf"), []byte("# old\nMatch User pfwd\n PermitOpen 127.0.0.1:1\nMatch all\n"), 0o640)
		}
		before := rendertest.Snapshot(t, root)
		_, err := apply(t, applier(t, root), render.DefaultParams(), render.ApplyOptions{})
		var se *sshd.ConfigError
		if !errors.As(err, &se) || !strings.Contains(se.Stderr, "/etc/ssh/sshd_config.d/05-local.conf: line 1: Bad configuration option: Bogus") {
			t.Fatalf("err = %v, want sshd's own error naming the host path", err)
		}
		if fail.Code(err) != fail.ExitFailed {
			t.Errorf("exit code %d", fail.Code(err))
		}
		rendertest.Unchanged(t, root, before)
	}
}

// A main config that does not read the drop-in directory (upstream's stock
// file has no Include) is never simply refused: apply puts the Include at
// its top in the same change, says so, and keeps every other byte, its
// mode and its owner.
func TestApplyAddsIncludeWhenMissing(t *testing.T) {
	t.Parallel()
	for name, cfg := range map[string]string{
		"no_include":         "PermitRootLogin prohibit-password\n",
		"include_elsewhere":  "Include /etc/ssh/other.d/*.conf\n",
		"include_commented":  "#Include /etc/ssh/sshd_config.d/*.conf\n",
		"include_wrong_glob": "Include /etc/ssh/sshd_config.d/*.cfg\n",
	} {
		t.Run(name, func(t *testing.T) {
			root := rendertest.New(t, rendertest.Tree{SshdConfig: []byte(cfg)})
			os.Chmod(root.Path("/etc/ssh/sshd_config"), 0o600)
			dry, err := apply(t, applier(t, root), render.DefaultParams(), render.ApplyOptions{DryRun: true})
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(dry.Diff(), "+Include /etc/ssh/sshd_config.d/*.conf") {
				t.Errorf("the dry run does not show the Include line:\n%s", dry.Diff())
			}
			res, err := apply(t, applier(t, root), render.DefaultParams(), render.ApplyOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if res.Mode != render.ModeDropIns || !strings.Contains(res.ModeWhy, "Include") {
				t.Errorf("mode %q (%s), want drop-ins saying the Include was added", res.Mode, res.ModeWhy)
			}
			got, _ := os.ReadFile(root.Path("/etc/ssh/sshd_config"))
			rest, ok := strings.CutSuffix(string(got), cfg)
			if !ok || !strings.Contains(rest, "\nInclude /etc/ssh/sshd_config.d/*.conf\n") {
				t.Errorf("sshd_config is now\n%s\nwant the Include on top of the old text", got)
			}
			if fi, _ := os.Stat(root.Path("/etc/ssh/sshd_config")); fi.Mode().Perm() != 0o600 {
				t.Errorf("mode %v, want the file's own 0600 kept", fi.Mode())
			}
			// Applying again changes nothing.
			if res, err := apply(t, applier(t, root), render.DefaultParams(), render.ApplyOptions{}); err != nil || res.Changed {
				t.Errorf("second apply: changed=%v err=%v", res.Changed, err)
			}
		})
	}
	// An Include of the drop-in directory inside a Match block would read
	// the baseline there: sshd -t refuses, and every file is put back.
	root := rendertest.New(t, rendertest.Tree{SshdConfig: []byte("Match User admin\n  Include /etc/ssh/sshd_config.d/*.conf\n")})
	before := rendertest.Snapshot(t, root)
	if _, err := apply(t, applier(t, root), render.DefaultParams(), render.ApplyOptions{}); err == nil {
		t.Error("an Include inside a Match block was accepted")
	}
	rendertest.Unchanged(t, root, before)
	// Relative Include paths are relative to /etc/ssh, not to the file.
	root = rendertest.New(t, rendertest.Tree{SshdConfig: []byte("Include sshd_config.d/*.conf\n")})
	res, err := apply(t, applier(t, root), render.DefaultParams(), render.ApplyOptions{})
	if err != nil {
		t.Fatalf("relative Include: %v", err)
	}
	for _, f := range res.Files {
		if f.Path == "/etc/ssh/sshd_config" {
			t.Errorf("sshd_config was changed although it reads the drop-ins")
		}
	}
}

func TestApplyDryRunWritesNothing(t *testing.T) {
	t.Parallel()
	root := rendertest.New(t, rendertest.Tree{})
	before := rendertest.Snapshot(t, root)
	res, err := apply(t, applier(t, root), render.DefaultParams(), render.ApplyOptions{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Changed || !strings.Contains(res.Diff(), "+++ /etc/ssh/sshd_config.d/20-pfwd-only.conf") || !strings.Contains(res.Diff(), "+    PermitOpen 127.0.0.1:8009") {
		t.Fatalf("diff:\n%s", res.Diff())
	}
	rendertest.Unchanged(t, root, before)
}

func TestApplyLockoutGuard(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		tree rendertest.Tree
		env  map[string]string
		want string
	}{
		// root is judged under the planned drop-ins (PermitRootLogin no).
		"no_keys": {rendertest.Tree{NoAdminKey: true}, nil, "root: PermitRootLogin no; admin: no authorized key"},
		// PermitRootLogin no is in the tree too: the guard asks sshd about
		// the configuration it is handed (render/guard_cases_test.go hands
		// it the rendered drop-ins as well).
		"only_root": {rendertest.Tree{NoAdminKey: true, Files: map[string]string{
			"/root/.ssh/authorized_keys":           rendertest.AdminKey,
			"/etc/ssh/sshd_config.d/05-local.conf": "PermitRootLogin no\n"}},
			nil, "root: PermitRootLogin no; admin: no authorized key"},
		"admin_has_forced_command_only": {rendertest.Tree{NoAdminKey: true, Files: map[string]string{
			"/home/admin/.ssh/authorized_keys": `command="/usr/bin/backup" ` + rendertest.AdminKey}}, nil, "admin: /home/admin/.ssh/authorized_keys:1: the key has a forced command"},
		"admin_not_in_allowusers": {rendertest.Tree{Files: map[string]string{
			"/etc/ssh/sshd_config.d/05-local.conf": "AllowUsers root pfwd\n"}}, nil, "admin: not in AllowUsers root pfwd"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			root := rendertest.New(t, c.tree)
			before := rendertest.Snapshot(t, root)
			a := applier(t, root)
			_, err := apply(t, a, render.DefaultParams(), render.ApplyOptions{})
			if err == nil || !strings.Contains(err.Error(), c.want) || fail.HintOf(err) == "" {
				t.Fatalf("err = %v, want %q with a hint", err, c.want)
			}
			rendertest.Unchanged(t, root, before)
			// Root logs in by key today: the hint names the flag that
			// keeps it, and only then.
			_, rootKey := c.tree.Files["/root/.ssh/authorized_keys"]
			if got := strings.Contains(fail.HintOf(err), "--permit-root-login prohibit-password"); got != rootKey {
				t.Errorf("hint %q: names --permit-root-login prohibit-password %v, root has a key %v", fail.HintOf(err), got, rootKey)
			}
			if _, err := apply(t, a, render.DefaultParams(), render.ApplyOptions{Force: true}); err != nil {
				t.Fatalf("--force: %v", err)
			}
		})
	}
}

// The caller's own session is only judged on the running system.
func TestGuardCallerSession(t *testing.T) {
	t.Parallel()
	root := rendertest.New(t, rendertest.Tree{})
	authFile := t.TempDir() + "/auth"
	os.WriteFile(authFile, []byte("password\n"), 0o600)
	env := map[string]string{"SSH_CONNECTION": "10.0.0.2 5555 10.0.0.1 22", "SSH_USER_AUTH": authFile, "SUDO_USER": "admin"}
	g := render.Guard{Root: root, ForwardUser: "pfwd", Getenv: func(k string) string { return env[k] }}
	if err := g.Check(context.Background(), sshd.Binary{Bin: testenv.Sshd(t), Runner: run.Exec{}, Root: root}.Effective); err != nil {
		t.Fatalf("under --root the caller's session is not this tree's: %v", err)
	}
}

func TestApplyWaitsForTheLock(t *testing.T) {
	t.Parallel()
	root := rendertest.New(t, rendertest.Tree{})
	unlock, err := root.Lock(time.Second)
	if err != nil {
		t.Fatal(err)
	}
	a := applier(t, root)
	a.LockWait = 100 * time.Millisecond
	before := rendertest.Snapshot(t, root)
	_, err = apply(t, a, render.DefaultParams(), render.ApplyOptions{})
	if !errors.Is(err, hostfs.ErrLocked) || fail.Code(err) != fail.ExitUnavailable {
		t.Fatalf("err = %v, want ErrLocked with exit 3", err)
	}
	rendertest.Unchanged(t, root, before)
	unlock()
	// Concurrent runs serialise: every one succeeds and the result is one
	// of them, whole, and valid for sshd.
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			p, _ := render.NewParams("", []string{fmt.Sprintf("127.0.0.1:%d", 8000+i)})
			_, err := apply(t, applier(t, root), p, render.ApplyOptions{})
			errs <- err
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := (sshd.Binary{Bin: testenv.Sshd(t), Runner: run.Exec{}, Root: root}).Test(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// SSHD-NOTES 1: sshd keeps the first value it reads. Our 10- drop-in beats
// cloud-init's 50-cloud-init.conf; a 00- drop-in beats us (audit reports it).
func TestFirstValueWinsAcrossDropIns(t *testing.T) {
	t.Parallel()
	root := rendertest.New(t, rendertest.Tree{Files: map[string]string{
		"/etc/ssh/sshd_config.d/50-cloud-init.conf": "PasswordAuthentication yes\n",
		"/etc/ssh/sshd_config.d/00-local.conf":      "MaxAuthTries 6\n",
	}})
	if _, err := apply(t, applier(t, root), render.DefaultParams(), render.ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	eff, err := sshd.Binary{Bin: testenv.Sshd(t), Runner: run.Exec{}, Root: root}.Effective(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	if got := eff["passwordauthentication"]; len(got) != 1 || got[0] != "no" {
		t.Errorf("passwordauthentication = %v: 10-hardening.conf must beat 50-cloud-init.conf", got)
	}
	if got := eff["maxauthtries"]; len(got) != 1 || got[0] != "6" {
		t.Errorf("maxauthtries = %v: a 00- drop-in is read first and wins", got)
	}
}

// ctxRunner fails every command once its context is done, as exec does.
type ctxRunner struct{ ran []string }

func (r *ctxRunner) Run(ctx context.Context, name string, args ...string) ([]byte, []byte, error) {
	r.ran = append(r.ran, run.Line(name, args...))
	return nil, nil, ctx.Err()
}

// An interrupt after sshd -t accepted the new files must not be reported
// as "sshd is not running" (systemctl is-active fails under a cancelled
// context) with success: the files are installed, sshd was not reloaded,
// and the run says so and fails.
func TestApplyInterruptedBeforeReload(t *testing.T) {
	t.Parallel()
	root := rendertest.New(t, rendertest.Tree{})
	sysDir := t.TempDir() // stands in for /run/systemd/system: booted with systemd
	initDir := filepath.Join(sysDir, "init.d")
	r := &ctxRunner{}
	a := applier(t, root)
	a.Reloader = &sshd.Reloader{Runner: r, SystemdDir: sysDir, InitDir: initDir}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res, err := a.Apply(ctx, render.ApplyOptions{Params: render.DefaultParams()})
	if err == nil || fail.HintOf(err) == "" || !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	if !res.Validated || res.Reload == nil || res.Reload.Method != sshd.ReloadSkipped || !strings.Contains(res.Reload.Detail, "interrupted") {
		t.Fatalf("result = %+v (reload %+v)", res, res.Reload)
	}
	if len(r.ran) != 0 {
		t.Errorf("ran %v after the interrupt", r.ran)
	}
}
