// Package users keeps the port-forward-only account and its keys: it creates
// or fixes the account with the system's own tools (useradd, usermod, passwd),
// installs, lists, revokes and prunes restricted keys in the account's
// authorized_keys, finds the account's open sessions, and appends every change
// to the audit log.
//
// It never edits /etc/passwd or /etc/shadow itself, never writes a key line it
// did not build with package keyline, never changes another line of
// authorized_keys, never writes outside the hostfs.Root it is given, and
// never leaves a file half-written: every write is atomic and made under the
// pfwdctl lock.
package users
