// Package ca is pfwdctl's SSH user certificate authority: it makes the CA
// key pair (Init) and issues short-lived user certificates for the
// port-forward-only account (Sign), so a friend's access ends by itself
// without an authorized_keys edit.
//
// It must never write the CA private key anywhere but the directory it was
// asked to (no temp copy elsewhere, never over an existing key), never sign
// a certificate that grants more than the permit-port-forwarding extension,
// never sign one without a bounded validity window or without the
// force-command critical option, and never sign a key add-key would refuse
// (keyline.ParsePublic is the one key policy).
package ca

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"

	"github.com/pfwdctl/pfwdctl/internal/fail"
	"github.com/pfwdctl/pfwdctl/users/keyline"
)

// KeyName is the CA private key's file name in Init's directory; the public
// half is KeyName+".pub".
const KeyName = "pfwdctl_ca"

// Extension is the only certificate extension pfwdctl grants: sshd then
// allows TCP forwarding and nothing else (no pty, agent, X11, user rc).
const Extension = "permit-port-forwarding"

// MaxValidity bounds a certificate's window: certificates are for
// short-lived access; anything longer is what add-key --expires is for.
const MaxValidity = 90 * 24 * time.Hour

// Init makes an ed25519 user CA in dir: dir/pfwdctl_ca (OpenSSH private key
// format, 0600, encrypted with passphrase unless it is empty) and
// dir/pfwdctl_ca.pub. It refuses to replace an existing key: a new CA
// locks out every certificate the old one signed.
func Init(dir string, passphrase []byte, comment string) (privPath, pubPath string, err error) {
	privPath = filepath.Join(dir, KeyName)
	pubPath = privPath + ".pub"
	for _, p := range []string{privPath, pubPath} {
		if _, err := os.Lstat(p); err == nil {
			return "", "", fail.New(fail.Usage, "keep the CA you have (rotating it locks out every certificate it signed; see docs/ca.md), or give another --out",
				"%s already exists", p)
		}
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return "", "", err
	}
	var block *pem.Block
	if len(passphrase) > 0 {
		block, err = ssh.MarshalPrivateKeyWithPassphrase(priv, comment, passphrase)
	} else {
		block, err = ssh.MarshalPrivateKey(priv, comment)
	}
	if err != nil {
		return "", "", err
	}
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		return "", "", err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", "", fail.Wrap(fail.Unavailable, err, "", "make %s", dir)
	}
	// O_EXCL: never over an existing key, and written in place (no temp
	// file) so no other copy of the private key ever exists, even briefly.
	f, err := os.OpenFile(privPath, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", "", fail.Wrap(fail.Unavailable, err, "", "create %s", privPath)
	}
	if _, err := f.Write(pem.EncodeToMemory(block)); err != nil {
		f.Close()
		os.Remove(privPath)
		return "", "", err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(privPath)
		return "", "", err
	}
	if err := f.Close(); err != nil {
		os.Remove(privPath)
		return "", "", err
	}
	line := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sshPub)))
	if comment != "" {
		line += " " + comment
	}
	if err := os.WriteFile(pubPath, []byte(line+"\n"), 0o644); err != nil {
		return "", "", err
	}
	return privPath, pubPath, nil
}

// LoadSigner reads a CA private key file (as Init writes it, or
// ssh-keygen's). passphrase is used only if the key is encrypted; an
// encrypted key with no passphrase is ErrPassphrase.
func LoadSigner(path string, passphrase []byte) (ssh.Signer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fail.Wrap(fail.Usage, err, "give the CA private key made by pfwdctl ca init (--ca FILE)", "read the CA key")
	}
	s, err := ssh.ParsePrivateKey(data)
	var missing *ssh.PassphraseMissingError
	if errors.As(err, &missing) {
		if len(passphrase) == 0 {
			return nil, ErrPassphrase
		}
		s, err = ssh.ParsePrivateKeyWithPassphrase(data, passphrase)
		if errors.Is(err, x509.IncorrectPasswordError) {
			return nil, fail.New(fail.Usage, "check the passphrase (PFWDCTL_CA_PASSPHRASE or the prompt)", "wrong passphrase for %s", path)
		}
	}
	if err != nil {
		return nil, fail.Wrap(fail.Usage, err, "give the CA private key made by pfwdctl ca init (--ca FILE)", "parse the CA key %s", path)
	}
	return s, nil
}

