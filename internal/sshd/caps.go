package sshd

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/pfwdctl/pfwdctl/internal/run"
)

// Caps is what this sshd build does with pfwdctl's way of installing its
// configuration, found by asking it (Probe), never by its version number.
type Caps struct {
	// Include: sshd_config may Include files (8.2 and later upstream;
	// RHEL 8's 8.0 refuses the keyword).
	Include bool
	// MatchInInclude: a Match block inside an included file takes effect
	// (8.2 and 8.3 ignore it, upstream bz#3122).
	MatchInInclude bool
}

// Why says, for an admin, why drop-ins cannot work with this sshd; "" when
// they can.
func (c Caps) Why() string {
	switch {
	case !c.Include:
		return "this sshd does not accept Include in sshd_config (OpenSSH before 8.2, e.g. RHEL 8's 8.0), so drop-ins in sshd_config.d are never read"
	case !c.MatchInInclude:
		return "this sshd ignores a Match block inside an included file (OpenSSH 8.2 and 8.3, upstream bug 3122, fixed in 8.4), so the account's Match block in sshd_config.d would have no effect"
	}
	return ""
}

// Probe asks the sshd binary, on a throwaway config of its own in a temp
// directory (nothing on the host is read or written), whether it takes an
// Include and honours a Match block in an included file.
func (s Binary) Probe(ctx context.Context) (Caps, error) {
	var c Caps
	bin, err := s.bin()
	if err != nil {
		return c, err
	}
	dir, err := os.MkdirTemp("", "pfwdctl-probe-")
	if err != nil {
		return c, err
	}
	defer os.RemoveAll(dir)
	key, err := throwawayHostKey(dir)
	if err != nil {
		return c, err
	}
	inc := filepath.Join(dir, "inc")
	if err := os.Mkdir(inc, 0o700); err != nil {
		return c, err
	}
	if err := os.WriteFile(filepath.Join(inc, "20-probe.conf"), []byte("Match User pfwdctl-probe\n    PermitTTY no\nMatch all\n"), 0o600); err != nil {
		return c, err
	}
	cfg := filepath.Join(dir, "sshd_config")
	if err := os.WriteFile(cfg, []byte("HostKey "+key+"\nInclude "+inc+"/*.conf\n"), 0o600); err != nil {
		return c, err
	}
	runner := s.Runner
	if runner == nil {
		runner = run.Exec{}
	}
	out, stderr, err := runner.Run(ctx, bin, "-T", "-f", cfg, "-C", "user=pfwdctl-probe,host=localhost,addr=127.0.0.1,laddr=127.0.0.1,lport=22")
	if err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) && !errors.Is(err, run.ErrExit) {
			return c, err
		}
		if strings.Contains(strings.ToLower(string(stderr)), "include") {
			return c, nil // refused the keyword itself
		}
		return c, &ConfigError{Args: []string{"-T", "-f", cfg}, Stderr: string(stderr), Err: err}
	}
	c.Include = true
	for _, line := range strings.Split(string(out), "\n") {
		if strings.EqualFold(strings.TrimSpace(line), "permittty no") {
			c.MatchInInclude = true
		}
	}
	return c, nil
}
