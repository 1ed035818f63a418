package sshlog

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strconv"
	"time"
)

// maxLine bounds one line: sshd's own messages are under 1 KiB (syslog
// truncates at 500 characters of text), so a longer line is not sshd's and
// is skipped without being kept.
const maxLine = 64 << 10

// Scanner reads events from a log stream, one line at a time.
type Scanner struct {
	r     *bufio.Reader
	f     Format
	o     Options
	err   error
	done  bool
	guess int // lines left to auto-detect on
	// rfc3164 year handling
	now time.Time
	loc *time.Location
}

// NewScanner reads r as format f ("" detects it from the first line).
// Memory stays constant whatever the size of r.
func NewScanner(r io.Reader, f Format, o Options) *Scanner {
	s := &Scanner{r: bufio.NewReaderSize(r, maxLine), f: f, o: o, now: o.Now, loc: o.Location}
	if f == "" {
		s.guess = 10
	}
	if s.now.IsZero() {
		s.now = time.Now()
	}
	if s.loc == nil {
		s.loc = time.Local
	}
	return s
}

// Err is the first read error other than io.EOF.
func (s *Scanner) Err() error { return s.err }

// Next returns the next relevant sshd event, skipping other programs'
// lines, sshd lines that say nothing about a connection, and malformed ones.
func (s *Scanner) Next() (Event, bool) {
	for !s.done {
		line, err := s.r.ReadSlice('\n')
		for errors.Is(err, bufio.ErrBufferFull) {
			// Too long to be sshd's: drop the rest of it, unkept.
			line = nil
			_, err = s.r.ReadSlice('\n')
		}
		if err != nil {
			s.done = true
			if err != io.EOF {
				s.err = err
				return Event{}, false
			}
			// A last line without a newline is still read.
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			continue
		}
		if s.f == "" || s.guess > 0 && s.f == SshdE {
			// Auto-detection looks past a first line cut by rotation or
			// a stray line: the first syslog- or journal-shaped line
			// among the first few decides.
			s.f = DetectFormat(line)
			s.guess--
		}
		if e, ok := s.parse(line); ok {
			return e, true
		}
	}
	return Event{}, false
}

func (s *Scanner) parse(line []byte) (Event, bool) {
	var (
		t    time.Time
		host string
		pid  int
		msg  []byte
		ok   bool
	)
	switch s.f {
	case RFC3164:
		t, host, pid, msg, ok = s.parse3164(line)
	case ISO:
		t, host, pid, msg, ok = parseISO(line)
	case RFC5424:
		t, host, pid, msg, ok = parse5424(line)
	case Journal:
		t, host, pid, msg, ok = parseJournal(line)
	case SshdE:
		msg, ok = parseSshdE(line)
	}
	if !ok {
		return Event{}, false
	}
	e, ok := parseMessage(string(msg))
	if !ok {
		return Event{}, false
	}
	e.Time, e.Host = t, host
	if e.PID == 0 {
		e.PID = pid
	}
	return e, true
}

// DetectFormat tells the format from one line.
func DetectFormat(line []byte) Format {
	line = bytes.TrimLeft(line, " \t")
	switch {
	case len(line) == 0:
		return SshdE
	case line[0] == '{':
		return Journal
	case line[0] == '<':
		if i := bytes.IndexByte(line, '>'); i > 0 && i <= 4 && bytes.HasPrefix(line[i+1:], []byte("1 ")) {
			return RFC5424
		}
		return RFC3164
	case len(line) > 10 && isDigits(line[:4]) && line[4] == '-' && line[7] == '-' && line[10] == 'T':
		return ISO
	case len(line) > 4 && month(line[:3]) > 0 && line[3] == ' ':
		return RFC3164
	}
	return SshdE
}

func isDigits(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return len(b) > 0
}

func month(b []byte) time.Month {
	switch string(b) {
	case "Jan":
		return 1
	case "Feb":
		return 2
	case "Mar":
		return 3
	case "Apr":
		return 4
	case "May":
		return 5
	case "Jun":
		return 6
	case "Jul":
		return 7
	case "Aug":
		return 8
	case "Sep":
		return 9
	case "Oct":
		return 10
	case "Nov":
		return 11
	case "Dec":
		return 12
	}
	return 0
}

// sshdProgram: the programs whose lines are sshd's. From 9.8 the
// per-connection process is sshd-session, and 10.x adds sshd-auth.
func sshdProgram(b []byte) bool {
	switch string(b) {
	case "sshd", "sshd-session", "sshd-auth":
		return true
	}
	return false
}

