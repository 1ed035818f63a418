package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pfwdctl/pfwdctl/internal/run"
	"github.com/pfwdctl/pfwdctl/internal/sshd"
	"github.com/pfwdctl/pfwdctl/internal/testenv"
	"github.com/pfwdctl/pfwdctl/render/rendertest"
)

// TestTwoForwardAccounts is issue 11 item 6: pfwd forwards to 8009 and
// metrics to 3000 on one host. Each has its own Match drop-in; applying
// one never touches the other's; the real sshd gives each account its own
// PermitOpen; list-keys, audit and add-key cover each.
func TestTwoForwardAccounts(t *testing.T) {
	bin := testenv.Sshd(t)
	root := rendertest.New(t, rendertest.Tree{})
	passwd, _ := os.ReadFile(root.Path("/etc/passwd"))
	os.WriteFile(root.Path("/etc/passwd"), append(passwd, "metrics:x:998:998::/home/metrics:/usr/sbin/nologin\n"...), 0o644)
	shadow, _ := os.ReadFile(root.Path("/etc/shadow"))
	os.WriteFile(root.Path("/etc/shadow"), append(shadow, "metrics:*:19000:0:99999:7:::\n"...), 0o640)
	for _, home := range []string{"/home/pfwd/.ssh", "/home/metrics/.ssh"} {
		os.MkdirAll(root.Path(home), 0o700)
	}
	exec := func(want int, args ...string) string {
		t.Helper()
		out, _ := inTree(t, root)(want, args...)
		return out
	}
	dir := "/etc/ssh/sshd_config.d/"
	exec(0, "apply", "--sshd", bin, "--no-reload", "--target", "127.0.0.1:8009")
	pfwdBlock, _ := os.ReadFile(root.Path(dir + "20-pfwd-only.conf"))
	exec(0, "apply", "--sshd", bin, "--no-reload", "--user", "metrics", "--target", "127.0.0.1:3000")
	if now, _ := os.ReadFile(root.Path(dir + "20-pfwd-only.conf")); string(now) != string(pfwdBlock) {
		t.Fatalf("apply --user metrics rewrote pfwd's block:\n%s", now)
	}
	metricsBlock, _ := os.ReadFile(root.Path(dir + "20-metrics-only.conf"))
	if !strings.Contains(string(metricsBlock), "Match User metrics\n") || !strings.Contains(string(metricsBlock), "PermitOpen 127.0.0.1:3000\n") {
		t.Fatalf("metrics' block:\n%s", metricsBlock)
	}
	// A plain apply for each keeps each one's targets.
	exec(0, "apply", "--sshd", bin, "--no-reload")
	exec(0, "apply", "--sshd", bin, "--no-reload", "--user", "metrics")
	if now, _ := os.ReadFile(root.Path(dir + "20-metrics-only.conf")); string(now) != string(metricsBlock) {
		t.Fatalf("plain apply changed metrics' block:\n%s", now)
	}

	// The real sshd: each account gets its own PermitOpen, an ordinary
	// account none of them.
	b := sshd.Binary{Bin: bin, Runner: run.Exec{}, Root: root, Config: "/etc/ssh/sshd_config"}
	for user, want := range map[string]string{"pfwd": "127.0.0.1:8009", "metrics": "127.0.0.1:3000", "admin": "any"} {
		eff, err := b.Effective(context.Background(), sshd.ConnSpec(user))
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(eff["permitopen"], " "); got != want {
			t.Errorf("sshd -T -C user=%s: permitopen %q, want %q", user, got, want)
		}
	}

	// Keys carry each account's own targets.
	pub := filepath.Join(t.TempDir(), "k.pub")
	os.WriteFile(pub, []byte(agreeKey(t, "grafana")+"\n"), 0o644)
	exec(0, "add-key", "--user", "metrics", pub)
	os.WriteFile(pub, []byte(agreeKey(t, "friend")+"\n"), 0o644)
	exec(0, "add-key", pub)
	mk, _ := os.ReadFile(root.Path("/home/metrics/.ssh/authorized_keys"))
	if !strings.Contains(string(mk), `permitopen="127.0.0.1:3000"`) || strings.Contains(string(mk), "8009") {
		t.Errorf("metrics' key: %s", mk)
	}

	// list-keys without --user covers both accounts.
	out := exec(0, "list-keys")
	if !strings.Contains(out, "metrics /home/metrics/.ssh/authorized_keys") || !strings.Contains(out, "pfwd /home/pfwd/.ssh/authorized_keys") ||
		!strings.Contains(out, "grafana") || !strings.Contains(out, "friend") {
		t.Errorf("list-keys:\n%s", out)
	}
	var lists []struct {
		Account string `json:"account"`
	}
	if err := json.Unmarshal([]byte(exec(0, "list-keys", "--json")), &lists); err != nil || len(lists) != 2 {
		t.Errorf("list-keys --json: %v %+v", err, lists)
	}
	// audit without --user audits both, each against its own targets.
	out = exec(0, "audit", "--sshd", bin)
	if !strings.Contains(out, "pfwdctl audit: metrics → 127.0.0.1:3000") || !strings.Contains(out, "pfwdctl audit: pfwd → 127.0.0.1:8009") {
		t.Errorf("audit:\n%s", out)
	}
	env, _, errb := testEnv()
	if code := Main([]string{"--root", root.Dir(), "audit", "--sshd", bin, "--target", "127.0.0.1:1"}, env); code != 2 || !strings.Contains(errb.String(), "--target needs --user") {
		t.Errorf("audit --target on two accounts: exit %d\n%s", code, errb)
	}

	// prune without --user (what pfwdctl-prune.timer runs) prunes both
	// accounts' expired keys and keeps the live ones.
	for user, target := range map[string]string{"pfwd": "127.0.0.1:8009", "metrics": "127.0.0.1:3000"} {
		p := root.Path("/home/" + user + "/.ssh/authorized_keys")
		f, err := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(f, "restrict,port-forwarding,permitopen=%q,expiry-time=\"20200101\" %s\n", target, agreeKey(t, "old-"+user))
		f.Close()
	}
	out = exec(0, "prune")
	if !strings.Contains(out, "pruned key old-pfwd") || !strings.Contains(out, "pruned key old-metrics") {
		t.Errorf("prune did not cover both accounts:\n%s", out)
	}
	for user, keep := range map[string]string{"pfwd": "friend", "metrics": "grafana"} {
		b, _ := os.ReadFile(root.Path("/home/" + user + "/.ssh/authorized_keys"))
		if strings.Contains(string(b), "old-"+user) || !strings.Contains(string(b), keep) {
			t.Errorf("%s's keys after prune:\n%s", user, b)
		}
	}
	var pruned []struct {
		Account string            `json:"account"`
		Removed []json.RawMessage `json:"removed"`
	}
	if err := json.Unmarshal([]byte(exec(0, "prune", "--json")), &pruned); err != nil || len(pruned) != 2 || len(pruned[0].Removed)+len(pruned[1].Removed) != 0 {
		t.Errorf("second prune --json: %v %+v", err, pruned)
	}
}
