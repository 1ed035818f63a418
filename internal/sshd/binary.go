package sshd

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
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

// DefaultModuli is the moduli file sshd reads when ModuliFile is unset.
const DefaultModuli = "/etc/ssh/moduli"

// Binary asks the real sshd binary about a configuration: sshd -t (is it
// valid?) and sshd -T (what does it mean?), and about itself (sshd -V).
// Nothing else is trusted to decide either.
type Binary struct {
	Bin    string // path of sshd; empty: Find
	Runner run.Runner
	Root   hostfs.Root
	Config string // host path of the main config; empty: DefaultConfig
	// Overlay is a planned change not written yet: host path -> the
	// content the file will have (nil: it will be absent). When set, Test
	// and Effective ask sshd about the configuration as it will be once
	// the plan is written, and nothing on the host is touched.
	Overlay map[string][]byte
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

// Accepts runs sshd -t over the configuration with extra command-line
// options ("KEYWORD=VALUE", passed with -o, which win over the files): nil
// when sshd takes them. It is how pfwdctl learns what this build supports
// (an algorithm, a keyword) rather than guessing from its version number.
func (s Binary) Accepts(ctx context.Context, opts ...string) error {
	args := []string{"-t"}
	for _, o := range opts {
		args = append(args, "-o", o)
	}
	_, err := s.run(ctx, args...)
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
	var ce *ConfigError
	if err != nil && conn == "" && errors.As(err, &ce) &&
		(strings.Contains(ce.Stderr, "connection test specification") || strings.Contains(ce.Stderr, "-C")) {
		// This config needs a connection to be evaluated at all.
		out, err = s.run(ctx, "-T", "-C", GlobalSpec)
	}
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
		if now, ok := renamedKeywords[kw]; ok {
			kw = now
		}
		m[kw] = append(m[kw], val)
	}
	return m, nil
}

// renamedKeywords are the names sshd -T prints before 8.5 for keywords it
// renamed then (PubkeyAcceptedKeyTypes became PubkeyAcceptedAlgorithms):
// Effective reports them under today's name, so no caller misses them on
// 8.0-8.4.
var renamedKeywords = map[string]string{
	"pubkeyacceptedkeytypes":    "pubkeyacceptedalgorithms",
	"hostbasedacceptedkeytypes": "hostbasedacceptedalgorithms",
}

func (s Binary) run(ctx context.Context, args ...string) ([]byte, error) {
	bin, err := s.bin()
	if err != nil {
		return nil, err
	}
	st, err := s.prepare()
	if err != nil {
		return nil, err
	}
	defer st.cleanup()
	full := append(append([]string{}, args...), "-f", st.cfg)
	full = append(full, st.extra...)
	stdout, stderr, err := s.Runner.Run(ctx, bin, full...)
	if err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) && !errors.Is(err, run.ErrExit) {
			return nil, fail.Wrap(fail.Unavailable, err, "check that sshd is installed and runnable", "run %s", bin)
		}
		se := &ConfigError{Args: full, Stderr: s.unprefix(st, string(stderr)), Err: err}
		hint := "fix the line sshd names, then run pfwdctl again"
		if strings.Contains(se.Stderr, "Missing privilege separation directory") {
			hint = "create it as the ssh service does: install -d -m 0755 /run/sshd"
		}
		return nil, &fail.Error{Kind: fail.Failed, Err: se, Hint: hint}
	}
	return stdout, nil
}

// unprefix shows paths as the host sees them in sshd's messages: the temp
// copies become the files they stand for, and the root prefix goes.
func (s Binary) unprefix(st staging, msg string) string {
	if len(st.hostOf) > 0 {
		msg = strings.NewReplacer(st.hostOf...).Replace(msg)
	}
	if s.Root.IsHost() {
		return msg
	}
	return strings.ReplaceAll(msg, s.Root.Dir(), "")
}

// staging is what sshd is run on: the config to pass with -f, extra
// arguments, and, when that config is a temp copy, how to name the copies'
// paths as the host paths they stand for (old, new pairs for a Replacer).
type staging struct {
	cfg     string
	extra   []string
	hostOf  []string
	cleanup func()
}

