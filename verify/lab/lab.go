// Package lab starts a throwaway OpenSSH sshd for tests and for `pfwdctl
// lab`, the way net/http/httptest starts an HTTP server: on 127.0.0.1 and a
// free high port, with a configuration built from the real rendered drop-ins
// (the main config Includes a drop-in directory, so the files are read by
// sshd exactly as on a host), a fresh host key, its own authorized_keys, pid
// file and log.
//
// It works as root and unprivileged. sshd run by an ordinary user can only
// authenticate that user, so unprivileged the lab restricts the running user.
// As root, sshd runs as root (with its normal privilege separation) and the
// lab restricts an existing unprivileged account, `nobody` by default, whose
// sessions then run as that account.
//
// The lab never creates an account, never touches the host's sshd or
// /etc/ssh, and writes nothing outside its own temp directory. Every lab
// config also carries `AllowUsers <the lab account>`, so even a deliberately
// broken drop-in can never let another account (root) in.
package lab

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/pfwdctl/pfwdctl/internal/accounts"
	"github.com/pfwdctl/pfwdctl/internal/fail"
	"github.com/pfwdctl/pfwdctl/internal/hostfs"
	"github.com/pfwdctl/pfwdctl/internal/run"
	"github.com/pfwdctl/pfwdctl/internal/sshd"
	"github.com/pfwdctl/pfwdctl/internal/target"
	"github.com/pfwdctl/pfwdctl/render"
	"github.com/pfwdctl/pfwdctl/users/keyline"
	"github.com/pfwdctl/pfwdctl/verify"
)

// Options shape the lab. The zero value is the seed guide's setup for the
// lab account: both drop-ins as rendered, the client key installed with the
// standard restrict prefix.
type Options struct {
	// Sshd is the sshd binary; empty: sshd.Find.
	Sshd string
	// User is the account to restrict and authenticate. Empty: the running
	// user when unprivileged, "nobody" as root. Unprivileged, only the
	// running user works (sshd cannot switch users).
	User string
	// Targets the account may forward to; empty: render.DefaultTarget.
	Targets []target.Target
	// Nologin is the ForceCommand; empty: render.DefaultNologin.
	Nologin string

	// DropIns, when non-nil, replaces the rendered drop-ins (an empty,
	// non-nil slice means none at all).
	DropIns []render.File
	// Edit, when set, may change the drop-ins (rendered or given) before
	// they are written: see WithoutLine and ReplaceLine.
	Edit func([]render.File) []render.File
	// Global lines go into the main config above the Include, where they
	// beat every drop-in (sshd uses the first value it reads).
	Global []string
	// After lines go below the Include and the lab's own settings, like the
	// defaults in a distribution's main file.
	After []string

	// AuthorizedKeys, when non-nil, is the whole authorized_keys content.
	// Nil: the lab's client key with KeyOptions (or bare, see BareKey).
	AuthorizedKeys []byte
	// KeyOptions is the prefix for the client key; empty: the one
	// add-key writes (StandardKeyLine).
	KeyOptions string
	// BareKey installs the client key without any prefix.
	BareKey bool
	// AuthorizedKeysFile overrides the lab's own file, e.g.
	// ".ssh/authorized_keys" to use the account's real one (root only).
	AuthorizedKeysFile string
	// StrictModes turns sshd's ownership checks back on (off by default:
	// the lab's files live under /tmp).
	StrictModes bool
	// Sftp is the sftp Subsystem command; empty: Debian's external
	// sftp-server (run through the account's shell), or internal-sftp
	// (which bypasses the shell) when that is missing; "none": no sftp
	// subsystem at all (then only shell and exec can show a way in).
	Sftp string
	// UsePAM turns PAM on (root only; sshd refuses PAM unprivileged).
	UsePAM bool
	// SyslogSocket, when set (root only), makes sshd log through syslog(3)
	// as on a host instead of to stderr: it runs in a mount namespace of
	// its own whose /dev/log is this datagram socket (the caller listens
	// on it). Nothing on the host's /dev changes.
	SyslogSocket string
	// Mode is how the drop-ins reach the lab's sshd, as apply would
	// install them: render.ModeDropIns (an Include), render.ModeManaged
	// (blocks in the lab's sshd_config), or empty/auto: asked of the sshd
	// binary (OpenSSH 8.0 and 8.2/8.3 need managed blocks).
	Mode render.Mode

	// TempDir is where the lab makes its directory; empty: os.TempDir().
	TempDir string
	// Log, when set, also receives sshd's log (sshd -e).
	Log io.Writer
	// StartTimeout bounds the wait for sshd's banner; 0: 10s.
	StartTimeout time.Duration
	// ListenHost is the address sshd listens on (and Addr names); empty:
	// 127.0.0.1. bench/fleet-netem.sh gives another, reachable from a
	// network namespace behind a delayed link.
	ListenHost string
}

