package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"maps"
	"os"
	osexec "os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/pfwdctl/pfwdctl/internal/accounts"
	"github.com/pfwdctl/pfwdctl/internal/ca"
	"github.com/pfwdctl/pfwdctl/internal/hostfs"
	"github.com/pfwdctl/pfwdctl/internal/run"
	"github.com/pfwdctl/pfwdctl/internal/sk"
	"github.com/pfwdctl/pfwdctl/internal/sshd"
	"github.com/pfwdctl/pfwdctl/internal/target"
	"github.com/pfwdctl/pfwdctl/internal/testenv"
	"github.com/pfwdctl/pfwdctl/render"
	"github.com/pfwdctl/pfwdctl/render/rendertest"
	"github.com/pfwdctl/pfwdctl/users"
	"github.com/pfwdctl/pfwdctl/users/keyline"
	"github.com/pfwdctl/pfwdctl/verify/audit"
	"github.com/pfwdctl/pfwdctl/verify/lab"
	"github.com/pfwdctl/pfwdctl/verify/lab/labtest"
)

// compatKnown are the steps known not to work on a release yet (issue 14
// says why). The suite fails when one of them starts to work, so this
// table only shrinks: each entry is a promise to fix, not a pass. Empty
// since the managed-block install mode: 8.0 (no Include) and 8.2 (a Match
// block in an included file ignored) pass every step with it.
var compatKnown = map[string]map[string]string{}

// TestCompat is the OpenSSH release suite (make test-compat): for every
// release built from ../shared/openssh and the system's sshd, what an
// admin does on a host running it: apply under --root with that sshd
// (sshd -t), the Match block in effect for the account (sshd -T -C),
// audit passing, the lab passing every verify check, a key written by
// add-key with an expiry accepted (and an expired one refused), and
// revoke --kill-sessions finding the session processes (sshd-session on
// 9.8 and later). One line per release and step goes to the log.
func TestCompat(t *testing.T) {
	releases := testenv.Releases(t)
	var summary []string
	for _, r := range releases {
		t.Run(r.Name, func(t *testing.T) {
			version := sshdVersion(t, r.Sshd)
			steps := []struct {
				name string
				run  func(t *testing.T) error
			}{
				{"apply", func(t *testing.T) error { return compatApply(t, r.Sshd, false) }},
				{"crypto", func(t *testing.T) error { return compatApply(t, r.Sshd, true) }},
				{"keys", func(t *testing.T) error { return compatKeys(t, r.Sshd) }},
				{"lab", func(t *testing.T) error { return compatLab(r.Sshd) }},
				{"expiry", func(t *testing.T) error { return compatExpiry(t, r.Sshd, version) }},
				{"sessions", func(t *testing.T) error { return compatSessions(t, r.Sshd) }},
				{"algorithms", func(t *testing.T) error { return compatAlgorithms(t, r.Sshd) }},
				{"ca", func(t *testing.T) error { return compatCA(t, r.Sshd) }},
				{"fido", func(t *testing.T) error { return compatFido(t, r.Sshd) }},
			}
			for _, st := range steps {
				err := st.run(t)
				known, isKnown := compatKnown[r.Name][st.name]
				line := fmt.Sprintf("%-8s %-9s ", r.Name, st.name)
				switch {
				case err == nil && isKnown:
					t.Errorf("%s on %s works now: remove it from compatKnown (%s)", st.name, r.Name, known)
					line += "works (listed as known gap)"
				case err == nil:
					line += "ok"
				case isKnown:
					line += "known gap: " + known
				default:
					t.Errorf("%s on %s (%s): %v", st.name, r.Name, version, err)
					line += "FAIL: " + oneLine(err.Error())
				}
				summary = append(summary, line)
			}
		})
	}
	t.Logf("OpenSSH releases:\n%s", strings.Join(summary, "\n"))
	fmt.Fprintf(os.Stderr, "compat: %s\n", strings.Join(summary, "\ncompat: "))
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 160 {
		s = s[:160] + "…"
	}
	return s
}

func sshdVersion(t *testing.T, bin string) string {
	t.Helper()
	v, err := sshd.Binary{Bin: bin, Runner: run.Exec{}}.Version(context.Background())
	if err != nil {
		t.Fatalf("%s -V: %v", bin, err)
	}
	return "OpenSSH_" + v.String()
}

