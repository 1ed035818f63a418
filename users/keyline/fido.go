package keyline

import (
	"slices"

	"golang.org/x/crypto/ssh"
)

// Hardware-backed (FIDO) keys: the private key lives on a security key and
// every signature says whether the token saw a touch (user presence) and a
// PIN or biometric (user verification). OpenSSH's PROTOCOL.u2f.

// HardwareKeyAlgorithms are the FIDO key algorithms, in the order apply
// --hardware-keys-only lists them.
var HardwareKeyAlgorithms = []string{ssh.KeyAlgoSKED25519, ssh.KeyAlgoSKECDSA256}

// HardwareCertAlgorithms are the certificate forms of HardwareKeyAlgorithms,
// accepted too when the account trusts pfwdctl's CA (apply --ca).
var HardwareCertAlgorithms = []string{ssh.CertAlgoSKED25519v01, ssh.CertAlgoSKECDSA256v01}

// IsHardware says whether a key or certificate algorithm is a FIDO one.
func IsHardware(algorithm string) bool {
	return slices.Contains(HardwareKeyAlgorithms, algorithm) || slices.Contains(HardwareCertAlgorithms, algorithm)
}

// Application is the FIDO application string of a hardware-backed key
// ("ssh:" unless ssh-keygen was given -O application=), read from the
// key's wire format: after the key itself comes the application
// (PROTOCOL.u2f). ok is false for any other key.
func Application(pub ssh.PublicKey) (app string, ok bool) {
	if pub == nil {
		return "", false
	}
	blob := pub.Marshal()
	switch pub.Type() {
	case ssh.KeyAlgoSKED25519:
		var w struct {
			Type        string
			Key         []byte
			Application string
			Rest        []byte `ssh:"rest"`
		}
		if ssh.Unmarshal(blob, &w) != nil {
			return "", false
		}
		return w.Application, true
	case ssh.KeyAlgoSKECDSA256:
		var w struct {
			Type        string
			Curve       string
			Key         []byte
			Application string
			Rest        []byte `ssh:"rest"`
		}
		if ssh.Unmarshal(blob, &w) != nil {
			return "", false
		}
		return w.Application, true
	}
	return "", false
}
