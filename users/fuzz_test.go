package users

import (
	"bytes"
	"testing"
)

// FuzzSplitJoin: add-key and revoke rewrite one line and keep every other
// byte, which holds only if joining the split lines gives the file back.
func FuzzSplitJoin(f *testing.F) {
	f.Add([]byte("ssh-ed25519 AAAA a\n\n# c\r\nlast"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if got := joinLines(splitLines(data)); !bytes.Equal(got, data) {
			t.Fatalf("join(split(%q)) = %q", data, got)
		}
	})
}
