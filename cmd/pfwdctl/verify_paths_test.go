package main

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/pfwdctl/pfwdctl/verify"
	"github.com/pfwdctl/pfwdctl/verify/fleet"
)

// TestVerifyPathsShareOptions: verify --host and verify --inventory turn the
// same flags into the same verify.Options (the inventory's host aside),
// known_hosts included. They used to be two flags→options paths (the
// inventory re-read verify's flags by name) that disagreed on known_hosts.
// Not parallel: it swaps the package's library hooks.
func TestVerifyPathsShareOptions(t *testing.T) {
	dir := t.TempDir()
	key, _ := writeKey(t, dir, "id", nil)
	inv := filepath.Join(dir, "hosts.txt")
	os.WriteFile(inv, []byte("gw.example.org\n"), 0o644)
	flags := []string{"--port", "2222", "--user", "fwd2", "--key", key, "--target", "127.0.0.1:8009", "--target", "127.0.0.1:8010",
		"--known-hosts", filepath.Join(dir, "known_hosts"), "--timeout", "3s", "--socket", "/run/x", "--strict"}

	var single, many *verify.Settings
	oldHost, oldInv := verifyHost, verifyInventory
	t.Cleanup(func() { verifyHost, verifyInventory = oldHost, oldInv })
	verifyHost = func(_ context.Context, s verify.Settings) (*verify.Report, error) {
		single = &s
		return &verify.Report{}, nil
	}
	verifyInventory = func(_ context.Context, in fleet.Inventory) ([]fleet.HostResult, error) {
		if !in.Strict || in.File != inv {
			t.Errorf("inventory run %+v: lost --strict or the file", in)
		}
		many = &in.Settings
		return nil, nil
	}
	if _, stderr, code := runCLI(t, nil, append([]string{"verify", "--host", "gw.example.org"}, flags...)...); code != 0 {
		t.Fatalf("single host: exit %d: %s", code, stderr)
	}
	if _, stderr, code := runCLI(t, nil, append([]string{"verify", "--inventory", inv}, flags...)...); code != 0 {
		t.Fatalf("inventory: exit %d: %s", code, stderr)
	}
	if single == nil || many == nil {
		t.Fatal("a path did not reach its library call")
	}
	o1, close1, err1 := single.Options()
	defer close1()
	o2, close2, err2 := many.Options()
	defer close2()
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	if len(o1.Auth) != 1 || len(o2.Auth) != 1 {
		t.Fatalf("auth methods: %d and %d, want the key in both", len(o1.Auth), len(o2.Auth))
	}
	if o1.Host != "gw.example.org" || o2.Host != "" {
		t.Errorf("hosts %q and %q: the inventory's hosts come from its file", o1.Host, o2.Host)
	}
	o1.Auth, o2.Auth, o1.Host = nil, nil, ""
	if !reflect.DeepEqual(o1, o2) {
		t.Errorf("the paths differ:\n single    %+v\n inventory %+v", o1, o2)
	}
	if o1.HostKey.KnownHosts != filepath.Join(dir, "known_hosts") {
		t.Errorf("known_hosts %q", o1.HostKey.KnownHosts)
	}
}

// TestVerifyPathsRefuseConflictingHostKeys: --known-hosts with --host-key
// is a usage error (exit 2) before anything is dialled, on both paths. The
// inventory path used to drop --known-hosts silently and go on.
func TestVerifyPathsRefuseConflictingHostKeys(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	key, _ := writeKey(t, dir, "id", nil)
	inv := filepath.Join(dir, "hosts.txt")
	os.WriteFile(inv, []byte("127.0.0.1:1\n"), 0o644)
	conflict := []string{"--key", key, "--known-hosts", filepath.Join(dir, "known_hosts"), "--host-key", "SHA256:abc"}
	for _, args := range [][]string{
		append([]string{"verify", "--host", "127.0.0.1", "--port", "1"}, conflict...),
		append([]string{"verify", "--inventory", inv}, conflict...),
	} {
		out, stderr, code := runCLI(t, nil, args...)
		if code != 2 || !strings.Contains(stderr, "conflicting host key options") {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want exit 2, conflicting host key options", args, code, out, stderr)
		}
	}
}
