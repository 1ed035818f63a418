package jit

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/pfwdctl/pfwdctl/internal/auditlog"
	"github.com/pfwdctl/pfwdctl/internal/fail"
	"github.com/pfwdctl/pfwdctl/internal/hostfs"
	"github.com/pfwdctl/pfwdctl/internal/testenv"
	"github.com/pfwdctl/pfwdctl/users/keyline"
)

const (
	opUID  = 4243 // ops1, in the jit group
	op2UID = 4244 // ops2, in the jit group
	jitGID = 4242
)

// tree is a --root tree with an operators' group and two operators, set
// up for requests. The tests chown files, so they run as root.
func tree(t *testing.T, s Settings) (hostfs.Root, string) {
	t.Helper()
	testenv.Root(t)
	dir := t.TempDir()
	root := hostfs.MustRoot(dir)
	os.MkdirAll(root.Path("/etc"), 0o755)
	os.WriteFile(root.Path("/etc/passwd"), []byte("root:x:0:0:root:/root:/bin/bash\nops1:x:4243:4243::/home/ops1:/bin/sh\nops2:x:4244:4244::/home/ops2:/bin/sh\n"), 0o644)
	os.WriteFile(root.Path("/etc/group"), []byte("root:x:0:\njitops:x:4242:ops1,ops2\n"), 0o644)
	if s.Group == "" {
		s.Group = "jitops"
	}
	if _, err := Setup(root, s); err != nil {
		t.Fatal(err)
	}
	return root, filepath.Join(dir, "audit.jsonl")
}

func pubLine(t *testing.T, name string) (string, string) {
	t.Helper()
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	sp, _ := ssh.NewPublicKey(pub)
	k, _, err := keyline.ParsePublic(ssh.MarshalAuthorizedKey(sp))
	if err != nil {
		t.Fatal(err)
	}
	return k.Type() + " " + k.Base64() + " " + name, k.Fingerprint()
}

// file writes a request as the operator uid would (the file then chowned
// to it) and returns it.
func file(t *testing.T, root hostfs.Root, uid int, mod func(*Request)) Request {
	t.Helper()
	id, _ := NewID(time.Now())
	line, fp := pubLine(t, "alice")
	r := Request{Version: 1, ID: id, Account: "pfwd", Name: "alice", Key: line, Fingerprint: fp, Duration: 3600,
		Reason: "deploy", Created: time.Now().UTC().Truncate(time.Second), RequesterUID: uid}
	if mod != nil {
		mod(&r)
	}
	if err := Write(root, r); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(root.Path(SpoolDir+"/"+r.ID+".json"), uid, jitGID); err != nil {
		t.Fatal(err)
	}
	return r
}

func service(root hostfs.Root, audit string, caller Person) Service {
	return Service{Root: root, Caller: caller, Log: auditlog.Log{Root: root, File: audit, Syslog: func(string) {}, Getenv: func(string) string { return "" }}}
}

var root0 = Person{UID: 0, Name: "root"}

// countingInstaller records each install; it never fails.
func countingInstaller(n *atomic.Int32) Installer {
	return func(_ context.Context, g Grant) (Installed, error) {
		n.Add(1)
		time.Sleep(20 * time.Millisecond) // widen the race window
		return Installed{Method: "key", Fingerprint: g.Request.Fingerprint, Name: g.Request.Name}, nil
	}
}

func TestSetupMakesTheSpoolRootGroupStickySetgid(t *testing.T) {
	root, _ := tree(t, Settings{})
	fi, err := os.Lstat(root.Path(SpoolDir))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode()&os.ModeSticky == 0 || fi.Mode()&os.ModeSetgid == 0 || fi.Mode().Perm() != 0o770 {
		t.Errorf("spool mode %v, want drwxrws--T", fi.Mode())
	}
	s, err := LoadSettings(root)
	if err != nil || s.Group != "jitops" || s.AllowSelfApprove || s.TTL() != DefaultTTL {
		t.Errorf("settings %+v %v", s, err)
	}
	// A settings file someone else could write is refused: it could allow
	// self-approval.
	os.Chmod(root.Path(SettingsPath), 0o666)
	if _, err := LoadSettings(root); err == nil {
		t.Error("a world-writable settings file was accepted")
	}
}

