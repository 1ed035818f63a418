package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"golang.org/x/crypto/ssh"

	"github.com/pfwdctl/pfwdctl/render"
)

// hostileKeysTree is keysTree with an authorized_keys that someone who
// could write it filled with terminal escapes: a comment that sets the
// window title, clears the screen and claims in green that all is well, a
// permitopen value that turns on "hidden" so the UNRESTRICTED line after
// it is invisible, and a comment with BEL, a C1 CSI and a bidi override.
func hostileKeysTree(t *testing.T) (root, title, hider, bidi string, fps []string) {
	t.Helper()
	r := keysTree(t)
	title = "\x1b]0;owned\a\x1b[2J\x1b[1;32mALL KEYS RESTRICTED"
	hider = render.DefaultTarget + "\x1b[8m"
	bidi = "bob\u202e\u009b2J\x07\x7flaptop"
	var b strings.Builder
	for _, l := range []string{
		`restrict,port-forwarding,permitopen="` + render.DefaultTarget + `" %s ` + title,
		`restrict,port-forwarding,permitopen="` + hider + `" %s hider`,
		`%s ` + bidi,
	} {
		pub, _, _ := ed25519.GenerateKey(rand.Reader)
		sp, _ := ssh.NewPublicKey(pub)
		key := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sp)))
		b.WriteString(strings.Replace(l, "%s", key, 1) + "\n")
		fps = append(fps, ssh.FingerprintSHA256(sp))
	}
	ak := r.Path("/home/pfwd/.ssh/authorized_keys")
	if err := os.MkdirAll(filepath.Dir(ak), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(ak, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return r.Dir(), title, hider, bidi, fps
}

// noControl fails if text output holds any C0 control other than newline,
// DEL, a C1 control, a bidi override or a byte that is not UTF-8: a
// terminal may act on any of them.
func noControl(t *testing.T, what, s string) {
	t.Helper()
	for i, r := range s {
		if (r < ' ' && r != '\n') || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == '\u202e' || r == utf8.RuneError {
			t.Errorf("%s: control character %U at byte %d:\n%q", what, r, i, s)
			return
		}
	}
}

// Issue 12 item 7: list-keys and revoke print key comments and options
// escaped, so a hostile authorized_keys cannot drive the terminal or hide
// the UNRESTRICTED warning; --json keeps the exact bytes.
func TestHostileKeyTextIsEscaped(t *testing.T) {
	root, title, hider, bidi, fps := hostileKeysTree(t)

	env, out, errb := testEnv()
	code := Main([]string{"--root", root, "list-keys"}, env)
	if code != 1 {
		t.Errorf("list-keys exit %d, want 1 (unrestricted keys)\nstdout:\n%s\nstderr:\n%s", code, out, errb)
	}
	noControl(t, "list-keys stdout", out.String())
	noControl(t, "list-keys stderr", errb.String())
	for _, want := range []string{
		`\x1b]0;owned\a\x1b[2J\x1b[1;32mALL`, // the table cell, as the escape it is
		`\x1b[8m`,                            // the hider's target
		`bob\u202e\u009b2J\a\x7flaptop`,      // BEL, DEL, C1 CSI, bidi override
		"UNRESTRICTED",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("list-keys stdout lacks %q:\n%s", want, out)
		}
	}

	// JSON output keeps the exact text: encoding/json escapes the
	// control characters itself.
	env, out, _ = testEnv()
	Main([]string{"--root", root, "--json", "list-keys"}, env)
	var res struct {
		Keys []struct {
			Name    string   `json:"name"`
			Targets []string `json:"targets"`
		} `json:"keys"`
	}
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatalf("list-keys --json: %v\n%s", err, out)
	}
	if len(res.Keys) != 3 || res.Keys[0].Name != title || len(res.Keys[1].Targets) != 1 || res.Keys[1].Targets[0] != hider || res.Keys[2].Name != bidi {
		t.Errorf("list-keys --json changed the text: %+v", res.Keys)
	}
	if strings.ContainsRune(out.String(), 0x1b) || strings.ContainsRune(out.String(), 0x07) {
		t.Errorf("list-keys --json holds a raw control byte:\n%q", out)
	}

	// revoke by name prints the name it removed; revoke of a name that is
	// not there quotes it in the error.
	for _, args := range [][]string{{"revoke", fps[0]}, {"revoke", bidi}, {"revoke", "\x1b[8mnone\a"}} {
		env, out, errb = testEnv()
		code := Main(append([]string{"--root", root}, args...), env)
		noControl(t, "revoke stdout", out.String())
		noControl(t, "revoke stderr", errb.String())
		switch args[1] {
		case fps[0]:
			if code != 0 || !strings.Contains(out.String(), `revoked key \x1b]0;owned\a\x1b[2J`) {
				t.Errorf("revoke %s: exit %d\n%s%s", args[1], code, out, errb)
			}
		case bidi:
			if code != 0 || !strings.Contains(out.String(), `revoked key bob\u202e\u009b2J\a\x7flaptop`) {
				t.Errorf("revoke by hostile name: exit %d\n%s%s", code, out, errb)
			}
		default:
			if code != 1 || !strings.Contains(errb.String(), `\x1b[8mnone\a`) {
				t.Errorf("revoke of a missing hostile name: exit %d\n%s%s", code, out, errb)
			}
		}
	}
}
