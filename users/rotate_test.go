package users

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/pfwdctl/pfwdctl/internal/fail"
	"github.com/pfwdctl/pfwdctl/users/keyline"
)

// rotateTree is an account with two restricted keys, one with from= and
// an expiry, in a CRLF file with a comment line: everything rotate must
// keep.
func rotateTree(t *testing.T) (Host, string, keyline.Key, keyline.Key) {
	t.Helper()
	alice, bob := newKey(t, "alice"), newKey(t, "bob")
	opts := `restrict,port-forwarding,permitopen="127.0.0.1:8009",from="10.0.0.0/8",expiry-time="20300101Z"`
	existing := "# friends\r\n" +
		opts + " " + alice.Type() + " " + alice.Base64() + "  alice laptop\r\n" +
		`restrict,port-forwarding,permitopen="127.0.0.1:8009" ` + bob.Type() + " " + bob.Base64() + " bob\n"
	h, root := tree(t, map[string]string{akPath: existing})
	os.Chmod(root.Path(akPath), 0o600)
	os.Chmod(root.Path("/home/pfwd/.ssh"), 0o700)
	return h, existing, alice, bob
}

func TestRotateKeepsEverythingButTheKey(t *testing.T) {
	h, existing, alice, _ := rotateTree(t)
	nk := newKey(t, "ignored-comment")
	res, err := h.Rotate(context.Background(), RotateRequest{User: "pfwd", Old: "alice laptop", Key: nk})
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Replace(existing, alice.Type()+" "+alice.Base64(), nk.Type()+" "+nk.Base64(), 1)
	if got := readFile(t, h.Root, akPath); got != want {
		t.Fatalf("got\n%q\nwant\n%q", got, want)
	}
	if !res.Changed || res.Name != "alice laptop" || res.OldFingerprint != alice.Fingerprint() || res.Fingerprint != nk.Fingerprint() || res.Expiry.IsZero() {
		t.Fatalf("res = %+v", res)
	}
	evs, err := ReadAudit(h)
	if err != nil {
		t.Fatal(err)
	}
	var acts []string
	for _, e := range evs {
		if e.Status == "done" || e.Status == "" {
			acts = append(acts, e.Action+" "+e.Fingerprint)
		}
	}
	if j := strings.Join(acts, "\n"); !strings.Contains(j, "key-add "+nk.Fingerprint()) || !strings.Contains(j, "key-revoke "+alice.Fingerprint()) {
		t.Errorf("audit log:\n%s", j)
	}
}

func TestRotateByFingerprintCollapsesCopies(t *testing.T) {
	h, existing, alice, _ := rotateTree(t)
	// A second copy of alice's key: it goes in the same write.
	os.WriteFile(h.Root.Path(akPath), []byte(existing+`restrict,port-forwarding,permitopen="127.0.0.1:8009" `+alice.Type()+" "+alice.Base64()+" alice2\n"), 0o600)
	nk := newKey(t, "")
	res, err := h.Rotate(context.Background(), RotateRequest{User: "pfwd", Old: strings.TrimPrefix(alice.Fingerprint(), "SHA256:"), Key: nk})
	if err != nil {
		t.Fatal(err)
	}
	got := readFile(t, h.Root, akPath)
	if res.Collapsed != 1 || strings.Contains(got, alice.Base64()) || strings.Count(got, nk.Base64()) != 1 {
		t.Fatalf("res %+v\n%s", res, got)
	}
}