// Server is a running lab sshd.
type Server struct {
	// Addr is "127.0.0.1:port" (Options.ListenHost instead of 127.0.0.1).
	Addr string
	Port int
	// User is the account the lab restricts and the client logs in as.
	User string
	// Targets are the forward targets the drop-ins were rendered for.
	Targets []target.Target
	// HostKey is the server's public host key.
	HostKey ssh.PublicKey
	// ClientKey is the lab's throwaway client key; ClientKeyFile holds its
	// private half in OpenSSH format (mode 0600), for the ssh client.
	ClientKey     ssh.Signer
	ClientKeyFile string
	// KnownHostsFile lists HostKey for Addr, for knownhosts and ssh -o
	// UserKnownHostsFile.
	KnownHostsFile string
	// Dir is the lab's temp directory; ConfigFile the main sshd_config;
	// DropInDir the directory it Includes; AuthorizedKeysFile the keys file.
	Dir, ConfigFile, DropInDir, AuthorizedKeysFile string
	// Mode is how the drop-ins reach sshd (see Options.Mode).
	Mode render.Mode
	// syslog is Options.SyslogSocket.
	syslog string
	// DropIns are the files written to DropInDir.
	DropIns []render.File
	// ScratchDir is a directory in Dir the lab account may write to (e.g.
	// for a streamlocal-forward probe).
	ScratchDir string
	// Socket is a Unix echo socket in Dir that any account may connect
	// to: a known target for direct-streamlocal probes.
	Socket string

	cmd     *exec.Cmd
	unix    net.Listener
	log     *lockedBuffer
	done    chan struct{}
	waitErr error
	closeMu sync.Once
}

// DefaultUser is the account the lab restricts: the running user, or
// nobody as root.
func DefaultUser() (string, error) {
	if hostfs.Euid() == 0 {
		return "nobody", nil
	}
	u, err := user.Current()
	if err != nil {
		return "", fail.Wrap(fail.Unavailable, err, "", "find the running user")
	}
	return u.Username, nil
}

// StandardKeyLine is the line pfwdctl add-key installs for key with the
// lab's targets (keyline.Build, the one writer of pfwdctl's prefix), with
// a newline.
func (s *Server) StandardKeyLine(key ssh.PublicKey, comment string) (string, error) {
	var ts []string
	for _, t := range s.Targets {
		ts = append(ts, t.String())
	}
	line, err := keyline.Build(keyline.FromPublicKey(key, comment), keyline.Options{Targets: ts})
	if err != nil {
		return "", err
	}
	return line + "\n", nil
}

// KeyLine is one authorized_keys line: options (may be empty), key, comment.
func KeyLine(options string, key ssh.PublicKey, comment string) string {
	line := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(key)))
	if options != "" {
		line = options + " " + line
	}
	if comment != "" {
		line += " " + comment
	}
	return line + "\n"
}

