package sshd_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pfwdctl/pfwdctl/internal/hostfs"
	"github.com/pfwdctl/pfwdctl/internal/run"
	"github.com/pfwdctl/pfwdctl/internal/sshd"
	"github.com/pfwdctl/pfwdctl/internal/testenv"
	"github.com/pfwdctl/pfwdctl/render/rendertest"
)

const (
	dropDir = "/etc/ssh/sshd_config.d/"
	planned = dropDir + "10-hardening.conf"
)

// stagedTree is a Debian host under a --root tree, with the given files.
func stagedTree(t *testing.T, files map[string]string) hostfs.Root {
	t.Helper()
	return rendertest.New(t, rendertest.Tree{Files: files})
}

// privateTmp points os.MkdirTemp at a fresh directory, so a test can see
// that the staged copies are gone afterwards.
func privateTmp(t *testing.T) string {
	d := t.TempDir()
	t.Setenv("TMPDIR", d)
	return d
}

func assertEmpty(t *testing.T, dir string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) > 0 {
		t.Errorf("temp copies left in %s: %v", dir, ents)
	}
}

func value(t *testing.T, eff map[string][]string, kw string) string {
	t.Helper()
	return strings.Join(eff[kw], " ")
}

// A planned drop-in sshd refuses makes the staged sshd -t fail, names the
// planned file by its host path (not the temp copy, not the root prefix),
// and nothing is written to the tree.
func TestStagedTestRejectsBrokenPlan(t *testing.T) {
	tmp := privateTmp(t)
	root := stagedTree(t, nil)
	before := rendertest.Snapshot(t, root)
	b := sshd.Binary{Bin: testenv.Sshd(t), Runner: run.Exec{}, Root: root,
		Overlay: map[string][]byte{planned: []byte("# planned\nPasswordAuthentication no\nNoSuchKeyword yes\n")}}
	err := b.Test(context.Background())
	var ce *sshd.ConfigError
	if !errors.As(err, &ce) {
		t.Fatalf("staged sshd -t of a broken plan: %v", err)
	}
	if !strings.Contains(ce.Stderr, planned+": line 3") && !strings.Contains(ce.Stderr, planned+" line 3") {
		t.Errorf("message does not name %s line 3:\n%s", planned, ce.Stderr)
	}
	if strings.Contains(ce.Stderr, root.Dir()) || strings.Contains(ce.Stderr, "pfwdctl-sshd-") {
		t.Errorf("message names a temp or root path:\n%s", ce.Stderr)
	}
	rendertest.Unchanged(t, root, before)
	if _, err := os.Stat(root.Path(planned)); err == nil {
		t.Error("the planned file was written")
	}
	assertEmpty(t, tmp)

	// The same tree without the plan is fine: the failure came from it.
	b.Overlay = nil
	if err := b.Test(context.Background()); err != nil {
		t.Fatalf("unstaged: %v", err)
	}
}

