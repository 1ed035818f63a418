// Package jit is pfwdctl's just-in-time access without a daemon: an
// operator who need not be root files a request for a friend's key (a
// JSON file in a spool directory only root and the JIT group can write),
// and root approves it for a window: the key is installed with
// expiry-time at the window's end (or a certificate is issued for it), so
// sshd itself ends the access. Every step is in the audit log, and hooks
// hear of every request and decision.
//
// What must never happen:
//   - a request is trusted for what its writer can forge: the requester is
//     the uid that owns the spool file (plus SUDO_USER only when that uid
//     is root), never a field in it; a file whose owner does not match,
//     with unknown fields, over the size limit, not a regular file, a
//     symlink, a hard link, or whose id is not its file name is refused;
//   - a request is approved by its requester unless the host allows it
//     (Settings.AllowSelfApprove), approved after its time-to-live, or
//     approved twice: the decision is written under pfwdctl's lock before
//     the key is installed, and a request with a decision is never decided
//     again;
//   - a grant outlives its window: the window's end is written into the
//     key line (or certificate), to the second;
//   - a hook is run through a shell, with the caller's environment, or
//     from a file that someone other than root could have written; a hook
//     that fails never blocks a decision;
//   - anything is written outside the hostfs.Root it is given.
package jit