// tag parses "prog[pid]: msg" (the syslog TAG and the message).
func tag(b []byte) (pid int, msg []byte, ok bool) {
	i := bytes.IndexByte(b, '[')
	if i < 0 {
		// "sshd: msg" without a pid: not joinable, but still an event.
		j := bytes.Index(b, []byte(": "))
		if j < 0 || !sshdProgram(b[:j]) {
			return 0, nil, false
		}
		return 0, b[j+2:], true
	}
	if !sshdProgram(b[:i]) {
		return 0, nil, false
	}
	j := bytes.Index(b[i:], []byte("]: "))
	if j < 0 {
		return 0, nil, false
	}
	pid, err := strconv.Atoi(string(b[i+1 : i+j]))
	if err != nil || pid <= 0 {
		return 0, nil, false
	}
	return pid, b[i+j+3:], true
}

// parse3164: "Nov 24 01:02:03 host sshd[123]: msg" (the day space-padded),
// optionally led by "<PRI>".
func (s *Scanner) parse3164(line []byte) (time.Time, string, int, []byte, bool) {
	if len(line) > 0 && line[0] == '<' {
		if i := bytes.IndexByte(line, '>'); i > 0 && i <= 4 {
			line = line[i+1:]
		}
	}
	if len(line) < 16 || line[3] != ' ' || line[6] != ' ' || line[9] != ':' || line[12] != ':' || line[15] != ' ' {
		return time.Time{}, "", 0, nil, false
	}
	mon := month(line[:3])
	day := atoi2(line[4:6])
	hh, mm, ss := atoi2(line[7:9]), atoi2(line[10:12]), atoi2(line[13:15])
	if mon == 0 || day < 1 || day > 31 || hh < 0 || hh > 23 || mm < 0 || mm > 59 || ss < 0 || ss > 60 {
		return time.Time{}, "", 0, nil, false
	}
	rest := line[16:]
	sp := bytes.IndexByte(rest, ' ')
	if sp <= 0 {
		return time.Time{}, "", 0, nil, false
	}
	host := rest[:sp]
	pid, msg, ok := tag(rest[sp+1:])
	if !ok {
		return time.Time{}, "", 0, nil, false
	}
	year := s.o.Year
	var t time.Time
	if year != 0 {
		t = time.Date(year, mon, day, hh, mm, ss, 0, s.loc)
	} else {
		// A line dated after now (a day's slack for clock skew between
		// hosts) was written last year: Dec lines read in January.
		year = s.now.In(s.loc).Year()
		t = time.Date(year, mon, day, hh, mm, ss, 0, s.loc)
		if t.After(s.now.Add(24 * time.Hour)) {
			t = time.Date(year-1, mon, day, hh, mm, ss, 0, s.loc)
		}
	}
	return t, string(host), pid, msg, true
}

func atoi2(b []byte) int {
	n := 0
	for _, c := range b {
		if c == ' ' {
			continue
		}
		if c < '0' || c > '9' {
			return -1
		}
		n = n*10 + int(c-'0')
	}
	return n
}

// parseISO: "2026-11-24T01:02:03.123456+00:00 host sshd[123]: msg".
func parseISO(line []byte) (time.Time, string, int, []byte, bool) {
	sp := bytes.IndexByte(line, ' ')
	if sp < 0 {
		return time.Time{}, "", 0, nil, false
	}
	rest := line[sp+1:]
	sp2 := bytes.IndexByte(rest, ' ')
	if sp2 <= 0 {
		return time.Time{}, "", 0, nil, false
	}
	pid, msg, ok := tag(rest[sp2+1:])
	if !ok {
		return time.Time{}, "", 0, nil, false
	}
	t, err := time.Parse(time.RFC3339Nano, string(line[:sp]))
	if err != nil {
		return time.Time{}, "", 0, nil, false
	}
	return t, string(rest[:sp2]), pid, msg, true
}