// ErrPassphrase is LoadSigner's error for an encrypted key without a passphrase.
var ErrPassphrase = fail.New(fail.Usage, "type it at the prompt (run on a terminal), or set PFWDCTL_CA_PASSPHRASE for automation",
	"the CA key is passphrase-protected and no passphrase was given")

// AgentSigner returns the CA key held by the ssh-agent at sock: the one
// whose public key is want, or the agent's only key when want is nil. The
// private key never leaves the agent (or the token behind it).
func AgentSigner(sock string, want ssh.PublicKey) (ssh.Signer, func() error, error) {
	if sock == "" {
		return nil, nil, fail.New(fail.Usage, "start an agent and ssh-add the CA key, or pass --ca FILE", "SSH_AUTH_SOCK is not set: no ssh-agent to sign with")
	}
	conn, err := net.Dial("unix", sock)
	if err != nil {
		return nil, nil, fail.Wrap(fail.Unavailable, err, "check SSH_AUTH_SOCK", "connect to the ssh-agent")
	}
	signers, err := agent.NewClient(conn).Signers()
	if err != nil {
		conn.Close()
		return nil, nil, fail.Wrap(fail.Unavailable, err, "", "list the agent's keys")
	}
	var match []ssh.Signer
	for _, s := range signers {
		if want == nil || string(s.PublicKey().Marshal()) == string(want.Marshal()) {
			match = append(match, s)
		}
	}
	switch {
	case len(match) == 1:
		return match[0], conn.Close, nil
	case want != nil:
		conn.Close()
		return nil, nil, fail.New(fail.Usage, "ssh-add the CA private key to the agent", "the agent does not hold the CA key %s", ssh.FingerprintSHA256(want))
	default:
		conn.Close()
		return nil, nil, fail.New(fail.Usage, "name the CA with --ca-pub CA.pub", "the agent holds %d keys; which one is the CA?", len(match))
	}
}

// SignRequest is what a certificate says.
type SignRequest struct {
	Principal string // the account the certificate logs in as
	KeyID     string // the friend's name; sshd logs it on every login
	Serial    uint64
	// ValidAfter and ValidBefore bound the window; both are required.
	ValidAfter, ValidBefore time.Time
	// From, when set, becomes the source-address critical option.
	From []string
	// ForceCommand is the force-command critical option (the nologin
	// shell); required.
	ForceCommand string
}

var principalRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z_][a-z0-9_.-]{0,31}$`) })

// Sign issues a user certificate for pub. The certificate carries only the
// permit-port-forwarding extension, the force-command critical option and,
// with From, source-address.
func Sign(signer ssh.Signer, pub ssh.PublicKey, r SignRequest) (*ssh.Certificate, error) {
	if signer == nil {
		return nil, fmt.Errorf("no CA signer")
	}
	if _, ok := pub.(*ssh.Certificate); ok {
		return nil, fail.New(fail.Usage, "give the friend's plain public key (the .pub file, not -cert.pub)", "this is already a certificate")
	}
	// The same refusals as add-key: DSA, weak RSA, unknown types.
	k, _, err := keyline.ParsePublic(ssh.MarshalAuthorizedKey(pub))
	if err != nil {
		return nil, err
	}
	if !principalRE().MatchString(r.Principal) {
		return nil, fail.New(fail.Usage, "give the port-forward-only account (--user)", "invalid principal %q", r.Principal)
	}
	id := keyline.SanitizeName(r.KeyID)
	if id == "" {
		return nil, fail.New(fail.Usage, "give --name, e.g. --name alice (sshd logs it on every login; revoke --id uses it)", "the certificate needs a key id")
	}
	if r.Serial == 0 {
		return nil, fmt.Errorf("serial 0 is reserved (no serial)")
	}
	if r.ValidAfter.IsZero() || r.ValidBefore.IsZero() || !r.ValidBefore.After(r.ValidAfter) {
		return nil, fail.New(fail.Usage, "give --for, e.g. --for 8h", "the certificate needs a validity window (after %v, before %v)", r.ValidAfter, r.ValidBefore)
	}
	if r.ValidBefore.Sub(r.ValidAfter) > MaxValidity {
		return nil, fail.New(fail.Usage, "certificates are for short-lived access; for long-lived access use add-key", "validity of %s is over the %s limit", r.ValidBefore.Sub(r.ValidAfter), MaxValidity)
	}
	if r.ForceCommand == "" || !strings.HasPrefix(r.ForceCommand, "/") {
		return nil, fmt.Errorf("force-command %q: an absolute path is required", r.ForceCommand)
	}
	crit := map[string]string{"force-command": r.ForceCommand}
	if len(r.From) > 0 {
		from, err := keyline.ParseFrom(r.From)
		if err != nil {
			return nil, err
		}
		crit["source-address"] = strings.Join(from, ",")
	}
	cert := &ssh.Certificate{
		Key:             k.Pub,
		Serial:          r.Serial,
		CertType:        ssh.UserCert,
		KeyId:           id,
		ValidPrincipals: []string{r.Principal},
		ValidAfter:      uint64(r.ValidAfter.Unix()),
		ValidBefore:     uint64(r.ValidBefore.Unix()),
		Permissions: ssh.Permissions{
			CriticalOptions: crit,
			Extensions:      map[string]string{Extension: ""},
		},
	}
	if err := cert.SignCert(rand.Reader, signer); err != nil {
		return nil, fail.Wrap(fail.Unavailable, err, "", "sign the certificate")
	}
	if err := Check(cert); err != nil {
		return nil, err
	}
	return cert, nil
}

// Check says whether cert is within what pfwdctl issues: a user
// certificate with one principal, a bounded window, force-command, and no
// extension but permit-port-forwarding.
func Check(cert *ssh.Certificate) error {
	bad := func(format string, args ...any) error {
		return fail.New(fail.Failed, "", "certificate %q: "+format, append([]any{cert.KeyId}, args...)...)
	}
	if cert.CertType != ssh.UserCert {
		return bad("not a user certificate")
	}
	if len(cert.ValidPrincipals) != 1 {
		return bad("%d principals, want exactly one", len(cert.ValidPrincipals))
	}
	if cert.ValidBefore == ssh.CertTimeInfinity || cert.ValidBefore <= cert.ValidAfter {
		return bad("no bounded validity window")
	}
	for e := range cert.Extensions {
		if e != Extension {
			return bad("extension %s grants more than port forwarding", e)
		}
	}
	for o := range cert.CriticalOptions {
		if o != "force-command" && o != "source-address" {
			return bad("unknown critical option %s", o)
		}
	}
	if cert.CriticalOptions["force-command"] == "" {
		return bad("no force-command")
	}
	return nil
}

// CertPath is where ssh-keygen -s writes the certificate for pubPath:
// FRIEND.pub gives FRIEND-cert.pub.
func CertPath(pubPath string) string {
	return strings.TrimSuffix(pubPath, ".pub") + "-cert.pub"
}

// Marshal is the certificate's -cert.pub line.
func Marshal(cert *ssh.Certificate) []byte {
	line := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(cert)))
	return []byte(line + " " + cert.KeyId + "\n")
}

// Host paths of the CA setup apply --ca installs for an account, all
// root-owned: the trusted CA public key, the principals file (one line per
// principal with the restriction prefix) and the revocation list.
func TrustedCAPath(user string) string  { return "/etc/ssh/pfwdctl-ca-" + user + ".pub" }
func PrincipalsPath(user string) string { return "/etc/ssh/pfwdctl-principals-" + user }
func KRLPath(user string) string        { return "/etc/ssh/pfwdctl-revoked-" + user + ".krl" }

// SerialPath is the host path of the serial counter.
const SerialPath = "/var/lib/pfwdctl/ca-serial"
