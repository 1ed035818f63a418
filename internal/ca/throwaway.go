package ca

import (
	"bytes"
	"errors"
	"io/fs"
	"strings"

	"golang.org/x/crypto/ssh"

	"github.com/pfwdctl/pfwdctl/internal/auditlog"
	"github.com/pfwdctl/pfwdctl/internal/fail"
	"github.com/pfwdctl/pfwdctl/internal/hostfs"
)

// verify --self --certificate proves the certificate path without the CA
// private key, which stays off the server: a throwaway CA is trusted for
// the run, next to the real one, the way --self installs a throwaway key.
// Its private key lives only in that process's memory, and the
// certificate it signs expires within minutes, so a line left behind (a
// run killed at the wrong moment) lets nobody in; apply also rewrites the
// file with the real CA alone.

// Audit log actions for the throwaway CA line.
const (
	ActionTrustThrowaway   = "ca-trust-throwaway"
	ActionUntrustThrowaway = "ca-untrust-throwaway"
)

// ThrowawayComment ends the line TrustThrowaway adds.
const ThrowawayComment = "pfwdctl-verify-self-throwaway-ca"

// WithoutThrowaway is a trusted CA file's content without the lines
// TrustThrowaway adds, and how many it held: apply reads the installed CA
// from the rest (and rewrites the file with it alone), audit fails a file
// that still trusts a throwaway CA.
func WithoutThrowaway(data []byte) ([]byte, int) {
	var out []byte
	n := 0
	for _, l := range bytes.SplitAfter(data, []byte("\n")) {
		if bytes.HasSuffix(bytes.TrimRight(l, " \t\r\n"), []byte(" "+ThrowawayComment)) {
			n++
			continue
		}
		out = append(out, l...)
	}
	return out, n
}

// TrustThrowaway adds pub to the account's trusted CA file (apply --ca's,
// which must exist: without it sshd trusts no CA for the account and
// there is no certificate path to prove), atomically and under the lock,
// audit-logged intent first. undo removes exactly that line again,
// keeping whatever else changed meanwhile.
func TrustThrowaway(root hostfs.Root, log auditlog.Log, user string, pub ssh.PublicKey) (undo func() error, err error) {
	path := TrustedCAPath(user)
	line := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pub))) + " " + ThrowawayComment + "\n"
	fp := ssh.FingerprintSHA256(pub)
	written := false
	edit := func(action string, change func([]byte) []byte) error {
		unlock, err := root.Lock(hostfs.LockWait)
		if err != nil {
			return err
		}
		defer unlock()
		old, err := root.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			return fail.New(fail.Usage, "run pfwdctl apply --ca CA.pub first, or drop --certificate to prove the key path",
				"%s trusts no certificate authority (%s is missing)", user, path)
		}
		if err != nil {
			return fail.Wrap(fail.Unavailable, err, "", "read %s", path)
		}
		fi, err := root.Stat(path)
		if err != nil {
			return err
		}
		if !fi.Mode().IsRegular() {
			return fail.New(fail.Failed, "run pfwdctl apply to rewrite it", "%s is not a regular file", path)
		}
		c, err := log.Begin(auditlog.Event{Action: action, Account: user, Fingerprint: fp, Path: path, Detail: "verify --self --certificate"})
		if err != nil {
			return fail.Wrap(fail.Unavailable, err, "run as root (the audit log is root's)", "record the change to %s; nothing changed", path)
		}
		// apply's mode for the file (root's, 0644), whatever it was:
		// writable by others it would let anyone add a CA.
		if err := hostfs.WriteFile(root.Path(path), change(old), trustedMode, hostfs.RootOwner); err != nil {
			c.Abort(err)
			return fail.Wrap(fail.Unavailable, err, "", "write %s", path)
		}
		written = true
		return c.Done()
	}
	err = edit(ActionTrustThrowaway, func(old []byte) []byte {
		if len(old) > 0 && !bytes.HasSuffix(old, []byte("\n")) {
			old = append(old, '\n')
		}
		return append(old, line...)
	})
	if !written {
		return nil, err
	}
	// Once the line is written, undo is returned even when the audit
	// log could not record it (err): the caller must remove the line.
	return func() error {
		written = false
		err := edit(ActionUntrustThrowaway, func(old []byte) []byte {
			var out []byte
			for _, l := range bytes.SplitAfter(old, []byte("\n")) {
				if string(l) != line {
					out = append(out, l...)
				}
			}
			return out
		})
		if written && err != nil {
			// The line is gone; only its record failed.
			return fail.Wrap(fail.Unavailable, err, "", "the throwaway CA line was removed from %s, but the audit log did not record it", path)
		}
		return err
	}, err
}

// trustedMode is the trusted CA file's mode, as apply writes it.
const trustedMode = 0o644