// Planned drop-ins' values show in the staged sshd -T, globally and in
// their Match block, and a planned removal takes a file's values away.
func TestStagedEffectiveSeesPlan(t *testing.T) {
	tmp := privateTmp(t)
	root := stagedTree(t, map[string]string{dropDir + "50-cloud-init.conf": "X11Forwarding no\n"})
	b := sshd.Binary{Bin: testenv.Sshd(t), Runner: run.Exec{}, Root: root, Overlay: map[string][]byte{
		planned:                           []byte("PasswordAuthentication no\nMaxAuthTries 3\n"),
		dropDir + "20-pfwd-only.conf":     []byte("Match User pfwd\n    PermitOpen 127.0.0.1:8009\n"),
		dropDir + "50-cloud-init.conf":    nil,
		"/etc/ssh/unrelated/nothing.conf": []byte("this is never read\n"),
	}}
	ctx := context.Background()
	global, err := b.Effective(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if got := value(t, global, "passwordauthentication"); got != "no" {
		t.Errorf("passwordauthentication = %q, want the plan's no", got)
	}
	if got := value(t, global, "maxauthtries"); got != "3" {
		t.Errorf("maxauthtries = %q, want 3", got)
	}
	// Debian's main file says X11Forwarding yes below the Include; only
	// the removed drop-in said no.
	if got := value(t, global, "x11forwarding"); got != "yes" {
		t.Errorf("x11forwarding = %q: the planned removal of 50-cloud-init.conf was not seen", got)
	}
	fwd, err := b.Effective(ctx, "user=pfwd,host=localhost,addr=127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	if got := value(t, fwd, "permitopen"); got != "127.0.0.1:8009" {
		t.Errorf("permitopen for pfwd = %q", got)
	}
	if _, err := os.Stat(root.Path(dropDir + "50-cloud-init.conf")); err != nil {
		t.Errorf("the planned removal touched the tree: %v", err)
	}
	assertEmpty(t, tmp)
}

// A drop-in on disk that sorts before the planned one still wins: the
// staged copy keeps the directory's files, names and order.
func TestStagedEffectiveEarlierDropInWins(t *testing.T) {
	root := stagedTree(t, map[string]string{dropDir + "05-early.conf": "PasswordAuthentication yes\n"})
	b := sshd.Binary{Bin: testenv.Sshd(t), Runner: run.Exec{}, Root: root,
		Overlay: map[string][]byte{planned: []byte("PasswordAuthentication no\nPermitRootLogin no\n")}}
	global, err := b.Effective(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	if got := value(t, global, "passwordauthentication"); got != "yes" {
		t.Errorf("passwordauthentication = %q, want 05-early.conf's yes", got)
	}
	if got := value(t, global, "permitrootlogin"); got != "no" {
		t.Errorf("permitrootlogin = %q, want the plan's no", got)
	}
}

// On the running system (the zero Root) the overlay works the same way,
// with sshd reading a copy: nothing under the real paths changes. The main
// config here is a file of the test's own, so the host's /etc is only read.
func TestStagedOnHostRoot(t *testing.T) {
	tmp := privateTmp(t)
	d := t.TempDir()
	mainCfg := filepath.Join(d, "sshd_config")
	inc := filepath.Join(d, "conf.d")
	os.Mkdir(inc, 0o755)
	os.WriteFile(mainCfg, []byte("Include "+inc+"/*.conf\nPasswordAuthentication yes\nUsePAM no\n"), 0o644)
	os.WriteFile(filepath.Join(inc, "05-early.conf"), []byte("PermitRootLogin yes\n"), 0o644)
	b := sshd.Binary{Bin: testenv.Sshd(t), Runner: run.Exec{}, Config: mainCfg,
		Overlay: map[string][]byte{filepath.Join(inc, "10-hardening.conf"): []byte("PasswordAuthentication no\nPermitRootLogin no\n")}}
	global, err := b.Effective(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	if got := value(t, global, "passwordauthentication"); got != "no" {
		t.Errorf("passwordauthentication = %q, want the plan's no", got)
	}
	if got := value(t, global, "permitrootlogin"); got != "yes" {
		t.Errorf("permitrootlogin = %q, want 05-early.conf's yes", got)
	}
	if _, err := os.Stat(filepath.Join(inc, "10-hardening.conf")); err == nil {
		t.Error("the planned file was written")
	}

	b.Overlay = map[string][]byte{filepath.Join(inc, "10-hardening.conf"): []byte("Bogus yes\n")}
	err = b.Test(context.Background())
	var ce *sshd.ConfigError
	if !errors.As(err, &ce) || !strings.Contains(ce.Stderr, filepath.Join(inc, "10-hardening.conf")) || strings.Contains(ce.Stderr, "pfwdctl-sshd-") {
		t.Errorf("staged sshd -t on the host: %v", err)
	}
	assertEmpty(t, tmp)
}

// A staged main config is what sshd reads, with its Include still finding
// the drop-ins on disk.
func TestStagedMainConfig(t *testing.T) {
	root := stagedTree(t, map[string]string{dropDir + "10-hardening.conf": "PasswordAuthentication no\nPermitRootLogin no\n"})
	b := sshd.Binary{Bin: testenv.Sshd(t), Runner: run.Exec{}, Root: root,
		Overlay: map[string][]byte{sshd.DefaultConfig: append([]byte("PasswordAuthentication yes\n"), rendertest.StockSshdConfig...)}}
	global, err := b.Effective(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	if got := value(t, global, "passwordauthentication"); got != "yes" {
		t.Errorf("passwordauthentication = %q, want the staged main config's yes", got)
	}
	if got := value(t, global, "permitrootlogin"); got != "no" {
		t.Errorf("permitrootlogin = %q, want the drop-in's no", got)
	}
}

// TestProbeSystemSshd: the system's sshd (9.2) takes Include and honours a
// Match block in an included file. The releases that do not (8.0, 8.2) are
// probed by make test-compat (TestCompat's "probe" step).
func TestProbeSystemSshd(t *testing.T) {
	bin := testenv.Sshd(t)
	c, err := sshd.Binary{Bin: bin, Runner: run.Exec{}}.Probe(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !c.Include || !c.MatchInInclude || c.Why() != "" {
		t.Errorf("probe of %s: %+v %q", bin, c, c.Why())
	}
}
