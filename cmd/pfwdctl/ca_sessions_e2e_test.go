package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/pfwdctl/pfwdctl/internal/ca"
	"github.com/pfwdctl/pfwdctl/internal/run"
	"github.com/pfwdctl/pfwdctl/internal/target"
	"github.com/pfwdctl/pfwdctl/render"
	"github.com/pfwdctl/pfwdctl/users"
	"github.com/pfwdctl/pfwdctl/users/keyline"
	"github.com/pfwdctl/pfwdctl/verify/lab"
	"github.com/pfwdctl/pfwdctl/verify/lab/labtest"
)

// Revoking a certificate ends the tunnels opened with it, and only those:
// two friends tunnel with certificates against the real sshd (a real
// useradd account, the CA files at their host paths for that unique
// account), sessions names each by its certificate, ca revoke --serial
// --kill-sessions ends bob's tunnel and keeps ann's moving data, bob's
// certificate is refused from then on, and a revocation without
// --kill-sessions says that an open session may have used it.
func TestE2ECaRevokeEndsTheCertificatesTunnels(t *testing.T) {
	name := e2eAccount(t, "pfc")
	files := []string{ca.TrustedCAPath(name), ca.PrincipalsPath(name), ca.KRLPath(name)}
	t.Cleanup(func() {
		for _, f := range files {
			os.Remove(f)
		}
	})
	for _, f := range files {
		if _, err := os.Lstat(f); err == nil {
			t.Fatalf("%s exists before the test", f)
		}
	}
	echo := labtest.Echo(t)
	// The CA setup apply --ca installs, for this account only.
	_, caPriv, _ := ed25519.GenerateKey(rand.Reader)
	caSigner, _ := ssh.NewSignerFromKey(caPriv)
	if err := os.WriteFile(files[0], ssh.MarshalAuthorizedKey(caSigner.PublicKey()), 0o644); err != nil {
		t.Fatal(err)
	}
	prefix, _ := keyline.Prefix(keyline.Options{Targets: []string{echo.Target.String()}})
	os.WriteFile(files[1], []byte(prefix+" "+name+"\n"), 0o644)
	if err := ca.NewKRL(context.Background(), run.Exec{}, files[2]); err != nil {
		t.Fatal(err)
	}
	logPath, logW := labtest.LogFile(t)
	s := labtest.New(t, lab.Options{User: name, Targets: []target.Target{echo.Target}, Log: logW,
		Edit: lab.ReplaceLine("", "X11Forwarding", "X11Forwarding no\n"+
			"    TrustedUserCAKeys "+files[0]+"\n"+
			"    AuthorizedPrincipalsFile "+files[1]+"\n"+
			"    RevokedKeys "+files[2])})
	certFor := func(id string, serial uint64) ssh.Signer {
		key := labtest.Signer(t)
		now := time.Now()
		cert, err := ca.Sign(caSigner, key.PublicKey(), ca.SignRequest{Principal: name, KeyID: id, Serial: serial,
			ValidAfter: now.Add(-time.Minute), ValidBefore: now.Add(time.Hour), ForceCommand: render.DefaultNologin})
		if err != nil {
			t.Fatal(err)
		}
		cs, err := ssh.NewCertSigner(cert, key)
		if err != nil {
			t.Fatal(err)
		}
		return cs
	}
	bob, ann := certFor("bob", 1), certFor("ann", 2)
	bobC, _ := labtest.Tunnel(t, s, bob, echo)
	_, annPing := labtest.Tunnel(t, s, ann, echo)

	audit := filepath.Join(t.TempDir(), "audit.jsonl")
	cli := func(want int, args ...string) string {
		t.Helper()
		env, out, errb := testEnv()
		env.AuditLog = audit
		if code := Main(append(args, "--user", name), env); code != want {
			t.Fatalf("%v: exit %d, want %d: %s%s", args, code, want, out, errb)
		}
		return out.String()
	}
	// sessions names both tunnels by their certificates.
	var rows []struct {
		Key        string
		CertSerial uint64 `json:"cert_serial"`
	}
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		rows = nil
		json.Unmarshal([]byte(cli(0, "sessions", "--log", logPath, "--sshd-config", s.ConfigFile, "--json")), &rows)
		if len(rows) == 2 && rows[0].CertSerial != 0 && rows[1].CertSerial != 0 {
			break
		}
	}
	if len(rows) != 2 || rows[0].Key+rows[1].Key != "bobann" && rows[0].Key+rows[1].Key != "annbob" {
		t.Fatalf("sessions does not name the certificates: %+v", rows)
	}
	if out := cli(0, "sessions", "--log", logPath, "--sshd-config", s.ConfigFile); !strings.Contains(out, "bob (certificate, serial 1)") {
		t.Errorf("sessions table:\n%s", out)
	}

	// Asked about the host's own sshd_config, which never names this
	// account's KRL, the revocation is written but not claimed: the
	// certificate would still log in there.
	if code := Main([]string{"ca", "revoke", "--serial", "1", "--user", name}, testEnvWithAudit(audit)); code != 1 {
		t.Errorf("ca revoke claimed a revocation the host's sshd does not check: exit %d", code)
	}
	out := cli(0, "ca", "revoke", "--serial", "1", "--kill-sessions", "--log", logPath, "--sshd-config", s.ConfigFile)
	if !strings.Contains(out, "ended 1 open session(s)") || !strings.Contains(out, "1 other session(s)") {
		t.Errorf("ca revoke --kill-sessions:\n%s", out)
	}
	done := make(chan error, 1)
	go func() { done <- bobC.Wait() }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("bob's tunnel is still up after ca revoke --kill-sessions")
	}
	if err := annPing(); err != nil {
		t.Fatalf("ann's tunnel was ended too: %v", err)
	}
	if err := labtest.Login(s, bob, echo); err == nil {
		t.Error("bob's revoked certificate logged in again")
	}
	data, _ := os.ReadFile(audit)
	if !strings.Contains(string(data), `"action":"session-kill"`) || !strings.Contains(string(data), `certificate \"bob\" serial 1 (ca revoke serial=1)`) {
		t.Errorf("the revocation and the kill are not in the audit log:\n%s", data)
	}
	// Without --kill-sessions ann's tunnel stays, and revoke says so.
	if out := cli(0, "ca", "revoke", "--serial", "2", "--log", logPath, "--sshd-config", s.ConfigFile); !strings.Contains(out, "1 open session(s) may have used it") {
		t.Errorf("ca revoke without --kill-sessions:\n%s", out)
	}
	if err := annPing(); err != nil {
		t.Fatalf("ca revoke without --kill-sessions ended ann's tunnel: %v", err)
	}
	// A certificate another CA signed is refused: its serial in this KRL
	// would be someone else's.
	_, otherCA, _ := ed25519.GenerateKey(rand.Reader)
	otherSigner, _ := ssh.NewSignerFromKey(otherCA)
	foreign, _ := ca.Sign(otherSigner, labtest.Signer(t).PublicKey(), ca.SignRequest{Principal: name, KeyID: "ann", Serial: 2,
		ValidAfter: time.Now().Add(-time.Minute), ValidBefore: time.Now().Add(time.Hour), ForceCommand: render.DefaultNologin})
	foreignFile := filepath.Join(t.TempDir(), "foreign-cert.pub")
	os.WriteFile(foreignFile, ca.Marshal(foreign), 0o644)
	krlBefore, _ := os.ReadFile(files[2])
	env, _, errb := testEnv()
	env.AuditLog = audit
	if code := Main([]string{"ca", "revoke", foreignFile, "--user", name}, env); code != 2 || !strings.Contains(errb.String(), "was signed by the CA") {
		t.Errorf("revoking another CA's certificate: exit %d %s", code, errb)
	}
	if now, _ := os.ReadFile(files[2]); string(now) != string(krlBefore) {
		t.Error("the refused revocation changed the KRL")
	}
	// --kill-sessions under --root is refused before anything is written.
	tree := t.TempDir()
	env, _, errb = testEnv()
	if code := Main([]string{"--root", tree, "ca", "revoke", "--serial", "3", "--kill-sessions", "--user", name}, env); code != 2 || !strings.Contains(errb.String(), "--root names a tree") {
		t.Errorf("--kill-sessions under --root: exit %d %s", code, errb)
	}
}