func TestApproveInstallsOnceAndRecordsEverything(t *testing.T) {
	root, audit := tree(t, Settings{})
	r := file(t, root, opUID, nil)
	var n atomic.Int32
	res, err := service(root, audit, root0).Approve(context.Background(), ApproveOptions{ID: r.ID, Fingerprint: r.Fingerprint, For: 30 * time.Minute, Note: "ok", Install: countingInstaller(&n)})
	if err != nil {
		t.Fatal(err)
	}
	if res.State != StateApproved || n.Load() != 1 || res.Decision.End.Sub(res.Decision.Start) != 30*time.Minute {
		t.Fatalf("%+v installs=%d", res, n.Load())
	}
	if res.Decision.Requester.Name != "ops1" || res.Decision.Approver.Name != "root" {
		t.Errorf("requester %v approver %v", res.Decision.Requester, res.Decision.Approver)
	}
	// The spool file is gone; the decision keeps the request.
	if _, err := os.Lstat(root.Path(SpoolDir + "/" + r.ID + ".json")); err == nil {
		t.Error("the spool file is still there")
	}
	list, _ := List(root, time.Now())
	if len(list) != 1 || list[0].State != StateApproved || list[0].Reason != "deploy" {
		t.Errorf("list %+v", list)
	}
	// Decided: never again.
	if _, err := service(root, audit, root0).Approve(context.Background(), ApproveOptions{ID: r.ID, Install: countingInstaller(&n)}); err == nil || n.Load() != 1 {
		t.Errorf("a second approval: %v installs=%d", err, n.Load())
	}
	events, _ := auditlog.Log{File: audit}.Read()
	var got []string
	for _, e := range auditlog.Completed(events) {
		got = append(got, e.Action)
		if e.Request != r.ID || e.Requester != "ops1" || e.Reason != "deploy" || e.Fingerprint != r.Fingerprint {
			t.Errorf("audit line %+v", e)
		}
		if e.Action == ActionApprove && (e.Admin != "root" || e.WindowEnd.Sub(e.WindowStart) != 30*time.Minute) {
			t.Errorf("approve line %+v", e)
		}
	}
	if strings.Join(got, " ") != "jit-request jit-approve" {
		t.Errorf("audit actions %v", got)
	}
}

// Two approvers at once: one install, one refusal.
func TestConcurrentApprovalsInstallOnce(t *testing.T) {
	root, audit := tree(t, Settings{})
	r := file(t, root, opUID, nil)
	var n atomic.Int32
	var ok atomic.Int32
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := service(root, audit, root0).Approve(context.Background(), ApproveOptions{ID: r.ID, Fingerprint: r.Fingerprint, Install: countingInstaller(&n)}); err == nil {
				ok.Add(1)
			}
		}()
	}
	wg.Wait()
	if n.Load() != 1 || ok.Load() != 1 {
		t.Fatalf("installs %d, successes %d, want 1 and 1", n.Load(), ok.Load())
	}
}

func TestSelfApprovalRefusedUnlessAllowed(t *testing.T) {
	for _, allow := range []bool{false, true} {
		root, audit := tree(t, Settings{AllowSelfApprove: allow})
		r := file(t, root, opUID, nil)
		var n atomic.Int32
		// ops1 under sudo approves ops1's request.
		_, err := service(root, audit, Person{UID: opUID, Name: "ops1"}).Approve(context.Background(), ApproveOptions{ID: r.ID, Fingerprint: r.Fingerprint, Install: countingInstaller(&n)})
		if allow != (err == nil) {
			t.Errorf("allow=%v: %v", allow, err)
		}
		if !allow && (fail.Code(err) != fail.ExitFailed || !strings.Contains(err.Error(), "cannot approve it")) {
			t.Errorf("self-approval: %v", err)
		}
	}
}

