package render_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/pfwdctl/pfwdctl/internal/fail"
	"github.com/pfwdctl/pfwdctl/internal/run"
	"github.com/pfwdctl/pfwdctl/internal/sshd"
	"github.com/pfwdctl/pfwdctl/internal/target"
	"github.com/pfwdctl/pfwdctl/internal/testenv"
	"github.com/pfwdctl/pfwdctl/render"
	"github.com/pfwdctl/pfwdctl/render/rendertest"
)

func TestSpliceIsCanonicalAndKeepsEveryOtherByte(t *testing.T) {
	main := "# admin's comment\nPort 22\nMatch User anoncvs\n    X11Forwarding no"
	files := []render.File{
		{Name: "20-pfwd-only.conf", Data: []byte("Match User pfwd\n    PermitOpen 127.0.0.1:8009\nMatch all\n")},
		{Name: "10-hardening.conf", Data: []byte("PasswordAuthentication no\n")},
	}
	got, err := render.Splice([]byte(main), files)
	if err != nil {
		t.Fatal(err)
	}
	s := string(got)
	if !strings.HasPrefix(s, "# BEGIN pfwdctl 10-hardening.conf") {
		t.Errorf("the baseline is not at the very top:\n%s", s)
	}
	if !strings.HasSuffix(s, "Match all\n# END pfwdctl 20-pfwd-only.conf\n") {
		t.Errorf("the Match block is not at the very end:\n%s", s)
	}
	if !strings.Contains(s, main+"\n# BEGIN pfwdctl 20-pfwd-only.conf") {
		t.Errorf("the admin's text is not kept as it was:\n%s", s)
	}
	again, err := render.Splice(got, files)
	if err != nil || string(again) != s {
		t.Errorf("splicing twice changed the file (err %v):\n%s", err, again)
	}
	// A changed unit replaces its block; another account's block and the
	// admin's lines stay.
	other := []render.File{{Name: "20-metrics-only.conf", Data: []byte("Match User metrics\n    PermitOpen 127.0.0.1:3000\nMatch all\n")}}
	two, _ := render.Splice(got, other)
	changed, _ := render.Splice(two, []render.File{{Name: "20-pfwd-only.conf", Data: []byte("Match User pfwd\n    PermitOpen 127.0.0.1:9000\nMatch all\n")}})
	regions, err := render.Regions(changed)
	if err != nil || len(regions) != 3 {
		t.Fatalf("regions %+v err %v", regions, err)
	}
	if !strings.Contains(string(changed), "127.0.0.1:9000") || strings.Contains(string(changed), "127.0.0.1:8009") || !strings.Contains(string(changed), "127.0.0.1:3000") {
		t.Errorf("replacing one block:\n%s", changed)
	}
	// A block moved into the middle by hand goes back to its place.
	moved := strings.Replace(s, "Port 22\n", "Port 22\n# BEGIN pfwdctl 15-crypto.conf\nCiphers aes256-gcm@openssh.com\n# END pfwdctl 15-crypto.conf\n", 1)
	back, _ := render.Splice([]byte(moved), nil)
	if !strings.HasPrefix(string(back), "# BEGIN pfwdctl 10-hardening.conf") || strings.Index(string(back), "15-crypto.conf") > strings.Index(string(back), "Port 22") {
		t.Errorf("a misplaced global block is not put back at the top:\n%s", back)
	}
}

// A marker's note may follow its name after any white space, on both
// lines; an admin's comment that names no unit is not a marker.
func TestRegionsMarkerText(t *testing.T) {
	rs, err := render.Regions([]byte("# BEGIN pfwdctl notes on the old setup\n# BEGIN pfwdctl 10-hardening.conf\t(x)\nPort 22\n# END pfwdctl 10-hardening.conf  (end)\n# END pfwdctl 99-evil.conf\n"))
	if err != nil || len(rs) != 1 || rs[0].Name != "10-hardening.conf" || string(rs[0].Data) != "Port 22\n" {
		t.Fatalf("regions %+v err %v", rs, err)
	}
}

