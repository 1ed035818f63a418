// Package rendertest builds throwaway --root trees that look like a stock
// Debian 12 host with OpenSSH: /etc/ssh/sshd_config as Debian ships it, an
// /etc/passwd with root, an admin who logs in by key, and the forward
// account. Tests of render/, verify/audit and cmd/ share it so that they all
// start from the same, real-looking host.
package rendertest

import (
	_ "embed"
	"os"
	"path/filepath"
	"testing"

	"github.com/pfwdctl/pfwdctl/internal/auditlog"
	"github.com/pfwdctl/pfwdctl/internal/hostfs"
)

// StockSshdConfig is Debian 12's /etc/ssh/sshd_config (openssh-server 9.2).
//
//go:embed debian12_sshd_config
var StockSshdConfig []byte

// AdminKey is an ed25519 public key for the admin account; its private half
// is not kept anywhere: trees only need to look like a host.
const AdminKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAcXhRaoCtUCwN57W6p5GdA/6RwrBUuewlAmEtiU539A admin@laptop\n"

// Tree describes the host to build.
type Tree struct {
	// NoAdminKey leaves the admin without an authorized key (lockout case).
	NoAdminKey bool
	// SshdConfig replaces the stock main config.
	SshdConfig []byte
	// Files are extra files, host path -> content.
	Files map[string]string
}

// New builds the tree under t.TempDir() and returns its root.
func New(t testing.TB, tr Tree) hostfs.Root {
	t.Helper()
	root := hostfs.MustRoot(t.TempDir())
	if err := Build(root, tr); err != nil {
		t.Fatal(err)
	}
	return root
}

// Build writes the tree under root (for callers without a testing.TB, such
// as testscript's Setup).
func Build(root hostfs.Root, tr Tree) error {
	cfg := tr.SshdConfig
	if cfg == nil {
		cfg = StockSshdConfig
	}
	files := map[string]string{
		"/etc/ssh/sshd_config": string(cfg),
		"/etc/passwd": "root:x:0:0:root:/root:/bin/bash\n" +
			"nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n" +
			"admin:x:1000:1000:Admin,,,:/home/admin:/bin/bash\n" +
			"pfwd:x:999:999::/home/pfwd:/usr/sbin/nologin\n",
		"/etc/shadow": "root:*:19000:0:99999:7:::\nnobody:*:19000:0:99999:7:::\n" +
			"admin:$y$j9T$abc$def:19000:0:99999:7:::\npfwd:*:19000:0:99999:7:::\n",
	}
	if !tr.NoAdminKey {
		files["/home/admin/.ssh/authorized_keys"] = AdminKey
	}
	for k, v := range tr.Files {
		files[k] = v
	}
	for host, content := range files {
		p := root.Path(host)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			return err
		}
	}
	return os.MkdirAll(root.Path("/etc/ssh/sshd_config.d"), 0o755)
}

// Snapshot reads every regular file under root, for byte-for-byte
// comparisons before and after a refused change. The lock and the audit log
// are left out: a refused change is still recorded (a rollback is a line in
// the log), and the log is checked by tests of its own.
func Snapshot(t testing.TB, root hostfs.Root) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.Walk(root.Dir(), func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if fi.Mode().IsRegular() && filepath.Base(p) != "pfwdctl.lock" && root.HostPath(p) != auditlog.Path {
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			out[root.HostPath(p)] = fi.Mode().String() + "\n" + string(data)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Unchanged fails the test if the tree differs from before.
func Unchanged(t testing.TB, root hostfs.Root, before map[string]string) {
	t.Helper()
	after := Snapshot(t, root)
	for k, v := range before {
		if after[k] != v {
			t.Errorf("%s changed", k)
		}
	}
	for k := range after {
		if _, ok := before[k]; !ok {
			t.Errorf("%s was created", k)
		}
	}
}
