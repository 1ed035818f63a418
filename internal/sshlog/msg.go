package sshlog

import (
	"net/netip"
	"strconv"
	"strings"
)

// parseMessage turns one sshd message (the text after "sshd[PID]: ") into
// an event. Which fields the client controls decides how each wording is
// cut: the user name (%.100s), a forward's target host and a disconnect
// message can hold anything printable, including text that looks like the
// rest of a log line; the address and port sshd takes from the socket, and
// the key type and fingerprint it computes. So a fixed field is read from
// the end of the message when the hostile field comes before it, and from
// the start when it comes after; and an address must parse as an IP.
func parseMessage(msg string) (Event, bool) {
	var e Event
	// The preauth child's lines come back through the monitor with this
	// suffix; it is the very last thing sshd writes, so no client text
	// follows it.
	msg = strings.TrimSuffix(msg, " [preauth]")
	switch {
	case strings.HasPrefix(msg, "Accepted "):
		return parseAuth(msg[len("Accepted "):], Accepted)
	case strings.HasPrefix(msg, "Failed "):
		return parseAuth(msg[len("Failed "):], Failed)
	case strings.HasPrefix(msg, "Invalid user "):
		// Invalid user USER from ADDR port P
		rest := msg[len("Invalid user "):]
		i := strings.LastIndex(rest, " from ")
		if i < 0 {
			return e, false
		}
		addr, port, ok := addrPort(rest[i+len(" from "):])
		if !ok {
			return e, false
		}
		return Event{Kind: Failed, User: rest[:i], Addr: addr, Port: port, Reason: "invalid user"}, true
	case strings.HasPrefix(msg, "User child is on pid "):
		n, err := strconv.Atoi(msg[len("User child is on pid "):])
		if err != nil || n <= 0 {
			return e, false
		}
		return Event{Kind: Child, Child: n}, true
	case strings.HasPrefix(msg, "refused local port forward: originator "):
		// refused local port forward: originator O port N, target T port M
		// O and T are the client's words: T is cut from the end (the last
		// " port "), O is not used.
		rest := msg[len("refused local port forward: originator "):]
		i := strings.LastIndex(rest, " port ")
		if i < 0 || !digits(rest[i+len(" port "):]) {
			return e, false
		}
		j := strings.LastIndex(rest[:i], ", target ")
		if j < 0 {
			return e, false
		}
		return Event{Kind: RefusedForward, Dest: joinHostPort(rest[j+len(", target "):i], rest[i+len(" port "):]), Reason: "local forward"}, true
	case strings.HasPrefix(msg, "refused streamlocal port forward: originator "):
		rest := msg[len("refused streamlocal port forward: originator "):]
		j := strings.LastIndex(rest, ", target ")
		if j < 0 {
			return e, false
		}
		return Event{Kind: RefusedForward, Dest: rest[j+len(", target "):], Reason: "streamlocal forward"}, true
	case strings.HasPrefix(msg, "Received request ") && strings.HasSuffix(msg, ", but the request was denied."):
		return parseDenied(msg[len("Received request ") : len(msg)-len(", but the request was denied.")])
	case strings.HasPrefix(msg, "Received disconnect from "):
		// Received disconnect from ADDR port P:CODE: MSG — MSG is the
		// client's, so read from the start.
		rest := msg[len("Received disconnect from "):]
		sp := strings.IndexByte(rest, ' ')
		if sp < 0 || !strings.HasPrefix(rest[sp:], " port ") {
			return e, false
		}
		addr := rest[:sp]
		ps := rest[sp+len(" port "):]
		k := 0
		for k < len(ps) && ps[k] >= '0' && ps[k] <= '9' {
			k++
		}
		port, err := strconv.Atoi(ps[:k])
		if err != nil || !isIP(addr) || !strings.HasPrefix(ps[k:], ":") {
			return e, false
		}
		return Event{Kind: Closed, Addr: addr, Port: port, Reason: "client disconnected"}, true
	case strings.HasPrefix(msg, "Disconnected from "):
		return connID(msg[len("Disconnected from "):], Closed, "disconnected")
	case strings.HasPrefix(msg, "Connection closed by "):
		return connID(msg[len("Connection closed by "):], Closed, "connection closed")
	case strings.HasPrefix(msg, "Connection reset by "):
		return connID(msg[len("Connection reset by "):], Closed, "connection reset")
	case strings.HasPrefix(msg, "Read error from remote host "):
		rest := msg[len("Read error from remote host "):]
		if i := strings.Index(rest, ": "); i >= 0 {
			rest = rest[:i]
		}
		return connID(rest, Closed, "read error")
	case strings.HasPrefix(msg, "Timeout, client not responding from "):
		return connID(msg[len("Timeout, client not responding from "):], Timeout, "client not responding")
	case strings.HasPrefix(msg, "Connection from ") && strings.HasSuffix(msg, " timed out"):
		return connID(msg[len("Connection from "):len(msg)-len(" timed out")], Timeout, "timed out")
	case strings.HasPrefix(msg, "Exiting on signal "):
		return Event{Kind: Killed, Reason: "signal " + msg[len("Exiting on signal "):]}, true
	case strings.HasPrefix(msg, "mm_reap: ") && strings.Contains(msg, "child terminated by signal "):
		// 10.x: the session process's monitor saw its child killed (the
		// monitor forwards a SIGTERM it gets); 10.0 says "preauth child"
		// here even after authentication.
		return Event{Kind: Killed, Reason: "signal " + msg[strings.LastIndex(msg, " ")+1:]}, true
	case strings.HasPrefix(msg, "session process "):
		// 9.8+ listener: session process N for ID killed by signal S
		rest := msg[len("session process "):]
		sp := strings.IndexByte(rest, ' ')
		if sp < 0 {
			return e, false
		}
		n, err := strconv.Atoi(rest[:sp])
		k := strings.LastIndex(rest, " killed by signal ")
		if err != nil || n <= 0 || k < 0 {
			return e, false
		}
		return Event{Kind: Killed, PID: n, Reason: "signal " + rest[k+len(" killed by signal "):]}, true
	case strings.HasPrefix(msg, "User ") && strings.Contains(msg, " not allowed because "):
		// User USER from ADDR not allowed because REASON
		rest := msg[len("User "):]
		k := strings.LastIndex(rest, " not allowed because ")
		i := strings.LastIndex(rest[:k], " from ")
		if i < 0 {
			return e, false
		}
		addr := rest[i+len(" from ") : k]
		if !isIP(addr) {
			addr = ""
		}
		return Event{Kind: Failed, User: rest[:i], Addr: addr, Reason: "not allowed because " + rest[k+len(" not allowed because "):]}, true
	}
	// LOC: Authentication tried for USER with correct key but not from a
	// permitted host (host=H, ip=A, required=R).
	if i := strings.Index(msg, ": Authentication tried for "); i >= 0 {
		rest := msg[i+len(": Authentication tried for "):]
		if k := strings.Index(rest, " with correct key but not from a permitted host ("); k >= 0 {
			// H is a reverse DNS name (the attacker's PTR record), so ip=
			// is the last one before ", required=" (the admin's from=).
			tail := strings.TrimSuffix(rest[k:], ").")
			r := strings.LastIndex(tail, ", required=")
			if r < 0 {
				return e, false
			}
			p := strings.LastIndex(tail[:r], ", ip=")
			if p < 0 {
				return e, false
			}
			addr := tail[p+len(", ip=") : r]
			if !isIP(addr) {
				addr = ""
			}
			return Event{Kind: Failed, User: rest[:k], Addr: addr, Method: "publickey", Reason: "key not from a permitted host (from=" + tail[r+len(", required="):] + ")"}, true
		}
		if k := strings.Index(rest, " with valid certificate but not from a permitted source address ("); k >= 0 {
			addr := strings.TrimSuffix(rest[k+len(" with valid certificate but not from a permitted source address ("):], ").")
			if !isIP(addr) {
				addr = ""
			}
			return Event{Kind: Failed, User: rest[:k], Addr: addr, Method: "publickey", Reason: "certificate not from a permitted source address"}, true
		}
	}
	return e, false
}

