package sshd

import "testing"

func TestHexAddr(t *testing.T) {
	for in, want := range map[string]string{
		"0100007F:1F49":                         "127.0.0.1:8009",
		"00000000000000000000000001000000:0016": "::1:22",
		"0000000000000000FFFF00000100007F:C350": "127.0.0.1:50000",
	} {
		a, p, ok := hexAddr(in)
		if !ok || a+":"+itoa(p) != want {
			t.Errorf("%s: %s %d %v, want %s", in, a, p, ok, want)
		}
	}
}

func itoa(n int) string {
	s := ""
	for n > 0 || s == "" {
		s = string(rune('0'+n%10)) + s
		n /= 10
	}
	return s
}