func TestDeniedOrExpiredCannotBeApproved(t *testing.T) {
	root, audit := tree(t, Settings{TTLSeconds: 60})
	var n atomic.Int32
	svc := service(root, audit, root0)
	denied := file(t, root, opUID, nil)
	if _, err := svc.Deny(context.Background(), denied.ID, "use the VPN"); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Approve(context.Background(), ApproveOptions{ID: denied.ID, Install: countingInstaller(&n)}); err == nil || !strings.Contains(err.Error(), "already denied") {
		t.Errorf("approve after deny: %v", err)
	}
	// Created may be up to CreatedSkew before the file's ctime; the
	// approver's clock runs 15s ahead: 65s old, over the TTL of 60s.
	svc.Now = func() time.Time { return time.Now().Add(15 * time.Second) }
	old := file(t, root, opUID, func(r *Request) { r.Created = time.Now().Add(-50 * time.Second).UTC().Truncate(time.Second) })
	list, _ := List(root, svc.Now())
	for _, r := range list {
		if r.ID == old.ID && r.State != StateExpired {
			t.Errorf("a request past its TTL lists as %s", r.State)
		}
	}
	if _, err := svc.Approve(context.Background(), ApproveOptions{ID: old.ID, Install: countingInstaller(&n)}); err == nil || !strings.Contains(err.Error(), "time-to-live") {
		t.Errorf("approve past TTL: %v", err)
	}
	if _, err := svc.Approve(context.Background(), ApproveOptions{ID: old.ID, Install: countingInstaller(&n)}); err == nil || !strings.Contains(err.Error(), "already expired") {
		t.Errorf("approve of an expired request: %v", err)
	}
	stale := file(t, root, opUID, func(r *Request) { r.Created = time.Now().Add(-50 * time.Second).UTC().Truncate(time.Second) })
	fresh := file(t, root, opUID, nil)
	out, left, err := svc.ExpireStale(context.Background())
	if err != nil || len(out) != 1 || out[0].ID != stale.ID || left != 0 {
		t.Errorf("ExpireStale: %+v %v", out, err)
	}
	if d, err := ReadDecision(root, fresh.ID); err == nil {
		t.Errorf("a fresh request was decided: %+v", d)
	}
	if n.Load() != 0 {
		t.Errorf("%d installs", n.Load())
	}
	if _, err := svc.Approve(context.Background(), ApproveOptions{ID: fresh.ID, Fingerprint: fresh.Fingerprint, For: 2 * time.Hour, Install: countingInstaller(&n)}); err == nil || fail.Code(err) != fail.ExitUsage {
		t.Errorf("--for longer than asked: %v", err)
	}
}

// Spool files pfwdctl request did not write are refused, whatever they say.
func TestForgedSpoolFilesAreRefused(t *testing.T) {
	root, audit := tree(t, Settings{})
	spool := root.Path(SpoolDir)
	good := func() Request {
		id, _ := NewID(time.Now())
		line, fp := pubLine(t, "alice")
		return Request{Version: 1, ID: id, Account: "pfwd", Name: "alice", Key: line, Fingerprint: fp, Duration: 3600,
			Reason: "x", Created: time.Now().UTC().Truncate(time.Second), RequesterUID: op2UID}
	}
	write := func(r Request, uid int, extra string) string {
		data, _ := json.Marshal(r)
		if extra != "" {
			data = []byte(strings.TrimSuffix(string(data), "}") + "," + extra + "}")
		}
		p := filepath.Join(spool, r.ID+".json")
		if err := os.WriteFile(p, data, 0o640); err != nil {
			t.Fatal(err)
		}
		os.Chown(p, uid, jitGID)
		return r.ID
	}
	cases := map[string]func() string{
		// ops1 writes a request saying ops2 asked (to approve it as ops1).
		"fail_forged_requester": func() string { return write(good(), opUID, "") },
		"fail_extra_field":      func() string { return write(good(), op2UID, `"approved":true`) },
		"fail_id_not_filename": func() string {
			r := good()
			id := r.ID
			r.ID, _ = NewID(time.Now())
			data, _ := json.Marshal(r)
			p := filepath.Join(spool, id+".json")
			os.WriteFile(p, data, 0o640)
			os.Chown(p, op2UID, jitGID)
			return id
		},
		"fail_symlink": func() string {
			r := good()
			target := filepath.Join(t.TempDir(), "real.json")
			data, _ := json.Marshal(r)
			os.WriteFile(target, data, 0o644)
			os.Lchown(target, op2UID, jitGID)
			os.Symlink(target, filepath.Join(spool, r.ID+".json"))
			return r.ID
		},
		"fail_hard_link": func() string {
			r := good()
			id := write(r, op2UID, "")
			os.Link(filepath.Join(spool, id+".json"), filepath.Join(spool, ".other"))
			return id
		},
		"fail_oversize": func() string {
			r := good()
			r.Reason = strings.Repeat("x", 400)
			return write(r, op2UID, `"pad":"`+strings.Repeat("y", MaxRequestSize)+`"`)
		},
		"fail_fingerprint_not_the_key": func() string {
			r := good()
			_, r.Fingerprint = pubLine(t, "other")
			return write(r, op2UID, "")
		},
		"fail_multiline_reason": func() string {
			r := good()
			r.Reason = "ok\n\x1b[2Japproved"
			return write(r, op2UID, "")
		},
	}
	for name, mk := range cases {
		t.Run(name, func(t *testing.T) {
			id := mk()
			var n atomic.Int32
			_, err := service(root, audit, root0).Approve(context.Background(), ApproveOptions{ID: id, Install: countingInstaller(&n)})
			if err == nil || n.Load() != 0 {
				t.Fatalf("approved: %v", err)
			}
			t.Log(err)
			// It lists as invalid, and deny removes it.
			if _, err := service(root, audit, root0).Deny(context.Background(), id, "forged"); err != nil {
				t.Errorf("deny: %v", err)
			}
			if _, err := os.Lstat(filepath.Join(spool, id+".json")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("the file is still in the spool: %v", err)
			}
			os.Remove(filepath.Join(spool, ".other"))
		})
	}
	good2 := good()
	write(good2, op2UID, "")
	if _, err := Read(root, good2.ID); err != nil {
		t.Errorf("the well-formed request was refused: %v", err)
	}
}