// compatApply: apply (with --crypto when crypto) with this sshd into a
// Debian-like tree passes its own sshd -t, the account gets exactly the
// Match block (sshd -T -C), and audit passes.
//
// Where drop-ins cannot work (sshd.Probe: no Include, or a Match block in
// an included file ignored), apply must choose the managed-block mode by
// itself, say so, write no drop-in, and the same checks must hold. A
// release without Include gets RHEL 8's kind of main config (no Include
// line: its sshd would refuse one).
func compatApply(t *testing.T, bin string, crypto bool) error {
	root := compatTree(t, bin)
	env, out, errb := testEnv()
	args := []string{"--root", root.Dir(), "apply", "--sshd", bin, "--no-reload"}
	if crypto {
		args = append(args, "--crypto")
	}
	caps, err := (sshd.Binary{Bin: bin, Runner: run.Exec{}}).Probe(context.Background())
	if err != nil {
		return fmt.Errorf("probe: %v", err)
	}
	if code := Main(args, env); code != 0 {
		return fmt.Errorf("apply: exit %d: %s%s", code, out, errb)
	}
	wantMode := render.ModeDropIns
	if caps.Why() != "" {
		wantMode = render.ModeManaged
	}
	if !strings.Contains(out.String(), "install mode: "+string(wantMode)+" (") {
		return fmt.Errorf("apply does not say it used %s: %s", wantMode, out)
	}
	if _, err := os.Stat(root.Path("/etc/ssh/sshd_config.d/10-hardening.conf")); (err == nil) != (wantMode == render.ModeDropIns) {
		return fmt.Errorf("install mode %s, yet the baseline drop-in exists: %v", wantMode, err == nil)
	}
	b := sshd.Binary{Bin: bin, Runner: run.Exec{}, Root: root, Config: sshd.DefaultConfig}
	eff, err := b.Effective(context.Background(), sshd.ConnSpec("pfwd"))
	if err != nil {
		return fmt.Errorf("sshd -T -C user=pfwd: %v", err)
	}
	for kw, want := range map[string]string{"permitopen": render.DefaultTarget, "allowtcpforwarding": "local", "permittty": "no"} {
		if got := eff[kw]; len(got) == 0 || got[0] != want {
			return fmt.Errorf("sshd -T -C user=pfwd: %s %v, want %s (the Match block is not in effect)", kw, got, want)
		}
	}
	env, out, errb = testEnv()
	if code := Main([]string{"--root", root.Dir(), "audit", "--sshd", bin}, env); code != 0 {
		return fmt.Errorf("audit after apply: exit %d: %s%s", code, out, errb)
	}
	return nil
}

// compatTree is a Debian-like tree for this sshd: a release without
// Include gets RHEL 8's kind of main config (no Include line: its sshd
// would refuse one).
func compatTree(t *testing.T, bin string) hostfs.Root {
	root := rendertest.New(t, rendertest.Tree{})
	caps, err := (sshd.Binary{Bin: bin, Runner: run.Exec{}}).Probe(context.Background())
	if err != nil {
		t.Fatalf("probe: %v", err)
	}
	if !caps.Include {
		main := root.Path(sshd.DefaultConfig)
		data, _ := os.ReadFile(main)
		var keep []string
		for _, l := range strings.SplitAfter(string(data), "\n") {
			if !strings.HasPrefix(l, "Include ") {
				keep = append(keep, l)
			}
		}
		os.WriteFile(main, []byte(strings.Join(keep, "")), 0o644)
	}
	return root
}

