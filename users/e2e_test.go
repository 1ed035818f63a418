package users

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/pfwdctl/pfwdctl/internal/accounts"
	"github.com/pfwdctl/pfwdctl/internal/hostfs"
	"github.com/pfwdctl/pfwdctl/internal/run"
	"github.com/pfwdctl/pfwdctl/internal/target"
	"github.com/pfwdctl/pfwdctl/internal/testenv"
	"github.com/pfwdctl/pfwdctl/templates"
	"github.com/pfwdctl/pfwdctl/users/keyline"
	"github.com/pfwdctl/pfwdctl/verify/lab"
	"github.com/pfwdctl/pfwdctl/verify/lab/labtest"
)

func signer(t *testing.T) ssh.Signer { return labtest.Signer(t) }

// login dials the lab as its account with key and checks the forward to
// the echo target; it returns the first error.
func login(s *lab.Server, key ssh.Signer, echo *lab.Echo) error { return labtest.Login(s, key, echo) }

// TestE2EKeysAgainstRealSshd installs keys with the library into a --root
// tree whose passwd and drop-in are the lab's, copies the resulting
// authorized_keys into the lab's AuthorizedKeysFile, and lets the real sshd
// judge each line: sshd itself enforces expiry-time, from and permitopen.
func TestE2EKeysAgainstRealSshd(t *testing.T) {
	t.Parallel()
	echo := labtest.Echo(t)
	s := labtest.New(t, lab.Options{Targets: []target.Target{echo.Target}})
	// The tree: the lab's account (any uid; the lab reads its own file)
	// and the lab's own rendered drop-in as the installed one.
	h, _, sync := labTree(t, s)
	ctx := context.Background()
	add := func(key ssh.Signer, name string, exp time.Time, from ...string) {
		t.Helper()
		if _, err := h.AddKey(ctx, AddKeyRequest{User: s.User, Key: FromSigner(key, name), Expiry: exp, From: from}); err != nil {
			t.Fatal(err)
		}
	}
	good, expired, elsewhere, revoked := signer(t), signer(t), signer(t), signer(t)
	add(good, "good", time.Time{})
	add(expired, "expired", time.Now().Add(-2*time.Minute))
	add(elsewhere, "elsewhere", time.Time{}, "192.0.2.1")
	add(revoked, "revoked", time.Now().Add(time.Hour))
	sync()

	if err := login(s, good, echo); err != nil {
		t.Fatalf("key installed by AddKey: %v", err)
	}
	if err := login(s, revoked, echo); err != nil {
		t.Fatalf("key with a future expiry: %v", err)
	}
	if err := login(s, expired, echo); err == nil {
		t.Error("sshd accepted the expired key")
	}
	if err := login(s, elsewhere, echo); err == nil {
		t.Error("sshd accepted a key limited to from=192.0.2.1 from 127.0.0.1")
	}
	// The key's own permitopen holds too: the ssh port is not a target.
	cfg := s.ClientConfig()
	cfg.Auth = []ssh.AuthMethod{ssh.PublicKeys(good)}
	c, err := ssh.Dial("tcp", s.Addr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Dial("tcp", s.Addr)
	var oe *ssh.OpenChannelError
	if !errors.As(err, &oe) || oe.Reason != ssh.Prohibited {
		t.Errorf("forward to another port: want administratively prohibited, got %v", err)
	}
	c.Close()

	if _, err := h.Revoke(ctx, RevokeRequest{User: s.User, Key: "revoked"}); err != nil {
		t.Fatal(err)
	}
	sync()
	if err := login(s, revoked, echo); err == nil {
		t.Error("sshd accepted a revoked key")
	}
	if err := login(s, good, echo); err != nil {
		t.Errorf("revoke removed another key: %v", err)
	}
}

// TestE2EUserCreateRealAccount creates a real account on this host with
// useradd, installs a key into its real ~/.ssh/authorized_keys, and logs in
// through a root lab sshd that reads that file with StrictModes on, with
// UsePAM no and yes. It also shows why "*" and not "!": with UsePAM no a
// "!"-locked account is refused even for a good key, and user create --fix
// repairs it.
func TestE2EUserCreateRealAccount(t *testing.T) {
	name, h, logs := realAccount(t)
	sshd := testenv.Sshd(t)
	echo := labtest.Echo(t)
	ctx := context.Background()
	t.Cleanup(func() {
		if ev, _ := ReadAudit(h); len(ev) == 0 || ev[0].Action != ActionUserCreate {
			t.Errorf("audit log in the temp dir: %+v", ev)
		}
	})

	res, err := h.CreateUser(ctx, CreateRequest{User: name})
	if err != nil {
		t.Fatal(err)
	}
	if res.Action != "created" || len(res.Checks) < 4 {
		t.Fatalf("create: %+v", res)
	}
	out, _ := exec.Command("passwd", "-S", name).Output()
	if f := strings.Fields(string(out)); len(f) < 2 || f[1] != "L" {
		t.Fatalf("passwd -S: %s", out)
	}

	for _, pam := range []bool{false, true} {
		t.Run(fmt.Sprintf("UsePAM=%v", pam), func(t *testing.T) {
			s := labtest.New(t, lab.Options{Sshd: sshd, User: name, Targets: []target.Target{echo.Target},
				// Debian's own default: two files.
				AuthorizedKeysFile: ".ssh/authorized_keys .ssh/authorized_keys2", StrictModes: true, UsePAM: pam})
			hh := h
			hh.SshdConfig = s.ConfigFile // read the lab's drop-in, not /etc/ssh
			key := signer(t)
			if _, err := hh.AddKey(ctx, AddKeyRequest{User: name, Key: FromSigner(key, "e2e")}); err != nil {
				t.Fatal(err)
			}
			if err := login(s, key, echo); err != nil {
				t.Fatalf("login into the useradd account: %v\n%s", err, s.Logs())
			}
			// A key only in authorized_keys2 (Debian reads it by default,
			// and revoke/list-keys do not): pfwdctl's Match block names
			// the one file it manages, so sshd does not take it.
			key2only := signer(t)
			ak2 := filepath.Join(acctHome(t, name), ".ssh", "authorized_keys2")
			line := "restrict,port-forwarding " + strings.TrimSpace(string(ssh.MarshalAuthorizedKey(key2only.PublicKey()))) + "\n"
			if err := os.WriteFile(ak2, []byte(line), 0o600); err != nil {
				t.Fatal(err)
			}
			exec.Command("chown", name+":", ak2).Run()
			if err := login(s, key2only, echo); err == nil {
				t.Fatal("a key in authorized_keys2 logs in: the Match block must name only authorized_keys")
			}
			os.Remove(ak2)
			if pam {
				return
			}
			// Sessions: one open tunnel is found and --kill-sessions ends it.
			acct, _ := accounts.Lookup(hh.Root, name)
			// The earlier logins' session processes may still be exiting:
			// only a process that was not there before the dial is this
			// tunnel's (waiting for "any" raced with them and killed only
			// the dying ones).
			earlier := map[int]bool{}
			if ss, _ := (ProcSessions{}).Find(ctx, acct); len(ss) > 0 {
				for _, x := range ss {
					earlier[x.PID] = true
				}
			}
			cfg := s.ClientConfig()
			cfg.Auth = []ssh.AuthMethod{ssh.PublicKeys(key)}
			c, err := ssh.Dial("tcp", s.Addr, cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			done := make(chan error, 1)
			go func() { done <- c.Wait() }()
			// sshd forks the session's child as the account just after
			// it tells the client auth succeeded; wait until it shows.
		wait:
			for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
				ss, _ := (ProcSessions{}).Find(ctx, acct)
				for _, x := range ss {
					if !earlier[x.PID] {
						break wait
					}
				}
			}
			rr, err := hh.Revoke(ctx, RevokeRequest{User: name, Key: "e2e", KillSessions: true})
			if err != nil || len(rr.Sessions) == 0 || rr.Killed != len(rr.Sessions) {
				t.Fatalf("revoke --kill-sessions: %+v %v", rr, err)
			}
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("the session survived --kill-sessions")
			}
			if err := login(s, key, echo); err == nil {
				t.Fatal("revoked key still logs in")
			}

			// "!" locks keys out with UsePAM no; --fix puts "*" back.
			key2 := signer(t)
			hh.AddKey(ctx, AddKeyRequest{User: name, Key: FromSigner(key2, "e2e2")})
			if out, err := exec.Command("usermod", "-L", name).CombinedOutput(); err != nil {
				t.Fatalf("usermod -L: %v %s", err, out)
			}
			if err := login(s, key2, echo); err == nil {
				t.Fatal("sshd with UsePAM no accepted a key for a !-locked account (SSHD-NOTES 6 no longer holds?)")
			}
			if _, err := hh.CreateUser(ctx, CreateRequest{User: name}); err == nil {
				t.Fatal("user create without --fix accepted a !-locked account")
			}
			if _, err := hh.CreateUser(ctx, CreateRequest{User: name, Fix: true}); err != nil {
				t.Fatal(err)
			}
			if err := login(s, key2, echo); err != nil {
				t.Fatalf("after --fix: %v", err)
			}
		})
	}
	if len(*logs) == 0 || !strings.Contains((*logs)[0], `"action":"user-create"`) {
		t.Errorf("syslog copy: %v", *logs)
	}
}