func TestHooksGetTheEventAndNeverBlock(t *testing.T) {
	root, audit := tree(t, Settings{})
	out := filepath.Join(t.TempDir(), "events")
	hooks := root.Path(HooksDir)
	os.WriteFile(filepath.Join(hooks, "10-record"), []byte("#!/bin/sh\ncat >> "+out+"\necho >> "+out+"\n"), 0o755)
	os.WriteFile(filepath.Join(hooks, "20-fail"), []byte("#!/bin/sh\necho paging failed >&2\nexit 3\n"), 0o755)
	os.WriteFile(filepath.Join(hooks, "30-writable"), []byte("#!/bin/sh\ntouch "+out+".bad\n"), 0o777)
	os.Chmod(filepath.Join(hooks, "30-writable"), 0o777)
	os.WriteFile(filepath.Join(hooks, "40-notroot"), []byte("#!/bin/sh\ntouch "+out+".bad\n"), 0o755)
	os.Chown(filepath.Join(hooks, "40-notroot"), opUID, opUID)
	os.WriteFile(filepath.Join(hooks, "50-backup~"), []byte("#!/bin/sh\ntouch "+out+".bad\n"), 0o755)
	r := file(t, root, opUID, nil)
	var n atomic.Int32
	res, err := service(root, audit, root0).Approve(context.Background(), ApproveOptions{ID: r.ID, Fingerprint: r.Fingerprint, Install: countingInstaller(&n)})
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]HookResult{}
	for _, h := range res.Hooks {
		byName[filepath.Base(h.Hook)] = h
	}
	if !byName["10-record"].OK || byName["20-fail"].OK || byName["20-fail"].ExitCode != 3 || byName["20-fail"].Stderr != "paging failed" {
		t.Errorf("hooks %+v", res.Hooks)
	}
	for _, n := range []string{"30-writable", "40-notroot"} {
		if h := byName[n]; h.OK || !strings.Contains(h.Error, "not run") {
			t.Errorf("%s: %+v", n, h)
		}
	}
	if _, ok := byName["50-backup~"]; ok {
		t.Error("an editor backup was considered a hook")
	}
	if _, err := os.Stat(out + ".bad"); err == nil {
		t.Error("a hook someone else could write was run")
	}
	data, _ := os.ReadFile(out)
	var ev Event
	if err := json.Unmarshal(data, &ev); err != nil {
		t.Fatalf("%v: %s", err, data)
	}
	if ev.Event != "approve" || ev.ID != r.ID || ev.Decision == nil || ev.Decision.State != StateApproved || ev.Requester.Name != "ops1" || ev.Request.Reason != "deploy" {
		t.Errorf("event %+v", ev)
	}
}

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{"4h": 4 * time.Hour, "2d": 48 * time.Hour, "90m": 90 * time.Minute, "5s": 5 * time.Second} {
		if got, err := ParseDuration(in); err != nil || got != want {
			t.Errorf("%s: %v %v", in, got, err)
		}
	}
	for _, in := range []string{"", "0", "-1h", "31d", "1.5s", "soon"} {
		if _, err := ParseDuration(in); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
}

