package verify

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// hostKeyFamilies are the host key algorithms a server may have one key
// each for. A handshake shows only the key of the algorithm both sides
// prefer, so a server is asked once per family to learn all its keys.
var hostKeyFamilies = [][]string{
	{ssh.KeyAlgoED25519},
	{ssh.KeyAlgoECDSA256},
	{ssh.KeyAlgoECDSA384},
	{ssh.KeyAlgoECDSA521},
	{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA},
}

// errScanned ends a scan handshake once the host key is seen: nothing is
// authenticated, nothing else is sent.
var errScanned = errors.New("host key recorded")

// ScannedKey is one of the server's host keys.
type ScannedKey struct {
	Type        string `json:"type"`
	Fingerprint string `json:"fingerprint"`
	// KnownHosts is the line to add to known_hosts for this key.
	KnownHosts string `json:"known_hosts"`
	algorithms []string
	key        ssh.PublicKey
}

// ScanHostKeys asks the server at addr for each of its host keys, one
// handshake per key family, concurrently (what ssh-keyscan does).
func ScanHostKeys(ctx context.Context, addr string) []ScannedKey {
	found := make([]*ScannedKey, len(hostKeyFamilies))
	var wg sync.WaitGroup
	for i, fam := range hostKeyFamilies {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var d net.Dialer
			c, err := d.DialContext(ctx, "tcp", addr)
			if err != nil {
				return
			}
			defer c.Close()
			stop := context.AfterFunc(ctx, func() { c.Close() })
			defer stop()
			cfg := &ssh.ClientConfig{
				HostKeyAlgorithms: fam,
				HostKeyCallback: func(_ string, _ net.Addr, key ssh.PublicKey) error {
					found[i] = &ScannedKey{Type: key.Type(), Fingerprint: ssh.FingerprintSHA256(key),
						KnownHosts: knownhosts.Line([]string{knownhosts.Normalize(addr)}, key), algorithms: fam, key: key}
					return errScanned
				},
			}
			ssh.NewClientConn(c, addr, cfg)
		}()
	}
	wg.Wait()
	var out []ScannedKey
	for _, k := range found {
		if k != nil {
			out = append(out, *k)
		}
	}
	return out
}

// recordHostKey appends key to the known_hosts file for addr (accept-new:
// trust on first use, like OpenSSH's StrictHostKeyChecking accept-new). A
// host already listed with another key is never overwritten: that is a
// mismatch, not a new host.
func recordHostKey(file, addr string, key ssh.PublicKey) error {
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	line := knownhosts.Line([]string{knownhosts.Normalize(addr)}, key) + "\n"
	if _, err := f.WriteString(line); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func hostPort(addr string) (string, int) {
	h, p, _ := net.SplitHostPort(addr)
	n, _ := strconv.Atoi(p)
	return h, n
}