// parseAuth reads "METHOD for [invalid user ]USER from ADDR port P ssh2[: EXTRA]"
// (auth.c auth_log). The user comes before the fixed fields, so they are
// found from the end: the last " from " whose tail parses exactly, where
// EXTRA must be "TYPE SHA256:..." (a certificate adds " ID ... CA ...",
// allowed only after a -CERT type).
func parseAuth(rest string, kind Kind) (Event, bool) {
	var e Event
	sp := strings.Index(rest, " for ")
	if sp <= 0 {
		return e, false
	}
	method := rest[:sp]
	if strings.ContainsAny(method, " ") {
		return e, false
	}
	rest = rest[sp+len(" for "):]
	end := len(rest)
	for end > 0 {
		i := strings.LastIndex(rest[:end], " from ")
		if i < 0 {
			return e, false
		}
		end = i
		ev, ok := authTail(rest[i+len(" from "):])
		if !ok {
			continue
		}
		ev.Kind, ev.Method, ev.User = kind, method, rest[:i]
		if kind == Failed {
			ev.Reason = "failed " + method
			if u, ok := strings.CutPrefix(ev.User, "invalid user "); ok {
				ev.User, ev.Reason = u, "invalid user"
			}
		}
		return ev, true
	}
	return e, false
}

// authTail parses "ADDR port P ssh2[: TYPE FP[ ID ...]]" exactly.
func authTail(s string) (Event, bool) {
	var e Event
	sp := strings.IndexByte(s, ' ')
	if sp < 0 || !isIP(s[:sp]) {
		return e, false
	}
	e.Addr = s[:sp]
	s = s[sp:]
	if !strings.HasPrefix(s, " port ") {
		return e, false
	}
	s = s[len(" port "):]
	k := 0
	for k < len(s) && s[k] >= '0' && s[k] <= '9' {
		k++
	}
	p, err := strconv.Atoi(s[:k])
	if err != nil || p > 65535 {
		return e, false
	}
	e.Port = p
	s = s[k:]
	if !strings.HasPrefix(s, " ssh2") {
		return e, false
	}
	s = s[len(" ssh2"):]
	if s == "" {
		return e, true
	}
	s, ok := strings.CutPrefix(s, ": ")
	if !ok {
		return e, false
	}
	typ, s, ok := strings.Cut(s, " ")
	if !ok || !keyType(typ) {
		// Not a key (a method's own info): keep the event, no key.
		return e, true
	}
	if !strings.Contains(typ, "-CERT") {
		// "FP" or "FP, INFO": a security key adds ", signature count = N"
		// (auth.c format_method_key).
		fp, info, _ := strings.Cut(s, ", ")
		if !fingerprint(fp) || strings.Contains(info, "\n") {
			return e, false
		}
		e.KeyType, e.Fingerprint = typ, fp
		return e, true
	}
	fp, extra, _ := strings.Cut(s, " ")
	if !fingerprint(fp) {
		return e, false
	}
	id, serial, caFP, ok := certInfo(extra)
	if !ok {
		return e, false
	}
	e.KeyType, e.Fingerprint, e.CertID, e.CertSerial, e.CertCA = typ, fp, id, serial, caFP
	return e, true
}

