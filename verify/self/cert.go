package self

import (
	"crypto/ed25519"
	"crypto/rand"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/pfwdctl/pfwdctl/internal/ca"
	"github.com/pfwdctl/pfwdctl/render"
)

// CertKeyID is the key id of --self's certificates: sshd logs it on the
// login, so the run is recognisable in sshd's log and in sessions.
const CertKeyID = "pfwdctl-verify-self"

// throwawayCert signs a certificate for key with a CA made for this run
// only, as pfwdctl ca sign would for a friend (ca.Sign: the account as the
// only principal, permit-port-forwarding only, force-command, a window
// ending at until), and returns the signer that logs in with it and the
// CA's fingerprint. The CA's private key is dropped when the run ends.
func throwawayCert(key ssh.Signer, user string, now, until time.Time) (ssh.Signer, string, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, "", err
	}
	caSigner, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		return nil, "", err
	}
	cert, err := ca.Sign(caSigner, key.PublicKey(), ca.SignRequest{Principal: user, KeyID: CertKeyID, Serial: 1,
		ValidAfter: now.Add(-time.Minute).Truncate(time.Second), ValidBefore: until.Truncate(time.Second),
		ForceCommand: render.DefaultNologin})
	if err != nil {
		return nil, "", err
	}
	s, err := ssh.NewCertSigner(cert, key)
	if err != nil {
		return nil, "", err
	}
	return s, ssh.FingerprintSHA256(caSigner.PublicKey()), nil
}
