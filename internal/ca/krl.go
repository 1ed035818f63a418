package ca

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

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
		return nil
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
	return nil
}
