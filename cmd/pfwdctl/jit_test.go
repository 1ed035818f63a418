package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/pfwdctl/pfwdctl/internal/auditlog"
	"github.com/pfwdctl/pfwdctl/internal/ca"
	"github.com/pfwdctl/pfwdctl/internal/hostfs"
	"github.com/pfwdctl/pfwdctl/internal/jit"
	"github.com/pfwdctl/pfwdctl/internal/testenv"
	"github.com/pfwdctl/pfwdctl/users"
)

// jitTree is keysTree with an operators' group, set up for requests by
// apply --jit-group (self-approval allowed when self: in a tree every
// request is root's own).
func jitTree(t *testing.T, extra ...string) (hostfs.Root, func(want int, args ...string) (string, string)) {
	t.Helper()
	testenv.Root(t) // Setup gives the spool to root:GROUP
	sshd := testenv.Sshd(t)
	root := keysTree(t)
	os.WriteFile(root.Path("/etc/group"), []byte("root:x:0:\nops:x:4300:admin\n"), 0o644)
	run := inTree(t, root)
	run(0, append([]string{"apply", "--sshd", sshd, "--no-reload", "--jit-group", "ops"}, extra...)...)
	return root, run
}

// add-key --dormant registers without authorizing; list-keys shows it
// apart; grant installs it with expiry-time to the second and records a
// request approved by the same person.
func TestDormantKeyAndGrant(t *testing.T) {
	root, run := jitTree(t)
	dir := t.TempDir()
	pub := writePub(t, dir, 1)
	run(2, "add-key", pub, "--dormant", "--name", "alice", "--expires", "4h")
	out, _ := run(0, "add-key", pub, "--dormant", "--name", "alice")
	if !strings.Contains(out, "registered dormant key alice") {
		t.Errorf("add-key --dormant: %s", out)
	}
	if data, _ := os.ReadFile(root.Path("/home/pfwd/.ssh/authorized_keys")); len(data) != 0 {
		t.Fatalf("a dormant key was authorized:\n%s", data)
	}
	out, _ = run(0, "--json", "list-keys")
	var lr users.ListResult
	if err := json.Unmarshal([]byte(out), &lr); err != nil || len(lr.Keys) != 0 || len(lr.Dormant) != 1 || lr.Dormant[0].Name != "alice" {
		t.Errorf("list-keys --json: %v %s", err, out)
	}
	if out, _ = run(0, "list-keys"); !strings.Contains(out, "dormant (registered, not authorized") || !strings.Contains(out, "alice") {
		t.Errorf("list-keys:\n%s", out)
	}

	// request --name takes the fingerprint from the registry.
	out, _ = run(0, "--json", "request", "--name", "alice", "--for", "1h", "--reason", "on call")
	var filed jit.Result
	json.Unmarshal([]byte(out), &filed)
	r, err := jit.Read(root, filed.ID)
	if err != nil || r.Fingerprint != lr.Dormant[0].Fingerprint || r.Key != "" {
		t.Errorf("request --name: %+v %v", r, err)
	}
	run(2, "request", "--name", "nobody-here", "--for", "1h") // no --reason
	run(1, "request", "--name", "nobody-here", "--for", "1h", "--reason", "x")

	before := time.Now()
	out, _ = run(0, "--json", "grant", "alice", "--for", "90m", "--reason", "incident 42")
	var res jit.Result
	if err := json.Unmarshal([]byte(out), &res); err != nil || res.State != jit.StateApproved || !res.Decision.Grant {
		t.Fatalf("grant: %v %s", err, out)
	}
	if res.Decision.Requester != res.Decision.Approver {
		t.Errorf("grant: requester %v, approver %v", res.Decision.Requester, res.Decision.Approver)
	}
	data, _ := os.ReadFile(root.Path("/home/pfwd/.ssh/authorized_keys"))
	m := regexp.MustCompile(`expiry-time="(\d{12,14})Z"`).FindSubmatch(data)
	if m == nil {
		t.Fatalf("no expiry-time in %s", data)
	}
	exp, _ := time.Parse("20060102150405", string(m[1])+strings.Repeat("0", 14-len(m[1])))
	if d := exp.Sub(before.UTC()); d < 90*time.Minute-2*time.Second || d > 90*time.Minute+2*time.Second || !exp.Equal(res.Decision.End) {
		t.Errorf("expiry-time %s is not now+90m (decision ends %s)", m[1], res.Decision.End)
	}
	// A grant's window ending is not a key to rotate: list-keys says what
	// it is, and gives no rotation advice for it.
	if out, _ := run(0, "list-keys"); !strings.Contains(out, "just-in-time grant, ends") || strings.Contains(out, "plan its rotation") {
		t.Errorf("list-keys on a granted key:\n%s", out)
	}
	aenv, aout, _ := testEnv()
	Main([]string{"--root", root.Dir(), "audit", "--sshd", testenv.Sshd(t)}, aenv)
	if strings.Contains(aout.String(), "keys.expiring-soon") {
		t.Errorf("audit advises rotating a just-in-time grant:\n%s", aout)
	}
	events, _ := auditlog.Log{Root: root}.Read()
	var acts []string
	for _, e := range auditlog.Completed(events) {
		if e.Request == res.ID {
			acts = append(acts, e.Action+":"+e.Reason)
		}
	}
	if strings.Join(acts, " ") != "jit-request:incident 42 jit-approve:incident 42" {
		t.Errorf("audit: %v", acts)
	}
	// revoke --dormant takes it out of the registry; grant then finds
	// nothing (the installed grant stays until its window ends).
	run(1, "revoke", "--dormant", "nobody-here")
	if out, _ := run(0, "revoke", "--dormant", "alice"); !strings.Contains(out, "removed dormant key alice") {
		t.Errorf("revoke --dormant: %s", out)
	}
	run(1, "grant", "alice", "--for", "1h")
	// The other pending request (root's own, two people required) is
	// refused to root.
	if _, errb := run(1, "approve", filed.ID); !strings.Contains(errb, "cannot approve it") {
		t.Errorf("self-approval: %s", errb)
	}
}

