package sshd_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pfwdctl/pfwdctl/internal/sshd"
	"github.com/pfwdctl/pfwdctl/internal/testenv"
	"github.com/pfwdctl/pfwdctl/verify/lab"
	"github.com/pfwdctl/pfwdctl/verify/lab/labtest"
)

func TestExpectedMethods(t *testing.T) {
	for _, tc := range []struct {
		name string
		eff  map[string][]string
		want []string
	}{
		{"good_pubkey_only", map[string][]string{"pubkeyauthentication": {"yes"}, "passwordauthentication": {"no"}, "kbdinteractiveauthentication": {"no"}}, []string{"publickey"}},
		{"good_mixed_case_10_4", map[string][]string{"PubkeyAuthentication": {"yes"}, "PasswordAuthentication": {"yes"}}, []string{"password", "publickey"}},
		{"good_challenge_response_pre_8_7", map[string][]string{"pubkeyauthentication": {"yes"}, "kbdinteractiveauthentication": {"no"}, "challengeresponseauthentication": {"yes"}}, []string{"keyboard-interactive", "publickey"}},
		{"good_authenticationmethods_limits", map[string][]string{"pubkeyauthentication": {"yes"}, "passwordauthentication": {"yes"}, "authenticationmethods": {"publickey,password"}}, []string{"publickey"}},
		{"good_authenticationmethods_any", map[string][]string{"pubkeyauthentication": {"yes"}, "passwordauthentication": {"yes"}, "authenticationmethods": {"any"}}, []string{"password", "publickey"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := sshd.ExpectedMethods(tc.eff); !slices.Equal(got, tc.want) {
				t.Errorf("ExpectedMethods = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestMethodsMismatch(t *testing.T) {
	if m := sshd.MethodsMismatch([]string{"publickey"}, []string{"gssapi-with-mic", "publickey"}); m != "" {
		t.Errorf("a build without GSSAPI is blamed: %q", m)
	}
	if m := sshd.MethodsMismatch([]string{"password", "publickey"}, []string{"publickey"}); !strings.Contains(m, "offers password") {
		t.Errorf("stale daemon offering password not reported: %q", m)
	}
}

func TestProbeAddr(t *testing.T) {
	for in, want := range map[string]string{"0.0.0.0:22": "127.0.0.1:22", "[::]:2222": "[::1]:2222", "192.0.2.1:22": "192.0.2.1:22", "127.0.0.1:22 rdomain 3": "127.0.0.1:22"} {
		if got, err := sshd.ProbeAddr(in); err != nil || got != want {
			t.Errorf("ProbeAddr(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

// TestServedAndReexec drives a real sshd: the probe reads what the running
// daemon offers, and only a real SIGHUP (re-exec) changes its listeners.
func TestServedAndReexec(t *testing.T) {
	s := labtest.New(t, lab.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	got, err := sshd.ServedMethods(ctx, s.Addr, s.User)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, []string{"publickey"}) {
		t.Fatalf("hardened lab serves %v, want [publickey]", got)
	}

	pid := labPid(t, s)
	before, err := sshd.ListenSockets(pid)
	if err != nil || len(before) == 0 {
		t.Fatalf("listeners of pid %d: %v %v", pid, before, err)
	}
	if sshd.Reexecuted(pid, before) {
		t.Fatal("Reexecuted before any signal")
	}
	// The config on disk changes: the daemon keeps serving the old one
	// until it is told.
	conf, _ := os.ReadFile(s.ConfigFile)
	if err := os.WriteFile(s.ConfigFile, append([]byte("PasswordAuthentication yes\nAuthenticationMethods any\n"), conf...), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, _ := sshd.ServedMethods(ctx, s.Addr, "root"); !slices.Equal(got, []string{"publickey"}) {
		t.Fatalf("daemon changed without a reload: %v", got)
	}
	if err := syscall.Kill(pid, syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !sshd.Reexecuted(pid, before) {
		if time.Now().After(deadline) {
			t.Fatal("no new listeners after SIGHUP")
		}
		time.Sleep(20 * time.Millisecond)
	}
	for {
		got, err = sshd.ServedMethods(ctx, s.Addr, "root") // outside the Match block
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !slices.Contains(got, "password") {
		t.Fatalf("after SIGHUP the daemon serves %v (%v), want password offered", got, err)
	}
}

func labPid(t *testing.T, s *lab.Server) int {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(s.Dir, "sshd.pid"))
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

// TestProbeServed: the probe over every listen address agrees with a
// daemon that runs the config on disk, and names the difference once the
// file changes under a daemon that was not reloaded.
func TestProbeServed(t *testing.T) {
	s := labtest.New(t, lab.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	effective := func(ctx context.Context, conn string) (map[string][]string, error) {
		args := []string{"-T", "-f", s.ConfigFile}
		if conn != "" {
			args = append(args, "-C", conn)
		}
		out, err := exec.CommandContext(ctx, testenv.Sshd(t), args...).Output()
		if err != nil {
			return nil, err
		}
		m := map[string][]string{}
		for _, l := range strings.Split(string(out), "\n") {
			k, v, _ := strings.Cut(l, " ")
			if k != "" {
				m[k] = append(m[k], v)
			}
		}
		return m, nil
	}
	users := []string{s.User, "root"}
	got, err := sshd.ProbeServed(ctx, effective, users)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("probes: %+v", got)
	}
	for _, p := range got {
		if p.Err != "" || p.Mismatch != "" {
			t.Errorf("fresh daemon: %+v", p)
		}
	}
	conf, _ := os.ReadFile(s.ConfigFile)
	os.WriteFile(s.ConfigFile, append([]byte("PasswordAuthentication yes\nAuthenticationMethods any\n"), conf...), 0o644)
	got, err = sshd.ProbeServed(ctx, effective, users)
	if err != nil {
		t.Fatal(err)
	}
	if got[1].User != "root" || !strings.Contains(got[1].Mismatch, "does not offer password") {
		t.Errorf("stale daemon not seen: %+v", got)
	}
}