// realAccount is a throwaway account name on this host (not created yet)
// and a Host for it whose audit log stays in a temp dir; the account, its
// home and its sessions go when the test ends, and the host's own audit
// log must not change. logs collects the syslog copies.
func realAccount(t *testing.T) (string, Host, *[]string) {
	t.Helper()
	testenv.Root(t)
	testenv.Require(t, "useradd", "passwd")
	testenv.Require(t, "userdel", "passwd")
	name := fmt.Sprintf("pft%d", time.Now().UnixNano()%1e8)
	t.Cleanup(func() {
		// End the throwaway account's leftover sessions, by pid.
		if a, err := accounts.Lookup(hostfs.Root{}, name); err == nil {
			ss, _ := (ProcSessions{}).Find(context.Background(), a)
			for _, s := range ss {
				syscall.Kill(s.PID, syscall.SIGKILL)
			}
		}
		if out, err := exec.Command("userdel", "-r", name).CombinedOutput(); err != nil {
			t.Logf("userdel -r %s: %v %s", name, err, out)
		}
	})
	logs := &[]string{}
	h := Host{Root: hostfs.Root{}, Runner: run.Exec{}, Syslog: func(l string) { *logs = append(*logs, l) },
		Getenv: func(string) string { return "" },
		// The audit log must not land in the host's /var/log during tests.
		AuditLog: filepath.Join(t.TempDir(), "audit.jsonl")}
	hostAudit, _ := os.ReadFile(AuditLogPath)
	t.Cleanup(func() {
		if now, _ := os.ReadFile(AuditLogPath); string(now) != string(hostAudit) {
			t.Errorf("the test changed the host's %s", AuditLogPath)
		}
	})
	return name, h, logs
}