func TestApplyJITGroupFlags(t *testing.T) {
	root, run := jitTree(t, "--allow-self-approve", "--jit-ttl", "2h")
	s, err := jit.LoadSettings(root)
	if err != nil || s.Group != "ops" || !s.AllowSelfApprove || s.TTL() != 2*time.Hour {
		t.Errorf("settings %+v %v", s, err)
	}
	fi, _ := os.Stat(root.Path(jit.SpoolDir))
	if fi.Mode()&os.ModeSticky == 0 || fi.Mode().Perm() != 0o770 {
		t.Errorf("spool %v", fi.Mode())
	}
	run(2, "apply", "--allow-self-approve")
	run(2, "apply", "--jit-group", "no-such-group", "--sshd", testenv.Sshd(t), "--no-reload")
}

// approve --ca issues a certificate for exactly the window, and installs
// no key; prune records a request past its time-to-live as expired.
func TestApproveWithCAAndPruneExpires(t *testing.T) {
	root, run := jitTree(t, "--allow-self-approve", "--jit-ttl", "1s")
	keys := t.TempDir()
	run(0, "ca", "init", "--out", keys, "--no-passphrase")
	run(0, "apply", "--sshd", testenv.Sshd(t), "--no-reload", "--ca", filepath.Join(keys, ca.KeyName+".pub"))
	pub := writePub(t, t.TempDir(), 1)
	out, _ := run(0, "--json", "request", "--key", pub, "--name", "bob", "--for", "2h", "--reason", "x")
	var filed jit.Result
	json.Unmarshal([]byte(out), &filed)
	fr, _ := jit.Read(root, filed.ID)
	// Without --fingerprint approve shows the request and refuses.
	if _, errb := run(2, "approve", filed.ID); !strings.Contains(errb, fr.Fingerprint) || !strings.Contains(errb, "--fingerprint "+fr.Fingerprint+" --digest ") {
		t.Errorf("approve without --fingerprint:\n%s", errb)
	}
	out, _ = run(0, "--json", "approve", filed.ID, "--fingerprint", fr.Fingerprint, "--digest", jitDigest(t, root, filed.ID), "--for", "1h", "--ca", filepath.Join(keys, ca.KeyName))
	var res jit.Result
	if err := json.Unmarshal([]byte(out), &res); err != nil || res.Installed == nil || res.Installed.Method != "certificate" {
		t.Fatalf("approve --ca: %v %s", err, out)
	}
	data, err := root.ReadFile(res.Installed.Certificate)
	if err != nil {
		t.Fatal(err)
	}
	k, _, _, _, _ := ssh.ParseAuthorizedKey(data)
	cert := k.(*ssh.Certificate)
	if time.Unix(int64(cert.ValidBefore), 0).UTC() != res.Decision.End || cert.KeyId != "bob" || len(cert.Extensions) != 1 {
		t.Errorf("certificate %+v, decision ends %s", cert, res.Decision.End)
	}
	if data, _ := os.ReadFile(root.Path("/home/pfwd/.ssh/authorized_keys")); len(data) != 0 {
		t.Errorf("approve --ca installed a key:\n%s", data)
	}
	out, _ = run(0, "ca", "list")
	if !strings.Contains(out, "bob") {
		t.Errorf("ca list does not show the certificate:\n%s", out)
	}

	out, _ = run(0, "--json", "request", "--key", pub, "--name", "bob", "--for", "2h", "--reason", "x")
	json.Unmarshal([]byte(out), &filed)
	time.Sleep(2100 * time.Millisecond)
	if _, errb := run(0, "prune"); !strings.Contains(errb, "request "+filed.ID+" expired") {
		t.Errorf("prune: %s", errb)
	}
	if d, err := jit.ReadDecision(root, filed.ID); err != nil || d.State != jit.StateExpired {
		t.Errorf("after prune: %+v %v", d, err)
	}
	// A settings file prune refuses does not stop it pruning keys.
	os.Chmod(root.Path(jit.SettingsPath), 0o666)
	if _, errb := run(0, "prune"); !strings.Contains(errb, "warning: stale requests not expired") {
		t.Errorf("prune with a refused settings file: %s", errb)
	}
}

