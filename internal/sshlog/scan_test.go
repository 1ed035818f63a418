package sshlog

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pfwdctl/pfwdctl/internal/hostfs"
)

func scanAll(t *testing.T, in string, f Format, o Options) []Event {
	t.Helper()
	s := NewScanner(strings.NewReader(in), f, o)
	var out []Event
	for {
		e, ok := s.Next()
		if !ok {
			break
		}
		out = append(out, e)
	}
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func join(evs []Event) *Joiner {
	j := NewJoiner()
	for _, e := range evs {
		j.Add(e)
	}
	return j
}

// Debian 12 (OpenSSH 9.2), classic rsyslog timestamps: before 9.8 the
// refused forward and the disconnect come from the child pid that "User
// child is on pid" names, not from the pid of the Accepted line.
const debian92 = `Nov 24 01:02:03 deb sshd[1000]: Connection from 203.0.113.5 port 50022 on 10.0.0.1 port 22 rdomain ""
Nov 24 01:02:03 deb sshd[1000]: Accepted key ED25519 ` + fpA + ` found at /home/pfwd/.ssh/authorized_keys:1
Nov 24 01:02:03 deb sshd[1000]: Postponed publickey for pfwd from 203.0.113.5 port 50022 ssh2 [preauth]
Nov 24 01:02:03 deb sshd[1000]: Accepted publickey for pfwd from 203.0.113.5 port 50022 ssh2: ED25519 ` + fpA + `
Nov 24 01:02:03 deb sshd[1000]: pam_unix(sshd:session): session opened for user pfwd(uid=1001) by (uid=0)
Nov 24 01:02:03 deb sshd[1000]: User child is on pid 1002
Nov 24 01:02:04 deb CRON[999]: pam_unix(cron:session): session closed for user root
Nov 24 01:02:05 deb sshd[1002]: Received request from 203.0.113.5 port 50022 to connect to host 127.0.0.1 port 22, but the request was denied.
Nov 24 01:02:06 deb sshd[2000]: Invalid user admin from 198.51.100.7 port 41000
Nov 24 01:02:06 deb sshd[2000]: Connection closed by invalid user admin 198.51.100.7 port 41000 [preauth]
Nov 24 01:03:03 deb sshd[1002]: Received disconnect from 203.0.113.5 port 50022:11: disconnected by user
Nov 24 01:03:03 deb sshd[1002]: Disconnected from user pfwd 203.0.113.5 port 50022
Nov 24 01:03:03 deb sshd[1000]: pam_unix(sshd:session): session closed for user pfwd
`

func TestDebianClassicJoinsTheChildPid(t *testing.T) {
	now := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	evs := scanAll(t, debian92, "", Options{Now: now, Location: time.UTC})
	j := join(evs)
	cs := j.Connections()
	if len(cs) != 1 {
		t.Fatalf("connections: %+v", cs)
	}
	c := cs[0]
	want := Connection{PID: 1000, Host: "deb", User: "pfwd", Addr: "203.0.113.5", Port: 50022, KeyType: "ED25519", Fingerprint: fpA,
		Start: time.Date(2026, 11, 24, 1, 2, 3, 0, time.UTC), End: time.Date(2026, 11, 24, 1, 3, 3, 0, time.UTC), Ended: Closed, Refused: []string{"127.0.0.1:22"}}
	if c.PID != want.PID || c.Fingerprint != want.Fingerprint || !c.Start.Equal(want.Start) || !c.End.Equal(want.End) || c.Open || c.Ended != Closed || strings.Join(c.Refused, ",") != "127.0.0.1:22" || c.Host != "deb" {
		t.Errorf("got  %+v\nwant %+v", c, want)
	}
	if f := j.Failures(); len(f) != 2 || f[0].User != "admin" || f[0].PID != 2000 {
		t.Errorf("failures: %+v", f)
	}
}

// Ubuntu 25.04 / Debian 13 (OpenSSH 10.0): ISO timestamps, sshd-session
// logs the whole connection under one pid.
const ubuntu10 = `2026-11-24T01:02:03.123456+00:00 ubu sshd-session[3000]: Accepted publickey for pfwd from 2001:db8::5 port 2222 ssh2: ED25519 ` + fpB + `
2026-11-24T01:02:04.000001+00:00 ubu sshd-session[3000]: Received request from 2001:db8::5 port 2222 to connect to host 10.1.1.1 port 5432, but the request was denied.
2026-11-24T01:02:05.5+00:00 ubu sshd-session[3001]: Connection closed by authenticating user pfwd 198.51.100.9 port 40000 [preauth]
2026-11-24T01:12:03.000000+00:00 ubu sshd-session[3000]: Timeout, client not responding from user pfwd 2001:db8::5 port 2222
2026-11-24T01:13:00.000000+00:00 ubu sshd-session[3100]: Accepted publickey for pfwd from 10.0.0.9 port 1 ssh2: ED25519 ` + fpA + `
2026-11-24T01:14:00.000000+00:00 ubu sshd[1]: session process 3100 for 10.0.0.9:1 killed by signal 15
2026-11-24T01:15:00.000000+00:00 ubu sshd-session[3200]: Accepted publickey for pfwd from 10.0.0.9 port 2 ssh2: ED25519 ` + fpA + `
`

func TestUbuntuISOSshdSession(t *testing.T) {
	j := join(scanAll(t, ubuntu10, "", Options{}))
	cs := j.Connections()
	if len(cs) != 3 {
		t.Fatalf("connections: %+v", cs)
	}
	if c := cs[0]; c.Ended != Timeout || c.Addr != "2001:db8::5" || c.Fingerprint != fpB || len(c.Refused) != 1 || c.Refused[0] != "10.1.1.1:5432" ||
		c.End.Sub(c.Start) != 10*time.Minute-123456*time.Microsecond {
		t.Errorf("first: %+v", c)
	}
	if c := cs[1]; c.Ended != Killed || c.PID != 3100 || c.Open {
		t.Errorf("killed: %+v", c)
	}
	if c := cs[2]; !c.Open || c.PID != 3200 {
		t.Errorf("open: %+v", c)
	}
	if f := j.Failures(); len(f) != 1 || f[0].User != "pfwd" || f[0].Addr != "198.51.100.9" {
		t.Errorf("failures: %+v", f)
	}
}

// RHEL 8 /var/log/secure (OpenSSH 8.0): the refusal names no address, so
// only the child pid joins it.
const rhel80 = `Nov 24 01:02:03 rhel sshd[1000]: Accepted publickey for pfwd from 203.0.113.5 port 50022 ssh2: RSA ` + fpB + `
Nov 24 01:02:03 rhel sshd[1000]: pam_unix(sshd:session): session opened for user pfwd by (uid=0)
Nov 24 01:02:03 rhel sshd[1000]: User child is on pid 1004
Nov 24 01:02:09 rhel sshd[1004]: Received request to connect to host 127.0.0.1 port 3306, but the request was denied.
Nov 24 01:02:09 rhel sshd[1004]: refused local port forward: originator 127.0.0.1 port 1, target 127.0.0.1 port 25
Nov 24 01:05:00 rhel sshd[1004]: Exiting on signal 15
`

func TestRHELSecure80(t *testing.T) {
	cs := join(scanAll(t, rhel80, RFC3164, Options{Year: 2025, Location: time.UTC})).Connections()
	if len(cs) != 1 || cs[0].Ended != Killed || strings.Join(cs[0].Refused, " ") != "127.0.0.1:3306 127.0.0.1:25" || cs[0].Start.Year() != 2025 || cs[0].KeyType != "RSA" {
		t.Fatalf("%+v", cs)
	}
}

func TestYearBoundary(t *testing.T) {
	in := "Dec 31 23:59:58 h sshd[5]: Accepted publickey for a from 10.0.0.1 port 1 ssh2: ED25519 " + fpA + "\n" +
		"Jan  1 00:00:02 h sshd[5]: Disconnected from user a 10.0.0.1 port 1\n"
	now := time.Date(2027, 1, 1, 8, 0, 0, 0, time.UTC)
	cs := join(scanAll(t, in, "", Options{Now: now, Location: time.UTC})).Connections()
	if len(cs) != 1 || cs[0].Start.Year() != 2026 || cs[0].End.Year() != 2027 || cs[0].End.Sub(cs[0].Start) != 4*time.Second {
		t.Fatalf("%+v", cs)
	}
}

// Journal JSON as journalctl -o json writes it; MESSAGE may be a byte
// array; a line logged by another program under the name sshd (logger -t
// sshd) is not sshd's: _COMM says so.
func TestJournal(t *testing.T) {
	msg := "Accepted publickey for pfwd from 10.0.0.1 port 7 ssh2: ED25519 " + fpA
	var arr []string
	for _, b := range []byte(msg) {
		arr = append(arr, strconv.Itoa(int(b)))
	}
	in := `{"__REALTIME_TIMESTAMP":"1795482123000000","_PID":"700","_COMM":"sshd-session","SYSLOG_IDENTIFIER":"sshd-session","_HOSTNAME":"j1","MESSAGE":[` + strings.Join(arr, ",") + `]}
{"__REALTIME_TIMESTAMP":"1795482124000000","_PID":"666","_COMM":"logger","SYSLOG_IDENTIFIER":"sshd","SYSLOG_PID":"700","_HOSTNAME":"j1","MESSAGE":"Disconnected from user pfwd 10.0.0.1 port 7"}
{"__REALTIME_TIMESTAMP":"1795482125000000","_PID":"700","_COMM":"sshd-session","SYSLOG_IDENTIFIER":"sshd-session","_HOSTNAME":"j1","MESSAGE":"Received request from 10.0.0.1 port 7 to connect to host 1.2.3.4 port 80, but the request was denied."}
{"__REALTIME_TIMESTAMP":"1795482126000000","_PID":"701","SYSLOG_IDENTIFIER":"sshd","_HOSTNAME":"j1","MESSAGE":"Accepted publickey for x from 10.0.0.1 port 8 ssh2\nAccepted publickey for root from 6.6.6.6 port 1 ssh2"}
{"__REALTIME_TIMESTAMP":"1795482127000000","_PID":"700","_COMM":"sshd-session","_HOSTNAME":"j1","MESSAGE":null}
{"truncated
`
	evs := scanAll(t, in, "", Options{})
	if len(evs) != 2 || evs[0].Kind != Accepted || evs[0].PID != 700 || evs[0].Host != "j1" || evs[0].Time.Unix() != 1795482123 || evs[1].Kind != RefusedForward {
		t.Fatalf("%+v", evs)
	}
	cs := join(evs).Connections()
	if len(cs) != 1 || !cs[0].Open {
		t.Fatalf("a forged Disconnected closed it: %+v", cs)
	}
}

func TestRFC5424(t *testing.T) {
	in := `<38>1 2026-11-24T01:02:03.123Z h5 sshd 900 - - Accepted publickey for pfwd from 10.0.0.1 port 7 ssh2: ED25519 ` + fpA + `
<38>1 2026-11-24T01:02:04Z h5 sshd-session 900 - [meta sequenceId="1\]x"] Disconnected from user pfwd 10.0.0.1 port 7
<38>1 2026-11-24T01:02:04Z h5 cron 901 - - Accepted publickey for root from 6.6.6.6 port 1 ssh2
<38>1 bad
`
	evs := scanAll(t, in, "", Options{})
	if len(evs) != 2 || evs[0].Host != "h5" || evs[0].PID != 900 || evs[1].Kind != Closed {
		t.Fatalf("%+v", evs)
	}
}

// Hostile and malformed lines: a user name crafted to look like a log line
// never makes an Accepted event or a fingerprint; too long lines are
// skipped without being kept; truncated lines are skipped.
func TestHostileAndMalformedLines(t *testing.T) {
	hostile := "x from 6.6.6.6 port 1 ssh2: ED25519 " + fpB
	in := "Nov 24 01:00:00 h sshd[10]: Invalid user " + hostile + " from 198.51.100.7 port 4\n" +
		"Nov 24 01:00:00 h sshd[10]: Failed publickey for invalid user " + hostile + " from 198.51.100.7 port 4 ssh2: ED25519 " + fpA + "\n" +
		"Nov 24 01:00:00 h sshd[11]: Connection closed by authenticating user Accepted publickey for root from 6.6.6.6 port 1 ssh2: ED25519 " + fpB + " 198.51.100.7 port 5 [preauth]\n" +
		"Nov 24 01:00:00 h sshd[12]: " + strings.Repeat("A", 200000) + "\n" +
		"Nov 24 01:00:00 h sshd[13]: Accepted publickey for pfwd from 10.0.0.1 po\n" +
		"Nov 24 01:00:00 h sshd[x]: Accepted publickey for pfwd from 10.0.0.1 port 1 ssh2\n" +
		"Nov 24 01:0\n" +
		"Nov 24 01:00:00 h notsshd[14]: Accepted publickey for pfwd from 10.0.0.1 port 1 ssh2\n" +
		"\x00\xff\xfe garbage\n" +
		"Nov 24 01:00:01 h sshd[15]: Accepted publickey for pfwd from 10.0.0.1 port 1 ssh2: ED25519 " + fpA
	evs := scanAll(t, in, RFC3164, Options{Year: 2026})
	for _, e := range evs {
		if e.Fingerprint == fpB || e.Addr == "6.6.6.6" {
			t.Errorf("the attacker's text made a field: %+v", e)
		}
		if e.Kind == Accepted && e.PID != 15 {
			t.Errorf("fake Accepted: %+v", e)
		}
	}
	if len(evs) != 4 || evs[3].PID != 15 || evs[3].Fingerprint != fpA {
		t.Fatalf("%d events: %+v", len(evs), evs)
	}
}

func TestDetectFormat(t *testing.T) {
	for line, want := range map[string]Format{
		"Nov 24 01:02:03 h sshd[1]: x":                      RFC3164,
		"2026-11-24T01:02:03.123456+00:00 h sshd[1]: x":     ISO,
		"<38>1 2026-11-24T01:02:03Z h sshd 1 - - x":         RFC5424,
		`{"MESSAGE":"x"}`:                                   Journal,
		"Server listening on 0.0.0.0 port 22.":              SshdE,
		"Accepted publickey for a from 1.2.3.4 port 1 ssh2": SshdE,
	} {
		if got := DetectFormat([]byte(line)); got != want {
			t.Errorf("%q: %s, want %s", line, got, want)
		}
	}
}

// A first line cut by rotation (or a stray line) does not decide the
// format of the whole file.
func TestDetectLooksPastACutFirstLine(t *testing.T) {
	in := "4:03 deb sshd[1]: Accepted publickey for pfwd from\n" + debian92
	if evs := scanAll(t, in, "", Options{Year: 2026}); len(evs) == 0 {
		t.Fatal("no events after a cut first line")
	}
	dir := writeTree(t, map[string][]byte{"a.log": []byte(in)})
	if _, f := readSource(t, FileSource(hostfs.MustRoot(dir), "/a.log")); f != RFC3164 {
		t.Fatalf("format %s", f)
	}
}