func TestRegionsRefuseBrokenMarkers(t *testing.T) {
	for name, text := range map[string]string{
		"unterminated": "# BEGIN pfwdctl 10-hardening.conf\nPort 22\n",
		"stray end":    "Port 22\n# END pfwdctl 10-hardening.conf\n",
		"nested":       "# BEGIN pfwdctl 10-hardening.conf\n# BEGIN pfwdctl 15-crypto.conf\n# END pfwdctl 15-crypto.conf\n# END pfwdctl 10-hardening.conf\n",
		"twice":        "# BEGIN pfwdctl 10-hardening.conf\n# END pfwdctl 10-hardening.conf\n# BEGIN pfwdctl 10-hardening.conf\n# END pfwdctl 10-hardening.conf\n",
		"wrong end":    "# BEGIN pfwdctl 10-hardening.conf\n# END pfwdctl 15-crypto.conf\n",
	} {
		if _, err := render.Regions([]byte(text)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func managedApplier(t *testing.T, cfg string) (render.Applier, func() map[string]string) {
	root := rendertest.New(t, rendertest.Tree{SshdConfig: []byte(cfg)})
	a := applier(t, root)
	a.Mode = render.ModeManaged
	return a, func() map[string]string { return rendertest.Snapshot(t, root) }
}

// The managed-block mode (OpenSSH 8.0 and 8.2, or asked for) puts the
// same units into sshd_config itself, and the real sshd enforces them:
// the baseline's first values win over the admin's lines below it, and
// the account's Match block applies.
func TestManagedBlocksAgainstRealSshd(t *testing.T) {
	t.Parallel()
	stock := "PasswordAuthentication yes\nX11Forwarding yes\nSubsystem sftp /usr/lib/openssh/sftp-server\n"
	a, _ := managedApplier(t, stock)
	res, err := apply(t, a, render.DefaultParams(), render.ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Mode != render.ModeManaged || len(res.Files) != 1 || res.Files[0].Path != "/etc/ssh/sshd_config" {
		t.Fatalf("mode %q files %+v, want one change to sshd_config", res.Mode, res.Files)
	}
	if _, err := os.Stat(a.Root.Path("/etc/ssh/sshd_config.d/10-hardening.conf")); err == nil {
		t.Error("a drop-in was written in the managed-block mode")
	}
	bin := sshd.Binary{Bin: testenv.Sshd(t), Runner: run.Exec{}, Root: a.Root}
	for conn, want := range map[string]map[string]string{
		sshd.ConnSpec("pfwd"): {"permitopen": "127.0.0.1:8009", "forcecommand": "/usr/sbin/nologin", "allowtcpforwarding": "local", "passwordauthentication": "no"},
		sshd.ConnSpec("root"): {"permitopen": "any", "allowtcpforwarding": "no", "x11forwarding": "no", "passwordauthentication": "no"},
	} {
		eff, err := bin.Effective(context.Background(), conn)
		if err != nil {
			t.Fatal(err)
		}
		for kw, v := range want {
			if got := strings.Join(eff[kw], " "); got != v {
				t.Errorf("%s: %s = %q, want %q", conn, kw, got, v)
			}
		}
	}
	// Installed targets, accounts and a second apply read the blocks.
	if ts, found, err := render.InstalledTargets(a.Root, "/etc/ssh/sshd_config", "pfwd"); err != nil || !found || strings.Join(ts, " ") != "127.0.0.1:8009" {
		t.Errorf("InstalledTargets = %v %v %v", ts, found, err)
	}
	a.Mode = render.ModeAuto // the blocks themselves choose the mode now
	if res, err := apply(t, a, render.DefaultParams(), render.ApplyOptions{}); err != nil || res.Changed || res.Mode != render.ModeManaged {
		t.Errorf("second apply: changed=%v mode=%q err=%v", res.Changed, res.Mode, err)
	}
	p := render.DefaultParams()
	p.Targets = []target.Target{{Host: "127.0.0.1", Port: 9000}}
	metrics := render.DefaultParams()
	metrics.User = "metrics"
	if _, err := apply(t, a, metrics, render.ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := apply(t, a, p, render.ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	accts, err := render.InstalledAccounts(a.Root, "/etc/ssh/sshd_config")
	if err != nil || len(accts) != 2 || accts[0].User != "metrics" || strings.Join(accts[1].Targets, " ") != "127.0.0.1:9000" {
		t.Errorf("InstalledAccounts = %+v %v", accts, err)
	}
	data, _ := os.ReadFile(a.Root.Path("/etc/ssh/sshd_config"))
	if !strings.Contains(string(data), stock) {
		t.Errorf("the admin's lines were not kept:\n%s", data)
	}
}

// A managed block sshd rejects is rolled back: sshd_config byte for byte.
func TestManagedBlocksRollBack(t *testing.T) {
	t.Parallel()
	a, snap := managedApplier(t, "Port 22\nBogus yes\n")
	before := snap()
	if _, err := apply(t, a, render.DefaultParams(), render.ApplyOptions{}); err == nil {
		t.Fatal("sshd -t accepted Bogus")
	}
	rendertest.Unchanged(t, a.Root, before)
}

// The two modes never install the same lines twice, and broken markers are
// refused before anything is written.
func TestInstallModeConflicts(t *testing.T) {
	t.Parallel()
	// Drop-ins installed, managed blocks asked for.
	root := rendertest.New(t, rendertest.Tree{})
	a := applier(t, root)
	if _, err := apply(t, a, render.DefaultParams(), render.ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	before := rendertest.Snapshot(t, root)
	a.Mode = render.ModeManaged
	_, err := apply(t, a, render.DefaultParams(), render.ApplyOptions{})
	if err == nil || !strings.Contains(fail.HintOf(err), "rm /etc/ssh/sshd_config.d/10-hardening.conf") {
		t.Errorf("managed blocks over installed drop-ins: %v (hint %q)", err, fail.HintOf(err))
	}
	rendertest.Unchanged(t, root, before)
	// Managed blocks installed, drop-ins asked for.
	m, snap := managedApplier(t, "Port 22\n")
	if _, err := apply(t, m, render.DefaultParams(), render.ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	before = snap()
	m.Mode = render.ModeDropIns
	if _, err := apply(t, m, render.DefaultParams(), render.ApplyOptions{}); err == nil {
		t.Error("drop-ins over managed blocks were accepted")
	}
	rendertest.Unchanged(t, m.Root, before)
	// A marker without its partner.
	b, snap := managedApplier(t, "Port 22\n# BEGIN pfwdctl 10-hardening.conf\nPasswordAuthentication yes\n")
	before = snap()
	b.Mode = render.ModeAuto
	if _, err := apply(t, b, render.DefaultParams(), render.ApplyOptions{}); err == nil || fail.Code(err) == 0 {
		t.Error("an unterminated block was accepted")
	}
	rendertest.Unchanged(t, b.Root, before)
}

// An sshd older than 8.0 (here a stand-in that answers as 7.4 would) is
// refused with the reason and nothing is written, whatever the mode.
func TestApplyRefusesAnUnsupportedSshd(t *testing.T) {
	t.Parallel()
	fake := filepath.Join(t.TempDir(), "sshd")
	script := "#!/bin/sh\n" +
		"for a in \"$@\"; do [ \"$a\" = -V ] && { echo 'OpenSSH_7.4p1, OpenSSL 1.0.2k-fips  26 Jan 2017' >&2; exit 1; }; done\n" +
		"printf 'port 22\\npermitopen any\\nforcecommand none\\nallowtcpforwarding yes\\nallowstreamlocalforwarding yes\\nauthenticationmethods any\\ndisableforwarding no\\nauthorizedkeysfile .ssh/authorized_keys\\npermittty no\\n'\n"
	if err := os.WriteFile(fake, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, mode := range []render.Mode{render.ModeAuto, render.ModeManaged} {
		root := rendertest.New(t, rendertest.Tree{})
		before := rendertest.Snapshot(t, root)
		a := render.Applier{Root: root, Runner: run.Exec{}, SshdBin: fake, Getenv: func(string) string { return "" }, Mode: mode}
		_, err := apply(t, a, render.DefaultParams(), render.ApplyOptions{})
		if err == nil || !strings.Contains(err.Error(), "unsupported sshd") || !strings.Contains(err.Error(), "7.4 is older than 8.0") || fail.Code(err) != fail.ExitFailed {
			t.Errorf("%s: %v", mode, err)
		}
		rendertest.Unchanged(t, root, before)
	}
}

// editingRunner runs commands for real and makes one edit while the
// guard asks sshd -T, as an admin or Ansible might while apply plans.
type editingRunner struct {
	mu   sync.Mutex
	n    int
	edit func()
}

func (r *editingRunner) Run(ctx context.Context, name string, args ...string) ([]byte, []byte, error) {
	if slices.Contains(args, "-T") {
		r.mu.Lock()
		// The first sshd -T is the capability probe, before the plan
		// reads the file; the next ones are the guard's, after.
		if r.n++; r.n == 2 {
			r.edit()
		}
		r.mu.Unlock()
	}
	return run.Exec{}.Run(ctx, name, args...)
}

// An edit made to sshd_config while apply was planning is never silently
// replaced: the install refuses, nothing of pfwdctl's is left, and the
// admin's edit stays.
func TestApplyRefusesAFileChangedWhilePlanning(t *testing.T) {
	t.Parallel()
	a, _ := managedApplier(t, "Port 22\n")
	main := a.Root.Path("/etc/ssh/sshd_config")
	r := &editingRunner{edit: func() {
		data, _ := os.ReadFile(main)
		os.WriteFile(main, append(data, "# the admin's edit\nPermitRootLogin no\n"...), 0o644)
	}}
	a.Runner = r
	_, err := apply(t, a, render.DefaultParams(), render.ApplyOptions{})
	if err == nil || !strings.Contains(err.Error(), "changed while pfwdctl was planning") {
		t.Fatalf("err = %v", err)
	}
	got, _ := os.ReadFile(main)
	if string(got) != "Port 22\n# the admin's edit\nPermitRootLogin no\n" {
		t.Errorf("sshd_config is now\n%s", got)
	}
}