// A request --key can never borrow a registered friend's name, and a
// registered key is always requested and installed with its registered
// name and from=; requests shows the fingerprint and where the key comes
// from.
func TestRequestKeyCannotBorrowARegisteredName(t *testing.T) {
	root, run := jitTree(t, "--allow-self-approve")
	dir := t.TempDir()
	alice, mallory := writePub(t, dir, 1), writePub(t, dir, 2)
	run(0, "add-key", alice, "--dormant", "--name", "alice", "--from", "192.0.2.0/24")
	if _, errb := run(1, "request", "--key", mallory, "--name", "alice", "--for", "1h", "--reason", "x"); !strings.Contains(errb, "alice is registered with another key SHA256:") {
		t.Errorf("borrowed name: %s", errb)
	}
	if _, errb := run(1, "request", "--key", alice, "--name", "bob", "--for", "1h", "--reason", "x"); !strings.Contains(errb, `registered as "alice"`) {
		t.Errorf("registered key under another name: %s", errb)
	}
	out, _ := run(0, "--json", "request", "--key", alice, "--for", "1h", "--reason", "x")
	var filed jit.Result
	json.Unmarshal([]byte(out), &filed)
	out, _ = run(0, "--json", "requests")
	var list []jit.Record
	if err := json.Unmarshal([]byte(out), &list); err != nil || len(list) != 1 || list[0].Name != "alice" || list[0].KeySource != "registered" || !strings.HasPrefix(list[0].Fingerprint, "SHA256:") {
		t.Fatalf("requests --json: %v %s", err, out)
	}
	if out, _ = run(0, "requests"); !strings.Contains(out, "FINGERPRINT") || !strings.Contains(out, list[0].Fingerprint) || !strings.Contains(out, "registered") {
		t.Errorf("requests:\n%s", out)
	}
	// The key alone is not enough: without --digest approve only shows
	// the request (its account, window and reason could have changed).
	if _, errb := run(2, "approve", filed.ID, "--fingerprint", list[0].Fingerprint); !strings.Contains(errb, "--digest") {
		t.Errorf("approve --fingerprint without --digest: %s", errb)
	}
	run(0, "approve", filed.ID, "--fingerprint", list[0].Fingerprint, "--digest", jitDigest(t, root, filed.ID))
	data, _ := os.ReadFile(root.Path("/home/pfwd/.ssh/authorized_keys"))
	if !strings.Contains(string(data), `from="192.0.2.0/24"`) || !strings.Contains(string(data), " alice") {
		t.Errorf("the registered from= was dropped:\n%s", data)
	}

	// A spool file naming a registered name with another key (written
	// before the name was registered, or by hand) is refused at approval.
	line, _ := os.ReadFile(mallory)
	k, _, _, _, _ := ssh.ParseAuthorizedKey(line)
	id, _ := jit.NewID(time.Now())
	r := jit.Request{Version: 1, ID: id, Account: "pfwd", Name: "alice", Key: strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k))) + " alice",
		Fingerprint: ssh.FingerprintSHA256(k), Duration: 3600, Reason: "x", Created: time.Now().UTC().Truncate(time.Second)}
	if err := jit.Write(root, r); err != nil {
		t.Fatal(err)
	}
	if _, errb := run(1, "approve", id, "--fingerprint", r.Fingerprint, "--digest", jitDigest(t, root, id)); !strings.Contains(errb, "registered with another key") {
		t.Errorf("approve of a borrowed name: %s", errb)
	}
	if data2, _ := os.ReadFile(root.Path("/home/pfwd/.ssh/authorized_keys")); string(data2) != string(data) {
		t.Errorf("the borrowed name was installed:\n%s", data2)
	}
}

