// Package sshd is pfwdctl's one door to OpenSSH's sshd itself: finding the
// binary, asking it about a configuration (sshd -t, sshd -T, sshd -T -C)
// and about itself (sshd -V), under a --root tree as on the running
// system; its pid file and running processes (the listener and each
// connection's sshd, sshd-session or sshd-auth); and making the running
// daemon read its config again (reload).
//
// It never changes a configuration file (under --root, and for a planned
// change not written yet (Binary.Overlay), it works on a throwaway copy in a
// temp directory), never decides what a configuration
// should say, and never signals a process that is not sshd: a PID from a
// pid file or a /proc listing is checked against the process's name right
// before any signal.
package sshd
