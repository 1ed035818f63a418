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

// TrustThrowaway adds pub to the account's trusted CA file (apply --ca's,
// which must exist: without it sshd trusts no CA for the account and
// there is no certificate path to prove), atomically and under the lock,
// audit-logged intent first. undo removes exactly that line again,
// keeping whatever else changed meanwhile.
func TrustThrowaway(root hostfs.Root, log auditlog.Log, user string, pub ssh.PublicKey) (undo func() error, err error) {
	path := TrustedCAPath(user)
	line := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pub))) + " " + ThrowawayComment + "\n"
	fp := ssh.FingerprintSHA256(pub)
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
		c, err := log.Begin(auditlog.Event{Action: action, Account: user, Fingerprint: fp, Path: path, Detail: "verify --self --certificate"})
		if err != nil {
			return fail.Wrap(fail.Unavailable, err, "run as root (the audit log is root's)", "record the change to %s; nothing changed", path)
		}
		if err := hostfs.WriteFile(root.Path(path), change(old), fi.Mode().Perm(), hostfs.RootOwner); err != nil {
			c.Abort(err)
			return fail.Wrap(fail.Unavailable, err, "", "write %s", path)
		}
		return c.Done()
	}
	err = edit(ActionTrustThrowaway, func(old []byte) []byte {
		if len(old) > 0 && !bytes.HasSuffix(old, []byte("\n")) {
			old = append(old, '\n')
		}
		return append(old, line...)
	})
	if err != nil {
		return nil, err
	}
	return func() error {
		return edit(ActionUntrustThrowaway, func(old []byte) []byte {
			var out []byte
			for _, l := range bytes.SplitAfter(old, []byte("\n")) {
				if string(l) != line {
					out = append(out, l...)
				}
			}
			return out
		})
	}, nil
}
