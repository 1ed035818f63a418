package verify_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"github.com/pfwdctl/pfwdctl/internal/target"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/pfwdctl/pfwdctl/internal/fail"
	"github.com/pfwdctl/pfwdctl/verify"
)

func settingsKey(t *testing.T) string {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	blk, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "id")
	if err := os.WriteFile(p, pem.EncodeToMemory(blk), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// Settings.Options is the one flags→Options function of verify, --self and
// --inventory: every field lands where Run reads it, known_hosts included,
// and a bad choice is a usage error before anything is dialled.
func TestSettingsOptions(t *testing.T) {
	t.Parallel()
	key := settingsKey(t)
	base := verify.Settings{Host: "gw", Port: 2222, User: "fwd2", Timeout: 3 * time.Second}
	with := func(f func(*verify.Settings)) verify.Settings { s := base; f(&s); return s }
	tgt, _ := target.Parse("127.0.0.1:8009")
	for _, tc := range []struct {
		name string
		s    verify.Settings
		want verify.Options // Auth compared by count
		auth int
		err  string
	}{
		{name: "good_plain", s: base, want: verify.Options{Host: "gw", Port: 2222, User: "fwd2", Timeout: 3 * time.Second}},
		{name: "good_known_hosts", s: with(func(s *verify.Settings) { s.KnownHosts = "/etc/kh" }),
			want: verify.Options{Host: "gw", Port: 2222, User: "fwd2", Timeout: 3 * time.Second, HostKey: verify.HostKeyPolicy{KnownHosts: "/etc/kh"}}},
		{name: "good_pin_targets_sockets_key", s: with(func(s *verify.Settings) {
			s.HostKey, s.Targets, s.Sockets, s.Key = "SHA256:abc", []string{"127.0.0.1:8009"}, []string{"/run/x"}, key
		}), auth: 1,
			want: verify.Options{Host: "gw", Port: 2222, User: "fwd2", Timeout: 3 * time.Second, HostKey: verify.HostKeyPolicy{Fingerprint: "SHA256:abc"},
				Targets: []target.Target{tgt}, Sockets: []string{"/run/x"}}},
		{name: "fail_known_hosts_and_pin", s: with(func(s *verify.Settings) { s.KnownHosts, s.HostKey = "/etc/kh", "SHA256:abc" }), err: "conflicting host key options"},
		{name: "fail_known_hosts_and_insecure", s: with(func(s *verify.Settings) { s.KnownHosts, s.Insecure = "/etc/kh", true }), err: "conflicting host key options"},
		{name: "fail_port_negative", s: with(func(s *verify.Settings) { s.Port = -1 }), err: "invalid --port -1"},
		{name: "fail_timeout_0", s: with(func(s *verify.Settings) { s.Timeout = 0 }), err: "invalid --timeout"},
		{name: "fail_user", s: with(func(s *verify.Settings) { s.User = "Bad User" }), err: "invalid account name"},
		{name: "fail_target", s: with(func(s *verify.Settings) { s.Targets = []string{"nope"} }), err: "invalid target"},
		{name: "fail_key_file", s: with(func(s *verify.Settings) { s.Key = "/dev/null" }), err: "cannot use /dev/null as a private key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, closeAuth, err := tc.s.Options()
			defer closeAuth()
			if tc.err != "" {
				if err == nil || fail.Code(err) != fail.ExitUsage || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v (exit %d), want usage error %q", err, fail.Code(err), tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(o.Auth) != tc.auth {
				t.Errorf("%d auth methods, want %d", len(o.Auth), tc.auth)
			}
			o.Auth = nil
			if !equalOptions(o, tc.want) {
				t.Errorf("Options\n got %+v\nwant %+v", o, tc.want)
			}
		})
	}
}

func equalOptions(a, b verify.Options) bool {
	if len(a.Targets) != len(b.Targets) || len(a.Sockets) != len(b.Sockets) {
		return false
	}
	for i := range a.Targets {
		if a.Targets[i] != b.Targets[i] {
			return false
		}
	}
	for i := range a.Sockets {
		if a.Sockets[i] != b.Sockets[i] {
			return false
		}
	}
	a.Targets, b.Targets, a.Sockets, b.Sockets = nil, nil, nil, nil
	return a.Host == b.Host && a.Port == b.Port && a.User == b.User && a.HostKey == b.HostKey && a.Timeout == b.Timeout && a.ListenDir == b.ListenDir
}