// TestE2ERootOwnedKeysFile is issue 12 item 1: with AuthorizedKeysFile
// outside the home (/etc/ssh/authorized_keys/%u style), add-key used to
// write ~/.ssh/authorized_keys and say "added" while the friend got
// "Permission denied". Now it writes the file sshd reads, root's and 0644
// in a root-owned 0755 directory it creates, and the real sshd (reading
// it as the account) lets the key in; list-keys and revoke work on it.
func TestE2ERootOwnedKeysFile(t *testing.T) {
	name, h, _ := realAccount(t)
	sshd := testenv.Sshd(t)
	echo := labtest.Echo(t)
	ctx := context.Background()
	if _, err := h.CreateUser(ctx, CreateRequest{User: name}); err != nil {
		t.Fatal(err)
	}
	// The account must reach the directory as sshd does after dropping
	// privileges; TempDir makes 0700 directories.
	base := t.TempDir()
	for _, d := range []string{filepath.Dir(base), base} {
		os.Chmod(d, 0o755)
	}
	s := labtest.New(t, lab.Options{Sshd: sshd, User: name, Targets: []target.Target{echo.Target},
		// StrictModes would stop at /tmp (1777) before it reached the file;
		// the file's own owner and mode are checked below.
		AuthorizedKeysFile: base + "/keys/%u"})
	h.SshdConfig = s.ConfigFile
	key := signer(t)
	res, err := h.AddKey(ctx, AddKeyRequest{User: name, Key: FromSigner(key, "friend")})
	if err != nil {
		t.Fatal(err)
	}
	want := base + "/keys/" + name
	if res.Path != want {
		t.Errorf("added to %s, want %s", res.Path, want)
	}
	for p, mode := range map[string]os.FileMode{want: 0o644, base + "/keys": 0o755 | os.ModeDir} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != mode || hostfs.OwnerOf(fi).UID != 0 {
			t.Errorf("%s: mode %v uid %d, want %v root", p, fi.Mode(), hostfs.OwnerOf(fi).UID, mode)
		}
	}
	home := acctHome(t, name)
	if _, err := os.Stat(filepath.Join(home, ".ssh", "authorized_keys")); err == nil {
		t.Error("add-key also wrote ~/.ssh/authorized_keys, which sshd does not read")
	}
	if err := login(s, key, echo); err != nil {
		t.Fatalf("the friend cannot log in: %v\n%s", err, s.Logs())
	}
	lr, err := h.ListKeys(name)
	if err != nil || lr.Path != want || len(lr.Keys) != 1 || !lr.Keys[0].Restricted {
		t.Fatalf("list-keys: %+v %v", lr, err)
	}
	// An existing file keeps the owner and mode the admin gave it (the
	// account's and 0600 is as valid to sshd as root's and 0644).
	acct, _ := accounts.Lookup(hostfs.Root{}, name)
	os.Chown(want, acct.UID, acct.GID)
	os.Chmod(want, 0o600)
	key2 := signer(t)
	if _, err := h.AddKey(ctx, AddKeyRequest{User: name, Key: FromSigner(key2, "second")}); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(want); fi.Mode() != 0o600 || hostfs.OwnerOf(fi).UID != acct.UID {
		t.Errorf("a second add-key changed the file's owner or mode: %v uid %d", fi.Mode(), hostfs.OwnerOf(fi).UID)
	}
	if err := login(s, key2, echo); err != nil {
		t.Errorf("second key: %v", err)
	}
	if _, err := h.Revoke(ctx, RevokeRequest{User: name, Key: "friend"}); err != nil {
		t.Fatal(err)
	}
	if err := login(s, key, echo); err == nil {
		t.Error("the revoked key still logs in")
	}
}

