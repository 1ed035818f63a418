package users

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/pfwdctl/pfwdctl/internal/fail"
	"github.com/pfwdctl/pfwdctl/internal/hostfs"
	"github.com/pfwdctl/pfwdctl/internal/testenv"
	"github.com/pfwdctl/pfwdctl/render"
	"github.com/pfwdctl/pfwdctl/render/rendertest"
	"github.com/pfwdctl/pfwdctl/users/keyline"
)

var clock = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

// tree is a stock host with pfwd (uid 999, home /home/pfwd) and the
// rendered drop-ins installed.
func tree(t *testing.T, files map[string]string) (Host, hostfs.Root) {
	t.Helper()
	return benchTree(t, files)
}

func benchTree(t testing.TB, files ...map[string]string) (Host, hostfs.Root) {
	t.Helper()
	fs := map[string]string{
		"/etc/group":   "root:x:0:\nadmin:x:1000:\npfwd:x:999:\n",
		"/etc/gshadow": "root:*::\nadmin:!::\npfwd:!::\n",
	}
	p := render.DefaultParams()
	rendered, err := render.Render(p)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range rendered {
		fs["/etc/ssh/sshd_config.d/"+f.Name] = string(f.Data)
	}
	for _, m := range files {
		for k, v := range m {
			fs[k] = v
		}
	}
	root := rendertest.New(t, rendertest.Tree{Files: fs})
	os.MkdirAll(root.Path("/home/pfwd"), 0o755)
	os.Chmod(root.Path("/home/pfwd"), 0o755)
	return Host{Root: root, Now: func() time.Time { return clock }, Getenv: func(k string) string {
		if k == "SUDO_USER" {
			return "alice"
		}
		return ""
	}, Syslog: func(string) {}, Sessions: noSessions{}}, root
}

type noSessions struct{}

func (noSessions) Find(context.Context, Account) ([]Session, error) { return nil, nil }
func (noSessions) Kill(context.Context, Session) error              { return nil }

func newKey(t testing.TB, comment string) keyline.Key {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sp, _ := ssh.NewPublicKey(pub)
	return keyline.FromPublicKey(sp, comment)
}