func TestGrantAtJoinsByKeyAndWindow(t *testing.T) {
	t0 := time.Date(2026, 11, 24, 3, 0, 0, 0, time.UTC)
	rec := func(id, fp string, start time.Time) Record {
		return Record{ID: id, Account: "pfwd", Decision: &Decision{State: StateApproved, Fingerprint: fp, Start: start, End: start.Add(time.Hour)}}
	}
	recs := []Record{rec("a", "FP1", t0), rec("b", "FP1", t0.Add(3*time.Hour)), rec("c", "FP2", t0),
		{ID: "d", Account: "pfwd", Decision: &Decision{State: StateDenied, Fingerprint: "FP3"}}}
	for _, tc := range []struct {
		fp   string
		at   time.Time
		want string
	}{
		{"FP1", t0.Add(30 * time.Minute), "a"},
		{"FP1", t0.Add(3*time.Hour + time.Minute), "b"},
		{"FP1", t0.Add(2 * time.Hour), ""}, // between grants: not under one
		{"FP1", time.Time{}, ""},           // no time, granted twice: unknown
		{"FP2", time.Time{}, "c"},          // no time, granted once
		{"FP3", t0, ""},                    // denied
	} {
		if got := GrantAt(recs, "pfwd", tc.fp, tc.at); got != tc.want {
			t.Errorf("%s at %v: %q, want %q", tc.fp, tc.at, got, tc.want)
		}
	}
	if got := GrantAt(recs, "other", "FP2", t0); got != "" {
		t.Errorf("another account: %q", got)
	}
}

// approve names what it approves: without --fingerprint it shows the
// request and refuses; a request its owner replaced after the approver
// looked (another key; with --digest, any change) is refused.
func TestApproveIsBoundToTheReviewedRequest(t *testing.T) {
	root, audit := tree(t, Settings{})
	r := file(t, root, opUID, nil)
	var n atomic.Int32
	svc := service(root, audit, root0)
	_, err := svc.Approve(context.Background(), ApproveOptions{ID: r.ID, Install: countingInstaller(&n)})
	if fail.Code(err) != fail.ExitUsage || !strings.Contains(err.Error(), r.Fingerprint) || !strings.Contains(err.Error(), "window 1h0m0s") {
		t.Fatalf("approve without --fingerprint: %v", err)
	}
	var fe *fail.Error
	if !errors.As(err, &fe) || !strings.Contains(fe.Hint, "--fingerprint "+r.Fingerprint+" --digest ") {
		t.Fatalf("hint: %+v", fe)
	}
	digest := fe.Hint[strings.LastIndex(fe.Hint, " ")+1:]
	// The owner swaps the key after the approver looked.
	swapped := r
	swapped.Key, swapped.Fingerprint = pubLine(t, "alice")
	rewrite := func(x Request) {
		os.Remove(root.Path(SpoolDir + "/" + x.ID + ".json"))
		if err := Write(root, x); err != nil {
			t.Fatal(err)
		}
		os.Chown(root.Path(SpoolDir+"/"+x.ID+".json"), opUID, jitGID)
	}
	rewrite(swapped)
	if _, err := svc.Approve(context.Background(), ApproveOptions{ID: r.ID, Fingerprint: r.Fingerprint, Install: countingInstaller(&n)}); err == nil || !strings.Contains(err.Error(), "not the "+r.Fingerprint) {
		t.Errorf("a swapped key was approved: %v", err)
	}
	// The same key, a longer window: --digest refuses it.
	longer := r
	longer.Duration = 30 * 24 * 3600
	rewrite(longer)
	if _, err := svc.Approve(context.Background(), ApproveOptions{ID: r.ID, Fingerprint: r.Fingerprint, Digest: digest, Install: countingInstaller(&n)}); err == nil || !strings.Contains(err.Error(), "changed since it was shown") {
		t.Errorf("a replaced request was approved: %v", err)
	}
	if n.Load() != 0 {
		t.Fatalf("installed %d times", n.Load())
	}
	rewrite(r)
	if res, err := svc.Approve(context.Background(), ApproveOptions{ID: r.ID, Fingerprint: r.Fingerprint, Digest: digest, Install: countingInstaller(&n)}); err != nil || res.State != StateApproved || n.Load() != 1 {
		t.Errorf("the reviewed request: %v %+v", err, res)
	}
}