// Start starts a lab sshd and waits until it answers with its banner. The
// caller must Close it. ctx bounds only the start.
func Start(ctx context.Context, o Options) (*Server, error) {
	bin := o.Sshd
	if bin == "" {
		var err error
		if bin, err = sshd.Find(); err != nil {
			return nil, err
		}
	}
	if !filepath.IsAbs(bin) {
		// sshd re-executes itself and insists on an absolute path.
		p, err := exec.LookPath(bin)
		if err != nil {
			return nil, fail.Wrap(fail.Unavailable, err, "install openssh-server", "find sshd")
		}
		if bin, err = filepath.Abs(p); err != nil {
			return nil, err
		}
	}
	root := hostfs.Euid() == 0
	if root {
		if _, err := os.Stat("/run/sshd"); err != nil {
			return nil, fail.New(fail.Unavailable, "create it as the ssh service does: install -d -m 0755 /run/sshd",
				"sshd as root needs its privilege separation directory /run/sshd")
		}
	} else if o.UsePAM {
		return nil, fail.New(fail.Usage, "run as root or leave UsePAM off", "sshd cannot use PAM unprivileged")
	}
	userName := o.User
	if userName == "" {
		var err error
		if userName, err = DefaultUser(); err != nil {
			return nil, err
		}
	}
	if err := accounts.ValidateName(userName); err != nil {
		return nil, err
	}
	if !root {
		if cur, err := user.Current(); err == nil && cur.Username != userName {
			return nil, fail.New(fail.Usage, "run the lab as root, or leave the lab user empty",
				"unprivileged, sshd can only authenticate the running user %s, not %s", cur.Username, userName)
		}
	}
	targets := o.Targets
	if len(targets) == 0 {
		t, _ := target.Parse(render.DefaultTarget)
		targets = []target.Target{t}
	}
	p := render.Params{User: userName, Targets: targets, Nologin: o.Nologin}
	if p.Nologin == "" {
		p.Nologin = render.DefaultNologin
	}
	dropIns := o.DropIns
	if dropIns == nil {
		var err error
		if dropIns, err = render.Render(p); err != nil {
			return nil, err
		}
	}
	if o.Edit != nil {
		dropIns = o.Edit(cloneFiles(dropIns))
	}

	dir, err := makeDir(o.TempDir, root)
	if err != nil {
		return nil, err
	}
	if o.SyslogSocket != "" && !root {
		return nil, fail.New(fail.Usage, "run as root", "a lab that logs through syslog needs a mount namespace: root only")
	}
	s := &Server{User: userName, Targets: targets, Dir: dir, DropIns: dropIns, log: &lockedBuffer{}, Mode: o.Mode, syslog: o.SyslogSocket}
	if s.Mode == "" || s.Mode == render.ModeAuto {
		s.Mode = render.ModeDropIns
		if why, err := dropInsWhy(ctx, bin); err == nil && why != "" {
			s.Mode = render.ModeManaged
		}
	}
	ok := false
	defer func() {
		if !ok {
			os.RemoveAll(dir)
		}
	}()
	if err := s.writeFiles(o); err != nil {
		return nil, err
	}
	if err := s.makeScratch(root); err != nil {
		return nil, err
	}
	timeout := o.StartTimeout
	if timeout == 0 {
		timeout = 10 * time.Second
	}
	host := o.ListenHost
	if host == "" {
		host = "127.0.0.1"
	}
	// A free port can be taken between our probe and sshd's bind: retry.
	for attempt := 0; ; attempt++ {
		port, err := freePort(host)
		if err != nil {
			return nil, err
		}
		s.Port = port
		s.Addr = net.JoinHostPort(host, strconv.Itoa(port))
		if err := s.writeConfig(o, bin); err != nil {
			return nil, err
		}
		err = s.run(ctx, bin, o.Log, timeout)
		if err == nil {
			break
		}
		if attempt < 4 && strings.Contains(s.Logs(), "Address already in use") {
			s.log.Reset()
			continue
		}
		return nil, err
	}
	if err := s.writeKnownHosts(); err != nil {
		s.Close()
		return nil, err
	}
	if err := s.listenUnix(); err != nil {
		s.Close()
		return nil, err
	}
	ok = true
	return s, nil
}

