package wizard

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/pfwdctl/pfwdctl/internal/fail"
	"github.com/pfwdctl/pfwdctl/render"
)

// HostInfo is what the Host check screen shows. Every field comes from the
// same library call the plain commands use (render.CheckInclude,
// render.Reloader.Detect, render.Guard), so the wizard cannot disagree with
// apply about the host.
type HostInfo struct {
	SshdVersion string
	Config      string   // host path of the main config
	DropInDir   string   // host path
	DropIns     []string // *.conf already there
	Include     error    // nil: the main config reads the drop-ins
	Run         render.ReloadResult
	// Connection says how the admin is connected now.
	Connection string
	// Lockout is render.Guard's refusal, nil when the change is safe.
	Lockout error
}

func (c Config) sshdConfig() string {
	if c.SshdConfig == "" {
		return render.DefaultSshdConfig
	}
	return c.SshdConfig
}

func (c Config) getenv(k string) string {
	if c.Getenv == nil {
		return ""
	}
	return c.Getenv(k)
}

func (c Config) reloader() *render.Reloader {
	if c.Reloader != nil {
		return c.Reloader
	}
	return &render.Reloader{Root: c.Root, Runner: c.Runner}
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
	h.Run = c.reloader().Detect(ctx)
	h.Connection = connection(c)
	h.Lockout = render.Guard{Root: c.Root, ForwardUser: user, Getenv: c.Getenv}.Check()
	return h
}

// version asks sshd, then ssh (both print it on stderr; OpenSSH before 9.8
// has no sshd -V and prints its usage, which still starts with nothing
// useful, so a line starting with OpenSSH is required).
func version(ctx context.Context, c Config) string {
	bin := c.SshdBin
	if bin == "" {
		bin, _ = render.FindSshd()
	}
	try := func(name string) string {
		if name == "" {
			return ""
		}
		out, errb, _ := c.Runner.Run(ctx, name, "-V")
		for _, l := range strings.Split(string(errb)+"\n"+string(out), "\n") {
			if strings.HasPrefix(strings.TrimSpace(l), "OpenSSH") {
				return strings.TrimSpace(l)
			}
		}
		return ""
	}
	if v := try(bin); v != "" {
		return v + " (sshd -V)"
	}
	if v := try("ssh"); v != "" {
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

// errText splits a pfwdctl error into its message and hint.
func errText(err error) (msg, hint string) {
	if err == nil {
		return "", ""
	}
	var fe *fail.Error
	if errors.As(err, &fe) {
		return err.Error(), fail.HintOf(err)
	}
	return err.Error(), ""
}
