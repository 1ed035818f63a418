// Package sk is a software FIDO authenticator: an ssh.Signer whose public
// key is an sk-ssh-ed25519@openssh.com key and whose signatures are made
// the way a security key makes them (OpenSSH's PROTOCOL.u2f), with the
// user-presence and user-verification bits its caller chooses.
//
// It exists so that pfwdctl can prove an account that takes hardware-backed
// keys only (verify --self) and so that tests can drive the real sshd
// without a token. It must never be used as a real credential: its private
// key is an ordinary Ed25519 key in memory, and it asserts a touch and a
// PIN that no person gave. Nothing it signs proves that a human was there.
package sk

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"io"
	"sync"

	"golang.org/x/crypto/ssh"
)

// The flags byte of a security key signature (PROTOCOL.u2f; OpenSSH's
// sk-api.h SSH_SK_USER_PRESENCE_REQD and SSH_SK_USER_VERIFICATION_REQD).
const (
	// UserPresence: the authenticator saw a touch.
	UserPresence byte = 0x01
	// UserVerification: the authenticator checked a PIN or biometric.
	UserVerification byte = 0x04
)

// Application is the FIDO application string ssh-keygen -t ed25519-sk
// uses unless -O application= says otherwise.
const Application = "ssh:"

// Authenticator is a software security key. The zero value is not usable:
// make one with New.
type Authenticator struct {
	priv ed25519.PrivateKey
	pub  ssh.PublicKey
	app  string

	mu      sync.Mutex
	flags   byte
	counter uint32
}

// New makes a fresh authenticator for application (empty: Application)
// whose signatures carry flags (UserPresence, UserVerification, or both).
func New(application string, flags byte) (*Authenticator, error) {
	if application == "" {
		application = Application
	}
	pubRaw, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	// The wire format of an sk-ssh-ed25519 key (PROTOCOL.u2f): the key
	// type, the Ed25519 key, then the application.
	blob := ssh.Marshal(struct {
		Type        string
		Key         []byte
		Application string
	}{ssh.KeyAlgoSKED25519, pubRaw, application})
	pub, err := ssh.ParsePublicKey(blob)
	if err != nil {
		return nil, err
	}
	return &Authenticator{priv: priv, pub: pub, app: application, flags: flags}, nil
}

// SetFlags changes the flags of the signatures made from now on.
func (a *Authenticator) SetFlags(flags byte) {
	a.mu.Lock()
	a.flags = flags
	a.mu.Unlock()
}

// PublicKey is the sk-ssh-ed25519@openssh.com public key.
func (a *Authenticator) PublicKey() ssh.PublicKey { return a.pub }

// Sign signs data as a security key does: the Ed25519 signature covers
// SHA256(application) || flags || counter || SHA256(data), and the flags
// and counter follow the signature blob in the SSH signature. The counter
// goes up by one per signature, as on a token.
func (a *Authenticator) Sign(_ io.Reader, data []byte) (*ssh.Signature, error) {
	a.mu.Lock()
	a.counter++
	flags, counter := a.flags, a.counter
	a.mu.Unlock()
	appDigest := sha256.Sum256([]byte(a.app))
	dataDigest := sha256.Sum256(data)
	msg := make([]byte, 0, 32+1+4+32)
	msg = append(msg, appDigest[:]...)
	msg = append(msg, flags)
	msg = binary.BigEndian.AppendUint32(msg, counter)
	msg = append(msg, dataDigest[:]...)
	rest := binary.BigEndian.AppendUint32([]byte{flags}, counter)
	return &ssh.Signature{Format: ssh.KeyAlgoSKED25519, Blob: ed25519.Sign(a.priv, msg), Rest: rest}, nil
}