// makeDir makes the lab directory. As root, sshd reads authorized_keys as
// the lab account, so the directory and every parent must be traversable
// by others; when TMPDIR is private (testscript's is), /tmp is used.
func makeDir(parent string, root bool) (string, error) {
	if parent == "" {
		parent = os.TempDir()
	}
	if root && !traversable(parent) {
		parent = "/tmp"
	}
	dir, err := os.MkdirTemp(parent, "pfwdctl-lab-")
	if err != nil {
		return "", fail.Wrap(fail.Unavailable, err, "", "make the lab directory")
	}
	dir, _ = filepath.EvalSymlinks(dir)
	mode := os.FileMode(0o700)
	if root {
		mode = 0o755
	}
	if err := os.Chmod(dir, mode); err != nil {
		os.RemoveAll(dir)
		return "", err
	}
	return dir, nil
}

func traversable(dir string) bool {
	d, err := filepath.Abs(dir)
	if err != nil {
		return false
	}
	if d2, err := filepath.EvalSymlinks(d); err == nil {
		d = d2
	}
	for {
		fi, err := os.Stat(d)
		if err != nil || fi.Mode().Perm()&0o001 == 0 {
			return false
		}
		up := filepath.Dir(d)
		if up == d {
			return true
		}
		d = up
	}
}

// handedOut holds every port freePort gave in this process: the kernel may
// give a just-closed ephemeral port again, and labs started side by side
// must not race for it.
var (
	handedOutMu sync.Mutex
	handedOut   = map[int]bool{}
)

func freePort(host string) (int, error) {
	handedOutMu.Lock()
	defer handedOutMu.Unlock()
	for range 50 {
		l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
		if err != nil {
			return 0, fail.Wrap(fail.Unavailable, err, "", "find a free port on %s", host)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if !handedOut[port] {
			handedOut[port] = true
			return port, nil
		}
	}
	return 0, fail.New(fail.Unavailable, "", "no fresh free port on %s after 50 tries", host)
}

func (s *Server) writeFiles(o Options) error {
	s.DropInDir = filepath.Join(s.Dir, "sshd_config.d")
	if err := os.Mkdir(s.DropInDir, 0o755); err != nil {
		return err
	}
	s.AuthorizedKeysFile = filepath.Join(s.Dir, "authorized_keys")
	akf := s.AuthorizedKeysFile
	if o.AuthorizedKeysFile != "" {
		akf = o.AuthorizedKeysFile
	}
	// The Match block names the account's own file. When the lab keeps
	// the keys at an absolute path (its temp dir, a test tree), the block
	// points there too; with a path relative to the account's home (a
	// real account) it stays as a host has it.
	for i, f := range s.DropIns {
		if filepath.IsAbs(akf) {
			s.DropIns[i].Data = bytes.ReplaceAll(f.Data, []byte("AuthorizedKeysFile .ssh/authorized_keys\n"), []byte("AuthorizedKeysFile "+akf+"\n"))
		}
	}
	for _, f := range s.DropIns {
		if f.Name != filepath.Base(f.Name) || f.Name == "" {
			return fail.New(fail.Usage, "", "drop-in name %q is not a plain file name", f.Name)
		}
		if s.Mode == render.ModeManaged {
			continue // written into the main config (writeConfig)
		}
		if err := os.WriteFile(filepath.Join(s.DropInDir, f.Name), f.Data, 0o644); err != nil {
			return err
		}
	}

	_, hostPriv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	hostPEM, err := ssh.MarshalPrivateKey(hostPriv, "pfwdctl-lab-host")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(s.Dir, "ssh_host_ed25519_key"), pem.EncodeToMemory(hostPEM), 0o600); err != nil {
		return err
	}
	hostSigner, err := ssh.NewSignerFromKey(hostPriv)
	if err != nil {
		return err
	}
	s.HostKey = hostSigner.PublicKey()

	_, clientPriv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	if s.ClientKey, err = ssh.NewSignerFromKey(clientPriv); err != nil {
		return err
	}
	clientPEM, err := ssh.MarshalPrivateKey(clientPriv, "pfwdctl-lab-client")
	if err != nil {
		return err
	}
	s.ClientKeyFile = filepath.Join(s.Dir, "client_ed25519")
	if err := os.WriteFile(s.ClientKeyFile, pem.EncodeToMemory(clientPEM), 0o600); err != nil {
		return err
	}
	if err := os.WriteFile(s.ClientKeyFile+".pub", ssh.MarshalAuthorizedKey(s.ClientKey.PublicKey()), 0o644); err != nil {
		return err
	}

	keys := o.AuthorizedKeys
	if keys == nil {
		switch {
		case o.BareKey:
			keys = []byte(KeyLine("", s.ClientKey.PublicKey(), "pfwdctl-lab"))
		case o.KeyOptions != "":
			keys = []byte(KeyLine(o.KeyOptions, s.ClientKey.PublicKey(), "pfwdctl-lab"))
		default:
			line, err := s.StandardKeyLine(s.ClientKey.PublicKey(), "pfwdctl-lab")
			if err != nil {
				return err
			}
			keys = []byte(line)
		}
	}
	return s.SetAuthorizedKeys(keys)
}

