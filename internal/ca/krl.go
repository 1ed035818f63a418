package ca

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/crypto/ssh"

	"github.com/pfwdctl/pfwdctl/internal/fail"
	"github.com/pfwdctl/pfwdctl/internal/run"
)

// KRLs are written by OpenSSH's own ssh-keygen (through the Runner): its
// binary format is what sshd reads, and ssh-keygen -k -u updates it in place.

// NewKRL creates an empty key revocation list at path (ssh-keygen -k -f).
func NewKRL(ctx context.Context, r run.Runner, path string) error {
	if _, _, err := r.Run(ctx, "ssh-keygen", "-q", "-k", "-f", path); err != nil {
		return fail.Wrap(fail.Unavailable, err, "install OpenSSH's ssh-keygen", "create the revocation list %s", path)
	}
	return nil
}

// Revocation is what to revoke: a serial, a key id, or a certificate file.
type Revocation struct {
	Serial uint64
	ID     string
	Cert   string // path of a -cert.pub file
}

// Revoke adds rev to the KRL at path (ssh-keygen -k -u). Serials and ids
// are scoped to the CA whose public key is in caPub. sshd reads the KRL on
// every authentication, so the revocation holds from the next login.
func Revoke(ctx context.Context, r run.Runner, path, caPub string, rev Revocation) error {
	if rev.Cert != "" {
		if _, _, err := r.Run(ctx, "ssh-keygen", "-q", "-k", "-u", "-f", path, rev.Cert); err != nil {
			return fail.Wrap(fail.Unavailable, err, "", "revoke %s", rev.Cert)
		}
		return readBackCert(path, rev.Cert)
	}
	var spec string
	switch {
	case rev.Serial != 0:
		spec = "serial: " + strconv.FormatUint(rev.Serial, 10)
	case rev.ID != "":
		if strings.ContainsAny(rev.ID, "\r\n") {
			return fail.New(fail.Usage, "", "invalid key id %q", rev.ID)
		}
		spec = "id: " + rev.ID
	default:
		return fail.New(fail.Usage, "give --serial N, --id NAME or a -cert.pub file", "nothing to revoke")
	}
	// ssh-keygen reads a KRL spec from a file; a private temp dir keeps it
	// from being swapped underneath.
	dir, err := os.MkdirTemp("", "pfwdctl-krl-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	specFile := filepath.Join(dir, "spec")
	if err := os.WriteFile(specFile, []byte(spec+"\n"), 0o600); err != nil {
		return err
	}
	if _, stderr, err := r.Run(ctx, "ssh-keygen", "-q", "-k", "-u", "-f", path, "-s", caPub, specFile); err != nil {
		return fail.Wrap(fail.Unavailable, fmt.Errorf("%w: %s", err, strings.TrimSpace(string(stderr))), "", "revoke %s in %s", spec, path)
	}
	return readBack(path, caPub, spec, func(k *KRL, caKey ssh.PublicKey) bool {
		if rev.Serial != 0 {
			return k.SerialRevoked(caKey, rev.Serial)
		}
		return k.IDRevoked(caKey, rev.ID)
	})
}

// readBack reads the KRL ssh-keygen just wrote and checks that it holds
// the revocation: an exit status of 0 from a wrapper, an ssh-keygen that
// wrote elsewhere, or a file replaced underneath is not a revocation.
func readBack(path, caPub, what string, holds func(*KRL, ssh.PublicKey) bool) error {
	caKey, err := firstKey(caPub)
	if err != nil {
		return err
	}
	k, err := readKRL(path)
	if err != nil {
		return err
	}
	if !holds(k, caKey) {
		return notHeld(path, what)
	}
	return nil
}

func readBackCert(path, certFile string) error {
	data, err := os.ReadFile(certFile)
	if err != nil {
		return err
	}
	pub, _, _, _, err := ssh.ParseAuthorizedKey(data)
	cert, ok := pub.(*ssh.Certificate)
	if err != nil || !ok {
		return fail.New(fail.Usage, "give the -cert.pub file ssh-keygen -s wrote", "%s is not an OpenSSH certificate", certFile)
	}
	k, err := readKRL(path)
	if err != nil {
		return err
	}
	if !k.CertRevoked(cert) {
		return notHeld(path, fmt.Sprintf("certificate %q (serial %d)", cert.KeyId, cert.Serial))
	}
	return nil
}

func readKRL(path string) (*KRL, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fail.Wrap(fail.Failed, err, "run pfwdctl ca revoke again; pfwdctl audit checks the CA files", "read back the revocation list %s", path)
	}
	k, err := ParseKRL(data)
	if err != nil {
		return nil, fail.Wrap(fail.Failed, err, "sshd refuses every certificate while its RevokedKeys file is unreadable: restore it from a backup (or move it aside and run pfwdctl apply --ca CA.pub for an empty one, losing its revocations), then revoke again",
			"read back the revocation list %s", path)
	}
	return k, nil
}

func notHeld(path, what string) error {
	return fail.New(fail.Failed, "check that ssh-keygen on PATH is OpenSSH's and run pfwdctl ca revoke again",
		"ssh-keygen reported success, but the revocation list %s read back does not revoke %s: NOT revoked", path, what)
}

// firstKey is the public key ssh-keygen -s takes from a file: the first.
func firstKey(path string) (ssh.PublicKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	pub, _, _, _, err := ssh.ParseAuthorizedKey(data)
	if err != nil {
		return nil, fail.Wrap(fail.Failed, err, "", "read the CA key in %s", path)
	}
	return pub, nil
}
