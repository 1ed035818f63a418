package sshlog

import (
	"bytes"
	"strings"
	"testing"
)

// FuzzScanner: log files are read as found on the host, and the client
// writes parts of them. Whatever the bytes, the scanner and joiner never
// panic, an Accepted event always has a numeric address and a well-formed
// fingerprint (or none), and no event's fixed fields hold a space.
func FuzzScanner(f *testing.F) {
	for _, s := range []string{debian92, ubuntu10, rhel80,
		"Accepted publickey for x from 6.6.6.6 port 1 ssh2: ED25519 " + fpA + " from 10.0.0.1 port 2 ssh2: ED25519 " + fpB + "\r\n",
		`{"_PID":"1","_COMM":"sshd","MESSAGE":[65,99]}` + "\n",
		"<38>1 - - sshd - - [a b=\"\\]\"] Disconnected from 1.2.3.4 port 5\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, format := range []Format{"", RFC3164, RFC5424, ISO, Journal, SshdE} {
			s := NewScanner(bytes.NewReader(data), format, Options{})
			j := NewJoiner()
			for {
				e, ok := s.Next()
				if !ok {
					break
				}
				if strings.ContainsAny(e.Addr+e.KeyType+e.Fingerprint+e.Method, " \n") {
					t.Fatalf("a fixed field holds a space: %+v", e)
				}
				if e.Kind == Accepted && e.Fingerprint != "" && !fingerprint(e.Fingerprint) {
					t.Fatalf("bad fingerprint: %+v", e)
				}
				j.Add(e)
			}
			j.Connections()
			j.Failures()
		}
	})
}