// certInfo reads what sshd adds after a certificate's fingerprint
// (auth.c format_method_key): "ID KEYID (serial N) CA TYPE FP[, INFO]". The
// key id is whatever the signer chose, spaces included, so the fixed
// fields are found from the end; INFO (a security key's signature count)
// never holds " (serial ".
func certInfo(extra string) (id string, serial uint64, caFP string, ok bool) {
	rest, ok := strings.CutPrefix(extra, "ID ")
	if !ok {
		return "", 0, "", false
	}
	i := strings.LastIndex(rest, " (serial ")
	if i < 0 {
		return "", 0, "", false
	}
	num, tail, ok := strings.Cut(rest[i+len(" (serial "):], ") CA ")
	if !ok {
		return "", 0, "", false
	}
	n, err := strconv.ParseUint(num, 10, 64)
	if err != nil {
		return "", 0, "", false
	}
	typ, fp, ok := strings.Cut(tail, " ")
	fp, _, _ = strings.Cut(fp, ", ")
	if !ok || !keyType(typ) || !fingerprint(fp) {
		return "", 0, "", false
	}
	return rest[:i], n, fp, true
}

// parseDenied reads the text between "Received request " and ", but the
// request was denied." (channels.c):
//
//	to connect to host H port P                         (8.x)
//	from A port P to connect to host H port N           (8.9+)
//	to connect to path P / from A port P to connect to path P
//	from A port P to remote forward to host H port N    (8.9+)
//	from A port P to remote forward to path P
//	from A port P to remote forward
func parseDenied(s string) (Event, bool) {
	e := Event{Kind: RefusedForward}
	if rest, ok := strings.CutPrefix(s, "from "); ok {
		sp := strings.IndexByte(rest, ' ')
		if sp < 0 || !isIP(rest[:sp]) || !strings.HasPrefix(rest[sp:], " port ") {
			return e, false
		}
		e.Addr = rest[:sp]
		rest = rest[sp+len(" port "):]
		k := 0
		for k < len(rest) && rest[k] >= '0' && rest[k] <= '9' {
			k++
		}
		p, err := strconv.Atoi(rest[:k])
		if err != nil {
			return e, false
		}
		e.Port = p
		s = rest[k:]
		if s == " to remote forward" {
			e.Reason = "remote forward"
			return e, true
		}
		s = strings.TrimPrefix(s, " ")
	}
	reason := "local forward"
	if r, ok := strings.CutPrefix(s, "to remote forward "); ok {
		s, reason = r, "remote forward"
	}
	e.Reason = reason
	if h, ok := strings.CutPrefix(s, "to connect to host "); ok {
		s = "to host " + h
	}
	if h, ok := strings.CutPrefix(s, "to connect to path "); ok {
		s = "to path " + h
	}
	switch {
	case strings.HasPrefix(s, "to host "):
		h := s[len("to host "):]
		i := strings.LastIndex(h, " port ")
		if i < 0 || !digits(h[i+len(" port "):]) {
			return e, false
		}
		e.Dest = joinHostPort(h[:i], h[i+len(" port "):])
	case strings.HasPrefix(s, "to path "):
		e.Dest = strings.Trim(s[len("to path "):], `"`)
		e.Reason = strings.Replace(reason, "forward", "streamlocal forward", 1)
	default:
		return e, false
	}
	return e, true
}