// SetAuthorizedKeys replaces the lab's authorized_keys. sshd reads it on
// every login, so no restart is needed.
func (s *Server) SetAuthorizedKeys(data []byte) error {
	tmp := s.AuthorizedKeysFile + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	// WriteFile keeps an existing file's mode and the umask may have
	// narrowed it: as root, the lab account must be able to read it.
	if err := os.Chmod(tmp, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, s.AuthorizedKeysFile)
}

func (s *Server) writeConfig(o Options, bin string) error {
	yesno := func(b bool) string {
		if b {
			return "yes"
		}
		return "no"
	}
	akf := s.AuthorizedKeysFile
	if o.AuthorizedKeysFile != "" {
		akf = o.AuthorizedKeysFile
	}
	var b strings.Builder
	b.WriteString("# pfwdctl lab: a throwaway sshd on 127.0.0.1; it reads nothing from /etc/ssh\n")
	for _, l := range o.Global {
		b.WriteString(l + "\n")
	}
	// Above the Include, so it beats the hardening drop-in's StrictModes
	// yes: the lab's files live under /tmp (1777), which StrictModes
	// refuses on the way to the key file.
	fmt.Fprintf(&b, "StrictModes %s\n", yesno(o.StrictModes))
	if s.Mode == render.ModeManaged {
		// As apply's managed-block mode has it: the global units here,
		// the Match blocks at the very end.
		for _, f := range s.DropIns {
			if !render.AtEnd(f.Name) {
				b.Write(render.ManagedBlock(f.Name, f.Data))
				// sshd ends a Match block at the end of an included
				// file; here a test's own Match file must end it itself.
				if bytes.Contains(bytes.ToLower(f.Data), []byte("match ")) {
					b.WriteString("Match all\n")
				}
			}
		}
	} else {
		fmt.Fprintf(&b, "Include %s/*.conf\n", s.DropInDir)
	}
	b.WriteString("# The lab's own plumbing (below the Include, so a drop-in that sets one of\n# these wins, as on a host).\n")
	fmt.Fprintf(&b, "ListenAddress %s\n", s.Addr)
	fmt.Fprintf(&b, "HostKey %s\n", filepath.Join(s.Dir, "ssh_host_ed25519_key"))
	fmt.Fprintf(&b, "PidFile %s\n", filepath.Join(s.Dir, "sshd.pid"))
	fmt.Fprintf(&b, "AuthorizedKeysFile %s\n", akf)
	fmt.Fprintf(&b, "UsePAM %s\n", yesno(o.UsePAM))
	b.WriteString("# Only the lab account, whatever a broken drop-in says.\n")
	fmt.Fprintf(&b, "AllowUsers %s\n", s.User)
	b.WriteString("PrintMotd no\n")
	// Debian's main file runs the external sftp-server (through the
	// account's shell); keep that, so the lab behaves like a host.
	sftp := o.Sftp
	if sftp == "" {
		sftp = "/usr/lib/openssh/sftp-server"
		if _, err := os.Stat(sftp); err != nil {
			sftp = "internal-sftp"
		}
	}
	if sftp != "none" {
		fmt.Fprintf(&b, "Subsystem sftp %s\n", sftp)
	}
	for _, l := range o.After {
		b.WriteString(l + "\n")
	}
	if s.Mode == render.ModeManaged {
		for _, f := range s.DropIns {
			if render.AtEnd(f.Name) {
				b.Write(render.ManagedBlock(f.Name, f.Data))
			}
		}
	}
	s.ConfigFile = filepath.Join(s.Dir, "sshd_config")
	return os.WriteFile(s.ConfigFile, []byte(b.String()), 0o644)
}

