package keyline

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Line.Bits answers what Key().Bits() answers (0 for a key that does not
// parse) for every kind of line, its shortcut for ed25519 blobs included.
func TestBitsIsKeyBits(t *testing.T) {
	t.Parallel()
	var lines []string
	pubs, _ := filepath.Glob("testdata/*.pub")
	for _, p := range pubs {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(string(data), "\n") {
			if strings.HasPrefix(l, "ssh-") || strings.HasPrefix(l, "ecdsa-") || strings.HasPrefix(l, "sk-") {
				lines = append(lines, l)
			}
		}
	}
	ed := "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGw7J2Gj8oWl8Ss4X2Y2nZ0u1m4nO5pYk3yqk2wGm1bB x"
	lines = append(lines, ed)
	l, _ := SplitLine(ed)
	if l.Bits() != 256 {
		t.Fatalf("%q: Bits %d, want 256", ed, l.Bits())
	}
	blob, _ := base64.StdEncoding.DecodeString(l.Base64)
	enc := base64.StdEncoding.EncodeToString
	lines = append(lines,
		"ssh-ed25519 "+enc(append(append([]byte{}, blob...), 0)), // trailing junk
		"ssh-ed25519 "+enc(blob[:len(blob)-1]),                   // one byte short
		"ssh-rsa "+l.Base64,                                      // the line's type is not the blob's
		"ssh-ed25519 "+enc(append([]byte{0, 0, 0, 11, 's', 's', 'h', '-', 'e', 'd', '2', '5', '5', '1', '8'}, blob[15:]...)), // another type name
		"ssh-ed25519 AAAA!!!!",
		"ssh-ed25519 "+strings.Repeat("A", 200),
	)
	for _, s := range lines {
		l, err := SplitLine(s)
		if err != nil {
			t.Fatalf("%q: %v", s, err)
		}
		want := 0
		if k, err := l.Key(); err == nil {
			want = k.Bits()
		}
		if got := l.Bits(); got != want {
			t.Errorf("%.60q: Bits %d, Key().Bits() %d", s, got, want)
		}
	}
	if len(lines) < 8 {
		t.Fatalf("only %d lines", len(lines))
	}
}