// connID reads sshpkt_fmt_connection_id: "[authenticating |invalid ]user
// USER ADDR port P" or "ADDR port P" (the user first: cut from the end).
func connID(s string, kind Kind, reason string) (Event, bool) {
	e := Event{Kind: kind, Reason: reason}
	i := strings.LastIndex(s, " port ")
	if i < 0 || !digits(s[i+len(" port "):]) {
		return e, false
	}
	e.Port, _ = strconv.Atoi(s[i+len(" port "):])
	head := s[:i]
	sp := strings.LastIndexByte(head, ' ')
	e.Addr = head[sp+1:]
	if !isIP(e.Addr) {
		return e, false
	}
	if sp < 0 {
		return e, true
	}
	pre := head[:sp]
	switch {
	case strings.HasPrefix(pre, "authenticating user "):
		// The client gave up while authenticating: its key was refused
		// (wrong, revoked or expired).
		e.User, e.Kind, e.Reason = pre[len("authenticating user "):], Failed, "no accepted key or password ("+reason+" while authenticating)"
	case strings.HasPrefix(pre, "invalid user "):
		e.User, e.Kind, e.Reason = pre[len("invalid user "):], Failed, "invalid user"
	case strings.HasPrefix(pre, "user "):
		e.User = pre[len("user "):]
	default:
		return e, false
	}
	return e, true
}

func joinHostPort(h, p string) string {
	if strings.Contains(h, ":") && !strings.HasPrefix(h, "[") {
		return "[" + h + "]:" + p
	}
	return h + ":" + p
}

func digits(s string) bool {
	if s == "" || len(s) > 5 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// isIP: sshd's ssh_remote_ipaddr is always a numeric address ("UNKNOWN"
// when the socket is gone).
func isIP(s string) bool {
	if s == "UNKNOWN" {
		return true
	}
	_, err := netip.ParseAddr(s)
	return err == nil
}

// keyType: sshd_key_type names, upper case (ED25519, RSA, ECDSA,
// ED25519-SK, ECDSA-SK, RSA-CERT, ED25519-CERT, ...).
func keyType(s string) bool {
	if s == "" || len(s) > 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// fingerprint: SHA256:<43 base64> (sshd's default FingerprintHash) or
// MD5:xx:xx:... (FingerprintHash md5).
func fingerprint(s string) bool {
	if b, ok := strings.CutPrefix(s, "SHA256:"); ok {
		if len(b) != 43 {
			return false
		}
		for i := 0; i < len(b); i++ {
			c := b[i]
			if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/') {
				return false
			}
		}
		return true
	}
	if b, ok := strings.CutPrefix(s, "MD5:"); ok {
		return len(b) == 47
	}
	return false
}

// addrPort parses exactly "ADDR port P".
func addrPort(s string) (string, int, bool) {
	a, p, ok := strings.Cut(s, " port ")
	if !ok || !isIP(a) || !digits(p) {
		return "", 0, false
	}
	n, _ := strconv.Atoi(p)
	return a, n, true
}