// prepare returns the config to hand to sshd -f. On the running system, as
// root and with nothing staged, that is the main config itself. Otherwise a
// copy is made in a temp directory:
//   - under a --root tree the Include and HostKey paths point at the host,
//     so they are moved under the root, and host keys under the root (or,
//     when none can be read, a throwaway one) are passed with -o: sshd -t
//     refuses a config that has no usable host key;
//   - with an Overlay, every Include whose directory holds a staged file
//     reads a temp copy of that directory with the overlay applied. The
//     copy keeps the base names, so the glob picks the same files in the
//     same order as it will once the plan is written.
func (s Binary) prepare() (st staging, err error) {
	st.cleanup = func() {}
	if s.Root.IsHost() && hostfs.Euid() == 0 && len(s.Overlay) == 0 {
		st.cfg = s.config()
		return st, nil
	}
	overlay := map[string][]byte{}
	for p, data := range s.Overlay {
		overlay[filepath.Clean("/"+p)] = data
	}
	data, err := sshdconf.ReadFile(s.Root, overlay, s.config())
	if err != nil {
		return st, fail.Wrap(fail.Failed, err, "pass --sshd-config PATH if the main config lives elsewhere", "read sshd config")
	}
	dir, err := os.MkdirTemp("", "pfwdctl-sshd-")
	if err != nil {
		return st, err
	}
	st.cleanup = func() { os.RemoveAll(dir) }
	c := &copier{s: s, tmp: dir, overlay: overlay, dirs: map[string]string{}}
	rewritten, err := c.rewrite(data)
	if err == nil {
		st.cfg = filepath.Join(dir, "sshd_config")
		err = os.WriteFile(st.cfg, rewritten, 0o600)
	}
	if err != nil {
		st.cleanup()
		return staging{cleanup: func() {}}, fail.Wrap(fail.Failed, err, "check that the temp directory is writable", "stage the sshd config")
	}
	st.hostOf = append(c.hostOf, st.cfg, s.config())
	if s.Root.IsHost() && hostfs.Euid() == 0 {
		// The host's own HostKey lines (or sshd's defaults) are readable.
		return st, nil
	}
	// The config's own HostKey lines (rewritten into the tree) decide
	// when one of their files is there: sshd takes every HostKey line in
	// order, so keys added on the command line would come first and hide
	// the order the config sets (apply --crypto puts Ed25519 first).
	if c.treeHostKeys() {
		return st, nil
	}
	keys := s.readableHostKeys()
	if len(keys) == 0 {
		k, err := throwawayHostKey(dir)
		if err != nil {
			st.cleanup()
			return staging{cleanup: func() {}}, err
		}
		keys = []string{k}
	}
	for _, k := range keys {
		st.extra = append(st.extra, "-o", "HostKey="+k)
	}
	return st, nil
}

// copier writes the temp copies prepare hands to sshd.
type copier struct {
	s       Binary
	tmp     string
	overlay map[string][]byte // clean host path -> staged content; nil: absent
	dirs    map[string]string // host directory -> its temp copy
	hostOf  []string
}

// rewrite moves the Include and HostKey arguments of a config file under
// the root, and Includes of a directory with staged files to its temp
// copy. Only those two keywords make sshd -t open other files. Each line
// keeps its number, so sshd's "line N" still points at the real file.
func (c *copier) rewrite(data []byte) ([]byte, error) {
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
				p, err := c.includeArg(a)
				if err != nil {
					return nil, err
				}
				args = append(args, quoteArg(p))
			}
			lines[i] = "Include " + strings.Join(args, " ")
		case "hostkey":
			if len(l.Args) == 1 && !c.s.Root.IsHost() {
				lines[i] = "HostKey " + quoteArg(c.s.Root.Path(sshdconf.ResolveInclude(l.Args[0])))
			}
		}
	}
	return []byte(strings.Join(lines, "\n")), nil
}