// The approver is the kernel's login uid when it is set: SUDO_USER and
// SUDO_UID are the caller's to set (sudo env SUDO_USER=ops2 ...), and
// are used only where no login uid is recorded.
func TestCallerIsTheLoginUID(t *testing.T) {
	root, _ := tree(t, Settings{})
	env := func(user, uid string) func(string) string {
		return func(k string) string {
			return map[string]string{"SUDO_USER": user, "SUDO_UID": uid}[k]
		}
	}
	login := func(uid int, ok bool) func() (int, bool) { return func() (int, bool) { return uid, ok } }
	cases := []struct {
		name    string
		getenv  func(string) string
		login   func() (int, bool)
		want    string
		refused bool
	}{
		{"good_sudo_as_self", env("ops1", "4243"), login(opUID, true), "ops1", false},
		{"good_su_no_sudo_env", env("", ""), login(opUID, true), "ops1", false},
		{"good_container_falls_back_to_sudo", env("ops2", "4244"), login(0, false), "ops2", false},
		{"fail_forged_sudo_uid", env("ops2", "4244"), login(opUID, true), "", true},
		{"fail_forged_sudo_user_only", env("ops2", ""), login(opUID, true), "", true},
		{"fail_root_login_forged_sudo", env("ops2", "4244"), login(0, true), "", true},
	}
	for _, c := range cases {
		p, err := Caller(root, 0, c.getenv, c.login)
		if c.refused != (err != nil) || (!c.refused && p.Name != c.want) {
			t.Errorf("%s: %+v %v", c.name, p, err)
		}
	}
	// ops1 files; ops1 under sudo claiming to be ops2 cannot approve it.
	r := file(t, root, opUID, nil)
	if _, err := Caller(root, 0, env("ops2", "4244"), login(opUID, true)); err == nil || !strings.Contains(err.Error(), "not the uid 4243 that logged in") {
		t.Fatalf("forged SUDO_* for request %s: %v", r.ID, err)
	}
}

// A request's created time is checked against its file's ctime: a
// backdated one is not expired at once, a future-dated one is not shown
// pending for ever; both are invalid.
func TestCreatedMustBeTheFilesCtime(t *testing.T) {
	root, audit := tree(t, Settings{})
	back := file(t, root, opUID, func(r *Request) { r.Created = time.Now().Add(-48 * time.Hour).UTC().Truncate(time.Second) })
	future := file(t, root, opUID, func(r *Request) { r.Created = time.Now().Add(time.Hour).UTC().Truncate(time.Second) })
	list, _ := List(root, time.Now())
	for _, r := range list {
		if r.State != StateInvalid || !strings.Contains(r.Error, "backdated or future-dated") {
			t.Errorf("%s lists as %s %s", r.ID, r.State, r.Error)
		}
	}
	if len(list) != 2 {
		t.Fatalf("list %+v", list)
	}
	out, _, err := service(root, audit, root0).ExpireStale(context.Background())
	if err != nil || len(out) != 0 {
		t.Errorf("ExpireStale expired forged times: %+v %v", out, err)
	}
	var n atomic.Int32
	if _, err := service(root, audit, root0).Approve(context.Background(), ApproveOptions{ID: future.ID, Fingerprint: future.Fingerprint, Install: countingInstaller(&n)}); err == nil || n.Load() != 0 {
		t.Errorf("approved a future-dated request %s (and %s): %v", future.ID, back.ID, err)
	}
}

// One requester has at most MaxPendingPerRequester pending requests, and
// one prune run expires at most MaxExpirePerRun.
func TestPendingAndExpiryCaps(t *testing.T) {
	root, audit := tree(t, Settings{TTLSeconds: 60})
	for range MaxPendingPerRequester {
		file(t, root, opUID, nil)
	}
	svc := service(root, audit, Person{UID: opUID, Name: "ops1"})
	id, _ := NewID(time.Now())
	line, fp := pubLine(t, "bob")
	r := Request{Version: 1, ID: id, Account: "pfwd", Name: "bob", Key: line, Fingerprint: fp, Duration: 60, Reason: "x",
		Created: time.Now().UTC().Truncate(time.Second), RequesterUID: opUID}
	if _, err := svc.File(context.Background(), r); err == nil || !strings.Contains(err.Error(), "pending requests") {
		t.Errorf("request %d: %v", MaxPendingPerRequester+1, err)
	}
	// Another requester is not held back by ops1's.
	r.RequesterUID = op2UID
	if _, err := svc.File(context.Background(), r); err != nil {
		t.Errorf("ops2's request: %v", err)
	}
	os.Chown(root.Path(SpoolDir+"/"+r.ID+".json"), op2UID, jitGID)
	for range MaxExpirePerRun - MaxPendingPerRequester + 5 {
		file(t, root, op2UID, nil)
	}
	exp := service(root, audit, root0)
	exp.Now = func() time.Time { return time.Now().Add(2 * time.Minute) }
	out, left, err := exp.ExpireStale(context.Background())
	if err != nil || len(out) != MaxExpirePerRun || left != 6 {
		t.Fatalf("first run: %d expired, %d left, %v", len(out), left, err)
	}
	out, left, err = exp.ExpireStale(context.Background())
	if err != nil || len(out) != 6 || left != 0 {
		t.Errorf("second run: %d expired, %d left, %v", len(out), left, err)
	}
}

