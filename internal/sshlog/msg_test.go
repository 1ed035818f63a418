package sshlog

import (
	"reflect"
	"testing"
)

const (
	fpA = "SHA256:QyT40/hP05RMknJSBb5CKG/HPgX/f9lVjTsaucqCaaQ"
	fpB = "SHA256:n4+8f0bJ1o2Xl3G9K7Qd6w5yJ0z9sW1vA2bC3dE4fG5"
)

// TestParseMessage: sshd's wordings as the releases log them (the message
// part, after "sshd[PID]: "), named by outcome.
func TestParseMessage(t *testing.T) {
	tests := []struct {
		name string
		msg  string
		want Event
		ok   bool
	}{
		// auth.c auth_log, the same from 8.0 to 10.5
		{"good_accepted_publickey_9.2_debian", "Accepted publickey for pfwd from 203.0.113.5 port 50022 ssh2: ED25519 " + fpA,
			Event{Kind: Accepted, User: "pfwd", Addr: "203.0.113.5", Port: 50022, Method: "publickey", KeyType: "ED25519", Fingerprint: fpA}, true},
		{"good_accepted_rsa_ipv6_8.0_rhel8", "Accepted publickey for pfwd from 2001:db8::5 port 2222 ssh2: RSA " + fpB,
			Event{Kind: Accepted, User: "pfwd", Addr: "2001:db8::5", Port: 2222, Method: "publickey", KeyType: "RSA", Fingerprint: fpB}, true},
		{"good_accepted_cert_10.0", "Accepted publickey for pfwd from 10.0.0.2 port 4000 ssh2: ED25519-CERT " + fpA + " ID bob (serial 7) CA ED25519 " + fpB,
			Event{Kind: Accepted, User: "pfwd", Addr: "10.0.0.2", Port: 4000, Method: "publickey", KeyType: "ED25519-CERT", Fingerprint: fpA, CertID: "bob", CertSerial: 7, CertCA: fpB}, true},
		{"good_accepted_cert_id_with_spaces", "Accepted publickey for pfwd from 10.0.0.2 port 4000 ssh2: ED25519-CERT " + fpA + " ID bob (laptop) (serial 12) CA ED25519 " + fpB,
			Event{Kind: Accepted, User: "pfwd", Addr: "10.0.0.2", Port: 4000, Method: "publickey", KeyType: "ED25519-CERT", Fingerprint: fpA, CertID: "bob (laptop)", CertSerial: 12, CertCA: fpB}, true},
		// A security key: sshd adds its signature count (auth.c format_method_key).
		{"good_accepted_sk_signature_count_8.2", "Accepted publickey for pfwd from 10.0.0.2 port 4000 ssh2: ED25519-SK " + fpA + ", signature count = 3",
			Event{Kind: Accepted, User: "pfwd", Addr: "10.0.0.2", Port: 4000, Method: "publickey", KeyType: "ED25519-SK", Fingerprint: fpA}, true},
		{"good_accepted_sk_cert_signature_count", "Accepted publickey for pfwd from 10.0.0.2 port 4000 ssh2: ED25519-SK-CERT " + fpA + " ID bob (serial 7) CA ED25519 " + fpB + ", signature count = 3",
			Event{Kind: Accepted, User: "pfwd", Addr: "10.0.0.2", Port: 4000, Method: "publickey", KeyType: "ED25519-SK-CERT", Fingerprint: fpA, CertID: "bob", CertSerial: 7, CertCA: fpB}, true},
		// A key id written to look like the fixed fields: the last ones win.
		{"hostile_cert_id_fake_serial", "Accepted publickey for pfwd from 10.0.0.2 port 4000 ssh2: ED25519-CERT " + fpA + " ID x (serial 5) CA ED25519 " + fpA + " (serial 9) CA ED25519 " + fpB,
			Event{Kind: Accepted, User: "pfwd", Addr: "10.0.0.2", Port: 4000, Method: "publickey", KeyType: "ED25519-CERT", Fingerprint: fpA, CertID: "x (serial 5) CA ED25519 " + fpA, CertSerial: 9, CertCA: fpB}, true},
		{"bad_cert_extra_without_ca", "Accepted publickey for pfwd from 10.0.0.2 port 4000 ssh2: ED25519-CERT " + fpA + " ID bob (serial 7)",
			Event{}, false},
		{"bad_cert_serial_not_a_number", "Accepted publickey for pfwd from 10.0.0.2 port 4000 ssh2: ED25519-CERT " + fpA + " ID bob (serial x) CA ED25519 " + fpB,
			Event{}, false},
		{"good_accepted_password_no_key", "Accepted password for alice from 10.0.0.2 port 4000 ssh2",
			Event{Kind: Accepted, User: "alice", Addr: "10.0.0.2", Port: 4000, Method: "password"}, true},
		{"good_accepted_kbdint_pam_ubuntu", "Accepted keyboard-interactive/pam for alice from 10.0.0.2 port 4000 ssh2",
			Event{Kind: Accepted, User: "alice", Addr: "10.0.0.2", Port: 4000, Method: "keyboard-interactive/pam"}, true},
		{"good_failed_password_invalid_user", "Failed password for invalid user admin from 198.51.100.7 port 41000 ssh2",
			Event{Kind: Failed, User: "admin", Addr: "198.51.100.7", Port: 41000, Method: "password", Reason: "invalid user"}, true},
		{"good_failed_publickey", "Failed publickey for pfwd from 198.51.100.7 port 41000 ssh2: ED25519 " + fpB,
			Event{Kind: Failed, User: "pfwd", Addr: "198.51.100.7", Port: 41000, Method: "publickey", KeyType: "ED25519", Fingerprint: fpB, Reason: "failed publickey"}, true},
		{"good_invalid_user", "Invalid user oracle from 198.51.100.7 port 41000",
			Event{Kind: Failed, User: "oracle", Addr: "198.51.100.7", Port: 41000, Reason: "invalid user"}, true},
		{"good_closed_authenticating_preauth_9.x", "Connection closed by authenticating user pfwd 198.51.100.7 port 41000 [preauth]",
			Event{Kind: Failed, User: "pfwd", Addr: "198.51.100.7", Port: 41000, Reason: "no accepted key or password (connection closed while authenticating)"}, true},
		{"good_disconnected_authenticating_preauth", "Disconnected from authenticating user pfwd 198.51.100.7 port 41000 [preauth]",
			Event{Kind: Failed, User: "pfwd", Addr: "198.51.100.7", Port: 41000, Reason: "no accepted key or password (disconnected while authenticating)"}, true},
		{"good_closed_invalid_user_preauth", "Connection closed by invalid user admin 198.51.100.7 port 41000 [preauth]",
			Event{Kind: Failed, User: "admin", Addr: "198.51.100.7", Port: 41000, Reason: "invalid user"}, true},
		{"good_from_mismatch_8.0_auth.c", "/home/pfwd/.ssh/authorized_keys:3: Authentication tried for pfwd with correct key but not from a permitted host (host=198.51.100.7, ip=198.51.100.7, required=10.0.0.0/8).",
			Event{Kind: Failed, User: "pfwd", Addr: "198.51.100.7", Method: "publickey", Reason: "key not from a permitted host (from=10.0.0.0/8)"}, true},
		{"good_from_mismatch_hostile_ptr", "/etc/ssh/keys/pfwd:1: Authentication tried for pfwd with correct key but not from a permitted host (host=x, ip=6.6.6.6, required=evil, ip=198.51.100.7, required=10.0.0.0/8).",
			Event{Kind: Failed, User: "pfwd", Addr: "198.51.100.7", Method: "publickey", Reason: "key not from a permitted host (from=10.0.0.0/8)"}, true},
		{"good_cert_source_address", "/etc/ssh/ca:1: Authentication tried for pfwd with valid certificate but not from a permitted source address (198.51.100.7).",
			Event{Kind: Failed, User: "pfwd", Addr: "198.51.100.7", Method: "publickey", Reason: "certificate not from a permitted source address"}, true},
		{"good_not_allowed_locked", "User pfwd from 198.51.100.7 not allowed because account is locked",
			Event{Kind: Failed, User: "pfwd", Addr: "198.51.100.7", Reason: "not allowed because account is locked"}, true},
		// serverloop.c / channels.c refusals
		{"good_refused_local_forward_permitopen_all", "refused local port forward: originator 127.0.0.1 port 51000, target 10.9.9.9 port 22",
			Event{Kind: RefusedForward, Dest: "10.9.9.9:22", Reason: "local forward"}, true},
		{"good_denied_8.0_no_addr", "Received request to connect to host 127.0.0.1 port 22, but the request was denied.",
			Event{Kind: RefusedForward, Dest: "127.0.0.1:22", Reason: "local forward"}, true},
		{"good_denied_9.2_with_addr", "Received request from 127.0.0.1 port 57462 to connect to host 127.0.0.1 port 22, but the request was denied.",
			Event{Kind: RefusedForward, Addr: "127.0.0.1", Port: 57462, Dest: "127.0.0.1:22", Reason: "local forward"}, true},
		{"good_denied_ipv6_dest", "Received request from 10.0.0.2 port 1 to connect to host ::1 port 5432, but the request was denied.",
			Event{Kind: RefusedForward, Addr: "10.0.0.2", Port: 1, Dest: "[::1]:5432", Reason: "local forward"}, true},
		{"good_denied_remote_forward", "Received request from 10.0.0.2 port 1 to remote forward to host 0.0.0.0 port 8080, but the request was denied.",
			Event{Kind: RefusedForward, Addr: "10.0.0.2", Port: 1, Dest: "0.0.0.0:8080", Reason: "remote forward"}, true},
		{"good_denied_remote_forward_bare", "Received request from 10.0.0.2 port 1 to remote forward, but the request was denied.",
			Event{Kind: RefusedForward, Addr: "10.0.0.2", Port: 1, Reason: "remote forward"}, true},
		{"good_denied_path", "Received request to connect to path /run/x.sock, but the request was denied.",
			Event{Kind: RefusedForward, Dest: "/run/x.sock", Reason: "local streamlocal forward"}, true},
		// endings
		{"good_received_disconnect", "Received disconnect from 203.0.113.5 port 50022:11: disconnected by user",
			Event{Kind: Closed, Addr: "203.0.113.5", Port: 50022, Reason: "client disconnected"}, true},
		{"good_disconnected_from_user", "Disconnected from user pfwd 203.0.113.5 port 50022",
			Event{Kind: Closed, User: "pfwd", Addr: "203.0.113.5", Port: 50022, Reason: "disconnected"}, true},
		{"good_connection_closed_8.x_serverloop", "Connection closed by 203.0.113.5 port 50022",
			Event{Kind: Closed, Addr: "203.0.113.5", Port: 50022, Reason: "connection closed"}, true},
		{"good_connection_reset_user", "Connection reset by user pfwd 203.0.113.5 port 50022",
			Event{Kind: Closed, User: "pfwd", Addr: "203.0.113.5", Port: 50022, Reason: "connection reset"}, true},
		{"good_timeout", "Timeout, client not responding from user pfwd 203.0.113.5 port 50022",
			Event{Kind: Timeout, User: "pfwd", Addr: "203.0.113.5", Port: 50022, Reason: "client not responding"}, true},
		{"good_timed_out", "Connection from user pfwd 203.0.113.5 port 50022 timed out",
			Event{Kind: Timeout, User: "pfwd", Addr: "203.0.113.5", Port: 50022, Reason: "timed out"}, true},
		{"good_exiting_on_signal_9.x", "Exiting on signal 15", Event{Kind: Killed, Reason: "signal 15"}, true},
		{"good_mm_reap_10.5", "mm_reap: child terminated by signal 15", Event{Kind: Killed, Reason: "signal 15"}, true},
		{"good_mm_reap_10.0", "mm_reap: preauth child terminated by signal 9", Event{Kind: Killed, Reason: "signal 9"}, true},
		{"good_session_killed_10.x_listener", "session process 4242 for 203.0.113.5:50022 killed by signal 15",
			Event{Kind: Killed, PID: 4242, Reason: "signal 15"}, true},
		{"good_user_child", "User child is on pid 30939", Event{Kind: Child, Child: 30939}, true},
		// hostile: a user name written to look like the fixed fields
		{"hostile_user_fake_fields_failed", "Failed publickey for invalid user x from 6.6.6.6 port 1 ssh2: ED25519 " + fpB + " from 198.51.100.7 port 41000 ssh2: ED25519 " + fpA,
			Event{Kind: Failed, User: "x from 6.6.6.6 port 1 ssh2: ED25519 " + fpB, Addr: "198.51.100.7", Port: 41000, Method: "publickey", KeyType: "ED25519", Fingerprint: fpA, Reason: "invalid user"}, true},
		{"hostile_user_fake_fingerprint_password", "Failed password for invalid user x from 6.6.6.6 port 1 ssh2: ED25519 SHA256:fake from 198.51.100.7 port 41000 ssh2",
			Event{Kind: Failed, User: "x from 6.6.6.6 port 1 ssh2: ED25519 SHA256:fake", Addr: "198.51.100.7", Port: 41000, Method: "password", Reason: "invalid user"}, true},
		{"hostile_invalid_user_looks_accepted", "Invalid user Accepted publickey for root from 6.6.6.6 port 1 ssh2: ED25519 " + fpB + " from 198.51.100.7 port 41000",
			Event{Kind: Failed, User: "Accepted publickey for root from 6.6.6.6 port 1 ssh2: ED25519 " + fpB, Addr: "198.51.100.7", Port: 41000, Reason: "invalid user"}, true},
		{"hostile_authenticating_user_fake_addr", "Connection closed by authenticating user x 6.6.6.6 port 1 198.51.100.7 port 41000 [preauth]",
			Event{Kind: Failed, User: "x 6.6.6.6 port 1", Addr: "198.51.100.7", Port: 41000, Reason: "no accepted key or password (connection closed while authenticating)"}, true},
		{"hostile_forward_target_fake_port", "Received request from 10.0.0.2 port 1 to connect to host evil port 22, x port 80, but the request was denied.",
			Event{Kind: RefusedForward, Addr: "10.0.0.2", Port: 1, Dest: "evil port 22, x:80", Reason: "local forward"}, true},
		{"hostile_disconnect_message", "Received disconnect from 203.0.113.5 port 50022:11: x from 6.6.6.6 port 1",
			Event{Kind: Closed, Addr: "203.0.113.5", Port: 50022, Reason: "client disconnected"}, true},
		// not events
		{"nomatch_accepted_key_found_at", "Accepted key ED25519 " + fpA + " found at /tmp/etest/ak:1", Event{}, false},
		{"nomatch_postponed", "Postponed publickey for root from 127.0.0.1 port 57462 ssh2", Event{}, false},
		{"nomatch_connection_from", "Connection from 127.0.0.1 port 57462 on 127.0.0.1 port 42222 rdomain \"\"", Event{}, false},
		{"nomatch_server_listening", "Server listening on 0.0.0.0 port 22.", Event{}, false},
		{"nomatch_pam", "pam_unix(sshd:session): session opened for user pfwd(uid=1001) by (uid=0)", Event{}, false},
		{"fail_accepted_truncated", "Accepted publickey for pfwd from 203.0.113.5 po", Event{}, false},
		{"fail_accepted_bad_addr", "Accepted publickey for pfwd from evil.example port 1 ssh2: ED25519 " + fpA, Event{}, false},
		{"fail_accepted_short_fingerprint", "Accepted publickey for pfwd from 10.0.0.1 port 1 ssh2: ED25519 SHA256:fake", Event{}, false},
		{"fail_accepted_trailing_junk", "Accepted publickey for pfwd from 10.0.0.1 port 1 ssh2: ED25519 " + fpA + " extra", Event{}, false},
		{"fail_accepted_port_too_big", "Accepted publickey for pfwd from 10.0.0.1 port 99999 ssh2", Event{}, false},
		{"fail_empty", "", Event{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := parseMessage(tt.msg)
			if ok != tt.ok {
				t.Fatalf("ok = %v, want %v (%+v)", ok, tt.ok, got)
			}
			if ok && !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}
