package verify

import (
	"bytes"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/pfwdctl/pfwdctl/internal/fail"
	"github.com/pfwdctl/pfwdctl/users/keyline"
)

// PassphraseEnv is read for an encrypted key when no terminal can ask.
const PassphraseEnv = "PFWDCTL_KEY_PASSPHRASE"

// KeyFile loads a private key for login. An encrypted key calls passphrase
// (nil: refuse encrypted keys).
func KeyFile(path string, passphrase func() ([]byte, error)) (ssh.Signer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fail.Wrap(fail.Usage, err, "pass the private key file (not the .pub) with --key", "read key")
	}
	if hardwareKeyFile(data) {
		// x/crypto cannot sign with it, and no program can without the
		// token: the file holds a key handle, not a private key.
		return nil, fail.New(fail.Usage, "load it into ssh-agent (ssh-add "+path+") with the token plugged in, and run verify without --key: it uses the agent's keys",
			"%s is a hardware-backed (FIDO) key: only the security key can sign with it", path)
	}
	s, err := ssh.ParsePrivateKey(data)
	var missing *ssh.PassphraseMissingError
	if errors.As(err, &missing) {
		if passphrase == nil {
			return nil, fail.New(fail.Usage, "set "+PassphraseEnv+" or run on a terminal", "%s is encrypted and no passphrase can be asked for", path)
		}
		pw, perr := passphrase()
		if perr != nil {
			return nil, fail.Wrap(fail.Usage, perr, "set "+PassphraseEnv+" or run on a terminal", "read the passphrase for %s", path)
		}
		s, err = ssh.ParsePrivateKeyWithPassphrase(data, pw)
		if errors.Is(err, x509.IncorrectPasswordError) {
			return nil, fail.New(fail.Usage, "check the passphrase (or "+PassphraseEnv+")", "wrong passphrase for %s", path)
		}
	}
	if err != nil {
		return nil, fail.Wrap(fail.Usage, err, "pass an OpenSSH or PEM private key with --key", "cannot use %s as a private key", path)
	}
	return s, nil
}

// hardwareKeyFile says whether data is an OpenSSH private key file for a
// FIDO key (ssh-keygen -t ed25519-sk or ecdsa-sk): its public part, in
// clear even when the file is encrypted, names an sk- algorithm.
func hardwareKeyFile(data []byte) bool {
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "OPENSSH PRIVATE KEY" {
		return false
	}
	for _, alg := range keyline.HardwareKeyAlgorithms {
		if bytes.Contains(block.Bytes, []byte(alg)) {
			return true
		}
	}
	return false
}

// Agent returns the keys of the ssh-agent at sock (usually $SSH_AUTH_SOCK)
// as an auth method; close the returned Closer when done.
func Agent(sock string) (ssh.AuthMethod, io.Closer, error) {
	if sock == "" {
		return nil, nil, fail.New(fail.Usage, "pass --key FILE, or start ssh-agent and ssh-add the key", "no --key and no SSH_AUTH_SOCK")
	}
	c, err := net.Dial("unix", sock)
	if err != nil {
		return nil, nil, fail.Wrap(fail.Unavailable, err, "check that ssh-agent runs, or pass --key FILE", "connect to the ssh-agent")
	}
	return ssh.PublicKeysCallback(agent.NewClient(c).Signers), c, nil
}

// HostKeyPolicy says which host key to accept: a pinned fingerprint, the
// keys in a known_hosts file, or (only when asked for explicitly) any.
type HostKeyPolicy struct {
	// Fingerprint pins the key: "SHA256:..." as ssh-keygen -lf prints it.
	Fingerprint string
	// KnownHosts is a known_hosts file (used when Fingerprint is empty).
	KnownHosts string
	// Insecure accepts any host key: for throwaway test VMs only.
	Insecure bool
	// AcceptNew records the key of a host that KnownHosts does not list
	// yet and trusts it (OpenSSH's StrictHostKeyChecking accept-new). A
	// listed host with another key is still a mismatch.
	AcceptNew bool
	// KnownHostsFrom, when pfwdctl wrote KnownHosts itself, names where
	// its keys came from (verify --self: the server's own host key
	// files), so a refused key's hint points there and not at a
	// known_hosts file the admin never kept.
	KnownHostsFrom string
}