// includeArg is where sshd should look for one Include pattern.
func (c *copier) includeArg(a string) (string, error) {
	hp := sshdconf.ResolveInclude(a)
	if strings.HasPrefix(hp, "~") {
		return a, nil
	}
	d := filepath.Dir(hp)
	if !c.staged(d) {
		return c.s.Root.Path(hp), nil
	}
	td, err := c.copyDir(d)
	if err != nil {
		return "", err
	}
	return filepath.Join(td, filepath.Base(hp)), nil
}

// staged reports whether the overlay holds a file directly in dir. A
// directory with glob characters is never redirected: which directories it
// stands for is sshd's business. A staged main config does not count: it
// is copied on its own, and its directory (/etc/ssh, with the private host
// keys) need not be.
func (c *copier) staged(dir string) bool {
	if strings.ContainsAny(dir, "*?[\\") {
		return false
	}
	// Under --root a HostKey line in an included file names a host path,
	// which sshd would read from the real host: the copy rewrites it.
	if !c.s.Root.IsHost() && c.namesHostKey(dir) {
		return true
	}
	main := filepath.Clean(c.s.config())
	for p := range c.overlay {
		if p != main && filepath.Dir(p) == dir {
			return true
		}
	}
	return false
}

// copyDir copies dir's regular files (as sshd would read them, following
// symlinks) to a temp directory, with the overlay applied, once.
func (c *copier) copyDir(dir string) (string, error) {
	if td, ok := c.dirs[dir]; ok {
		return td, nil
	}
	td := filepath.Join(c.tmp, fmt.Sprintf("inc%d", len(c.dirs)+1))
	c.dirs[dir] = td
	c.hostOf = append(c.hostOf, td+"/", strings.TrimSuffix(dir, "/")+"/")
	if err := os.Mkdir(td, 0o700); err != nil {
		return "", err
	}
	files := map[string][]byte{}
	ents, err := os.ReadDir(c.s.Root.PathDir(dir))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	for _, e := range ents {
		src := filepath.Join(c.s.Root.PathDir(dir), e.Name())
		if fi, err := os.Stat(src); err != nil || !fi.Mode().IsRegular() {
			continue
		}
		data, err := os.ReadFile(src)
		if err != nil {
			return "", err
		}
		files[e.Name()] = data
	}
	for p, data := range c.overlay {
		if filepath.Dir(p) != dir {
			continue
		}
		if data == nil {
			delete(files, filepath.Base(p))
		} else {
			files[filepath.Base(p)] = data
		}
	}
	for name, data := range files {
		data, err := c.rewrite(data)
		if err != nil {
			return "", err
		}
		if err := os.WriteFile(filepath.Join(td, name), data, 0o600); err != nil {
			return "", err
		}
	}
	return td, nil
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
		p := s.Root.PathDir("/etc/ssh/ssh_host_" + t + "_key")
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

// namesHostKey says whether a regular file in dir (in the tree) has a
// HostKey line.
func (c *copier) namesHostKey(dir string) bool {
	ents, err := os.ReadDir(c.s.Root.PathDir(dir))
	if err != nil {
		return false
	}
	for _, e := range ents {
		if !e.Type().IsRegular() {
			continue
		}
		data, err := os.ReadFile(filepath.Join(c.s.Root.PathDir(dir), e.Name()))
		if err != nil {
			continue
		}
		lines, _ := sshdconf.Parse(data)
		for _, l := range lines {
			if l.Keyword == "hostkey" {
				return true
			}
		}
	}
	return false
}

// treeHostKeys says whether the configuration, as staged, names a host
// key file that exists in the tree.
func (c *copier) treeHostKeys() bool {
	cfg, err := sshdconf.LoadOverlay(c.s.Root, c.s.config(), c.overlay)
	if err != nil {
		return false
	}
	for _, l := range cfg.Lines {
		if l.Keyword != "hostkey" || l.Match != "" || len(l.Args) != 1 {
			continue
		}
		// Readable, as sshd -t will need it (a root-owned 0600 key in a
		// tree is not, for a run as another user).
		if f, err := os.Open(c.s.Root.PathDir(sshdconf.ResolveInclude(l.Args[0]))); err == nil {
			f.Close()
			return true
		}
	}
	return false
}
