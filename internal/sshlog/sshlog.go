// Package sshlog reads what sshd logged about connections (accepted keys
// with their fingerprints, failed authentications, refused forwards, how
// each connection ended) from syslog files, the systemd journal or an
// `sshd -E` file, and joins the lines of one connection by the process
// that logged them.
//
// It must never:
//   - trust a field an attacker controls to create an event: the user
//     name, a forward's target host, a disconnect message and a reverse
//     DNS name come from the client, so every message is anchored on the
//     fixed words and the fields sshd itself fills in (address, port, key
//     type, fingerprint), searched for from the side the attacker cannot
//     write past;
//   - read outside --root: every path goes through hostfs.Root;
//   - load a whole file into memory: Scanner reads one line at a time
//     (longer lines than maxLine are skipped, not buffered), and Joiner
//     keeps only the connections still open.
//
// What the logs cannot prove: in a syslog file any local user can write a
// line tagged sshd[PID] (logger -t), so a file is evidence only as far as
// the syslog daemon is trusted; in the journal the process name and pid
// journald itself recorded (_COMM, _PID) are checked instead of the
// sender's claim, so the journal is preferred when it has sshd's lines.
// `sshd -E` files carry neither time nor pid (joined by address and
// port). A key's expiry and a refused key are logged only at DEBUG: they
// show as a client that gave up while authenticating.
package sshlog

import "time"

// Kind is what an Event says happened.
type Kind string

const (
	// Accepted: "Accepted publickey for USER from ADDR port P ssh2: TYPE SHA256:...".
	Accepted Kind = "accepted"
	// Failed: a failed authentication (Failed METHOD, Invalid user, a key
	// from a host its from= does not allow, a client that gave up while
	// authenticating: a refused or expired key ends that way, since sshd
	// logs a key's expiry only at DEBUG).
	Failed Kind = "failed"
	// RefusedForward: a forward sshd refused (permitopen, PermitOpen,
	// AllowTcpForwarding), with Dest.
	RefusedForward Kind = "refused-forward"
	// Closed: the connection ended (Disconnected from, Received
	// disconnect, Connection closed/reset by).
	Closed Kind = "closed"
	// Timeout: ClientAlive gave up ("Timeout, client not responding") or
	// the connection timed out.
	Timeout Kind = "timeout"
	// Killed: the connection's process got a signal ("Exiting on signal"
	// up to 9.x; the 9.8+ listener's "session process N ... killed by
	// signal").
	Killed Kind = "killed"
	// Child (an addition): "User child is on pid N". Before 9.8 the
	// post-authentication lines (refused forwards, the disconnect) come
	// from that unprivileged child, not from the process that logged
	// Accepted; Event.Child carries N so Joiner can follow.
	Child Kind = "child"
)

// Event is one relevant sshd log line.
type Event struct {
	Time        time.Time `json:"time"`
	Host        string    `json:"host,omitempty"` // syslog host field
	PID         int       `json:"pid"`            // the sshd process that logged it (joins one connection's lines)
	Kind        Kind      `json:"kind"`
	User        string    `json:"user,omitempty"`
	Addr        string    `json:"addr,omitempty"`
	Port        int       `json:"port,omitempty"`
	Method      string    `json:"method,omitempty"`      // publickey, password, keyboard-interactive...
	KeyType     string    `json:"key_type,omitempty"`    // ED25519, RSA, ...
	Fingerprint string    `json:"fingerprint,omitempty"` // SHA256:...
	// CertID and CertSerial name the certificate a login used (its key
	// id and serial; Fingerprint is then its key's): ca revoke
	// --kill-sessions ends the sessions of the revoked ones.
	CertID     string `json:"cert_id,omitempty"`
	CertSerial uint64 `json:"cert_serial,omitempty"`
	// CertCA is the fingerprint of the CA that signed it: serials and
	// ids mean something only for one CA (a KRL entry names its CA).
	CertCA string `json:"cert_ca,omitempty"`
	Dest   string `json:"dest,omitempty"`   // refused forward destination host:port
	Reason string `json:"reason,omitempty"` // human text for failures
	// Child is the pid named by a Child event (an addition).
	Child int `json:"child,omitempty"`
}

// Format is the shape of a log line.
type Format string

const (
	// RFC3164 is classic syslog: "Nov 24 01:02:03 host sshd[123]: msg" (no year).
	RFC3164 Format = "rfc3164"
	// RFC5424 is "<38>1 2026-11-24T01:02:03.123Z host sshd 123 - - msg".
	RFC5424 Format = "rfc5424"
	// ISO is Debian 12 rsyslog's "2026-11-24T01:02:03.123456+00:00 host sshd[123]: msg".
	ISO Format = "iso"
	// Journal is `journalctl -o json`, one object a line.
	Journal Format = "journal"
	// SshdE is what `sshd -E FILE` writes: the bare message (no time, no
	// pid), ended by CRLF; 9.8+ session processes may prefix "sshd-session: ".
	SshdE Format = "sshd-e"
)

// Options tune the Scanner.
type Options struct {
	// Now is "now" for RFC 3164's missing year; zero: time.Now().
	Now time.Time
	// Location is the zone of RFC 3164 timestamps; nil: time.Local.
	Location *time.Location
	// Year, when not 0, is the year of every RFC 3164 line. 0: derived
	// from Now, a line dated after Now belonging to the year before
	// (Dec lines then Jan lines across a year boundary).
	Year int
}