// Which open sessions ca revoke --kill-sessions ends: only those whose
// login the log ties to a revoked certificate of the account's CA, and
// those it cannot tie to anything.
func TestCaRevokedPicksOnlyTheRevoked(t *testing.T) {
	const ours, theirs = "SHA256:ours", "SHA256:theirs"
	sess := map[string]users.Session{
		"unknown":          {PID: 1},
		"plain-key":        {PID: 2, Fingerprint: "SHA256:k"},
		"bob-1":            {PID: 3, Fingerprint: "SHA256:b", CertID: "bob", CertSerial: 1, CertCA: ours},
		"bob-2":            {PID: 4, Fingerprint: "SHA256:b", CertID: "bob", CertSerial: 2, CertCA: ours},
		"ann-3":            {PID: 5, Fingerprint: "SHA256:a", CertID: "ann", CertSerial: 3, CertCA: ours},
		"self-throwaway-1": {PID: 6, Fingerprint: "SHA256:s", CertID: "pfwdctl-verify-self", CertSerial: 1, CertCA: theirs},
		"odd-id-9":         {PID: 7, Fingerprint: "SHA256:o", CertID: `x\\040(serial 1)`, CertSerial: 9, CertCA: ours},
	}
	for _, tc := range []struct {
		name   string
		rev    ca.Revocation
		certID string
		want   []string
	}{
		{"serial 1", ca.Revocation{Serial: 1}, "", []string{"unknown", "bob-1", "odd-id-9"}},
		{"id bob", ca.Revocation{ID: "bob"}, "", []string{"unknown", "bob-1", "bob-2", "odd-id-9"}},
		{"file without serial, id ann", ca.Revocation{Cert: "ann-cert.pub"}, "ann", []string{"unknown", "ann-3", "odd-id-9"}},
	} {
		pick := caRevoked(tc.rev, tc.certID, ours)
		var got []string
		for _, name := range []string{"unknown", "plain-key", "bob-1", "bob-2", "ann-3", "self-throwaway-1", "odd-id-9"} {
			if pick(sess[name]) {
				got = append(got, name)
			}
		}
		if strings.Join(got, " ") != strings.Join(tc.want, " ") {
			t.Errorf("%s: ends %v, want %v", tc.name, got, tc.want)
		}
	}
}

func testEnvWithAudit(path string) *Env {
	env, _, _ := testEnv()
	env.AuditLog = path
	return env
}