// DefaultKnownHosts is ~/.ssh/known_hosts.
func DefaultKnownHosts() string {
	home, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	return filepath.Join(home, ".ssh", "known_hosts")
}

type hostKeyCheck struct {
	check      ssh.HostKeyCallback
	algorithms []string
	// from is where the expected key came from, for hints.
	from keySource
	// file is the known_hosts file (keysFile), or what KnownHostsFrom
	// names (keysOwn); pin is the pinned fingerprint (keysPinned).
	file, pin string
	// missing: file did not exist (read as an empty one).
	missing bool
}

// keySource is where the host key verify expects comes from: each needs
// its own advice when the server shows another (or an unknown) key.
type keySource int

const (
	keysInsecure keySource = iota
	keysPinned
	keysFile
	keysOwn
)

// hint is what to do when the server's key was refused for reason
// (HostKeyMismatch or HostKeyUnknown), for the source of the expected key.
func (hk hostKeyCheck) hint(reason Reason, addr string) string {
	host := knownhosts.Normalize(addr)
	if strings.ContainsAny(host, "[]") {
		host = "'" + host + "'"
	}
	switch hk.from {
	case keysPinned:
		return "the server's host key is not the pinned --host-key " + hk.pin + ": if the server was reinstalled on purpose, compare its new fingerprint out of band and pin that one; otherwise do not connect"
	case keysOwn:
		return "the sshd at " + addr + " serves a host key that is not among " + hk.file + ": if the host keys were regenerated, restart sshd; otherwise check --port (is it this host's sshd?)"
	case keysFile:
		if reason == HostKeyMismatch {
			return "the server's host key is not the one " + hk.file + " lists: if the server was reinstalled on purpose, remove the old line (ssh-keygen -R " + host + " -f " + hk.file + ") and verify again; otherwise do not connect"
		}
		if hk.missing {
			return hk.file + " does not exist yet, so no server is known: record this one with --accept-new (it creates the file), or pin it with --host-key SHA256:..."
		}
		return hk.file + " does not list this server: record it with --accept-new, or pin it with --host-key SHA256:..."
	}
	return ""
}

// keysHint lists the server's keys for a refused host key, with the next
// step that fits the source of the expected key.
func (hk hostKeyCheck) keysHint(keys []ScannedKey) string {
	if len(keys) == 0 {
		return ""
	}
	var fps, lines []string
	for _, k := range keys {
		fps = append(fps, k.Type+" "+k.Fingerprint)
		lines = append(lines, k.KnownHosts)
	}
	offers := "the server offers " + strings.Join(fps, ", ") + "; compare with ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub on the server"
	switch hk.from {
	case keysPinned:
		return offers + ", then pin the right one with --host-key"
	case keysOwn:
		return "the server offers " + strings.Join(fps, ", ")
	}
	file := hk.file
	if file == "" {
		file = "known_hosts"
	}
	return offers + ", then add to " + file + ":\n" + strings.Join(lines, "\n")
}

// check refuses a policy that names more than one way to trust a key.
func (p HostKeyPolicy) check() error {
	set := 0
	if p.AcceptNew && (p.Fingerprint != "" || p.Insecure) {
		return fail.New(fail.Usage, "--accept-new goes with known_hosts (the default or --known-hosts FILE)", "--accept-new with --host-key or --insecure-ignore-host-key")
	}
	for _, b := range []bool{p.Fingerprint != "", p.KnownHosts != "", p.Insecure} {
		if b {
			set++
		}
	}
	if set > 1 {
		return fail.New(fail.Usage, "give one of --known-hosts, --host-key, --insecure-ignore-host-key", "conflicting host key options")
	}
	return nil
}

