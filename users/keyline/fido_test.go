package keyline

import (
	"crypto/ecdh"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/pfwdctl/pfwdctl/internal/sk"
)

func TestApplicationOfHardwareKeys(t *testing.T) {
	a, err := sk.New("ssh:tunnel", sk.UserPresence)
	if err != nil {
		t.Fatal(err)
	}
	if app, ok := Application(a.PublicKey()); !ok || app != "ssh:tunnel" {
		t.Fatalf("good_ed25519_sk: %q %v", app, ok)
	}
	k, _, err := ParsePublic([]byte(ecdsaSKLine(t) + " friend"))
	if err != nil {
		t.Fatal(err)
	}
	if app, ok := Application(k.Pub); !ok || app != "ssh:" {
		t.Fatalf("good_ecdsa_sk: %q %v", app, ok)
	}
	if !IsHardware(k.Type()) || !IsHardware(ssh.CertAlgoSKED25519v01) || IsHardware(ssh.KeyAlgoED25519) {
		t.Fatal("IsHardware")
	}
	plain, _, _ := ParsePublic([]byte(strings.TrimSpace(string(ssh.MarshalAuthorizedKey(plainKey(t))))))
	if _, ok := Application(plain.Pub); ok {
		t.Fatal("nomatch_plain: a plain key has an application")
	}
}

// verify-required and no-touch-required come after the restriction
// prefix, which stays as it always was, and only on FIDO keys.
func TestBuildHardwareOptions(t *testing.T) {
	a, _ := sk.New("", sk.UserPresence)
	hw := FromPublicKey(a.PublicKey(), "yubi")
	o := Options{Targets: []string{"127.0.0.1:8009"}}
	line, err := Build(hw, o)
	if err != nil || !strings.HasPrefix(line, `restrict,port-forwarding,permitopen="127.0.0.1:8009" sk-ssh-ed25519@openssh.com `) {
		t.Fatalf("good_plain_prefix: %q %v", line, err)
	}
	o.VerifyRequired = true
	line, err = Build(hw, o)
	if err != nil || !strings.HasPrefix(line, `restrict,port-forwarding,permitopen="127.0.0.1:8009",verify-required sk-ssh-ed25519@openssh.com `) {
		t.Fatalf("good_verify_required: %q %v", line, err)
	}
	v := Judge(line, Match{Targets: o.Targets}, time.Time{})
	if !v.VerifyRequired || !v.Restricted() || len(v.Problems) != 0 {
		t.Fatalf("Judge: %+v", v)
	}
	o.VerifyRequired, o.NoTouchRequired = false, true
	if line, err = Build(hw, o); err != nil || !strings.Contains(line, `",no-touch-required sk-`) {
		t.Fatalf("good_no_touch: %q %v", line, err)
	}
	plain := FromPublicKey(plainKey(t), "plain")
	for _, o := range []Options{{Targets: o.Targets, VerifyRequired: true}, {Targets: o.Targets, NoTouchRequired: true}} {
		if _, err := Build(plain, o); err == nil || !strings.Contains(err.Error(), "hardware-backed") {
			t.Errorf("fail_plain_key_with_fido_option: %v", err)
		}
	}
}

// ecdsaSKLine is an sk-ecdsa-sha2-nistp256 public key as ssh-keygen -t
// ecdsa-sk writes it (type, curve, point, application "ssh:").
func ecdsaSKLine(t *testing.T) string {
	t.Helper()
	k, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	blob := ssh.Marshal(struct {
		Type, Curve string
		Key         []byte
		Application string
	}{ssh.KeyAlgoSKECDSA256, "nistp256", k.PublicKey().Bytes(), "ssh:"})
	return ssh.KeyAlgoSKECDSA256 + " " + base64.StdEncoding.EncodeToString(blob)
}

func plainKey(t *testing.T) ssh.PublicKey {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// In an account that takes hardware-backed keys only, Judge flags a plain
// key (a warning: sshd refuses it) and nothing about a FIDO key.
func TestJudgePlainKeyInHardwareAccount(t *testing.T) {
	a, _ := sk.New("", sk.UserPresence)
	m := Match{Targets: []string{"127.0.0.1:8009"}, HardwareOnly: true}
	for _, tc := range []struct {
		name string
		pub  ssh.PublicKey
		want bool
	}{{"fail_plain", plainKey(t), true}, {"good_fido", a.PublicKey(), false}} {
		line, err := Build(FromPublicKey(tc.pub, "k"), Options{Targets: m.Targets})
		if err != nil {
			t.Fatal(err)
		}
		v := Judge(line, m, time.Time{})
		if v.Has(ProblemNotHardware) != tc.want || !v.Restricted() {
			t.Errorf("%s: %+v", tc.name, v.Problems)
		}
		if v := Judge(line, Match{Targets: m.Targets}, time.Time{}); v.Has(ProblemNotHardware) {
			t.Errorf("%s: flagged without the policy", tc.name)
		}
	}
}
