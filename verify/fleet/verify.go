package fleet

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/pfwdctl/pfwdctl/internal/fail"
	"github.com/pfwdctl/pfwdctl/verify"
)

// Outcome is one host's overall result.
type Outcome string

const (
	Passed Outcome = "pass"
	Failed Outcome = "fail"
	// Unreachable: no check could run (refused, timeout, host key, auth).
	Unreachable Outcome = "unreachable"
	// Errored: pfwdctl could not even try (an unreadable key file).
	Errored Outcome = "error"
)

// HostResult is one host's line in the fleet report.
type HostResult struct {
	Name    string  `json:"name"`
	Addr    string  `json:"addr"`
	User    string  `json:"user"`
	Outcome Outcome `json:"outcome"`
	// Failed names the failed checks; Warned those that warned.
	Failed []string `json:"failed,omitempty"`
	Warned []string `json:"warned,omitempty"`
	// Reason is why the host was unreachable (verify's reasons: refused,
	// timeout, host key mismatch, ...); Error and Hint say more.
	Reason     string         `json:"reason,omitempty"`
	Error      string         `json:"error,omitempty"`
	Hint       string         `json:"hint,omitempty"`
	Report     *verify.Report `json:"report,omitempty"`
	Duration   time.Duration  `json:"-"`
	DurationMS float64        `json:"duration_ms"`
}

// Options are the fleet-wide defaults; an inventory line overrides the
// port, the user, the key and the host key per host.
type Options struct {
	// Base is what every host starts from (Host is replaced).
	Base verify.Options
	// Parallel bounds the hosts verified at once; 0: DefaultParallel.
	Parallel int
	// Passphrase asks for an encrypted key's passphrase (once per file).
	Passphrase func() ([]byte, error)
	// Done is called after each host, one call at a time (progress).
	Done func(finished, total int, r HostResult)
	// Strict counts a warning (a target permitted but not answering) as a
	// failure, like verify --strict.
	Strict bool
}

// Verify runs verify.Run against every host, at most Parallel at once, and
// returns one result per host in the inventory's order.
func Verify(ctx context.Context, hosts []Host, o Options) []HostResult {
	if o.Parallel == 0 {
		o.Parallel = DefaultParallel
	}
	keys := &keyCache{signers: map[string]ssh.Signer{}, errs: map[string]error{}, passphrase: o.Passphrase}
	finished := 0
	return Run(ctx, hosts, o.Parallel, func(ctx context.Context, h Host) HostResult {
		return verifyHost(ctx, h, o.Base, keys, o.Strict)
	}, func(_ int, r HostResult) {
		finished++
		if o.Done != nil {
			o.Done(finished, len(hosts), r)
		}
	})
}

func verifyHost(ctx context.Context, h Host, base verify.Options, keys *keyCache, strict bool) HostResult {
	start := time.Now()
	vo := base
	vo.Host = h.Addr
	if h.Port != 0 {
		vo.Port = h.Port
	}
	if vo.Port == 0 {
		vo.Port = 22
	}
	if h.User != "" {
		vo.User = h.User
	}
	if h.HostKey != "" {
		// A pin in the inventory replaces the fleet-wide policy.
		vo.HostKey = verify.HostKeyPolicy{Fingerprint: h.HostKey}
	}
	res := HostResult{Name: h.Name, Addr: h.Target(vo.Port), User: vo.User}
	if res.User == "" {
		res.User = "pfwd"
	}
	finish := func() HostResult {
		res.Duration = time.Since(start)
		res.DurationMS = float64(res.Duration.Microseconds()) / 1000
		return res
	}
	if h.Key != "" {
		s, err := keys.load(h.Key)
		if err != nil {
			res.Outcome, res.Error, res.Hint = Errored, err.Error(), fail.HintOf(err)
			return finish()
		}
		vo.Auth = []ssh.AuthMethod{ssh.PublicKeys(s)}
	}
	if ctx.Err() != nil {
		res.Outcome, res.Reason, res.Error = Unreachable, "interrupted", "not verified: the run was interrupted"
		return finish()
	}
	rep, err := verify.Run(ctx, vo)
	res.Report = rep
	if rep != nil {
		res.User = rep.User
		for _, c := range rep.Checks {
			switch c.Status {
			case verify.Fail:
				res.Failed = append(res.Failed, c.Name)
			case verify.Warn:
				res.Warned = append(res.Warned, c.Name)
			}
		}
	}
	switch {
	case err != nil:
		res.Error, res.Hint = err.Error(), fail.HintOf(err)
		var ce *verify.ConnectError
		if errors.As(err, &ce) {
			res.Outcome, res.Reason = Unreachable, string(ce.Reason)
		} else {
			res.Outcome = Errored
		}
	case len(res.Failed) > 0, strict && len(res.Warned) > 0:
		res.Outcome = Failed
	default:
		res.Outcome = Passed
	}
	return finish()
}

