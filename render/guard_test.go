package render

import (
	"os"
	"strings"
	"testing"
)

// checkCaller only runs on the running system (Root "/"); it reads nothing
// there but the SSH_USER_AUTH file named by the environment.
func TestGuardCheckCaller(t *testing.T) {
	auth := func(content string) string {
		p := t.TempDir() + "/auth"
		os.WriteFile(p, []byte(content), 0o600)
		return p
	}
	cases := []struct {
		name string
		env  map[string]string
		want string // "" = allowed
	}{
		{"good_not_over_ssh", map[string]string{"SUDO_USER": "bob"}, ""},
		{"good_key_session", map[string]string{"SSH_CONNECTION": "a b c d", "SSH_USER_AUTH": auth("publickey ssh-ed25519 AAAA\n"), "SUDO_USER": "admin"}, ""},
		{"good_root_console_unknown_auth", map[string]string{"SSH_CONNECTION": "a b c d", "USER": "root"}, ""},
		{"fail_password_session", map[string]string{"SSH_CONNECTION": "a b c d", "SSH_USER_AUTH": auth("password\n"), "SUDO_USER": "admin"}, "authenticated by password"},
		{"fail_kbdint_session", map[string]string{"SSH_CONNECTION": "a b c d", "SSH_USER_AUTH": auth("keyboard-interactive\n"), "SUDO_USER": "admin"}, "authenticated by keyboard-interactive"},
		{"fail_caller_without_key", map[string]string{"SSH_CONNECTION": "a b c d", "SUDO_USER": "bob"}, "connected over SSH as bob, who has no authorized key"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := Guard{Getenv: func(k string) string { return c.env[k] }}
			err := g.checkCaller([]loginable{{"admin", true}}, nil)
			switch {
			case c.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
				t.Fatalf("err = %v, want %q", err, c.want)
			}
		})
	}
}