// Defects of the first review's LOW item: a group- or world-writable
// spool file, a request without a fingerprint, and a day count that
// overflowed into a short window.
func TestSpoolModeFingerprintAndDayOverflow(t *testing.T) {
	root, audit := tree(t, Settings{})
	r := file(t, root, opUID, nil)
	os.Chmod(root.Path(SpoolDir+"/"+r.ID+".json"), 0o660)
	var n atomic.Int32
	if _, err := service(root, audit, root0).Approve(context.Background(), ApproveOptions{ID: r.ID, Fingerprint: r.Fingerprint, Install: countingInstaller(&n)}); err == nil || !strings.Contains(err.Error(), "writable by group or others") {
		t.Errorf("a group-writable spool file: %v", err)
	}
	// A --name request with no fingerprint (written by hand).
	id, _ := NewID(time.Now())
	bare := Request{Version: 1, ID: id, Account: "pfwd", Name: "alice", Duration: 60, Reason: "x", Created: time.Now().UTC().Truncate(time.Second), RequesterUID: 0}
	if err := Write(root, bare); err == nil || !strings.Contains(err.Error(), "no key fingerprint") {
		t.Errorf("a request without a fingerprint: %v", err)
	}
	for _, s := range []string{"119678990097716d", "31d", "-1d", "9223372036854775807d"} {
		if d, err := ParseDuration(s); err == nil {
			t.Errorf("--for %s accepted as %s", s, d)
		}
	}
	if d, err := ParseDuration("30d"); err != nil || d != MaxDuration {
		t.Errorf("30d: %s %v", d, err)
	}
}

// An install that wrote the key and then failed (AddKey's read-back) keeps
// the decision: the key is live, so the record that explains it stays,
// and the hooks run.
func TestInstalledThenFailedKeepsTheDecision(t *testing.T) {
	root, audit := tree(t, Settings{})
	hooks := root.Path(HooksDir)
	os.MkdirAll(hooks, 0o755)
	out := filepath.Join(t.TempDir(), "hook.out")
	os.WriteFile(filepath.Join(hooks, "10-log"), []byte("#!/bin/sh\ncat >> "+out+"\n"), 0o755)
	r := file(t, root, opUID, nil)
	install := func(_ context.Context, g Grant) (Installed, error) {
		return Installed{Method: "key", Fingerprint: g.Request.Fingerprint, Name: g.Request.Name, Path: "/home/pfwd/.ssh/authorized_keys"},
			errors.New("read back, the key is on 2 lines")
	}
	res, err := service(root, audit, root0).Approve(context.Background(), ApproveOptions{ID: r.ID, Fingerprint: r.Fingerprint, Install: install})
	if err == nil || !strings.Contains(err.Error(), "installed, but") || res.State != StateApproved || res.Installed == nil {
		t.Fatalf("approve: %v %+v", err, res)
	}
	d, derr := ReadDecision(root, r.ID)
	if derr != nil || d.State != StateApproved || !strings.Contains(d.Note, "installed, but") {
		t.Errorf("decision: %+v %v", d, derr)
	}
	if _, err := os.Lstat(root.Path(SpoolDir + "/" + r.ID + ".json")); err == nil {
		t.Error("the spool file of an installed request is still pending")
	}
	events, _ := auditlog.Log{File: audit}.Read()
	approved := false
	for _, e := range auditlog.Completed(events) {
		approved = approved || (e.Action == ActionApprove && strings.Contains(e.Detail, "installed, but"))
	}
	if !approved {
		t.Errorf("the audit log does not complete the approval: %+v", events)
	}
	if data, _ := os.ReadFile(out); !strings.Contains(string(data), r.ID) {
		t.Errorf("the hook did not run: %q", data)
	}
}
