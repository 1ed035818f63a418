package sshlog

import (
	"sort"
	"strconv"
	"time"
)

// Connection is one authenticated connection: the events of one sshd
// process from its Accepted line to its end.
type Connection struct {
	PID         int    `json:"pid"`
	Host        string `json:"host,omitempty"`
	User        string `json:"user"`
	Addr        string `json:"addr"`
	Port        int    `json:"port"`
	KeyType     string `json:"key_type,omitempty"`
	Fingerprint string `json:"fingerprint,omitempty"`
	CertID      string `json:"cert_id,omitempty"`
	CertSerial  uint64 `json:"cert_serial,omitempty"`
	CertCA      string `json:"cert_ca,omitempty"`
	// Ambiguous: another Accepted line came for the same pid while this
	// connection was open. sshd logs one per connection, so either the
	// pid was reused after an end the log missed or a line was forged
	// (any local user can write to syslog under any pid): who logged in
	// is then not known (users.LogAttribute ties no key to it).
	Ambiguous bool      `json:"ambiguous,omitempty"`
	Start     time.Time `json:"start"`
	End       time.Time `json:"end,omitempty"`
	Open      bool      `json:"open"`            // no end seen
	Ended     Kind      `json:"ended,omitempty"` // closed, timeout, killed
	Refused   []string  `json:"refused,omitempty"`
}

// maxRefused bounds one connection's list: a client probing in a loop
// must not grow memory with the file.
const maxRefused = 100

type conn struct {
	c    Connection
	keys []string // every index key pointing at it
}

// Joiner groups events into connections. It keeps only the connections
// still open (and the finished ones it returns), never the lines.
//
// A connection is found by the pid that logged its Accepted line; before
// 9.8 the lines after authentication come from the unprivileged child
// that "User child is on pid N" names, so that pid leads to it too; and an
// event without a known pid (an `sshd -E` file has none) is matched by
// its address and port. A new Accepted for a pid already open (the pid
// was reused) ends the old connection, End unknown.
type Joiner struct {
	// OnDone, when set, receives each connection as it ends (and, from
	// Flush, those still open) instead of the Joiner keeping it: then
	// memory stays bounded by the connections open at once, however long
	// the history (an addition: sessions --history sums per key in it).
	OnDone func(Connection)
	// OnFailure, when set, receives each failure instead of the Joiner
	// keeping it (an addition, for the same reason).
	OnFailure func(Event)

	open     map[string]*conn
	done     []Connection
	failures []Event
}

// NewJoiner returns an empty Joiner.
func NewJoiner() *Joiner { return &Joiner{open: map[string]*conn{}} }

func pidKey(host string, pid int) string { return "p" + host + "\x00" + strconv.Itoa(pid) }
func addrKey(host, addr string, port int) string {
	return "a" + host + "\x00" + addr + "\x00" + strconv.Itoa(port)
}

// Add takes the next event, in log order.
func (j *Joiner) Add(e Event) {
	switch e.Kind {
	case Accepted:
		ambiguous := false
		if e.PID != 0 {
			if old := j.open[pidKey(e.Host, e.PID)]; old != nil {
				j.finish(old, time.Time{}, "")
				ambiguous = true
			}
		}
		if e.Addr != "" {
			if old := j.open[addrKey(e.Host, e.Addr, e.Port)]; old != nil {
				j.finish(old, time.Time{}, "")
				ambiguous = ambiguous || e.PID == 0
			}
		}
		c := &conn{c: Connection{PID: e.PID, Host: e.Host, User: e.User, Addr: e.Addr, Port: e.Port,
			KeyType: e.KeyType, Fingerprint: e.Fingerprint, CertID: e.CertID, CertSerial: e.CertSerial, CertCA: e.CertCA,
			Start: e.Time, Open: true, Ambiguous: ambiguous}}
		if e.PID != 0 {
			j.index(c, pidKey(e.Host, e.PID))
		}
		if e.Addr != "" {
			j.index(c, addrKey(e.Host, e.Addr, e.Port))
		}
	case Failed:
		if j.OnFailure != nil {
			j.OnFailure(e)
		} else {
			j.failures = append(j.failures, e)
		}
	case Child:
		if c := j.find(Event{Host: e.Host, PID: e.PID}); c != nil && e.Child != 0 {
			j.index(c, pidKey(e.Host, e.Child))
		}
	case RefusedForward:
		if c := j.find(e); c != nil && len(c.c.Refused) < maxRefused {
			c.c.Refused = append(c.c.Refused, e.Dest)
		}
	case Closed, Timeout, Killed:
		if c := j.find(e); c != nil {
			j.finish(c, e.Time, e.Kind)
		}
	}
}

func (j *Joiner) index(c *conn, k string) {
	if old := j.open[k]; old != nil && old != c {
		// A stale alias (a child pid reused): forget it.
		delete(j.open, k)
	}
	j.open[k] = c
	c.keys = append(c.keys, k)
}

// find is the open connection an event belongs to: by pid first, then by
// address and port (never by user: that is the client's word).
func (j *Joiner) find(e Event) *conn {
	if e.PID != 0 {
		if c := j.open[pidKey(e.Host, e.PID)]; c != nil {
			return c
		}
	}
	if e.Addr != "" {
		if c := j.open[addrKey(e.Host, e.Addr, e.Port)]; c != nil {
			return c
		}
		return nil
	}
	if e.PID == 0 {
		// A pid-less line (sshd -E) naming no address either (8.x's
		// "Received request to connect to host ..."): it can only be the
		// one open pid-less connection, when there is exactly one.
		var only *conn
		for _, c := range j.open {
			if c.c.PID == 0 && c.c.Host == e.Host && c != only {
				if only != nil {
					return nil
				}
				only = c
			}
		}
		return only
	}
	return nil
}

func (j *Joiner) finish(c *conn, end time.Time, how Kind) {
	for _, k := range c.keys {
		if j.open[k] == c {
			delete(j.open, k)
		}
	}
	c.c.Open, c.c.End, c.c.Ended = false, end, how
	if j.OnDone != nil {
		j.OnDone(c.c)
	} else {
		j.done = append(j.done, c.c)
	}
}

// Open are the connections with no end seen yet, by start time (an
// addition: for OnDone users and live views).
func (j *Joiner) Open() []Connection {
	var out []Connection
	seen := map[*conn]bool{}
	for _, c := range j.open {
		if !seen[c] {
			seen[c] = true
			out = append(out, c.c)
		}
	}
	sortConns(out)
	return out
}

// Connections are the finished connections (unless OnDone took them) and
// those still open, by start time.
func (j *Joiner) Connections() []Connection {
	out := append(append([]Connection(nil), j.done...), j.Open()...)
	sortConns(out)
	return out
}

func sortConns(out []Connection) {
	sort.SliceStable(out, func(a, b int) bool {
		if !out[a].Start.Equal(out[b].Start) {
			return out[a].Start.Before(out[b].Start)
		}
		return out[a].PID < out[b].PID
	})
}

// Failures are the failed authentications, in log order.
func (j *Joiner) Failures() []Event { return append([]Event(nil), j.failures...) }
