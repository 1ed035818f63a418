package wizard

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/pfwdctl/pfwdctl/internal/fail"
	"github.com/pfwdctl/pfwdctl/internal/sshd"
	"github.com/pfwdctl/pfwdctl/render"
	"github.com/pfwdctl/pfwdctl/verify/self"
)

// HostInfo is what the Host check screen shows. Every field comes from the
// same library call the plain commands use (render.CheckInclude,
// sshd.Reloader.Detect, render.Guard), so the wizard cannot disagree with
// apply about the host.
type HostInfo struct {
	SshdVersion string
	Config      string   // host path of the main config
	DropInDir   string   // host path
	DropIns     []string // *.conf already there
	Include     error    // nil: the main config reads the drop-ins
	// Mode is the install mode apply will use here and ModeWhy why (or
	// ModeErr why apply would refuse this sshd).
	Mode    render.Mode
	ModeWhy string
	ModeErr error
	Run     sshd.ReloadResult
	// Connection says how the admin is connected now.
	Connection string
	// Lockout is render.Guard's refusal, nil when the change is safe.
	Lockout error
	// Listen is where sshd listens (sshd -T ListenAddress); ListenErr why
	// it could not be told.
	Listen    []self.ListenAddr
	ListenErr error
}

func (c Config) sshdConfig() string {
	if c.SshdConfig == "" {
		return sshd.DefaultConfig
	}
	return c.SshdConfig
}

func (c Config) getenv(k string) string {
	if c.Getenv == nil {
		return ""
	}
	return c.Getenv(k)
}

func (c Config) reloader() *sshd.Reloader {
	if c.Reloader != nil {
		return c.Reloader
	}
	// Config: the daemon must run the file the wizard changes (its -f).
	return &sshd.Reloader{Root: c.Root, Runner: c.Runner, Config: c.Root.Path(c.sshdConfig())}
}

// guard runs render.Guard with sshd -T over the host's config.
func (c Config) guard(ctx context.Context, user string) error {
	b := sshd.Binary{Bin: c.SshdBin, Runner: c.Runner, Root: c.Root, Config: c.sshdConfig()}
	return render.Guard{Root: c.Root, ForwardUser: user, Getenv: c.Getenv}.Check(ctx, b.Effective)
}

// Inspect gathers the host check. It changes nothing.
func Inspect(ctx context.Context, c Config, user string) HostInfo {
	h := HostInfo{Config: c.sshdConfig(), DropInDir: render.DropInDir(c.sshdConfig())}
	h.SshdVersion = version(ctx, c)
	if m, _ := filepath.Glob(c.Root.Path(filepath.Join(h.DropInDir, "*.conf"))); len(m) > 0 {
		for _, p := range m {
			h.DropIns = append(h.DropIns, filepath.Base(p))
		}
		sort.Strings(h.DropIns)
	}
	h.Include = render.CheckInclude(c.Root, h.Config)
	a := render.Applier{Root: c.Root, Runner: c.Runner, SshdConfig: h.Config, SshdBin: c.SshdBin}
	h.Mode, h.ModeWhy, h.ModeErr = a.InstallMode(ctx)
	h.Run = c.reloader().Detect(ctx)
	h.Connection = connection(c)
	h.Lockout = c.guard(ctx, user)
	h.Listen, h.ListenErr = c.listenAddrs(ctx)
	return h
}

// version asks sshd (sshd.Binary.VersionText), then ssh, whose -V prints
// the same line on stderr.
func version(ctx context.Context, c Config) string {
	if v, err := (sshd.Binary{Bin: c.SshdBin, Runner: c.Runner}).VersionText(ctx); err == nil {
		return v + " (sshd -V)"
	}
	out, errb, _ := c.Runner.Run(ctx, "ssh", "-V")
	if v := sshd.VersionLine(errb, out); v != "" {
		return v + " (ssh -V; sshd did not say)"
	}
	return "unknown (neither sshd -V nor ssh -V answered)"
}

// connection reads the variables sshd sets for a session.
func connection(c Config) string {
	conn := c.getenv("SSH_CONNECTION")
	who := c.getenv("SUDO_USER")
	if who == "" {
		who = c.getenv("USER")
	}
	if who == "" {
		who = "uid " + strconv.Itoa(os.Getuid())
	}
	if conn == "" {
		return who + " on a local terminal or console (no SSH_CONNECTION)"
	}
	from := strings.Fields(conn)[0]
	s := who + " over SSH from " + from
	if p := c.getenv("SSH_USER_AUTH"); p != "" {
		if data, err := os.ReadFile(p); err == nil && len(strings.Fields(string(data))) > 0 {
			method := strings.Fields(string(data))[0]
			if method == "publickey" {
				return s + ", logged in by key"
			}
			return s + ", logged in by " + method
		}
	}
	return s + " (sshd did not say how: ExposeAuthInfo is off)"
}

// errText splits a pfwdctl error into its message and hint, the hint as
// the wizard can follow it (wizardHint).
func errText(err error) (msg, hint string) {
	if err == nil {
		return "", ""
	}
	var fe *fail.Error
	if errors.As(err, &fe) {
		return err.Error(), wizardHint(fail.HintOf(err))
	}
	return err.Error(), ""
}

// forceClause is how the libraries' hints offer --force (render.Guard's
// lockout check): as an aside in parentheses, as a last ", or pass
// --force", or as the whole hint.
var forceClause = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`\s*\((or )?pass --force[^)]*\)|,? or pass --force\b[^.;]*|^pass --force\b.*$`)
})

// wizardHint is a library hint without the flags the wizard does not have:
// the hints are written for the plain commands, and a first-time admin
// told to "pass --force" looks for a flag that is not there. The wizard
// never overrides the lockout check, never adopts a person's account and
// gives a new account the home /home/NAME.
func wizardHint(h string) string {
	switch {
	case strings.Contains(h, "--adopt"):
		return "pick a dedicated account such as " + render.DefaultUser + " (the wizard creates it); the wizard never makes a person's account forward-only"
	case strings.Contains(h, "e.g. --home "):
		return "pick another account name: the wizard gives a new account the home /home/NAME"
	}
	return strings.TrimSpace(forceClause().ReplaceAllString(h, ""))
}