func (p HostKeyPolicy) callback(addr string) (hostKeyCheck, error) {
	if err := p.check(); err != nil {
		return hostKeyCheck{}, err
	}
	switch {
	case p.Insecure:
		return hostKeyCheck{check: ssh.InsecureIgnoreHostKey(), from: keysInsecure}, nil
	case p.Fingerprint != "":
		want := p.Fingerprint
		if !strings.HasPrefix(want, "SHA256:") {
			return hostKeyCheck{}, fail.New(fail.Usage, "give the fingerprint as ssh-keygen -lf prints it: SHA256:...", "invalid --host-key %q", want)
		}
		return hostKeyCheck{check: func(_ string, _ net.Addr, key ssh.PublicKey) error {
			if got := ssh.FingerprintSHA256(key); got != want {
				return &pinnedMismatch{want: want, got: got}
			}
			return nil
		}, from: keysPinned, pin: want}, nil
	}
	file := p.KnownHosts
	if file == "" {
		file = DefaultKnownHosts()
	}
	hk := hostKeyCheck{from: keysFile, file: file}
	if p.KnownHostsFrom != "" {
		hk.from, hk.file = keysOwn, p.KnownHostsFrom
	}
	cb, err := knownhosts.New(file)
	if errors.Is(err, fs.ErrNotExist) {
		// As ssh does: a known_hosts that does not exist yet (root on a
		// fresh box) lists no host, so the server's key is unknown, its
		// fingerprint is shown, and --accept-new creates the file.
		hk.missing = true
		cb, err = knownhosts.New()
	}
	if err != nil {
		return hostKeyCheck{}, fail.Wrap(fail.Usage, err,
			"pass --known-hosts FILE, pin the key with --host-key SHA256:..., or for a throwaway VM --insecure-ignore-host-key",
			"read known hosts %s", file)
	}
	check := cb
	if p.AcceptNew {
		check = func(host string, remote net.Addr, key ssh.PublicKey) error {
			err := cb(host, remote, key)
			if isUnknownHost(err) {
				if werr := recordHostKey(file, host, key); werr != nil {
					return fmt.Errorf("record the new host key in %s: %w", file, werr)
				}
				return nil
			}
			return err
		}
	}
	hk.check, hk.algorithms = check, knownAlgorithms(cb, addr)
	return hk, nil
}

// knownAlgorithms asks for host key algorithms matching the known keys:
// otherwise the server may offer another of its keys first, and a known
// host would look like a changed one.
func knownAlgorithms(cb ssh.HostKeyCallback, addr string) []string {
	tcp, err := net.ResolveTCPAddr("tcp", addr)
	if err != nil {
		tcp = &net.TCPAddr{}
	}
	// A key no server has: the error lists the known ones.
	probe, _ := ssh.NewPublicKey(ed25519.PublicKey(make([]byte, ed25519.PublicKeySize)))
	if probe == nil {
		return nil
	}
	var ke *knownhosts.KeyError
	if err := cb(addr, tcp, probe); !errors.As(err, &ke) || len(ke.Want) == 0 {
		return nil
	}
	var algos []string
	seen := map[string]bool{}
	add := func(a string) {
		if !seen[a] {
			seen[a] = true
			algos = append(algos, a)
		}
	}
	for _, k := range ke.Want {
		switch t := k.Key.Type(); t {
		case ssh.KeyAlgoRSA:
			add(ssh.KeyAlgoRSASHA512)
			add(ssh.KeyAlgoRSASHA256)
			add(ssh.KeyAlgoRSA)
		default:
			add(t)
		}
	}
	return algos
}

type pinnedMismatch struct{ want, got string }

func (e *pinnedMismatch) Error() string {
	return fmt.Sprintf("host key is %s, not the pinned %s", e.got, e.want)
}

func isUnknownHost(err error) bool {
	var ke *knownhosts.KeyError
	return errors.As(err, &ke) && len(ke.Want) == 0
}