// keyCache loads each key file once: twenty hosts sharing a key must not
// ask for its passphrase twenty times, nor at the same time.
type keyCache struct {
	mu         sync.Mutex
	signers    map[string]ssh.Signer
	errs       map[string]error
	passphrase func() ([]byte, error)
}

func (k *keyCache) load(path string) (ssh.Signer, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if s, ok := k.signers[path]; ok {
		return s, nil
	}
	if err, ok := k.errs[path]; ok {
		return nil, err
	}
	s, err := verify.KeyFile(expandHome(path), k.passphrase)
	if err != nil {
		k.errs[path] = err
		return nil, err
	}
	k.signers[path] = s
	return s, nil
}

// expandHome reads ~/ as the home directory, as ssh -i and Ansible's
// inventories do: an inventory written for Ansible often says so.
func expandHome(p string) string {
	if rest, ok := strings.CutPrefix(p, "~/"); ok {
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, rest)
		}
	}
	return p
}

// Summary counts the outcomes.
type Summary struct {
	Hosts       int `json:"hosts"`
	Passed      int `json:"passed"`
	Failed      int `json:"failed"`
	Unreachable int `json:"unreachable"`
	Errors      int `json:"errors"`
}

// Summarize counts results by outcome.
func Summarize(rs []HostResult) Summary {
	s := Summary{Hosts: len(rs)}
	for _, r := range rs {
		switch r.Outcome {
		case Passed:
			s.Passed++
		case Failed:
			s.Failed++
		case Unreachable:
			s.Unreachable++
		default:
			s.Errors++
		}
	}
	return s
}

// Err is the fleet's verdict as an error whose kind internal/fail maps to
// the exit code: Failed when any host failed a check (a confirmed hole
// outranks a host we could not reach), else Unavailable when any host could
// not be verified, else nil.
func (s Summary) Err() error {
	switch {
	case s.Failed > 0:
		return fail.New(fail.Failed, "run pfwdctl verify --host HOST for a failing host to see each check and what to fix",
			"%d of %d hosts failed a check", s.Failed, s.Hosts)
	case s.Unreachable > 0 || s.Errors > 0:
		return fail.New(fail.Unavailable, "see the reason per host above; pfwdctl verify --host HOST shows the full error",
			"%d of %d hosts could not be verified", s.Unreachable+s.Errors, s.Hosts)
	}
	return nil
}

// Inventory is one verify --inventory run.
type Inventory struct {
	// File is the inventory (ReadFile's formats).
	File string
	// Settings are the fleet-wide defaults every line starts from; they
	// become verify.Options through Settings.Options, as a single host's
	// do. Host must be empty: the hosts are the file's.
	Settings verify.Settings
	// Parallel bounds the hosts verified at once (at least 1).
	Parallel int
	Strict   bool
	// Start is called once the hosts are known, before any is verified;
	// Done after each host, one call at a time (progress).
	Start func(total int)
	Done  func(finished, total int, r HostResult)
}

// VerifyInventory reads the inventory and verifies every host in it. An
// error means nothing was verified (bad settings or inventory); a host's own
// failure is in its HostResult.
func VerifyInventory(ctx context.Context, in Inventory) ([]HostResult, error) {
	if in.Settings.Host != "" {
		return nil, fail.New(fail.Usage, "list the hosts in the inventory file, or drop --inventory", "--host and --inventory exclude each other")
	}
	if in.Parallel < 1 {
		return nil, fail.New(fail.Usage, "pass --parallel 1 or more", "--parallel %d: must be at least 1", in.Parallel)
	}
	hosts, err := ReadFile(in.File)
	if err != nil {
		return nil, fail.Wrap(fail.Usage, err, "fix the inventory: one host[:port] [user=NAME] [key=FILE] [host-key=SHA256:...] per line", "read inventory")
	}
	if len(hosts) == 0 {
		return nil, fail.New(fail.Usage, "list one host per line", "inventory %s lists no hosts", in.File)
	}
	base, closeAuth, err := in.Settings.Options()
	if err != nil {
		return nil, err
	}
	defer closeAuth()
	if in.Start != nil {
		in.Start(len(hosts))
	}
	return Verify(ctx, hosts, Options{Base: base, Parallel: in.Parallel, Passphrase: in.Settings.Passphrase, Done: in.Done, Strict: in.Strict}), nil
}