// labTree is a --root tree whose account and drop-in are the lab's; sync
// copies the tree's authorized_keys into the lab's AuthorizedKeysFile.
func labTree(t *testing.T, s *lab.Server) (Host, hostfs.Root, func()) {
	t.Helper()
	var dropIn string
	for _, f := range s.DropIns {
		if f.Name == templates.ForwardFile(s.User) {
			dropIn = string(f.Data)
		}
	}
	// The lab points AuthorizedKeysFile at its own file; the tree is the
	// host as pfwdctl renders it (sync copies the keys over to the lab).
	var lines []string
	for _, l := range strings.Split(dropIn, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "AuthorizedKeysFile ") {
			l = "    AuthorizedKeysFile .ssh/authorized_keys"
		}
		lines = append(lines, l)
	}
	h, root := benchTree(t, map[string]string{
		"/etc/passwd": fmt.Sprintf("root:x:0:0:root:/root:/bin/bash\n%s:x:%d:%d::/home/lab:/usr/sbin/nologin\n", s.User, os.Getuid()+5000, os.Getgid()+5000),
		"/etc/ssh/sshd_config.d/" + templates.ForwardFile(s.User): strings.Join(lines, "\n"),
	})
	os.MkdirAll(root.Path("/home/lab"), 0o755)
	return h, root, func() {
		t.Helper()
		data, err := os.ReadFile(root.Path("/home/lab/.ssh/authorized_keys"))
		if err != nil {
			t.Fatal(err)
		}
		if err := s.SetAuthorizedKeys(data); err != nil {
			t.Fatal(err)
		}
	}
}

