// Package internal holds the plumbing that render/, users/ and verify/ share:
// the --root path prefix and atomic writes (hostfs), the command runner (run),
// errors that carry a next step and an exit code (fail), terminal styling
// (ui), and the one home of each thing several commands ask about: sshd
// itself (sshd), the account databases (accounts) and the forward target
// (target). It is a top-level folder because each of those packages is
// needed by more than one of the layout's job packages and belongs to none
// of them; Go's internal/ rule keeps it from becoming anyone else's API.
package internal