// parse5424: "<PRI>1 TIMESTAMP HOST APP PROCID MSGID SD MSG" with "-" for
// a nil field; SD is "-" or one or more [..] elements.
func parse5424(line []byte) (time.Time, string, int, []byte, bool) {
	fail := func() (time.Time, string, int, []byte, bool) { return time.Time{}, "", 0, nil, false }
	if len(line) == 0 || line[0] != '<' {
		return fail()
	}
	i := bytes.IndexByte(line, '>')
	if i < 0 || !bytes.HasPrefix(line[i+1:], []byte("1 ")) {
		return fail()
	}
	rest := line[i+3:]
	var f [5][]byte // TIMESTAMP HOST APP PROCID MSGID
	for k := range f {
		sp := bytes.IndexByte(rest, ' ')
		if sp < 0 {
			return fail()
		}
		f[k], rest = rest[:sp], rest[sp+1:]
	}
	if !sshdProgram(f[2]) {
		return fail()
	}
	// Structured data: "-" or [id k="v" ...]... (a ']' inside a value is
	// escaped as "\]").
	if len(rest) > 0 && rest[0] == '-' {
		rest = rest[1:]
	} else {
		for len(rest) > 0 && rest[0] == '[' {
			j := 1
			for j < len(rest) && rest[j] != ']' {
				if rest[j] == '\\' {
					j++
				}
				j++
			}
			if j >= len(rest) {
				return fail()
			}
			rest = rest[j+1:]
		}
	}
	rest = bytes.TrimPrefix(rest, []byte(" "))
	rest = bytes.TrimPrefix(rest, []byte("\xef\xbb\xbf")) // BOM
	pid, _ := strconv.Atoi(string(f[3]))
	var t time.Time
	if string(f[0]) != "-" {
		var err error
		if t, err = time.Parse(time.RFC3339Nano, string(f[0])); err != nil {
			return fail()
		}
	}
	host := string(f[1])
	if host == "-" {
		host = ""
	}
	return t, host, pid, rest, true
}

// journalEntry holds the fields of `journalctl -o json` that matter. The
// underscore fields are set by journald itself (trusted); SYSLOG_IDENTIFIER
// and SYSLOG_PID are whatever the sender claimed.
type journalEntry struct {
	Realtime string          `json:"__REALTIME_TIMESTAMP"`
	PID      string          `json:"_PID"`
	Comm     string          `json:"_COMM"`
	Ident    string          `json:"SYSLOG_IDENTIFIER"`
	Host     string          `json:"_HOSTNAME"`
	Message  json.RawMessage `json:"MESSAGE"`
}

func parseJournal(line []byte) (time.Time, string, int, []byte, bool) {
	fail := func() (time.Time, string, int, []byte, bool) { return time.Time{}, "", 0, nil, false }
	if !bytes.Contains(line, []byte("sshd")) {
		return fail()
	}
	var j journalEntry
	if json.Unmarshal(line, &j) != nil {
		return fail()
	}
	// A local user can log under any identifier (logger -t sshd); the
	// process name journald saw cannot be claimed that way.
	if j.Comm != "" {
		if !sshdProgram([]byte(j.Comm)) {
			return fail()
		}
	} else if !sshdProgram([]byte(j.Ident)) {
		return fail()
	}
	var msg []byte
	if len(j.Message) > 0 && j.Message[0] == '"' {
		var s string
		if json.Unmarshal(j.Message, &s) != nil {
			return fail()
		}
		msg = []byte(s)
	} else if len(j.Message) > 0 && j.Message[0] == '[' {
		// journalctl writes a message that is not valid UTF-8 (or holds
		// control characters) as an array of byte values.
		var bs []int
		if json.Unmarshal(j.Message, &bs) != nil {
			return fail()
		}
		msg = make([]byte, 0, len(bs))
		for _, b := range bs {
			if b < 0 || b > 255 {
				return fail()
			}
			msg = append(msg, byte(b))
		}
	} else {
		return fail()
	}
	// One event a line: a message holding a newline is not sshd's
	// (sshd escapes control characters before logging).
	if bytes.ContainsAny(msg, "\n\r") {
		return fail()
	}
	pid, _ := strconv.Atoi(j.PID)
	var t time.Time
	if us, err := strconv.ParseInt(j.Realtime, 10, 64); err == nil {
		t = time.UnixMicro(us)
	}
	return t, j.Host, pid, msg, true
}

// parseSshdE: `sshd -E FILE` writes only the message (CRLF-ended), a
// 9.8+ helper process sometimes with its name in front.
func parseSshdE(line []byte) ([]byte, bool) {
	for _, p := range []string{"sshd-session: ", "sshd-auth: ", "sshd: "} {
		if bytes.HasPrefix(line, []byte(p)) {
			return line[len(p):], true
		}
	}
	return line, true
}