// compatKeys: add-key, list-keys and revoke act on the files this sshd
// reads the account's keys from, as its own sshd -T -C says (issue 12
// item 1): a root-owned AuthorizedKeysFile outside the home is written
// root's 0644, and a copy in authorized_keys2 is listed and revoked. The
// tree's main config has no Include, so every release can be asked.
func compatKeys(t *testing.T, bin string) error {
	root := rendertest.New(t, rendertest.Tree{})
	cfg := root.Path("/etc/ssh/sshd_config")
	exec := func(want int, args ...string) (string, error) {
		env, out, errb := testEnv()
		if code := Main(append([]string{"--root", root.Dir()}, args...), env); code != want {
			return "", fmt.Errorf("%v: exit %d, want %d: %s%s", args, code, want, out, errb)
		}
		return out.String(), nil
	}
	line := agreeKey(t, "compat")
	pub := filepath.Join(t.TempDir(), "friend.pub")
	os.WriteFile(pub, []byte(line+"\n"), 0o644)

	os.WriteFile(cfg, []byte("AuthorizedKeysFile /etc/ssh/keys/%u\n"), 0o644)
	if _, err := exec(0, "add-key", "--sshd", bin, "--target", "127.0.0.1:8009", pub); err != nil {
		return err
	}
	fi, err := os.Stat(root.Path("/etc/ssh/keys/pfwd"))
	if err != nil || fi.Mode() != 0o644 {
		return fmt.Errorf("the file sshd -T names: %v %v", fi, err)
	}
	if _, err := os.Stat(root.Path("/home/pfwd/.ssh/authorized_keys")); err == nil {
		return fmt.Errorf("add-key also wrote ~/.ssh/authorized_keys, which this sshd does not read")
	}

	os.WriteFile(cfg, []byte("AuthorizedKeysFile .ssh/authorized_keys .ssh/authorized_keys2\n"), 0o644)
	os.MkdirAll(root.Path("/home/pfwd/.ssh"), 0o700)
	keys2 := root.Path("/home/pfwd/.ssh/authorized_keys2")
	os.WriteFile(keys2, []byte(line+"\n"), 0o600)
	if out, err := exec(1, "list-keys", "--sshd", bin); err != nil {
		return err
	} else if !strings.Contains(out, "authorized_keys2") {
		return fmt.Errorf("list-keys misses the copy in authorized_keys2: %s", out)
	}
	if _, err := exec(0, "revoke", "--sshd", bin, "compat"); err != nil {
		return err
	}
	if data, _ := os.ReadFile(keys2); strings.Contains(string(data), "ssh-") {
		return fmt.Errorf("revoke left the copy in authorized_keys2")
	}
	return nil
}

// compatLab: pfwdctl lab --sshd passes every verify check.
func compatLab(bin string) error {
	env, out, errb := testEnv()
	if code := Main([]string{"lab", "--sshd", bin}, env); code != 0 {
		return fmt.Errorf("lab --sshd: exit %d: %s%s", code, lastLines(out.String(), 4), errb)
	}
	return nil
}

func lastLines(s string, n int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, "\n")
}

// compatExpiry: a key line as add-key writes it for this sshd (UTC with Z
// where it reads that, its own zone otherwise) logs in until its expiry,
// and one already expired is refused.
func compatExpiry(t *testing.T, bin, version string) error {
	echo := labtest.Echo(t)
	var zone *time.Location
	if !keyline.TakesUTC(version) {
		zone = sshd.Zone(hostfs.Root{})
	}
	for _, c := range []struct {
		in   time.Duration
		want bool
	}{{2 * time.Hour, true}, {-2 * time.Minute, false}} {
		signer := newSigner(t)
		k := users.FromSigner(signer, "compat")
		line, err := keyline.Build(k, keyline.Options{Targets: []string{echo.Target.String()}, Expiry: time.Now().Add(c.in), Zone: zone})
		if err != nil {
			return err
		}
		s, err := lab.Start(context.Background(), lab.Options{Sshd: bin, Targets: []target.Target{echo.Target}, AuthorizedKeys: []byte(line + "\n")})
		if err != nil {
			return fmt.Errorf("start the lab: %v", err)
		}
		err = tunnel(s, signer, echo)
		s.Close()
		if c.want && err != nil {
			return fmt.Errorf("a key valid for %v more is refused (%s): %v", c.in, line, err)
		}
		if !c.want && err == nil {
			return fmt.Errorf("a key that expired %v ago logs in (%s)", -c.in, line)
		}
	}
	return nil
}