func (s *Server) makeScratch(root bool) error {
	s.ScratchDir = filepath.Join(s.Dir, "scratch")
	if err := os.Mkdir(s.ScratchDir, 0o700); err != nil {
		return err
	}
	if !root {
		return nil
	}
	u, err := user.Lookup(s.User)
	if err != nil {
		return fail.Wrap(fail.Usage, err, "the lab restricts an existing account; it creates none", "look up %s", s.User)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return os.Chown(s.ScratchDir, uid, gid)
}

func (s *Server) listenUnix() error {
	s.Socket = filepath.Join(s.Dir, "echo.sock")
	l, err := net.Listen("unix", s.Socket)
	if err != nil {
		return err
	}
	if err := os.Chmod(s.Socket, 0o666); err != nil {
		l.Close()
		return err
	}
	s.unix = l
	go serveEcho(l)
	return nil
}

func (s *Server) writeKnownHosts() error {
	s.KnownHostsFile = filepath.Join(s.Dir, "known_hosts")
	line := knownhosts.Line([]string{knownhosts.Normalize(s.Addr)}, s.HostKey) + "\n"
	return os.WriteFile(s.KnownHostsFile, []byte(line), 0o644)
}

func (s *Server) run(ctx context.Context, bin string, extraLog io.Writer, timeout time.Duration) error {
	// -D: stay in the foreground (we own the process); -e: log to stderr.
	cmd := exec.Command(bin, "-D", "-e", "-f", s.ConfigFile)
	if s.syslog != "" {
		// syslog(3) writes to /dev/log: a private /dev (tmpfs, in a mount
		// namespace of sshd's own) holds the few devices sshd opens and
		// /dev/log pointing at the caller's socket.
		script := `set -e; mount -t tmpfs -o mode=755 tmpfs /dev
for d in "null 1 3" "zero 1 5" "random 1 8" "urandom 1 9" "tty 5 0"; do set -- $d; mknod -m 666 /dev/$1 c $2 $3; done
ln -s "$SYSLOG_SOCKET" /dev/log
exec "$SSHD" -D -f "$SSHD_CONFIG"`
		cmd = exec.Command("unshare", "--mount", "--propagation", "private", "sh", "-c", script)
	}
	var w io.Writer = s.log
	if extraLog != nil {
		w = io.MultiWriter(s.log, extraLog)
	}
	cmd.Stdout, cmd.Stderr = w, w
	// Its own process group, and killed with us if we die first.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "SYSLOG_SOCKET=" + s.syslog, "SSHD=" + bin, "SSHD_CONFIG=" + s.ConfigFile}
	if err := cmd.Start(); err != nil {
		return fail.Wrap(fail.Unavailable, err, "", "start %s", bin)
	}
	s.cmd = cmd
	s.done = make(chan struct{})
	go func() {
		s.waitErr = cmd.Wait()
		close(s.done)
	}()
	deadline := time.Now().Add(timeout)
	for {
		if err := s.banner(); err == nil {
			return nil
		}
		select {
		case <-s.done:
			return fail.New(fail.Unavailable, "see sshd's words above; check the drop-ins with sshd -t",
				"lab sshd exited at start (%v):\n%s", s.waitErr, strings.TrimSpace(s.Logs()))
		case <-ctx.Done():
			s.stop()
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.stop()
			return fail.New(fail.Unavailable, "", "lab sshd did not answer within %s:\n%s", timeout, strings.TrimSpace(s.Logs()))
		}
	}
}

// banner reports whether our sshd answers: an SSH banner and then our
// own host key. A bare banner is not enough: when two labs drew the same
// free port, the loser's banner probe reached the winner's sshd and the
// lab reported an address another server owned.
func (s *Server) banner() error {
	c, err := net.DialTimeout("tcp", s.Addr, 200*time.Millisecond)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	errOurs := errors.New("host key checked")
	// Ask for our key's type: a lab may hold more host keys (Global
	// HostKey lines), and sshd would otherwise present its preferred one.
	cfg := &ssh.ClientConfig{User: "probe", Timeout: 2 * time.Second, HostKeyAlgorithms: []string{s.HostKey.Type()},
		HostKeyCallback: func(_ string, _ net.Addr, key ssh.PublicKey) error {
			if !bytes.Equal(key.Marshal(), s.HostKey.Marshal()) {
				return errors.New("another server answers on this port")
			}
			return errOurs
		}}
	_, _, _, err = ssh.NewClientConn(c, s.Addr, cfg)
	if errors.Is(err, errOurs) {
		return nil
	}
	if err == nil {
		err = errors.New("handshake ended without a host key")
	}
	return err
}

func (s *Server) stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	// The listener only: each connection's sshd has its own session
	// (setsid) and ends when its client goes.
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(5 * time.Second):
		s.cmd.Process.Kill()
		<-s.done
	}
}

