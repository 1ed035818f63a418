package render

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/crypto/ssh"

	"github.com/pfwdctl/pfwdctl/internal/ca"
	"github.com/pfwdctl/pfwdctl/internal/fail"
	"github.com/pfwdctl/pfwdctl/internal/hostfs"
	"github.com/pfwdctl/pfwdctl/users/keyline"
)

// CA is apply --ca: the account's Match block trusts this user CA, through
// three root-owned files pfwdctl owns (internal/ca names their paths).
type CA struct {
	// PublicKey is the CA's public key (from CA.pub).
	PublicKey ssh.PublicKey `json:"-"`
	// Fingerprint is PublicKey's, for the admin and --json.
	Fingerprint string
}

// ParseCA reads a CA.pub file's content: exactly one plain public key
// (not a certificate), of a type add-key would accept.
func ParseCA(data []byte) (*CA, error) {
	k, _, err := keyline.ParsePublic(data)
	if err != nil {
		return nil, fail.Wrap(fail.Usage, err, "give the CA public key ca init made (pfwdctl_ca.pub)", "--ca")
	}
	return &CA{PublicKey: k.Pub, Fingerprint: k.Fingerprint()}, nil
}

// caLines are the Match block's lines for c (indented, each ending in a
// newline): the CA is trusted only inside the account's block, and a
// certificate's principal must be in the principals file, whose line
// carries the same restriction prefix as a key (layer 1 for certificates).
func caLines(user string, c *CA) string {
	if c == nil {
		return ""
	}
	return "    # Certificates from pfwdctl's CA " + c.Fingerprint + " (pfwdctl ca sign):\n" +
		"    # the principals line carries the same restrictions as a key line.\n" +
		"    TrustedUserCAKeys " + ca.TrustedCAPath(user) + "\n" +
		"    AuthorizedPrincipalsFile " + ca.PrincipalsPath(user) + "\n" +
		"    RevokedKeys " + ca.KRLPath(user) + "\n"
}

// PrincipalsLine is the principals file's one line for the account: the
// key prefix (restrict,port-forwarding,permitopen=...) then the principal.
func PrincipalsLine(p Params) (string, error) {
	prefix, err := keyline.Prefix(keyline.Options{Targets: p.TargetStrings()})
	if err != nil {
		return "", err
	}
	return prefix + " " + p.User + "\n", nil
}

// caWrites are the CA files apply installs with the Match block: the CA
// public key and the principals file every time (they follow --ca and the
// targets), and the revocation list only when missing. The KRL is created
// empty by OpenSSH's ssh-keygen and then belongs to ca revoke: apply must
// never empty it.
func (a Applier) caWrites(ctx context.Context, p Params) ([]write, error) {
	if p.CA == nil {
		return nil, nil
	}
	line, err := PrincipalsLine(p)
	if err != nil {
		return nil, err
	}
	pub := bytes.TrimSpace(ssh.MarshalAuthorizedKey(p.CA.PublicKey))
	ws := []write{
		{path: ca.TrustedCAPath(p.User), data: append(pub, '\n'), mode: DropInMode, owner: hostfs.RootOwner},
		{path: ca.PrincipalsPath(p.User), data: []byte(line), mode: DropInMode, owner: hostfs.RootOwner},
	}
	krl := ca.KRLPath(p.User)
	if _, err := a.Root.Stat(krl); err == nil {
		return ws, nil
	}
	dir, err := os.MkdirTemp("", "pfwdctl-krl-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	tmp := filepath.Join(dir, "empty.krl")
	if err := ca.NewKRL(ctx, a.Runner, tmp); err != nil {
		return nil, err
	}
	data, err := os.ReadFile(tmp)
	if err != nil {
		return nil, fail.Wrap(fail.Unavailable, err, "", "read the empty revocation list ssh-keygen made")
	}
	return append(ws, write{path: krl, data: data, mode: DropInMode, owner: hostfs.RootOwner}), nil
}

// hasCALines says whether a rendered Match block trusts a CA (tests).
func hasCALines(data []byte) bool { return strings.Contains(string(data), "TrustedUserCAKeys ") }
