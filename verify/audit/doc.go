// Package audit proves that a host is hardened the way sshd really reads its
// configuration, not the way the files look: it asks the real sshd for its
// effective settings (sshd -T, globally and for one connection as the
// forward account and as an ordinary account), compares every directive of
// the hardening baseline and of the Match User block with what render
// produces, and names the file and line that set each value that differs.
// Static checks cover what sshd -T cannot show (Include order, lines caught
// in a trailing Match block, the account, StrictModes, every key line), the
// crypto policy compares the algorithms in effect with a public reference,
// and the layer proof starts throwaway lab sshds to show that each of the
// two restriction layers holds on its own.
//
// audit proves; it never changes the host. It only reads files under the
// hostfs.Root it is given and runs sshd -T / sshd -V (and, for the layer
// proof, lab sshds on 127.0.0.1 with their own temp directories). Fixing a
// finding is left to the admin or to pfwdctl apply, which the findings name.
//
// It lives under verify/ because proving is verify's job.
package audit
