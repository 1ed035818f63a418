package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/pfwdctl/pfwdctl/internal/accounts"
	"github.com/pfwdctl/pfwdctl/internal/auditlog"
	"github.com/pfwdctl/pfwdctl/internal/hostfs"
	"github.com/pfwdctl/pfwdctl/internal/jit"
	"github.com/pfwdctl/pfwdctl/internal/target"
	"github.com/pfwdctl/pfwdctl/internal/testenv"
	"github.com/pfwdctl/pfwdctl/users"
	"github.com/pfwdctl/pfwdctl/verify/lab"
	"github.com/pfwdctl/pfwdctl/verify/lab/labtest"
)

// The two-person workflow end to end, against the real sshd and real
// accounts from useradd: an operator (a member of the JIT group, not
// root) runs the built pfwdctl request as their own uid; root approves it
// for a few seconds; the friend's key tunnels at once and is refused after
// the window. Around it: self-approval, a denied request, concurrent
// approvals, hand-written spool files, the spool's permissions against
// another operator and a non-member, hooks, and the audit log. The JIT
// files live in a temp tree (Env.JITRoot) and the audit log in a temp
// file: the host's /var/lib/pfwdctl, /etc/pfwdctl and audit log are never
// written.
func TestE2EJITRequestApprove(t *testing.T) {
	testenv.Root(t)
	useradd := testenv.Require(t, "useradd", "passwd")
	groupadd := testenv.Require(t, "groupadd", "passwd")
	setpriv := testenv.Require(t, "setpriv", "util-linux")
	sfx := fmt.Sprint(time.Now().UnixNano() % 1e6)
	friend, op1, op2, outsider, group := "pjf"+sfx, "pjo"+sfx, "pjp"+sfx, "pjn"+sfx, "pjg"+sfx
	hostAudit, _ := os.ReadFile(auditlog.Path)
	_, hostState := os.Stat("/var/lib/pfwdctl/requests")
	t.Cleanup(func() {
		if a, err := accounts.Lookup(hostfs.Root{}, friend); err == nil {
			ss, _ := users.ProcSessions{}.Find(context.Background(), a)
			for _, s := range ss {
				syscall.Kill(s.PID, syscall.SIGKILL)
			}
		}
		for _, u := range []string{friend, op1, op2, outsider} {
			exec.Command("userdel", "-r", u).Run()
		}
		exec.Command("groupdel", group).Run()
		if now, _ := os.ReadFile(auditlog.Path); string(now) != string(hostAudit) {
			t.Errorf("the test changed the host's %s", auditlog.Path)
		}
		if _, err := os.Stat("/var/lib/pfwdctl/requests"); (err == nil) != (hostState == nil) {
			t.Errorf("the test changed the host's /var/lib/pfwdctl/requests")
		}
	})
	mustRun := func(name string, args ...string) {
		t.Helper()
		if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
			t.Fatalf("%s %v: %v %s", name, args, err, out)
		}
	}
	mustRun(groupadd, group)
	mustRun(useradd, "-m", "-s", "/usr/sbin/nologin", friend)
	mustRun("usermod", "-p", "*", friend)
	mustRun(useradd, "-m", "-s", "/bin/sh", "-G", group, op1)
	mustRun(useradd, "-m", "-s", "/bin/sh", "-G", group, op2)
	mustRun(useradd, "-m", "-s", "/bin/sh", outsider)
	uidOf := func(name string) int {
		a, err := accounts.Lookup(hostfs.Root{}, name)
		if err != nil {
			t.Fatal(err)
		}
		return a.UID
	}

	// The JIT tree: readable by the operators (t.TempDir's parents are
	// not), with the host's account databases so names resolve.
	dir, err := os.MkdirTemp("", "pfwdctl-jit-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	tree := hostfs.MustRoot(filepath.Join(dir, "tree"))
	os.MkdirAll(tree.Path("/etc"), 0o755)
	for _, f := range []string{"/etc/passwd", "/etc/group"} {
		data, _ := os.ReadFile(f)
		os.WriteFile(tree.Path(f), data, 0o644)
	}
	if _, err := jit.Setup(tree, jit.Settings{Group: group}); err != nil {
		t.Fatal(err)
	}
	// A hook that records what it reads, and as whom it runs.
	hookOut := filepath.Join(dir, "hookout")
	os.Mkdir(hookOut, 0o777)
	os.Chmod(hookOut, 0o777)
	os.WriteFile(tree.Path(jit.HooksDir+"/50-record"), []byte("#!/bin/sh\nf="+hookOut+"/$PFWDCTL_EVENT-$PFWDCTL_REQUEST\ncat > $f.json\nid -u > $f.uid\n"), 0o755)

	bin := filepath.Join(dir, "pfwdctl")
	if out, err := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	// as runs the built pfwdctl (or any program) as a user, with that
	// user's groups and nothing of root's environment.
	as := func(user string, prog string, args ...string) (string, string, int) {
		t.Helper()
		c := exec.Command(setpriv, append([]string{"--reuid=" + user, "--regid=" + user, "--init-groups", prog}, args...)...)
		c.Dir = dir
		c.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "NO_COLOR=1", "HOME=" + dir}
		var out, errb bytes.Buffer
		c.Stdout, c.Stderr = &out, &errb
		err := c.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return out.String(), errb.String(), code
	}
	keyFile := func(s ssh.Signer, name string) string {
		p := filepath.Join(dir, name+".pub")
		os.WriteFile(p, []byte(strings.TrimSpace(string(ssh.MarshalAuthorizedKey(s.PublicKey())))+" "+name+"\n"), 0o644)
		return p
	}
	request := func(user, key, dur string) string {
		t.Helper()
		out, errb, code := as(user, bin, "--root", tree.Dir(), "--json", "request", "--user", friend, "--key", key, "--for", dur, "--reason", "deploy hotfix "+dur)
		if code != 0 {
			t.Fatalf("request as %s: exit %d\n%s%s", user, code, out, errb)
		}
		var res struct{ ID string }
		if err := json.Unmarshal([]byte(out), &res); err != nil || !jit.ValidID(res.ID) {
			t.Fatalf("request --json: %v %q", err, out)
		}
		return res.ID
	}

	echo := labtest.Echo(t)
	logPath, logW := labtest.LogFile(t)
	s := labtest.New(t, lab.Options{User: friend, Targets: []target.Target{echo.Target}, AuthorizedKeysFile: ".ssh/authorized_keys", Log: logW})
	audit := filepath.Join(t.TempDir(), "audit.jsonl")
	// root runs pfwdctl in this process; sudo names the person deciding.
	root := func(want int, sudoUser string, args ...string) string {
		t.Helper()
		env, out, errb := testEnv()
		env.AuditLog, env.JITRoot = audit, &tree
		// sudo is simulated by the environment: no login uid recorded (as
		// in a container), so approve takes the approver from SUDO_*.
		env.LoginUID = func() (int, bool) { return 0, false }
		env.Getenv = func(k string) string {
			switch k {
			case "SUDO_USER":
				return sudoUser
			case "SUDO_UID":
				if sudoUser != "" {
					return fmt.Sprint(uidOf(sudoUser))
				}
			}
			return ""
		}
		if args[0] == "approve" || args[0] == "prune" || args[0] == "sessions" {
			args = append(args, "--sshd-config", s.ConfigFile)
		}
		if code := Main(args, env); code != want {
			t.Fatalf("%v: exit %d, want %d\n%s%s", args, code, want, out, errb)
		}
		return out.String() + errb.String()
	}

	alice := labtest.Signer(t)
	aliceFP := ssh.FingerprintSHA256(alice.PublicKey())
	if err := labtest.Login(s, alice, echo); err == nil {
		t.Fatal("alice logs in before any request")
	}

	// op1 asks for 6 seconds; op2 approves (sudo). The key tunnels at once.
	id := request(op1, keyFile(alice, "alice"), "6s")
	if fi, err := os.Stat(tree.Path(jit.SpoolDir + "/" + id + ".json")); err != nil || int(fi.Sys().(*syscall.Stat_t).Uid) != uidOf(op1) {
		t.Fatalf("the spool file is not op1's: %v", err)
	}
	// Another operator cannot delete or replace it (sticky spool).
	if _, errb, code := as(op2, "/bin/rm", "-f", tree.Path(jit.SpoolDir+"/"+id+".json")); code == 0 {
		t.Fatalf("op2 removed op1's request: %s", errb)
	}
	// op1 approving their own request is refused (two people).
	if out := root(1, op1, "approve", id); !strings.Contains(out, "cannot approve it") {
		t.Errorf("self-approval: %s", out)
	}
	out := root(0, op2, "approve", id, "--fingerprint", aliceFP, "--digest", jitDigest(t, tree, id))
	if !strings.Contains(out, "approved request "+id) {
		t.Errorf("approve: %s", out)
	}
	if err := labtest.Login(s, alice, echo); err != nil {
		t.Fatalf("alice's approved key does not tunnel: %v", err)
	}
	// A second approval of the same request installs nothing.
	if out := root(1, "", "approve", id); !strings.Contains(out, "already approved") {
		t.Errorf("second approval: %s", out)
	}

	// The window ends: sshd refuses the key by itself.
	var dec jit.Decision
	if dec, err = jit.ReadDecision(tree, id); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Until(dec.End) + 1500*time.Millisecond)
	if err := labtest.Login(s, alice, echo); err == nil {
		t.Fatalf("alice still logs in after the window ended at %s", dec.End)
	}
	// sessions --history names the request each connection used.
	var hist struct {
		Connections []struct {
			Fingerprint string
			Request     string
		}
	}
	json.Unmarshal([]byte(root(0, "", "--json", "sessions", "--history", "--log", logPath, "--user", friend)), &hist)
	used := false
	for _, c := range hist.Connections {
		if c.Fingerprint == aliceFP {
			used = used || c.Request == id
		}
	}
	if !used {
		t.Errorf("sessions --history does not tie alice's connection to request %s: %+v", id, hist)
	}
	// prune takes the expired grant out of authorized_keys.
	root(0, "", "prune", "--user", friend)
	if data, _ := os.ReadFile(filepath.Join("/home", friend, ".ssh/authorized_keys")); strings.Contains(string(data), alice.PublicKey().Type()) {
		t.Errorf("prune left the expired grant:\n%s", data)
	}

	// Denied: never approved afterwards.
	bob := labtest.Signer(t)
	denied := request(op2, keyFile(bob, "bob"), "1h")
	root(0, op1, "deny", denied, "--reason", "use the VPN")
	if out := root(1, op1, "approve", denied); !strings.Contains(out, "already denied") {
		t.Errorf("approve after deny: %s", out)
	}
	if err := labtest.Login(s, bob, echo); err == nil {
		t.Error("bob's denied key logs in")
	}
	// Past the time-to-live (the approver's clock a day on): refused, and
	// recorded as expired.
	stale := request(op2, keyFile(bob, "bob"), "1h")
	{
		env, out, errb := testEnv()
		env.AuditLog, env.JITRoot = audit, &tree
		env.Now = func() time.Time { return time.Now().Add(25 * time.Hour) }
		if code := Main([]string{"approve", stale, "--sshd-config", s.ConfigFile}, env); code != 1 || !strings.Contains(errb.String(), "time-to-live") {
			t.Errorf("approve past the TTL: exit %d\n%s%s", code, out, errb)
		}
	}
	if d, err := jit.ReadDecision(tree, stale); err != nil || d.State != jit.StateExpired {
		t.Errorf("the stale request is not expired: %+v %v", d, err)
	}

	// Concurrent approvals of one request install one line.
	carol := labtest.Signer(t)
	conc := request(op1, keyFile(carol, "carol"), "1h")
	var wg sync.WaitGroup
	concDigest := jitDigest(t, tree, conc)
	codes := make(chan int, 4)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			env, _, _ := testEnv()
			env.AuditLog, env.JITRoot = audit, &tree
			codes <- Main([]string{"approve", conc, "--fingerprint", ssh.FingerprintSHA256(carol.PublicKey()), "--digest", concDigest, "--sshd-config", s.ConfigFile}, env)
		}()
	}
	wg.Wait()
	close(codes)
	ok := 0
	for c := range codes {
		if c == 0 {
			ok++
		}
	}
	data, _ := os.ReadFile(filepath.Join("/home", friend, ".ssh/authorized_keys"))
	carolB64 := strings.Fields(string(ssh.MarshalAuthorizedKey(carol.PublicKey())))[1]
	if n := strings.Count(string(data), carolB64); ok != 1 || n != 1 {
		t.Errorf("concurrent approvals: %d succeeded, %d lines for carol:\n%s", ok, n, data)
	}
	if err := labtest.Login(s, carol, echo); err != nil {
		t.Errorf("carol's approved key: %v", err)
	}

	// Spool files written by hand, even by a member, are refused.
	forge := func(user, id, body string) {
		t.Helper()
		p := tree.Path(jit.SpoolDir + "/" + id + ".json")
		if _, errb, code := as(user, "/bin/sh", "-c", "cat > "+p+" <<'EOF'\n"+body+"\nEOF"); code != 0 {
			t.Fatalf("forge as %s: %s", user, errb)
		}
	}
	dave := labtest.Signer(t)
	daveLine := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(dave.PublicKey()))) + " dave"
	daveFP := ssh.FingerprintSHA256(dave.PublicKey())
	body := func(id string, uid int, extra string) string {
		return fmt.Sprintf(`{"version":1,"id":%q,"account":%q,"name":"dave","key":%q,"fingerprint":%q,"duration_seconds":3600,"reason":"x","created":%q,"requester_uid":%d,"requester":"root"%s}`,
			id, friend, daveLine, daveFP, time.Now().UTC().Format(time.RFC3339), uid, extra)
	}
	forgedUID, _ := jit.NewID(time.Now())
	forge(op1, forgedUID, body(forgedUID, uidOf(op2), "")) // op1 says op2 asked
	extra, _ := jit.NewID(time.Now())
	forge(op1, extra, body(extra, uidOf(op1), `,"approved_by":"root"`))
	for _, fid := range []string{forgedUID, extra} {
		if out := root(1, "", "approve", fid); !strings.Contains(out, "refusing request") {
			t.Errorf("forged %s: %s", fid, out)
		}
	}
	if err := labtest.Login(s, dave, echo); err == nil {
		t.Error("a forged request let dave in")
	}
	var list []jit.Record
	json.Unmarshal([]byte(root(0, "", "--json", "requests")), &list)
	states := map[string]string{}
	for _, r := range list {
		states[r.ID] = r.State
	}
	if states[id] != "approved" || states[denied] != "denied" || states[stale] != "expired" || states[forgedUID] != "invalid" || states[extra] != "invalid" {
		t.Errorf("requests: %v", states)
	}
	root(0, "", "deny", forgedUID, "--reason", "forged")

	// A non-member cannot write the spool, with pfwdctl or without.
	eve := keyFile(labtest.Signer(t), "eve")
	if _, errb, code := as(outsider, bin, "--root", tree.Dir(), "request", "--user", friend, "--key", eve, "--for", "1h", "--reason", "x"); code != 1 || !strings.Contains(errb, "JIT group") {
		t.Errorf("request by a non-member: exit %d\n%s", code, errb)
	}
	if _, _, code := as(outsider, "/bin/sh", "-c", "echo {} > "+tree.Path(jit.SpoolDir)+"/x.json"); code == 0 {
		t.Error("a non-member wrote into the spool")
	}

	// Hooks: the request's ran as op1 (the operator's own rights), the
	// approval's as root; each got the event as JSON.
	for ev, uid := range map[string]int{"request-" + id: uidOf(op1), "approve-" + id: 0, "deny-" + denied: 0} {
		data, err := os.ReadFile(filepath.Join(hookOut, ev+".json"))
		var e jit.Event
		if err != nil || json.Unmarshal(data, &e) != nil || e.ID != strings.SplitN(ev, "-", 2)[1] || e.Request.Account != friend {
			t.Errorf("hook for %s: %v %s", ev, err, data)
			continue
		}
		if got, _ := os.ReadFile(filepath.Join(hookOut, ev+".uid")); strings.TrimSpace(string(got)) != fmt.Sprint(uid) {
			t.Errorf("hook for %s ran as uid %s, want %d", ev, got, uid)
		}
	}

	// The audit log: every step with requester, approver, reason, window
	// and key.
	events, _ := auditlog.Log{File: audit}.Read()
	var approve, req auditlog.Event
	for _, e := range auditlog.Completed(events) {
		if e.Request == id && e.Action == jit.ActionApprove {
			approve = e
		}
		if e.Request == id && e.Action == jit.ActionRequest {
			req = e
		}
	}
	if approve.Admin != op2 || approve.Requester != op1 || approve.Reason != "deploy hotfix 6s" || approve.Fingerprint != aliceFP ||
		approve.WindowEnd.Sub(approve.WindowStart) != 6*time.Second {
		t.Errorf("approve line: %+v", approve)
	}
	if req.Admin != op1 || req.Fingerprint != aliceFP {
		t.Errorf("request line: %+v", req)
	}
}