// Close stops sshd and removes the lab directory. It is safe to call twice.
func (s *Server) Close() error {
	s.closeMu.Do(func() {
		s.stop()
		if s.unix != nil {
			s.unix.Close()
		}
		os.RemoveAll(s.Dir)
	})
	return nil
}

// Logs is what sshd logged so far (LogLevel VERBOSE from the hardening
// drop-in: every key accepted, every forward refused).
func (s *Server) Logs() string { return s.log.String() }

// ClientConfig is a client config for the lab account with the lab's key
// and the pinned host key.
func (s *Server) ClientConfig() *ssh.ClientConfig {
	return &ssh.ClientConfig{
		User:            s.User,
		Auth:            []ssh.AuthMethod{ssh.PublicKeys(s.ClientKey)},
		HostKeyCallback: ssh.FixedHostKey(s.HostKey),
		Timeout:         10 * time.Second,
	}
}

// Dial logs in as the lab account with the lab's client key.
func (s *Server) Dial() (*ssh.Client, error) {
	return ssh.Dial("tcp", s.Addr, s.ClientConfig())
}

// Target returns the first forward target.
func (s *Server) Target() target.Target { return s.Targets[0] }

// Shell is the lab account's login shell from the passwd database; with a
// nologin shell, no command runs even without ForceCommand.
func (s *Server) Shell() string {
	a, err := accounts.LookupPasswd(hostfs.Root{}, s.User)
	if err != nil {
		return ""
	}
	return a.Shell
}

func cloneFiles(fs []render.File) []render.File {
	out := make([]render.File, len(fs))
	for i, f := range fs {
		out[i] = render.File{Name: f.Name, Data: bytes.Clone(f.Data)}
	}
	return out
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (l *lockedBuffer) Reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.b.Reset()
}

// VerifyOptions points verify at the lab: its account, targets, client
// key, pinned host key, its Unix echo socket for the direct-streamlocal
// probe, and its scratch dir for the streamlocal-forward probe (so a lab
// that permits it leaves no socket in the host's /tmp).
func (s *Server) VerifyOptions() verify.Options {
	host, _, _ := net.SplitHostPort(s.Addr)
	return verify.Options{
		Host:      host,
		Port:      s.Port,
		User:      s.User,
		Targets:   s.Targets,
		Auth:      []ssh.AuthMethod{ssh.PublicKeys(s.ClientKey)},
		HostKey:   verify.HostKeyPolicy{KnownHosts: s.KnownHostsFile},
		Sockets:   []string{s.Socket},
		ListenDir: s.ScratchDir,
	}
}

var probed sync.Map // sshd binary path -> caps.Why()

// dropInsWhy is sshd.Caps.Why for bin, asked once per binary and process.
func dropInsWhy(ctx context.Context, bin string) (string, error) {
	if why, ok := probed.Load(bin); ok {
		return why.(string), nil
	}
	caps, err := (sshd.Binary{Bin: bin, Runner: run.Exec{}}).Probe(ctx)
	if err != nil {
		return "", err
	}
	probed.Store(bin, caps.Why())
	return caps.Why(), nil
}
