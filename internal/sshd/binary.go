package sshd

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"golang.org/x/crypto/ssh"

	"github.com/pfwdctl/pfwdctl/internal/fail"
	"github.com/pfwdctl/pfwdctl/internal/hostfs"
	"github.com/pfwdctl/pfwdctl/internal/run"
	"github.com/pfwdctl/pfwdctl/internal/sshdconf"
)

// DefaultConfig is the main config on every distribution we know.
const DefaultConfig = "/etc/ssh/sshd_config"

// Binary asks the real sshd binary about a configuration: sshd -t (is it
// valid?) and sshd -T (what does it mean?), and about itself (sshd -V).
// Nothing else is trusted to decide either.
type Binary struct {
	Bin    string // path of sshd; empty: Find
	Runner run.Runner
	Root   hostfs.Root
	Config string // host path of the main config; empty: DefaultConfig
}

// Find looks for sshd in the places distributions put it.
func Find() (string, error) {
	for _, p := range []string{"/usr/sbin/sshd", "/usr/local/sbin/sshd", "/sbin/sshd"} {
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p, nil
		}
	}
	if p, err := exec.LookPath("sshd"); err == nil {
		return p, nil
	}
	return "", fail.New(fail.Unavailable,
		"install OpenSSH's server (Debian/Ubuntu: apt-get install openssh-server; RHEL: dnf install openssh-server)",
		"sshd not found")
}

func (s Binary) config() string {
	if s.Config == "" {
		return DefaultConfig
	}
	return s.Config
}

// ConfigError is sshd refusing a configuration, with its own words.
type ConfigError struct {
	Args   []string
	Stderr string
	Err    error
}

func (e *ConfigError) Error() string {
	msg := strings.TrimSpace(e.Stderr)
	if msg == "" {
		msg = e.Err.Error()
	}
	return "sshd rejects the configuration:\n" + msg
}

func (e *ConfigError) Unwrap() error { return e.Err }

// Test runs sshd -t over the whole configuration as sshd will read it.
func (s Binary) Test(ctx context.Context) error {
	_, err := s.run(ctx, "-t")
	return err
}

// Effective runs sshd -T, optionally for one connection (conn like
// "user=pfwd,host=localhost,addr=127.0.0.1"), and returns keyword -> values
// (lower-case keywords, one entry per output line).
func (s Binary) Effective(ctx context.Context, conn string) (map[string][]string, error) {
	args := []string{"-T"}
	if conn != "" {
		args = append(args, "-C", conn)
	}
	out, err := s.run(ctx, args...)
	if err != nil {
		return nil, err
	}
	m := map[string][]string{}
	for _, line := range strings.Split(string(out), "\n") {
		kw, val, _ := strings.Cut(strings.TrimSpace(line), " ")
		if kw == "" {
			continue
		}
		// OpenSSH 10.4 and later print keywords in mixed case
		// (PermitRootLogin); callers look them up in lower case.
		kw = strings.ToLower(kw)
		m[kw] = append(m[kw], val)
	}
	return m, nil
}

func (s Binary) run(ctx context.Context, args ...string) ([]byte, error) {
	bin, err := s.bin()
	if err != nil {
		return nil, err
	}
	cfg, extra, cleanup, err := s.prepare()
	if err != nil {
		return nil, err
	}
	defer cleanup()
	full := append(append([]string{}, args...), "-f", cfg)
	full = append(full, extra...)
	stdout, stderr, err := s.Runner.Run(ctx, bin, full...)
	if err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) && !errors.Is(err, run.ErrExit) {
			return nil, fail.Wrap(fail.Unavailable, err, "check that sshd is installed and runnable", "run %s", bin)
		}
		se := &ConfigError{Args: full, Stderr: s.unprefix(string(stderr)), Err: err}
		hint := "fix the line sshd names, then run pfwdctl again"
		if strings.Contains(se.Stderr, "Missing privilege separation directory") {
			hint = "create it as the ssh service does: install -d -m 0755 /run/sshd"
		}
		return nil, &fail.Error{Kind: fail.Failed, Err: se, Hint: hint}
	}
	return stdout, nil
}

