package sshlog

import (
	"bytes"
	"fmt"
	"testing"
	"time"
)

// BenchmarkScanJoin scans and joins a generated auth.log mix (see
// bench/genauthlog for the full-size one); b.SetBytes makes -bench print
// MB/s.
func BenchmarkScanJoin(b *testing.B) {
	var buf bytes.Buffer
	for i := 0; buf.Len() < 8<<20; i++ {
		fmt.Fprintf(&buf, "Nov 24 01:02:03 deb sshd[%d]: Accepted publickey for pfwd from 203.0.113.5 port %d ssh2: ED25519 %s\n", i, i%60000, fpA)
		fmt.Fprintf(&buf, "Nov 24 01:02:03 deb sshd[%d]: User child is on pid %d\n", i, i+100000000)
		fmt.Fprintf(&buf, "Nov 24 01:02:04 deb CRON[999]: pam_unix(cron:session): session closed for user root\n")
		fmt.Fprintf(&buf, "Nov 24 01:02:05 deb sshd[%d]: Invalid user admin from 198.51.100.7 port 41000\n", i+50000000)
		fmt.Fprintf(&buf, "Nov 24 01:02:05 deb sshd[%d]: Failed password for invalid user admin from 198.51.100.7 port 41000 ssh2\n", i+50000000)
		fmt.Fprintf(&buf, "Nov 24 01:02:05 deb sshd[%d]: Received request from 203.0.113.5 port %d to connect to host 127.0.0.1 port 22, but the request was denied.\n", i+100000000, i%60000)
		fmt.Fprintf(&buf, "Nov 24 01:03:03 deb sshd[%d]: Disconnected from user pfwd 203.0.113.5 port %d\n", i+100000000, i%60000)
	}
	data := buf.Bytes()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		s := NewScanner(bytes.NewReader(data), RFC3164, Options{Now: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), Location: time.UTC})
		j := NewJoiner()
		j.OnDone = func(Connection) {}
		j.OnFailure = func(Event) {}
		for {
			e, ok := s.Next()
			if !ok {
				break
			}
			j.Add(e)
		}
	}
}