// TestE2EExpiryFarFromUTC is issue 12 item 3 against the real sshd:
// pfwdctl runs with TZ=Etc/GMT+12 (UTC-12) while sshd runs in the system
// zone. The old code wrote "--expires 1h" as pfwdctl's wall clock without
// a zone, which sshd read as 11 hours past. Now a key for 1h logs in and
// one that expired a minute ago (written as UTC) is refused. It swaps
// time.Local, so it is not parallel (parallel tests wait for it).
func TestE2EExpiryFarFromUTC(t *testing.T) {
	west, err := time.LoadLocation("Etc/GMT+12")
	if err != nil {
		t.Skip("no tzdata:", err)
	}
	echo := labtest.Echo(t)
	s := labtest.New(t, lab.Options{Targets: []target.Target{echo.Target}})
	h, root, sync := labTree(t, s)
	h.Now = time.Now
	h.SshdVersion = sshdVersion(t)
	saved := time.Local
	time.Local = west
	t.Cleanup(func() { time.Local = saved })

	hour, past := signer(t), signer(t)
	exp, err := keyline.ParseExpires("1h", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for k, e := range map[ssh.Signer]time.Time{hour: exp, past: time.Now().Add(-time.Minute)} {
		if _, err := h.AddKey(ctx, AddKeyRequest{User: s.User, Key: FromSigner(k, "k-"+e.Format("150405")), Expiry: e}); err != nil {
			t.Fatal(err)
		}
	}
	sync()
	data, _ := os.ReadFile(root.Path("/home/lab/.ssh/authorized_keys"))
	if keyline.TakesUTC(h.SshdVersion) && strings.Count(string(data), `Z"`) != 2 {
		t.Fatalf("expiry-time not in UTC:\n%s", data)
	}
	if err := login(s, hour, echo); err != nil {
		t.Fatalf("key added with --expires 1h at UTC-12 does not log in: %v\n%s", err, data)
	}
	if err := login(s, past, echo); err == nil {
		t.Errorf("sshd accepted a key that expired a minute ago\n%s", data)
	}
}

// sshdVersion is what the real sshd -V prints.
func sshdVersion(t *testing.T) string {
	out, _ := exec.Command(testenv.Sshd(t), "-V").CombinedOutput()
	return string(out)
}

// TestE2EKeyOnTwoLines is issue 12 item 2 against the real sshd: the
// guide's line pasted twice, then add-key --from 10.9.9.9. The old code
// restricted line 1 only and sshd let the key in from 127.0.0.1 through
// line 2.
func TestE2EKeyOnTwoLines(t *testing.T) {
	t.Parallel()
	echo := labtest.Echo(t)
	s := labtest.New(t, lab.Options{Targets: []target.Target{echo.Target}})
	h, root, sync := labTree(t, s)
	k := signer(t)
	ctx := context.Background()
	if _, err := h.AddKey(ctx, AddKeyRequest{User: s.User, Key: FromSigner(k, "friend")}); err != nil {
		t.Fatal(err)
	}
	p := root.Path("/home/lab/.ssh/authorized_keys")
	data, _ := os.ReadFile(p)
	os.WriteFile(p, append(data, data...), 0o600)
	sync()
	if err := login(s, k, echo); err != nil {
		t.Fatalf("before: %v", err)
	}
	res, err := h.AddKey(ctx, AddKeyRequest{User: s.User, Key: FromSigner(k, "friend"), From: []string{"10.9.9.9"}})
	if err != nil || res.Collapsed != 1 {
		t.Fatalf("add-key --from: %+v %v", res, err)
	}
	sync()
	if err := login(s, k, echo); err == nil {
		data, _ := os.ReadFile(p)
		t.Fatalf("sshd accepted the key from 127.0.0.1 after add-key --from 10.9.9.9:\n%s", data)
	}
}

func acctHome(t *testing.T, name string) string {
	t.Helper()
	out, err := exec.Command("getent", "passwd", name).Output()
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Split(strings.TrimSpace(string(out)), ":")
	if len(f) < 7 {
		t.Fatalf("getent: %s", out)
	}
	return f[5]
}

// TestE2ERetargetAgainstRealSshd: a key installed for one target follows a
// change of the Match block (Retarget, apply's second half) and the real
// sshd lets it reach the new target and no longer the old one. A line
// pfwdctl did not write for the old targets stays byte-for-byte.
func TestE2ERetargetAgainstRealSshd(t *testing.T) {
	t.Parallel()
	oldEcho, newEcho := labtest.Echo(t), labtest.Echo(t)
	before := labtest.New(t, lab.Options{Targets: []target.Target{oldEcho.Target}})
	after := labtest.New(t, lab.Options{Targets: []target.Target{newEcho.Target}})
	h, root, sync := labTree(t, before)
	ctx := context.Background()
	key := signer(t)
	if _, err := h.AddKey(ctx, AddKeyRequest{User: before.User, Key: FromSigner(key, "friend"), Expiry: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	sync()
	if err := login(before, key, oldEcho); err != nil {
		t.Fatalf("before: %v", err)
	}
	// A hand-written line for another target set is not pfwdctl's to move.
	other := signer(t)
	path := root.Path("/home/lab/.ssh/authorized_keys")
	data, _ := os.ReadFile(path)
	hand := `restrict,port-forwarding,permitopen="127.0.0.1:1" ` + FromSigner(other, "hand").Type() + " " + FromSigner(other, "hand").Base64() + " hand"
	os.WriteFile(path, append(data, []byte(hand+"\n")...), 0o600)

	h.NoLock = true
	res, err := h.Retarget(ctx, before.User, []string{oldEcho.Target.String()}, []string{newEcho.Target.String()}, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Changed) != 1 || len(res.Kept) != 1 || res.Undo == nil {
		t.Fatalf("changed %v kept %v", res.Changed, res.Kept)
	}
	data, _ = os.ReadFile(path)
	if !strings.Contains(string(data), "\n"+hand+"\n") || !strings.Contains(string(data), "expiry-time=") {
		t.Fatalf("other options or lines changed:\n%s", data)
	}
	if err := after.SetAuthorizedKeys(data); err != nil {
		t.Fatal(err)
	}
	if err := login(after, key, newEcho); err != nil {
		t.Errorf("the key does not reach the new target: %v", err)
	}
	if err := login(after, key, oldEcho); err == nil {
		t.Error("the key still reaches the old target")
	}
	// Undo puts the file back byte-for-byte.
	if err := res.Undo(); err != nil {
		t.Fatal(err)
	}
	if now, _ := os.ReadFile(path); !strings.Contains(string(now), `permitopen="`+oldEcho.Target.String()+`"`) {
		t.Errorf("undo did not restore the keys:\n%s", now)
	}
}