// unprefix shows paths as the host sees them in sshd's messages.
func (s Binary) unprefix(msg string) string {
	if s.Root.IsHost() {
		return msg
	}
	return strings.ReplaceAll(msg, s.Root.Dir(), "")
}

// prepare returns the config file to hand to sshd -f. On the running system
// that is the main config itself. Under a --root tree, the main config's
// Include and HostKey paths point at the host, so a copy is made with them
// moved under the root, and host keys under the root (or, when none can be
// read, a throwaway one) are passed with -o: sshd -t refuses a config that
// has no usable host key.
func (s Binary) prepare() (cfg string, extra []string, cleanup func(), err error) {
	cleanup = func() {}
	if s.Root.IsHost() && hostfs.Euid() == 0 {
		return s.config(), nil, cleanup, nil
	}
	main := s.Root.Path(s.config())
	data, err := os.ReadFile(main)
	if err != nil {
		return "", nil, cleanup, fail.Wrap(fail.Failed, err, "pass --sshd-config PATH if the main config lives elsewhere", "read sshd config")
	}
	dir, err := os.MkdirTemp("", "pfwdctl-sshd-")
	if err != nil {
		return "", nil, cleanup, err
	}
	cleanup = func() { os.RemoveAll(dir) }
	rewritten := s.rewritePaths(data)
	cfg = filepath.Join(dir, "sshd_config")
	if err := os.WriteFile(cfg, rewritten, 0o600); err != nil {
		cleanup()
		return "", nil, func() {}, err
	}
	keys := s.readableHostKeys()
	if len(keys) == 0 {
		k, err := throwawayHostKey(dir)
		if err != nil {
			cleanup()
			return "", nil, func() {}, err
		}
		keys = []string{k}
	}
	for _, k := range keys {
		extra = append(extra, "-o", "HostKey="+k)
	}
	return cfg, extra, cleanup, nil
}

// rewritePaths moves the Include and HostKey arguments of the main config
// under the root. Only those two keywords make sshd -t open other files.
func (s Binary) rewritePaths(data []byte) []byte {
	if s.Root.IsHost() {
		return data
	}
	lines := strings.Split(string(data), "\n")
	for i, raw := range lines {
		parsed, err := sshdconf.Parse([]byte(raw))
		if err != nil || len(parsed) != 1 {
			continue
		}
		l := parsed[0]
		switch l.Keyword {
		case "include":
			var args []string
			for _, a := range l.Args {
				args = append(args, quoteArg(s.Root.Path(sshdconf.ResolveInclude(a))))
			}
			lines[i] = "Include " + strings.Join(args, " ")
		case "hostkey":
			if len(l.Args) == 1 {
				lines[i] = "HostKey " + quoteArg(s.Root.Path(sshdconf.ResolveInclude(l.Args[0])))
			}
		}
	}
	return []byte(strings.Join(lines, "\n"))
}

func quoteArg(a string) string {
	if strings.ContainsAny(a, " \t") {
		return `"` + a + `"`
	}
	return a
}

func (s Binary) readableHostKeys() []string {
	var keys []string
	for _, t := range []string{"ed25519", "ecdsa", "rsa"} {
		p := s.Root.Path("/etc/ssh/ssh_host_" + t + "_key")
		if f, err := os.Open(p); err == nil {
			f.Close()
			keys = append(keys, p)
		}
	}
	return keys
}

func throwawayHostKey(dir string) (string, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return "", err
	}
	block, err := ssh.MarshalPrivateKey(priv, "pfwdctl throwaway host key")
	if err != nil {
		return "", err
	}
	p := filepath.Join(dir, "ssh_host_ed25519_key")
	if err := os.WriteFile(p, pem.EncodeToMemory(block), 0o600); err != nil {
		return "", err
	}
	return p, nil
}