func TestRotateRefuses(t *testing.T) {
	for _, tc := range []struct {
		name string
		old  func(alice, bob keyline.Key) string
		key  func(alice, bob keyline.Key) keyline.Key
		edit func(h Host, existing string)
		want string
	}{
		{"fail_same_key", func(a, _ keyline.Key) string { return "alice laptop" }, func(a, _ keyline.Key) keyline.Key { return a }, nil, "is the key"},
		{"fail_key_of_another_line", func(a, _ keyline.Key) string { return "alice laptop" }, func(_, b keyline.Key) keyline.Key { return b }, nil, "already installed"},
		{"fail_no_such_key", func(a, _ keyline.Key) string { return "carol" }, nil, nil, "no key"},
		{"fail_unrestricted", func(a, _ keyline.Key) string { return "eve" }, nil, func(h Host, existing string) {
			eve := newKey(t, "eve")
			os.WriteFile(h.Root.Path(akPath), []byte(existing+"port-forwarding "+eve.Type()+" "+eve.Base64()+" eve\n"), 0o600)
		}, "UNRESTRICTED"},
		// The account takes FIDO keys only (apply --hardware-keys-only):
		// a plain new key would lock the friend out, as add-key refuses.
		{"fail_plain_key_on_hardware_only_account", func(a, _ keyline.Key) string { return "alice laptop" }, nil, func(h Host, _ string) {
			dir := h.Root.Path("/etc/ssh/sshd_config.d")
			os.MkdirAll(dir, 0o755)
			os.WriteFile(dir+"/20-pfwd-only.conf", []byte("Match User pfwd\n    PermitOpen 127.0.0.1:8009\n    PubkeyAcceptedAlgorithms sk-ssh-ed25519@openssh.com\n    PubkeyAuthOptions touch-required\nMatch all\n"), 0o644)
		}, "hardware"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, existing, alice, bob := rotateTree(t)
			if tc.edit != nil {
				tc.edit(h, existing)
				existing = readFile(t, h.Root, akPath)
			}
			k := newKey(t, "new")
			if tc.key != nil {
				k = tc.key(alice, bob)
			}
			_, err := h.Rotate(context.Background(), RotateRequest{User: "pfwd", Old: tc.old(alice, bob), Key: k})
			var fe *fail.Error
			if err == nil || !errors.As(err, &fe) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
			if got := readFile(t, h.Root, akPath); got != existing {
				t.Errorf("the file changed:\n%q", got)
			}
		})
	}
}

func TestListExpiring(t *testing.T) {
	soon, later := newKey(t, "soon"), newKey(t, "later")
	never, gone := newKey(t, "never"), newKey(t, "gone")
	p := `restrict,port-forwarding,permitopen="127.0.0.1:8009"`
	exp := func(t time.Time) string { return `,expiry-time="` + t.UTC().Format("200601021504") + `Z" ` }
	data := p + exp(clock.Add(3*24*time.Hour)) + soon.Type() + " " + soon.Base64() + " soon\n" +
		p + exp(clock.Add(20*24*time.Hour)) + later.Type() + " " + later.Base64() + " later\n" +
		p + " " + never.Type() + " " + never.Base64() + " never\n" +
		p + exp(clock.Add(-time.Hour)) + gone.Type() + " " + gone.Base64() + " gone\n"
	h, root := tree(t, map[string]string{akPath: data})
	os.Chmod(root.Path(akPath), 0o600)
	os.Chmod(root.Path("/home/pfwd/.ssh"), 0o700)
	res, err := h.ListKeys("pfwd")
	if err != nil {
		t.Fatal(err)
	}
	var flagged []string
	for _, k := range res.Keys {
		if k.ExpiresSoon {
			flagged = append(flagged, k.Name)
		}
	}
	if strings.Join(flagged, ",") != "soon" {
		t.Errorf("expires soon: %v", flagged)
	}
	names := func(r ListResult) string {
		var out []string
		for _, k := range r.Keys {
			out = append(out, k.Name)
		}
		return strings.Join(out, ",")
	}
	if got := names(res.Expiring(clock, 7*24*time.Hour)); got != "soon" {
		t.Errorf("--expiring 7d: %s", got)
	}
	if got := names(res.Expiring(clock, 30*24*time.Hour)); got != "soon,later" {
		t.Errorf("--expiring 30d: %s", got)
	}
}

func TestParseWindow(t *testing.T) {
	for in, want := range map[string]time.Duration{"7d": 7 * 24 * time.Hour, "2w": 14 * 24 * time.Hour, "48h": 48 * time.Hour, "90m": 90 * time.Minute, "1h30m": 90 * time.Minute} {
		if got, err := keyline.ParseWindow(in); err != nil || got != want {
			t.Errorf("good_%s: %v %v", in, got, err)
		}
	}
	for _, in := range []string{"", "7", "-1d", "soon", "0s"} {
		if _, err := keyline.ParseWindow(in); err == nil {
			t.Errorf("fail_%q: accepted", in)
		}
	}
}