// compatSessions: as root, the lab restricts the account nobody; a tunnel
// open through this sshd is found as a session of the account and ended
// by the same code revoke --kill-sessions runs.
func compatSessions(t *testing.T, bin string) error {
	if os.Geteuid() != 0 {
		return nil // the lab then runs as the user itself: nothing to find
	}
	echo := labtest.Echo(t)
	signer := newSigner(t)
	k := users.FromSigner(signer, "compat")
	line, _ := keyline.Build(k, keyline.Options{Targets: []string{echo.Target.String()}})
	s, err := lab.Start(context.Background(), lab.Options{Sshd: bin, Targets: []target.Target{echo.Target}, AuthorizedKeys: []byte(line + "\n")})
	if err != nil {
		return fmt.Errorf("start the lab: %v", err)
	}
	defer s.Close()
	acct, err := accounts.Lookup(hostfs.Root{}, s.User)
	if err != nil {
		return err
	}
	finder := users.ProcSessions{}
	before, _ := finder.Find(context.Background(), acct)
	cfg := s.ClientConfig()
	cfg.Auth = []ssh.AuthMethod{ssh.PublicKeys(signer)}
	c, err := ssh.Dial("tcp", s.Addr, cfg)
	if err != nil {
		return err
	}
	defer c.Close()
	done := make(chan error, 1)
	go func() { done <- c.Wait() }()
	var mine []users.Session
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline) && len(mine) == 0; time.Sleep(20 * time.Millisecond) {
		now, _ := finder.Find(context.Background(), acct)
		for _, x := range now {
			if !slices.ContainsFunc(before, func(b users.Session) bool { return b.PID == x.PID }) {
				mine = append(mine, x)
			}
		}
	}
	if len(mine) == 0 {
		return fmt.Errorf("the open tunnel's session process is not found among %s's processes", s.User)
	}
	for _, x := range mine {
		if err := finder.Kill(context.Background(), x); err != nil {
			return fmt.Errorf("end session %d (%s): %v", x.PID, x.Command, err)
		}
	}
	select {
	case <-done:
		return nil
	case <-time.After(10 * time.Second):
		return fmt.Errorf("the tunnel survived ending its sessions %+v", mine)
	}
}

// compatAlgorithms: every algorithm this release has in effect by default
// (sshd -T of a stock config) or knows at all (its ssh -Q) is judged by
// audit for what it is, never as unknown (issue 13: aliases and names of
// every release).
func compatAlgorithms(t *testing.T, bin string) error {
	root := rendertest.New(t, rendertest.Tree{})
	os.WriteFile(root.Path(sshd.DefaultConfig), []byte("PermitRootLogin no\n"), 0o644)
	b := sshd.Binary{Bin: bin, Runner: run.Exec{}, Root: root, Config: sshd.DefaultConfig}
	eff, err := b.Effective(context.Background(), "")
	if err != nil {
		return fmt.Errorf("sshd -T: %v", err)
	}
	var names []string
	for _, kw := range []string{"kexalgorithms", "ciphers", "macs", "hostkeyalgorithms"} {
		if len(eff[kw]) == 0 {
			return fmt.Errorf("sshd -T prints no %s", kw)
		}
		names = append(names, strings.Split(eff[kw][0], ",")...)
	}
	client := filepath.Join(filepath.Dir(filepath.Dir(bin)), "bin", "ssh")
	if _, err := os.Stat(client); err != nil {
		client = "ssh"
	}
	for _, q := range []string{"kex", "cipher", "mac", "key"} {
		out, err := osexec.Command(client, "-Q", q).Output()
		if err != nil {
			return fmt.Errorf("%s -Q %s: %v", client, q, err)
		}
		names = append(names, strings.Fields(string(out))...)
	}
	var unknown []string
	for _, n := range names {
		if !audit.AlgorithmKnown(n) && !slices.Contains(unknown, n) {
			unknown = append(unknown, n)
		}
	}
	if len(unknown) > 0 {
		return fmt.Errorf("audit would call these unknown: %s", strings.Join(unknown, " "))
	}
	return nil
}

func newSigner(t *testing.T) ssh.Signer { return labtest.Signer(t) }

// tunnel logs in with key and echoes through a forward to echo.
func tunnel(s *lab.Server, key ssh.Signer, echo *lab.Echo) error { return labtest.Login(s, key, echo) }

