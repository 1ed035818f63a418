package sshlog

import (
	"testing"
	"time"
)

func TestJoinerPidReuseStartsANewConnection(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	j := NewJoiner()
	j.Add(Event{Time: t0, PID: 7, Kind: Accepted, User: "a", Addr: "10.0.0.1", Port: 1, Fingerprint: fpA})
	j.Add(Event{Time: t0.Add(time.Hour), PID: 7, Kind: Accepted, User: "a", Addr: "10.0.0.2", Port: 2, Fingerprint: fpB})
	j.Add(Event{Time: t0.Add(2 * time.Hour), PID: 7, Kind: Closed, Addr: "10.0.0.2", Port: 2})
	cs := j.Connections()
	if len(cs) != 2 || cs[0].Fingerprint != fpA || cs[0].Open || !cs[0].End.IsZero() || cs[1].Ended != Closed || cs[1].End.Sub(cs[1].Start) != time.Hour {
		t.Fatalf("%+v", cs)
	}
	// The second login under a pid still open is marked: sshd logs one
	// per connection, so the log cannot say who this one is.
	if cs[0].Ambiguous || !cs[1].Ambiguous {
		t.Errorf("ambiguous: first %v, second %v; want false, true", cs[0].Ambiguous, cs[1].Ambiguous)
	}
}

// A line forged under an open session's monitor pid (logger --id=PID
// "Accepted publickey for ... ID ann ...") must not give that session
// another friend's certificate: the connection is ambiguous, so it names
// no key at all.
func TestJoinerForgedAcceptedUnderAnOpenPidIsAmbiguous(t *testing.T) {
	j := NewJoiner()
	j.Add(Event{PID: 7, Kind: Accepted, User: "pfwd", Addr: "10.0.0.1", Port: 1, Fingerprint: fpA, CertID: "bob", CertSerial: 1, CertCA: fpB})
	j.Add(Event{PID: 7, Kind: Accepted, User: "pfwd", Addr: "10.0.0.1", Port: 1, Fingerprint: fpA, CertID: "ann", CertSerial: 2, CertCA: fpB})
	open := j.Open()
	if len(open) != 1 || !open[0].Ambiguous {
		t.Fatalf("open %+v", open)
	}
}

// Two pid-less connections open at once: an 8.x refusal that names no
// address belongs to neither for sure, so to none.
func TestJoinerAmbiguousPidlessRefusalIsDropped(t *testing.T) {
	j := NewJoiner()
	j.Add(Event{Kind: Accepted, Addr: "10.0.0.1", Port: 1})
	j.Add(Event{Kind: Accepted, Addr: "10.0.0.2", Port: 2})
	j.Add(Event{Kind: RefusedForward, Dest: "x:1"})
	for _, c := range j.Connections() {
		if len(c.Refused) != 0 {
			t.Fatalf("%+v", c)
		}
	}
}

// A closed event of an unknown pid with another connection's address
// closes that one (addresses and ports come from the socket); one naming
// no known pid or address closes nothing.
func TestJoinerEndsOnlyItsOwn(t *testing.T) {
	j := NewJoiner()
	var done []Connection
	j.OnDone = func(c Connection) { done = append(done, c) }
	j.Add(Event{PID: 1, Kind: Accepted, Addr: "10.0.0.1", Port: 1})
	j.Add(Event{PID: 2, Kind: Accepted, Addr: "10.0.0.2", Port: 2})
	j.Add(Event{PID: 99, Kind: Closed, Addr: "10.0.0.3", Port: 3})
	j.Add(Event{PID: 98, Kind: Killed})
	if len(done) != 0 || len(j.Open()) != 2 {
		t.Fatalf("done %+v open %+v", done, j.Open())
	}
	j.Add(Event{PID: 2, Kind: Timeout})
	if len(done) != 1 || done[0].PID != 2 || done[0].Ended != Timeout || len(j.Connections()) != 1 {
		t.Fatalf("done %+v", done)
	}
	for range maxRefused + 10 {
		j.Add(Event{PID: 1, Kind: RefusedForward, Dest: "x:1"})
	}
	if n := len(j.Open()[0].Refused); n != maxRefused {
		t.Fatalf("refused kept %d", n)
	}
}