func readFile(t *testing.T, root hostfs.Root, p string) string {
	t.Helper()
	data, err := os.ReadFile(root.Path(p))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

const akPath = "/home/pfwd/.ssh/authorized_keys"

func TestAddKeyCreatesFileAndIsIdempotent(t *testing.T) {
	h, root := tree(t, nil)
	k := newKey(t, "friend")
	ctx := context.Background()
	res, err := h.AddKey(ctx, AddKeyRequest{User: "pfwd", Key: k})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Changed || res.Action != "added" {
		t.Fatalf("res = %+v", res)
	}
	want := `restrict,port-forwarding,permitopen="127.0.0.1:8009" ` + k.Type() + " " + k.Base64() + " friend\n"
	if got := readFile(t, root, akPath); got != want {
		t.Fatalf("authorized_keys = %q, want %q", got, want)
	}
	for p, mode := range map[string]os.FileMode{"/home/pfwd/.ssh": 0o700, akPath: 0o600} {
		fi, _ := os.Stat(root.Path(p))
		if fi.Mode().Perm() != mode {
			t.Errorf("%s mode %v, want %v", p, fi.Mode().Perm(), mode)
		}
		if os.Geteuid() == 0 {
			if o := hostfs.OwnerOf(fi); o.UID != 999 || o.GID != 999 {
				t.Errorf("%s owner %v, want 999:999", p, o)
			}
		}
	}
	res, err = h.AddKey(ctx, AddKeyRequest{User: "pfwd", Key: k})
	if err != nil || res.Changed || res.Action != "unchanged" {
		t.Fatalf("second add: %+v %v", res, err)
	}
	res, err = h.AddKey(ctx, AddKeyRequest{User: "pfwd", Key: k, Expiry: clock.Add(time.Hour), From: []string{"192.0.2.0/24"}})
	if err != nil || !res.Changed || res.Action != "updated" {
		t.Fatalf("update: %+v %v", res, err)
	}
	if got := readFile(t, root, akPath); strings.Count(got, "\n") != 1 || !strings.Contains(got, `expiry-time="202606011300Z",from="192.0.2.0/24"`) {
		t.Fatalf("after update: %q", got)
	}
	ev, err := completedAudit(h)
	if err != nil || len(ev) != 2 || ev[0].Action != ActionKeyAdd || ev[1].Action != ActionKeyUpdate || ev[0].Admin != "alice" || ev[0].Fingerprint != k.Fingerprint() || ev[0].Name != "friend" || !strings.HasPrefix(ev[0].Options, "restrict,") {
		t.Fatalf("audit = %+v %v", ev, err)
	}
	if fi, _ := os.Stat(root.Path(AuditLogPath)); fi.Mode().Perm() != 0o600 {
		t.Errorf("audit log mode %v", fi.Mode().Perm())
	}
}

func TestAddKeyKeepsOtherLinesByteForByte(t *testing.T) {
	other := newKey(t, "x")
	existing := "# managed by hand\r\n" +
		`restrict,port-forwarding,permitopen="127.0.0.1:8009" ` + other.Type() + " " + other.Base64() + " old friend\r\n" +
		"\n" +
		"not a key at all\n" +
		"ssh-ed25519 AAAAbroken last-line-without-newline"
	h, root := tree(t, map[string]string{akPath: existing})
	os.Chmod(root.Path(akPath), 0o600)
	os.Chmod(root.Path("/home/pfwd/.ssh"), 0o700)
	k := newKey(t, "new")
	if _, err := h.AddKey(context.Background(), AddKeyRequest{User: "pfwd", Key: k, Name: "Bob's laptop"}); err != nil {
		t.Fatal(err)
	}
	got := readFile(t, root, akPath)
	want := existing + "\n" + `restrict,port-forwarding,permitopen="127.0.0.1:8009" ` + k.Type() + " " + k.Base64() + " Bob-s-laptop\n"
	if got != want {
		t.Fatalf("got\n%q\nwant\n%q", got, want)
	}
}

func TestAddKeyTargets(t *testing.T) {
	k := newKey(t, "f")
	ctx := context.Background()

	h, root := tree(t, nil)
	before := rendertest.Snapshot(t, root)
	_, err := h.AddKey(ctx, AddKeyRequest{User: "pfwd", Key: k, Targets: []string{"127.0.0.1:9999"}})
	if err == nil || !strings.Contains(err.Error(), "disagrees with PermitOpen 127.0.0.1:8009") {
		t.Fatalf("err = %v", err)
	}
	rendertest.Unchanged(t, root, before)
	if _, err := h.AddKey(ctx, AddKeyRequest{User: "pfwd", Key: k, Targets: []string{"127.0.0.1:8009"}}); err != nil {
		t.Fatalf("agreeing --target: %v", err)
	}

	h, root = tree(t, nil)
	os.Remove(root.Path("/etc/ssh/sshd_config.d/20-pfwd-only.conf"))
	before = rendertest.Snapshot(t, root)
	_, err = h.AddKey(ctx, AddKeyRequest{User: "pfwd", Key: k})
	if err == nil || !strings.Contains(err.Error(), "no Match User pfwd block") || !strings.Contains(fail.HintOf(err), "pfwdctl apply") {
		t.Fatalf("err = %v", err)
	}
	rendertest.Unchanged(t, root, before)
	res, err := h.AddKey(ctx, AddKeyRequest{User: "pfwd", Key: k, Targets: []string{"127.0.0.1:8010", "[::1]:8010"}})
	if err != nil || !strings.Contains(res.Line, `permitopen="127.0.0.1:8010",permitopen="[::1]:8010"`) {
		t.Fatalf("no drop-in, --target given: %+v %v", res, err)
	}

	// Several targets in the Match block all reach the key.
	p, _ := render.NewParams("pfwd", []string{"127.0.0.1:8009", "10.0.0.5:443"})
	files, _ := render.Render(p)
	h, root = tree(t, map[string]string{"/etc/ssh/sshd_config.d/20-pfwd-only.conf": string(files[1].Data)})
	res, err = h.AddKey(ctx, AddKeyRequest{User: "pfwd", Key: k})
	if err != nil || !strings.Contains(res.Line, `permitopen="127.0.0.1:8009",permitopen="10.0.0.5:443"`) {
		t.Fatalf("two targets: %+v %v", res, err)
	}
}

// Every refusal leaves the tree byte-identical.
func TestAddKeyRefusals(t *testing.T) {
	k := newKey(t, "f")
	for _, c := range []struct {
		name  string
		setup func(root hostfs.Root)
		user  string
		want  string
	}{
		{"fail_symlinked_ssh_dir", func(r hostfs.Root) {
			os.MkdirAll(r.Path("/tmp/elsewhere"), 0o700)
			os.Symlink(r.Path("/tmp/elsewhere"), r.Path("/home/pfwd/.ssh"))
		}, "pfwd", "/home/pfwd/.ssh is a symlink"},
		{"fail_symlinked_authorized_keys", func(r hostfs.Root) {
			os.MkdirAll(r.Path("/home/pfwd/.ssh"), 0o700)
			os.Chmod(r.Path("/home/pfwd/.ssh"), 0o700)
			os.Symlink("/etc/shadow", r.Path(akPath))
		}, "pfwd", "authorized_keys is a symlink"},
		{"fail_group_writable_home", func(r hostfs.Root) { os.Chmod(r.Path("/home/pfwd"), 0o775) }, "pfwd", "group- or world-writable"},
		{"fail_world_writable_ssh", func(r hostfs.Root) {
			os.MkdirAll(r.Path("/home/pfwd/.ssh"), 0o777)
			os.Chmod(r.Path("/home/pfwd/.ssh"), 0o777)
		}, "pfwd", "StrictModes"},
		{"fail_foreign_owned_ssh", func(r hostfs.Root) {
			os.MkdirAll(r.Path("/home/pfwd/.ssh"), 0o700)
			os.Chown(r.Path("/home/pfwd/.ssh"), 12345, 12345)
		}, "pfwd", "owned by uid 12345"},
		{"fail_no_home", func(r hostfs.Root) { os.Remove(r.Path("/home/pfwd")) }, "pfwd", "does not exist"},
		{"fail_no_account", nil, "ghost", "no account ghost"},
		{"fail_root", nil, "root", "refusing to restrict root"},
		{"fail_uid0_alias", func(r hostfs.Root) {
			f, _ := os.OpenFile(r.Path("/etc/passwd"), os.O_APPEND|os.O_WRONLY, 0)
			f.WriteString("toor:x:0:0::/root:/bin/sh\n")
			f.Close()
		}, "toor", "UID 0"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.name == "fail_foreign_owned_ssh" {
				testenv.Root(t)
			}
			h, root := tree(t, nil)
			if c.setup != nil {
				c.setup(root)
			}
			before := rendertest.Snapshot(t, root)
			_, err := h.AddKey(context.Background(), AddKeyRequest{User: c.user, Key: k})
			if err == nil || !strings.Contains(err.Error()+" "+fail.HintOf(err), c.want) {
				t.Fatalf("err = %v (hint %q), want %q", err, fail.HintOf(err), c.want)
			}
			rendertest.Unchanged(t, root, before)
		})
	}
}

