package render_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pfwdctl/pfwdctl/internal/fail"
	"github.com/pfwdctl/pfwdctl/internal/hostfs"
	"github.com/pfwdctl/pfwdctl/internal/run"
	"github.com/pfwdctl/pfwdctl/internal/sshd"
	"github.com/pfwdctl/pfwdctl/internal/testenv"
	"github.com/pfwdctl/pfwdctl/render"
	"github.com/pfwdctl/pfwdctl/verify/lab"
	"github.com/pfwdctl/pfwdctl/verify/lab/labtest"
)

// liveApplier applies to a running lab sshd's own config files (host
// paths under the lab's temp dir), reloading it as a SysV host whose init
// script exits 0 and does nothing: Debian's, when sshd_not_to_be_run
// exists. The audit log goes to a temp file.
func liveApplier(t *testing.T, s *lab.Server) render.Applier {
	t.Helper()
	initDir := t.TempDir()
	if err := os.WriteFile(filepath.Join(initDir, "ssh"), []byte("#!/bin/sh\necho 'OpenBSD Secure Shell server not in use (/etc/ssh/sshd_not_to_be_run)'\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return render.Applier{Root: hostfs.Root{}, Runner: run.Exec{}, SshdConfig: s.ConfigFile, SshdBin: testenv.Sshd(t),
		Getenv: func(string) string { return "" }, Syslog: func(string) {}, AuditLog: filepath.Join(t.TempDir(), "audit.jsonl"),
		Reloader: &sshd.Reloader{Runner: run.Exec{}, SystemdDir: filepath.Join(initDir, "no-systemd"), InitDir: initDir,
			PidFiles: []string{filepath.Join(s.Dir, "sshd.pid")}, Wait: time.Second}}
}

func served(t *testing.T, s *lab.Server, user string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m, err := sshd.ServedMethods(ctx, s.Addr, user)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// The reported defect: "✓ reloaded with: service ssh reload" while the
// daemon kept offering passwords, then "already up to date". Now the reload
// is confirmed by the daemon itself, and the daemon serves the new config.
func TestApplyReloadIsConfirmedByTheDaemon(t *testing.T) {
	testenv.Root(t)
	s := labtest.New(t, lab.Options{DropIns: []render.File{}})
	if got := served(t, s, "root"); !slices.Contains(got, "password") {
		t.Fatalf("lab without drop-ins should offer passwords, offers %v", got)
	}
	p, err := render.NewParams(s.User, []string{s.Targets[0].String()})
	if err != nil {
		t.Fatal(err)
	}
	a := liveApplier(t, s)
	res, err := a.Apply(context.Background(), render.ApplyOptions{Params: p, Force: true})
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	r := res.Reload
	if r == nil || !r.Reloaded || !strings.Contains(r.Detail, "exited 0, but sshd") || !strings.Contains(r.Proof, "re-executed") || !strings.Contains(r.Proof, "offers publickey") {
		t.Fatalf("reload not confirmed as it happened: %+v", r)
	}
	if got := served(t, s, "root"); !slices.Equal(got, []string{"publickey"}) {
		t.Fatalf("after apply the daemon offers %v", got)
	}

	// Up to date on disk and in the daemon: nothing to do, nothing claimed.
	res, err = a.Apply(context.Background(), render.ApplyOptions{Params: p, Force: true})
	if err != nil || res.Changed || res.Reload != nil {
		t.Fatalf("second apply: %+v %v", res, err)
	}
}

// Files up to date, daemon stale (installed with --no-reload, or a reload
// that never happened): apply no longer says "already up to date", it
// finds the stale daemon and reloads it.
func TestApplyReloadsAStaleDaemon(t *testing.T) {
	testenv.Root(t)
	s := labtest.New(t, lab.Options{DropIns: []render.File{}})
	p, err := render.NewParams(s.User, []string{s.Targets[0].String()})
	if err != nil {
		t.Fatal(err)
	}
	a := liveApplier(t, s)
	if _, err := a.Apply(context.Background(), render.ApplyOptions{Params: p, Force: true, NoReload: true}); err != nil {
		t.Fatal(err)
	}
	if got := served(t, s, "root"); !slices.Contains(got, "password") {
		t.Fatalf("--no-reload reloaded: %v", got)
	}
	res, err := a.Apply(context.Background(), render.ApplyOptions{Params: p, Force: true})
	if err != nil || res.Changed || res.Reload == nil || !res.Reload.Reloaded {
		t.Fatalf("stale daemon not reloaded: %+v %v", res.Reload, err)
	}
	if got := served(t, s, "root"); !slices.Equal(got, []string{"publickey"}) {
		t.Fatalf("after apply the daemon offers %v", got)
	}
}

// The lab's sshd serves its config, but no pid file names it (PidFile
// none, or a cleanup removed it). The old code said "sshd is not running"
// and exited 0, then "already up to date": the daemon, never reloaded,
// offered the same methods. Now both applies exit 3 and name the daemon.
func TestApplyDaemonNoPidFileNamesIsNotUpToDate(t *testing.T) {
	testenv.Root(t)
	s := labtest.New(t, lab.Options{})
	data, err := os.ReadFile(filepath.Join(s.Dir, "sshd.pid"))
	if err != nil {
		t.Fatal(err)
	}
	pid := strings.TrimSpace(string(data))
	p, err := render.NewParams(s.User, []string{s.Targets[0].String()})
	if err != nil {
		t.Fatal(err)
	}
	a := liveApplier(t, s)
	a.Reloader.PidFiles = []string{filepath.Join(t.TempDir(), "sshd.pid")}
	want := fmt.Sprintf("but %s is served by sshd (pid %s, -f %s)", s.Addr, pid, s.ConfigFile)
	for i := 0; i < 2; i++ {
		res, err := a.Apply(context.Background(), render.ApplyOptions{Params: p, Force: true})
		if err == nil || fail.Code(err) != 3 || !strings.Contains(err.Error(), want) {
			t.Fatalf("apply %d: changed %v, reload %+v, err %v", i+1, res.Changed, res.Reload, err)
		}
		if r := res.Reload; r != nil && (r.Reloaded || r.Method == sshd.ReloadNotFound) {
			t.Fatalf("apply %d: %+v", i+1, r)
		}
	}
}
