package sk

import (
	"crypto/rand"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
)

// x/crypto's own verifier of sk-ssh-ed25519 signatures accepts what the
// software authenticator signs, and refuses it without the presence bit.
func TestSignaturesVerifyLikeAToken(t *testing.T) {
	for _, tc := range []struct {
		name  string
		flags byte
		ok    bool
	}{
		{"good_presence", UserPresence, true},
		{"good_presence_and_verification", UserPresence | UserVerification, true},
		{"fail_no_presence", 0, false},
		{"fail_verification_only", UserVerification, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := New("", tc.flags)
			if err != nil {
				t.Fatal(err)
			}
			if got := a.PublicKey().Type(); got != ssh.KeyAlgoSKED25519 {
				t.Fatalf("key type %s", got)
			}
			data := []byte("session data")
			sig, err := a.Sign(rand.Reader, data)
			if err != nil {
				t.Fatal(err)
			}
			if len(sig.Rest) != 5 || sig.Rest[0] != tc.flags {
				t.Fatalf("rest %x", sig.Rest)
			}
			err = a.PublicKey().Verify(data, sig)
			if (err == nil) != tc.ok {
				t.Fatalf("verify: %v, want ok=%v", err, tc.ok)
			}
			if tc.ok {
				if err := a.PublicKey().Verify([]byte("other data"), sig); err == nil {
					t.Fatal("the signature verified over other data")
				}
			}
		})
	}
}

func TestCounterGoesUpAndApplicationIsInTheKey(t *testing.T) {
	a, err := New("ssh:pfwdctl", UserPresence)
	if err != nil {
		t.Fatal(err)
	}
	s1, _ := a.Sign(nil, []byte("a"))
	s2, _ := a.Sign(nil, []byte("a"))
	if string(s1.Rest[1:]) == string(s2.Rest[1:]) {
		t.Fatal("the counter did not change")
	}
	if !strings.Contains(string(a.PublicKey().Marshal()), "ssh:pfwdctl") {
		t.Fatal("the application is not in the key blob")
	}
	a.SetFlags(0)
	s3, _ := a.Sign(nil, []byte("a"))
	if a.PublicKey().Verify([]byte("a"), s3) == nil {
		t.Fatal("SetFlags(0) still signed with presence")
	}
}