func TestListRevokePrune(t *testing.T) {
	h, root := tree(t, nil)
	ctx := context.Background()
	a, b1, b2, old := newKey(t, "alice"), newKey(t, "bob"), newKey(t, "bob"), newKey(t, "old")
	for _, r := range []AddKeyRequest{
		{User: "pfwd", Key: a, From: []string{"192.0.2.1"}},
		{User: "pfwd", Key: b1},
		{User: "pfwd", Key: b2, Name: "bob-2", Expiry: clock.Add(24 * time.Hour)},
		{User: "pfwd", Key: old, Expiry: clock.Add(-time.Hour)},
	} {
		if _, err := h.AddKey(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	// add-key refuses a second "bob" (TestAddKeyNameInUse); a file edited
	// by hand, or written before that rule, can still have two.
	writeKeysFile(t, root, strings.Replace(readFile(t, root, akPath), " bob-2\n", " bob\n", 1))
	// A key added by hand without the prefix, and one that may go anywhere.
	loose, wide := newKey(t, "loose"), newKey(t, "wide")
	f, _ := os.OpenFile(root.Path(akPath), os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(loose.Type() + " " + loose.Base64() + " loose\n")
	f.WriteString(`restrict,port-forwarding,permitopen="127.0.0.1:22" ` + wide.Type() + " " + wide.Base64() + " wide\n")
	f.Close()

	l, err := h.ListKeys("pfwd")
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Keys) != 6 || l.Unrestricted != 2 {
		t.Fatalf("list = %+v", l)
	}
	if !l.Keys[3].Expired || l.Keys[2].Expired || l.Keys[0].From[0] != "192.0.2.1" || l.Keys[0].Bits != 256 {
		t.Errorf("expiry/from: %+v", l.Keys)
	}
	if l.Keys[4].Restricted || !strings.Contains(l.Keys[4].Problems[0], "no restrict prefix") {
		t.Errorf("loose: %+v", l.Keys[4])
	}
	if l.Keys[5].Restricted || !strings.Contains(strings.Join(l.Keys[5].Problems, ";"), "127.0.0.1:22 is not in the Match block") {
		t.Errorf("wide: %+v", l.Keys[5])
	}

	// Absent and ambiguous are errors that change nothing.
	before := rendertest.Snapshot(t, root)
	if _, err := h.Revoke(ctx, RevokeRequest{User: "pfwd", Key: "nobody"}); err == nil || fail.Code(err) != 1 {
		t.Fatalf("absent: %v", err)
	}
	if _, err := h.Revoke(ctx, RevokeRequest{User: "pfwd", Key: "bob"}); err == nil || !strings.Contains(err.Error(), `2 keys are named "bob"`) {
		t.Fatalf("ambiguous: %v", err)
	}
	rendertest.Unchanged(t, root, before)

	res, err := h.Revoke(ctx, RevokeRequest{User: "pfwd", Key: a.Fingerprint()})
	if err != nil || !res.Changed || len(res.Removed) != 1 || res.Removed[0].Name != "alice" {
		t.Fatalf("by fingerprint: %+v %v", res, err)
	}
	res, err = h.Revoke(ctx, RevokeRequest{User: "pfwd", Key: strings.TrimPrefix(b1.Fingerprint(), "SHA256:")})
	if err != nil || len(res.Removed) != 1 {
		t.Fatalf("by bare fingerprint: %+v %v", res, err)
	}
	writeKeysFile(t, root, readFile(t, root, akPath)+`restrict,port-forwarding,permitopen="127.0.0.1:8009" `+b1.Type()+" "+b1.Base64()+" bob\n")
	res, err = h.Revoke(ctx, RevokeRequest{User: "pfwd", Key: "bob", All: true})
	if err != nil || len(res.Removed) != 2 {
		t.Fatalf("--all: %+v %v", res, err)
	}
	res, err = h.Prune(ctx, PruneRequest{User: "pfwd"})
	if err != nil || len(res.Removed) != 1 || res.Removed[0].Name != "old" {
		t.Fatalf("prune: %+v %v", res, err)
	}
	res, err = h.Prune(ctx, PruneRequest{User: "pfwd"})
	if err != nil || res.Changed {
		t.Fatalf("second prune: %+v %v", res, err)
	}
	got := readFile(t, root, akPath)
	if strings.Count(got, "\n") != 2 || !strings.Contains(got, " loose\n") || !strings.Contains(got, " wide\n") {
		t.Fatalf("left: %q", got)
	}
	ev, _ := completedAudit(h)
	var actions []string
	for _, e := range ev {
		actions = append(actions, e.Action)
	}
	if got := strings.Join(actions, " "); got != "key-add key-add key-add key-add key-revoke key-revoke key-revoke key-revoke key-prune" {
		t.Errorf("audit actions: %s", got)
	}
}

type fakeSessions struct {
	found  []Session
	killed []int
}

func (f *fakeSessions) Find(context.Context, Account) ([]Session, error) {
	return slices.Clone(f.found), nil
}

// Kill ends the session: it is no longer found.
func (f *fakeSessions) Kill(_ context.Context, s Session) error {
	f.killed = append(f.killed, s.PID)
	f.found = slices.DeleteFunc(f.found, func(x Session) bool { return x.PID == s.PID })
	return nil
}

func TestRevokeReportsAndKillsSessions(t *testing.T) {
	h, _ := tree(t, nil)
	fs := &fakeSessions{found: []Session{{PID: 41, Command: "sshd: pfwd@notty"}, {PID: 42, Command: "sshd: pfwd@notty"}}}
	h.Sessions = fs
	k := newKey(t, "k")
	h.AddKey(context.Background(), AddKeyRequest{User: "pfwd", Key: k})
	res, err := h.Revoke(context.Background(), RevokeRequest{User: "pfwd", Key: "k"})
	if err != nil || len(res.Sessions) != 2 || res.Killed != 0 || len(fs.killed) != 0 {
		t.Fatalf("report only: %+v %v", res, err)
	}
	// Nothing left to prune, but --kill-sessions still ends the tunnels.
	res, err = h.Prune(context.Background(), PruneRequest{User: "pfwd", KillSessions: true})
	if err != nil || res.Killed != 2 || !res.Changed || len(fs.killed) != 2 {
		t.Fatalf("kill: %+v %v", res, err)
	}
}

func TestResultsJSONHaveChanged(t *testing.T) {
	for _, v := range []any{AddKeyResult{}, RemoveResult{}, CreateResult{}} {
		b, _ := json.Marshal(v)
		if !strings.Contains(string(b), `"changed":false`) {
			t.Errorf("%T JSON lacks changed: %s", v, b)
		}
	}
}

func TestLockHeldIsUnavailable(t *testing.T) {
	h, root := tree(t, nil)
	unlock, err := root.Lock(time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	h.LockWait = 50 * time.Millisecond
	_, err = h.AddKey(context.Background(), AddKeyRequest{User: "pfwd", Key: newKey(t, "x")})
	var fe *fail.Error
	if !errors.As(err, &fe) || fe.Kind != fail.Unavailable {
		t.Fatalf("err = %v", err)
	}
}

// writeKeysFile puts lines in pfwd's authorized_keys, owned as add-key
// would leave it.
func writeKeysFile(t *testing.T, root hostfs.Root, content string) {
	t.Helper()
	dir := root.Path("/home/pfwd/.ssh")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(root.Path(akPath), []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// Issue 12 item 2: the guide's line pasted twice. The old add-key updated
// the first copy only, and sshd accepted the key from anywhere through the
// second.
func TestAddKeyCollapsesCopies(t *testing.T) {
	h, root := tree(t, nil)
	k, other := newKey(t, "friend"), newKey(t, "other")
	guide := `restrict,port-forwarding,permitopen="127.0.0.1:8009" ` + k.Type() + " " + k.Base64() + " friend"
	otherLine := "no-pty " + other.Type() + " " + other.Base64() + " other"
	writeKeysFile(t, root, guide+"\n"+otherLine+"\n"+guide+"\n")
	exp := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	res, err := h.AddKey(context.Background(), AddKeyRequest{User: "pfwd", Key: k, From: []string{"10.9.9.9"}, Expiry: exp})
	if err != nil || res.Action != "updated" || res.Collapsed != 1 {
		t.Fatalf("add: %+v %v", res, err)
	}
	want := `restrict,port-forwarding,permitopen="127.0.0.1:8009",expiry-time="202001010000Z",from="10.9.9.9" ` + k.Type() + " " + k.Base64() + " friend\n" + otherLine + "\n"
	if got := readFile(t, root, akPath); got != want {
		t.Fatalf("authorized_keys =\n%s\nwant\n%s", got, want)
	}
}

// A restricted line with an expiry plus a bare copy: the old add-key
// rewrote the restricted line without its expiry and left the bare copy.
func TestAddKeyKeepsExpiryAndDropsBareCopy(t *testing.T) {
	h, root := tree(t, nil)
	k := newKey(t, "friend")
	restricted := `restrict,port-forwarding,permitopen="127.0.0.1:8009",expiry-time="202612311800Z",from="192.0.2.0/24" ` + k.Type() + " " + k.Base64() + " friend"
	bare := k.Type() + " " + k.Base64() + " laptop"
	writeKeysFile(t, root, restricted+"\n"+bare+"\n")
	lr, err := h.ListKeys("pfwd")
	if err != nil || len(lr.Keys) != 2 || !lr.Keys[0].Copies || !lr.Keys[1].Copies || !strings.Contains(strings.Join(lr.Keys[1].Warnings, ";"), "also on line 1") {
		t.Fatalf("list-keys does not flag the copies: %+v %v", lr, err)
	}
	res, err := h.AddKey(context.Background(), AddKeyRequest{User: "pfwd", Key: k})
	if err != nil || res.Action != "updated" {
		t.Fatalf("add: %+v %v", res, err)
	}
	if got := readFile(t, root, akPath); got != restricted+"\n" {
		t.Fatalf("authorized_keys = %q, want %q", got, restricted+"\n")
	}
	// Once collapsed, the same request changes nothing.
	if res, err = h.AddKey(context.Background(), AddKeyRequest{User: "pfwd", Key: k}); err != nil || res.Action != "unchanged" {
		t.Fatalf("again: %+v %v", res, err)
	}
	// NoExpiry lifts the expiry explicitly.
	if res, err = h.AddKey(context.Background(), AddKeyRequest{User: "pfwd", Key: k, NoExpiry: true}); err != nil || strings.Contains(res.Line, "expiry-time") || !strings.Contains(res.Line, `from="192.0.2.0/24"`) {
		t.Fatalf("no expiry: %+v %v", res, err)
	}
}

// A from= pfwdctl cannot write back is refused, never dropped.
func TestAddKeyRefusesFromItCannotKeep(t *testing.T) {
	h, root := tree(t, nil)
	k := newKey(t, "friend")
	writeKeysFile(t, root, `restrict,port-forwarding,permitopen="127.0.0.1:8009",from="*.example.com" `+k.Type()+" "+k.Base64()+" friend\n")
	if _, err := h.AddKey(context.Background(), AddKeyRequest{User: "pfwd", Key: k}); err == nil || !strings.Contains(err.Error(), "cannot keep") {
		t.Fatalf("err = %v", err)
	}
}

// revoke by name removes every line of that key, whatever the copy's
// comment; two lines of one key are one key, not "2 keys named".
func TestRevokeRemovesEveryCopy(t *testing.T) {
	h, root := tree(t, nil)
	k, other := newKey(t, "friend"), newKey(t, "other")
	l1 := `restrict,port-forwarding,permitopen="127.0.0.1:8009" ` + k.Type() + " " + k.Base64() + " friend"
	l2 := k.Type() + " " + k.Base64() + " laptop"
	l3 := `restrict,port-forwarding,permitopen="127.0.0.1:8009" ` + other.Type() + " " + other.Base64() + " other"
	writeKeysFile(t, root, l1+"\n"+l1+"\n"+l3+"\n"+l2+"\n")
	res, err := h.Revoke(context.Background(), RevokeRequest{User: "pfwd", Key: "friend"})
	if err != nil || len(res.Removed) != 3 {
		t.Fatalf("revoke: %+v %v", res, err)
	}
	if got := readFile(t, root, akPath); got != l3+"\n" {
		t.Fatalf("authorized_keys = %q", got)
	}
}

// An sshd before 9.1 does not read "Z": the time is written in the system
// zone of /etc/localtime under the root (here UTC+14), not in $TZ.
func TestAddKeyOldSshdWritesSystemZone(t *testing.T) {
	tz, err := os.ReadFile("/usr/share/zoneinfo/Etc/GMT-14")
	if err != nil {
		t.Skip("no tzdata:", err)
	}
	h, _ := tree(t, map[string]string{"/etc/localtime": string(tz)})
	h.SshdVersion = "OpenSSH_8.9p1 Ubuntu-3ubuntu0.10, OpenSSL 3.0.2 15 Mar 2022"
	k := newKey(t, "friend")
	exp := time.Date(2026, 6, 1, 13, 0, 0, 0, time.UTC)
	res, err := h.AddKey(context.Background(), AddKeyRequest{User: "pfwd", Key: k, Expiry: exp})
	if err != nil || !strings.Contains(res.Line, `expiry-time="202606020300"`) {
		t.Fatalf("line %q, err %v; want 03:00 the next day (UTC+14), no Z", res.Line, err)
	}
	// Re-adding keeps that instant: the value is read back in the same zone.
	res, err = h.AddKey(context.Background(), AddKeyRequest{User: "pfwd", Key: k})
	if err != nil || res.Action != "unchanged" || !res.Expiry.Equal(exp) {
		t.Fatalf("re-add: %+v %v", res, err)
	}
}

// A hard-linked authorized_keys would be read (and rewritten) through a
// name that belongs to another file: refused, byte-for-byte unchanged.
// A temp file a killed run left in ~/.ssh (key lines nobody reviews) is
// removed by the next change.
func TestAddKeyHardLinkAndStaleTemp(t *testing.T) {
	h, root := tree(t, nil)
	k := newKey(t, "friend")
	ctx := context.Background()
	if _, err := h.AddKey(ctx, AddKeyRequest{User: "pfwd", Key: k}); err != nil {
		t.Fatal(err)
	}
	stale := root.Path("/home/pfwd/.ssh/.authorized_keys1234567")
	if err := os.WriteFile(stale, []byte("ssh-ed25519 AAAA leftover\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Revoke(ctx, RevokeRequest{User: "pfwd", Key: "friend"}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Fatalf("stale temp file still there: %v", err)
	}

	other := root.Path("/home/other-keys")
	if err := os.WriteFile(other, []byte(rendertest.AdminKey), 0o600); err != nil {
		t.Fatal(err)
	}
	os.Remove(root.Path(akPath))
	if err := os.Link(other, root.Path(akPath)); err != nil {
		t.Fatal(err)
	}
	before := rendertest.Snapshot(t, root)
	_, err := h.AddKey(ctx, AddKeyRequest{User: "pfwd", Key: k})
	if err == nil || !strings.Contains(err.Error(), "hard links") {
		t.Fatalf("hard-linked authorized_keys: %v", err)
	}
	rendertest.Unchanged(t, root, before)
}

// Issue 15: names are how keys are revoked. A second key under a name
// already in use was added silently, and revoke NAME then refused as
// ambiguous; now it is refused unless Replace, which swaps the keys in one
// write (the old key's copies too), both recorded in the audit log.
func TestAddKeyNameInUse(t *testing.T) {
	h, root := tree(t, nil)
	ctx := context.Background()
	old, other, next := newKey(t, "x"), newKey(t, "y"), newKey(t, "z")
	line := func(k keyline.Key, name string) string {
		return `restrict,port-forwarding,permitopen="127.0.0.1:8009" ` + k.Type() + " " + k.Base64() + " " + name
	}
	bare := old.Type() + " " + old.Base64() + " laptop" // a copy of old under another comment
	writeKeysFile(t, root, line(old, "bob")+"\n"+line(other, "carol")+"\n"+bare+"\n")
	before := readFile(t, root, akPath)

	res, err := h.AddKey(ctx, AddKeyRequest{User: "pfwd", Key: next, Name: "bob"})
	if fail.Code(err) != fail.ExitFailed || !strings.Contains(err.Error(), `already has a key named "bob"`) || !strings.Contains(err.Error(), old.Fingerprint()) ||
		!strings.Contains(fail.HintOf(err), "--replace") || res.Changed {
		t.Fatalf("name in use: %+v %v (hint %q)", res, err, fail.HintOf(err))
	}
	if got := readFile(t, root, akPath); got != before {
		t.Fatalf("refused, yet written:\n%s", got)
	}

	res, err = h.AddKey(ctx, AddKeyRequest{User: "pfwd", Key: next, Name: "bob", Replace: true})
	if err != nil || !res.Changed || res.Action != "replaced" || len(res.Replaced) != 1 || res.Replaced[0] != old.Fingerprint() {
		t.Fatalf("replace: %+v %v", res, err)
	}
	if got, want := readFile(t, root, akPath), line(other, "carol")+"\n"+line(next, "bob")+"\n"; got != want {
		t.Fatalf("authorized_keys =\n%s\nwant\n%s", got, want)
	}
	ev, err := completedAudit(h)
	if err != nil || len(ev) != 2 || ev[0].Action != ActionKeyAdd || ev[0].Fingerprint != next.Fingerprint() ||
		ev[1].Action != ActionKeyRevoke || ev[1].Fingerprint != old.Fingerprint() || !strings.Contains(ev[1].Detail, "replaced by") {
		t.Fatalf("audit = %+v %v", ev, err)
	}
	// The same key under its own name again is an update, not a clash;
	// Replace with nothing to replace is a plain add.
	if res, err = h.AddKey(ctx, AddKeyRequest{User: "pfwd", Key: next, Name: "bob", Expiry: clock.Add(time.Hour)}); err != nil || res.Action != "updated" {
		t.Fatalf("same key again: %+v %v", res, err)
	}
	if res, err = h.AddKey(ctx, AddKeyRequest{User: "pfwd", Key: old, Name: "dave", Replace: true}); err != nil || res.Action != "added" || len(res.Replaced) != 0 {
		t.Fatalf("replace nothing: %+v %v", res, err)
	}
}

// revoke --kill-sessions ends only the revoked key's tunnels: sshd's log
// names the key of each session (Attribute), so another friend's tunnel
// stays up (issue 16: revoking bob killed the other friend's tunnel). A
// session whose key the log does not name is ended too, and counted.
func TestRevokeKillsOnlyThatKeysSessions(t *testing.T) {
	h, _ := tree(t, nil)
	bob, ann := newKey(t, "bob"), newKey(t, "ann")
	for _, k := range []keyline.Key{bob, ann} {
		if _, err := h.AddKey(context.Background(), AddKeyRequest{User: "pfwd", Key: k}); err != nil {
			t.Fatal(err)
		}
	}
	fs := &fakeSessions{found: []Session{{PID: 41, PPID: 40}, {PID: 51, PPID: 50}, {PID: 61, PPID: 60}, {PID: 71, PPID: 70}}}
	h.Sessions = fs
	h.Attribute = func(_ context.Context, ss []Session) []Session {
		for i := range ss {
			switch ss[i].PPID {
			case 40:
				ss[i].Fingerprint = bob.Fingerprint()
			case 50:
				ss[i].Fingerprint = ann.Fingerprint()
			case 70:
				// A stale or misread log entry: a key not installed.
				ss[i].Fingerprint = "SHA256:notinstalledAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
			}
		}
		return ss
	}
	res, err := h.Revoke(context.Background(), RevokeRequest{User: "pfwd", Key: "bob", KillSessions: true})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(fs.killed) != "[41 61 71]" || res.Killed != 3 || res.Unattributed != 2 || len(res.Kept) != 1 || res.Kept[0].PID != 51 {
		t.Fatalf("killed %v, result %+v", fs.killed, res)
	}
	ev, _ := completedAudit(h)
	n := 0
	for _, e := range ev {
		if e.Action == ActionKillSess {
			n++
			if e.Detail == "pid 41" && e.Fingerprint != bob.Fingerprint() {
				t.Errorf("the kill of bob's session does not name his key: %+v", e)
			}
		}
	}
	if n != 3 {
		t.Errorf("%d kill lines in the audit log, want 3", n)
	}
}

type stubbornSessions struct{ fakeSessions }

// Kill signals, but the session keeps running.
func (f *stubbornSessions) Kill(_ context.Context, s Session) error {
	f.killed = append(f.killed, s.PID)
	return nil
}

// A session is said to be ended only once it is seen gone: one that
// survives the signal is a warning, not counted, not logged as done.
func TestKillCountsOnlySessionsSeenGone(t *testing.T) {
	h, _ := tree(t, nil)
	defer func(d time.Duration) { sessionGoneWait = d }(sessionGoneWait)
	sessionGoneWait = 200 * time.Millisecond
	k := newKey(t, "k")
	h.AddKey(context.Background(), AddKeyRequest{User: "pfwd", Key: k})
	fs := &stubbornSessions{fakeSessions{found: []Session{{PID: 41}}}}
	h.Sessions = fs
	res, err := h.Revoke(context.Background(), RevokeRequest{User: "pfwd", Key: "k", KillSessions: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(fs.killed) != 1 || res.Killed != 0 || !strings.Contains(strings.Join(res.Warnings, "\n"), "session 41 was signalled but is still running") {
		t.Fatalf("result %+v", res)
	}
}
