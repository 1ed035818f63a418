package sshd

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/pfwdctl/pfwdctl/internal/fail"
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
	// Missing are the keywords pfwdctl's proof reads from sshd -T that
	// this build does not print (sshd older than 7.8 has no
	// PermitListen, for one).
	Missing []string
	// Version is the release the binary reports (zero when unknown); only
	// Unsupported reads it, for the support floor.
	Version Version
}

// Oldest is the oldest release pfwdctl is proven against (make
// test-compat, docs/compatibility.md).
var Oldest = Version{8, 0}

// reported are the sshd -T keywords pfwdctl's guard, audit and apply
// judge the forward account by: a build that does not print one cannot be
// proven safe.
var reported = []string{"permitopen", "permitlisten", "forcecommand", "allowtcpforwarding",
	"allowstreamlocalforwarding", "authenticationmethods", "disableforwarding", "authorizedkeysfile"}

// Unsupported says why pfwdctl refuses this sshd in any install mode; ""
// when it does not. An sshd that cannot tell what it would enforce, or a
// release older than every one pfwdctl is tested against, gets no claim of
// success.
func (c Caps) Unsupported() string {
	var why []string
	if c.Version != (Version{}) && !c.Version.AtLeast(Oldest) {
		why = append(why, "OpenSSH "+c.Version.String()+" is older than "+Oldest.String()+", the oldest release pfwdctl is proven against (docs/compatibility.md)")
	}
	if !c.Include && c.Version == (Version{}) && c.Missing == nil {
		why = append(why, "this sshd refuses Include and says neither its version nor what sshd -T reports, so pfwdctl cannot tell what it would enforce")
	}
	if len(c.Missing) > 0 {
		why = append(why, "this sshd's -T output has no "+strings.Join(c.Missing, ", ")+", which pfwdctl needs to prove what it enforces for the account (OpenSSH "+Oldest.String()+" or later has them)")
	}
	return strings.Join(why, "; ")
}

// Why says, for an admin, why drop-ins cannot work with this sshd; "" when
// they can (see ModeManaged in render for what works instead).
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
			// Not an answer but no sshd to ask (missing, not executable):
			// "could not run", exit 3, like every other sshd call.
			return c, fail.Wrap(fail.Unavailable, err, "check that sshd is installed and runnable (pass --sshd PATH)", "run %s", bin)
		}
		if strings.Contains(strings.ToLower(string(stderr)), "include") {
			// Refused the keyword itself: ask again without it, for
			// what the build reports.
			c.Version, _ = s.Version(ctx)
			os.WriteFile(cfg, []byte("HostKey "+key+"\n"), 0o600)
			if out, _, err := runner.Run(ctx, bin, "-T", "-f", cfg, "-C", "user=pfwdctl-probe,host=localhost,addr=127.0.0.1,laddr=127.0.0.1,lport=22"); err == nil {
				c.Missing = missingKeywords(out)
			}
			return c, nil
		}
		return c, &ConfigError{Args: []string{"-T", "-f", cfg}, Stderr: string(stderr), Err: err}
	}
	c.Include = true
	c.Missing = missingKeywords(out)
	c.Version, _ = s.Version(ctx)
	for _, line := range strings.Split(string(out), "\n") {
		if strings.EqualFold(strings.TrimSpace(line), "permittty no") {
			c.MatchInInclude = true
		}
	}
	return c, nil
}

// missingKeywords are the reported keywords an sshd -T output lacks.
func missingKeywords(out []byte) []string {
	have := map[string]bool{}
	for _, line := range strings.Split(string(out), "\n") {
		kw, _, _ := strings.Cut(strings.TrimSpace(line), " ")
		have[strings.ToLower(kw)] = true
	}
	var miss []string
	for _, k := range reported {
		if !have[k] {
			miss = append(miss, k)
		}
	}
	return miss
}