// compatCA: the certificate path apply --ca installs works on this sshd
// (installed as apply would for it: drop-ins or managed blocks): a
// certificate ca.Sign issues tunnels, one for another principal is
// refused, and after ca.Revoke (ssh-keygen -k -u) its serial is refused.
func compatCA(t *testing.T, bin string) error {
	user, err := lab.DefaultUser()
	if err != nil {
		return err
	}
	echo := labtest.Echo(t)
	dir, err := os.MkdirTemp("", "pfwdctl-compat-ca-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	os.Chmod(dir, 0o755)
	trusted, principals, krl := filepath.Join(dir, "ca.pub"), filepath.Join(dir, "principals"), filepath.Join(dir, "revoked.krl")
	_, caKey, _ := ed25519.GenerateKey(rand.Reader)
	caSigner, _ := ssh.NewSignerFromKey(caKey)
	os.WriteFile(trusted, ssh.MarshalAuthorizedKey(caSigner.PublicKey()), 0o644)
	prefix, _ := keyline.Prefix(keyline.Options{Targets: []string{echo.Target.String()}})
	os.WriteFile(principals, []byte(prefix+" "+user+"\n"), 0o644)
	if err := ca.NewKRL(context.Background(), run.Exec{}, krl); err != nil {
		return err
	}
	s, err := lab.Start(context.Background(), lab.Options{Sshd: bin, User: user, Targets: []target.Target{echo.Target},
		Edit: lab.ReplaceLine("", "X11Forwarding", "X11Forwarding no\n"+
			"    TrustedUserCAKeys "+trusted+"\n    AuthorizedPrincipalsFile "+principals+"\n    RevokedKeys "+krl)})
	if err != nil {
		return fmt.Errorf("start the lab: %v", err)
	}
	defer s.Close()
	key := newSigner(t)
	sign := func(principal string, serial uint64) (ssh.Signer, error) {
		now := time.Now()
		cert, err := ca.Sign(caSigner, key.PublicKey(), ca.SignRequest{Principal: principal, KeyID: "compat", Serial: serial,
			ValidAfter: now.Add(-time.Minute), ValidBefore: now.Add(time.Hour), ForceCommand: render.DefaultNologin})
		if err != nil {
			return nil, err
		}
		return ssh.NewCertSigner(cert, key)
	}
	good, err := sign(user, 1)
	if err != nil {
		return err
	}
	if err := tunnel(s, good, echo); err != nil {
		return fmt.Errorf("a certificate ca sign issues does not tunnel: %v", err)
	}
	other, err := sign("someoneelse", 2)
	if err != nil {
		return err
	}
	if err := tunnel(s, other, echo); err == nil {
		return fmt.Errorf("a certificate for another principal logs in")
	}
	if err := ca.Revoke(context.Background(), run.Exec{}, krl, trusted, ca.Revocation{Serial: 1}); err != nil {
		return err
	}
	if err := tunnel(s, good, echo); err == nil {
		return fmt.Errorf("serial 1 logs in after ca revoke")
	}
	return nil
}

// compatFido: apply --hardware-keys-only, with --require-verify and
// without, on this sshd either refuses clearly and writes nothing (no FIDO
// key algorithms: 8.0; no PubkeyAuthOptions verify-required: 8.2), or
// installs a block that sshd -T -C shows in effect, audit passes, and under
// which on this sshd a FIDO key signing with a touch (and the PIN, with
// verify-required) tunnels, one without that bit is refused, and a plain
// key is refused. Refusing is checked against what the probe finds on the
// release, never assumed from its version; at least one FIDO policy must
// work from 8.2 on.
func compatFido(t *testing.T, bin string) error {
	worked := 0
	for _, verify := range []bool{true, false} {
		ok, err := compatFidoPolicy(t, bin, verify)
		if err != nil {
			return fmt.Errorf("require-verify=%v: %v", verify, err)
		}
		if ok {
			worked++
		}
	}
	if worked == 0 {
		if _, err := render.ProbeHardwareKeys(context.Background(), sshd.Binary{Bin: bin, Runner: run.Exec{}, Root: compatTree(t, bin), Config: sshd.DefaultConfig}, false, false); err == nil {
			return fmt.Errorf("no FIDO policy could be applied, though this sshd takes FIDO keys")
		}
	}
	return nil
}

// compatFidoPolicy is one policy of compatFido; false: refused as the
// probe says it must be.
func compatFidoPolicy(t *testing.T, bin string, verify bool) (bool, error) {
	root := compatTree(t, bin)
	before := rendertest.Snapshot(t, root)
	hw, probeErr := render.ProbeHardwareKeys(context.Background(), sshd.Binary{Bin: bin, Runner: run.Exec{}, Root: root, Config: sshd.DefaultConfig}, false, verify)
	args := []string{"--root", root.Dir(), "apply", "--sshd", bin, "--no-reload", "--hardware-keys-only"}
	if verify {
		args = append(args, "--require-verify")
	}
	env, out, errb := testEnv()
	code := Main(args, env)
	switch {
	case code != 0 && probeErr != nil:
		if code != 1 || !strings.Contains(errb.String(), "nothing was written") {
			return false, fmt.Errorf("apply refused with exit %d: %s", code, errb)
		}
		if !maps.Equal(rendertest.Snapshot(t, root), before) {
			return false, fmt.Errorf("apply refused but changed the tree")
		}
		t.Logf("fido: refused as expected: %s", oneLine(errb.String()))
		return false, nil
	case code != 0:
		return false, fmt.Errorf("apply: exit %d though the sshd takes the policy: %s%s", code, out, errb)
	case probeErr != nil:
		return false, fmt.Errorf("apply passed, though the probe says: %v", probeErr)
	}
	echo := labtest.Echo(t)
	bits := sk.UserPresence
	if verify {
		bits |= sk.UserVerification
	}
	tok, err := sk.New(sk.Application, bits)
	if err != nil {
		return false, err
	}
	plain := newSigner(t)
	var keys []byte
	for _, k := range []ssh.PublicKey{tok.PublicKey(), plain.PublicKey()} {
		line, err := keyline.Build(keyline.FromPublicKey(k, "compat"), keyline.Options{Targets: []string{echo.Target.String()}})
		if err != nil {
			return false, err
		}
		keys = append(keys, line+"\n"...)
	}
	kw := hw.Keyword
	if kw == "" {
		kw = render.AlgorithmsKeyword
	}
	s, err := lab.Start(context.Background(), lab.Options{Sshd: bin, Targets: []target.Target{echo.Target}, AuthorizedKeys: keys,
		Edit: lab.ReplaceLine("", "X11Forwarding", "X11Forwarding no\n"+
			"    "+kw+" "+strings.Join(hw.Algorithms, ",")+"\n    PubkeyAuthOptions "+hw.AuthOptions())})
	if err != nil {
		return false, fmt.Errorf("start the lab: %v", err)
	}
	defer s.Close()
	if err := tunnel(s, tok, echo); err != nil {
		return false, fmt.Errorf("a FIDO key signing with bits %#x does not tunnel: %v", bits, err)
	}
	tok.SetFlags(bits &^ sk.UserVerification)
	if !verify {
		tok.SetFlags(0)
	}
	if err := tunnel(s, tok, echo); err == nil {
		return false, fmt.Errorf("a FIDO signature without the bit the policy requires logs in")
	}
	if err := tunnel(s, plain, echo); err == nil {
		return false, fmt.Errorf("a plain key logs in to a hardware-keys-only account")
	}
	// What apply installed is in effect for the account, and audit
	// judges it as pfwdctl's policy on this release.
	eff, err := sshd.Binary{Bin: bin, Runner: run.Exec{}, Root: root, Config: sshd.DefaultConfig}.Effective(context.Background(), sshd.ConnSpec("pfwd"))
	if err != nil {
		return false, err
	}
	if got := strings.Join(eff["pubkeyacceptedalgorithms"], ","); got != strings.Join(hw.Algorithms, ",") {
		return false, fmt.Errorf("sshd -T -C user=pfwd: accepted algorithms %q, want %q", got, strings.Join(hw.Algorithms, ","))
	}
	env, out, errb = testEnv()
	if code := Main([]string{"--root", root.Dir(), "audit", "--sshd", bin}, env); code != 0 {
		return false, fmt.Errorf("audit after apply --hardware-keys-only: exit %d: %s%s", code, lastLines(out.String(), 6), errb)
	}
	return true, nil
}