// approve takes the approver from the kernel's login uid, not from
// SUDO_USER/SUDO_UID, which the caller sets: root (login uid 0) cannot
// approve root's own request by claiming to be admin.
func TestApproveRefusesAForgedSudoUser(t *testing.T) {
	root, run := jitTree(t)
	pub := writePub(t, t.TempDir(), 1)
	out, _ := run(0, "--json", "request", "--key", pub, "--name", "bob", "--for", "1h", "--reason", "x")
	var filed jit.Result
	json.Unmarshal([]byte(out), &filed)
	r, _ := jit.Read(root, filed.ID)
	env, stdout, errb := testEnv()
	env.Getenv = func(k string) string { return map[string]string{"SUDO_USER": "admin", "SUDO_UID": "1000"}[k] }
	env.LoginUID = func() (int, bool) { return 0, true }
	if code := Main([]string{"--root", root.Dir(), "approve", filed.ID, "--fingerprint", r.Fingerprint, "--digest", jitDigest(t, root, filed.ID)}, env); code != 1 || !strings.Contains(errb.String(), "not the uid 0 that logged in") {
		t.Errorf("approve with a forged SUDO_USER: exit %d\n%s%s", code, stdout, errb)
	}
	if d, err := jit.ReadDecision(root, filed.ID); err == nil {
		t.Errorf("decided: %+v", d)
	}
}

// jitDigest is the spool file version approve --digest names (what
// requests --json shows).
func jitDigest(t *testing.T, root hostfs.Root, id string) string {
	t.Helper()
	_, d, err := jit.ReadDigest(root, id)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// A delegated approver (sudo pfwdctl approve *, login uid not 0) acts on
// the running host only: with --root DIR, root would write their decision
// into a tree they chose. Refused before anything is read or written.
func TestDelegatedApproverCannotUseRoot(t *testing.T) {
	root, run := jitTree(t)
	pub := writePub(t, t.TempDir(), 1)
	out, _ := run(0, "--json", "request", "--key", pub, "--name", "bob", "--for", "1h", "--reason", "x")
	var filed jit.Result
	json.Unmarshal([]byte(out), &filed)
	r, _ := jit.Read(root, filed.ID)
	for _, args := range [][]string{
		{"approve", filed.ID, "--fingerprint", r.Fingerprint, "--digest", jitDigest(t, root, filed.ID)},
		{"deny", filed.ID, "--reason", "no"},
		{"grant", "bob", "--for", "1h"},
	} {
		env, stdout, errb := testEnv()
		env.LoginUID = func() (int, bool) { return 1000, true }
		if code := Main(append([]string{"--root", root.Dir()}, args...), env); code != 2 || !strings.Contains(errb.String(), "refusing --root") {
			t.Errorf("%v by a delegated approver: exit %d\n%s%s", args[0], code, stdout, errb)
		}
	}
	if d, err := jit.ReadDecision(root, filed.ID); err == nil {
		t.Errorf("decided: %+v", d)
	}
}
