package verify

import (
	"context"
	"os"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/pfwdctl/pfwdctl/internal/accounts"
	"github.com/pfwdctl/pfwdctl/internal/fail"
	"github.com/pfwdctl/pfwdctl/internal/target"
)

// Settings are a run's choices as a person gives them (verify's flags, or
// the fleet-wide defaults of verify --inventory): names, files and numbers,
// not yet parsed targets or loaded keys. Settings.Options is the one place
// that turns them into Options, for one host, an inventory and --self alike,
// so the three cannot drift apart (they once did, on --known-hosts).
type Settings struct {
	Host string
	Port int // 0: 22 (verify --self: the port the local sshd listens on)
	User string
	// Targets are host:port strings; empty: target.Default.
	Targets []string
	// Key is a private key file to log in with; empty: the ssh-agent at
	// AgentSock, if any.
	Key       string
	AgentSock string
	// Cert is the certificate (-cert.pub) to present with Key, as ssh -o
	// CertificateFile does (pfwdctl ca sign); empty: the plain key. An
	// agent offers the certificates it holds by itself.
	Cert string
	// Passphrase asks for an encrypted key's passphrase (nil: refuse
	// encrypted keys).
	Passphrase func() ([]byte, error)
	// KnownHosts, HostKey (a SHA256:... fingerprint) and Insecure are the
	// host key policy; at most one may be set.
	KnownHosts string
	HostKey    string
	Insecure   bool
	// AcceptNew records a host that KnownHosts does not list yet.
	AcceptNew bool
	Timeout   time.Duration
	// Sockets are Unix sockets on the server to try; nil: DefaultSockets.
	Sockets []string
	// Sweep tries every port of the target hosts (Options.Sweep).
	Sweep bool
}

// Options checks s and turns it into Options, with the key loaded (or the
// agent connected); call the returned func when done with them. Without
// Key and AgentSock, Options has no Auth: an inventory line may bring its
// own key, and --self makes one.
func (s Settings) Options() (Options, func(), error) {
	o := Options{Host: s.Host, Port: s.Port, User: s.User, Timeout: s.Timeout, Sockets: s.Sockets, Sweep: s.Sweep,
		HostKey: HostKeyPolicy{KnownHosts: s.KnownHosts, Fingerprint: s.HostKey, Insecure: s.Insecure, AcceptNew: s.AcceptNew}}
	noop := func() {}
	if err := accounts.ValidateName(s.User); err != nil {
		return o, noop, err
	}
	if s.Port == 0 {
		s.Port, o.Port = 22, 22
	}
	if s.Port < 1 || s.Port > 65535 {
		return o, noop, fail.New(fail.Usage, "pass a port from 1 to 65535", "invalid --port %d", s.Port)
	}
	if s.Timeout <= 0 {
		return o, noop, fail.New(fail.Usage, "pass a positive duration such as 10s", "invalid --timeout %s", s.Timeout)
	}
	if len(s.Targets) > 0 {
		ts, err := target.ParseList(s.Targets)
		if err != nil {
			return o, noop, err
		}
		o.Targets = ts
	}
	closer := noop
	switch {
	case s.Key != "":
		signer, err := KeyFile(s.Key, s.Passphrase)
		if err != nil {
			return o, noop, err
		}
		if s.Cert != "" {
			if signer, err = CertSigner(s.Cert, signer); err != nil {
				return o, noop, err
			}
		}
		o.Auth = []ssh.AuthMethod{ssh.PublicKeys(signer)}
	case s.Cert != "":
		return o, noop, fail.New(fail.Usage, "pass --key with the private key the certificate was signed for", "--cert needs --key")
	case s.AgentSock != "":
		m, cl, err := Agent(s.AgentSock)
		if err != nil {
			return o, noop, err
		}
		o.Auth, closer = []ssh.AuthMethod{m}, func() { cl.Close() }
	}
	// Checked here, before any host is dialled: an inventory would
	// otherwise report the same usage error once per host.
	if err := o.HostKey.check(); err != nil {
		closer()
		return o, noop, err
	}
	return o, closer, nil
}

// RunSettings is verify against the one host s names: Options, then Run.
// It needs a host and a key (Key or AgentSock).
func RunSettings(ctx context.Context, s Settings) (*Report, error) {
	if s.Host == "" {
		return nil, fail.New(fail.Usage, "pass --host HOST (or --self on the server itself)", "no server to verify")
	}
	o, closeAuth, err := s.Options()
	if err != nil {
		return nil, err
	}
	defer closeAuth()
	if len(o.Auth) == 0 {
		return nil, fail.New(fail.Usage, "pass --key FILE, or run an ssh-agent (SSH_AUTH_SOCK) holding the key", "no key to log in with")
	}
	return Run(ctx, o)
}

// CertSigner presents the certificate in file (a -cert.pub line) with key,
// refusing a certificate issued for another key.
func CertSigner(file string, key ssh.Signer) (ssh.Signer, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fail.Wrap(fail.Usage, err, "give the -cert.pub file pfwdctl ca sign wrote", "read --cert")
	}
	pub, _, _, _, err := ssh.ParseAuthorizedKey(data)
	cert, ok := pub.(*ssh.Certificate)
	if err != nil || !ok {
		return nil, fail.New(fail.Usage, "give the -cert.pub file pfwdctl ca sign wrote", "%s is not an SSH certificate", file)
	}
	s, err := ssh.NewCertSigner(cert, key)
	if err != nil {
		return nil, fail.Wrap(fail.Usage, err, "give the certificate that was signed for this --key", "--cert does not match --key")
	}
	return s, nil
}
