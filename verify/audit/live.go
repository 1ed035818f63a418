package audit

import (
	"context"
	"fmt"
	"strings"

	"github.com/pfwdctl/pfwdctl/internal/sshd"
)

// liveChecks asks the running daemon what it serves (SSHD-NOTES 11): sshd
// reads its config only at start and on SIGHUP, so a host whose files are
// right can still run an older config, for instance after a reload that an
// init script reported but never did. The answer to an unauthenticated
// "none" request is compared with sshd -T for the forward account and the
// ordinary one on every address sshd listens on. Nothing is sent but the
// user name.
func (a *auditor) liveChecks(ctx context.Context) {
	users := []string{a.o.Params.User, a.rep.OtherUser}
	probes, err := sshd.ProbeServed(ctx, a.sshd.Effective, users)
	if err != nil {
		a.add(Finding{ID: "live.unknown", Severity: Warn, File: a.mainConfig(),
			Title:  "could not ask the running sshd what it serves",
			Detail: err.Error(),
			Fix:    "check that sshd runs (pfwdctl verify --self proves the account end to end)"})
		return
	}
	var stale, unreachable []string
	answered := 0
	for _, p := range probes {
		switch {
		case p.Err != "":
			unreachable = append(unreachable, fmt.Sprintf("%s (%s)", p.Addr, p.Err))
		case p.Mismatch != "":
			answered++
			stale = append(stale, fmt.Sprintf("on %s for %s it %s (offers %s; the config says %s)",
				p.Addr, p.User, p.Mismatch, orNothing(p.Offered), orNothing(p.Expected)))
		default:
			answered++
		}
	}
	a.rep.Live = probes
	switch {
	case len(stale) > 0:
		a.add(Finding{ID: "live.stale", Severity: Fail, File: a.mainConfig(),
			Title:  "the running sshd does not serve the configuration on disk",
			Detail: strings.Join(stale, "; ") + ". sshd reads its config only when it starts or gets SIGHUP; a reload that was reported may never have happened",
			Fix:    "reload sshd (" + a.reloadHint() + "), then audit again"})
	case answered == 0:
		a.add(Finding{ID: "live.down", Severity: Warn, File: a.mainConfig(),
			Title:  "no sshd answers on the addresses the config names",
			Detail: strings.Join(unreachable, "; "),
			Fix:    "start sshd if this host should accept the tunnel; it will read the config on disk"})
	default:
		a.ok("live", "the running sshd serves the config on disk: %d probes of %s answered as sshd -T says", answered, strings.Join(users, " and "))
	}
}

func orNothing(m []string) string {
	if len(m) == 0 {
		return "nothing"
	}
	return strings.Join(m, ",")
}

// reloadHint is the command that reloads sshd the way this host runs it.
func (a *auditor) reloadHint() string {
	if a.o.ReloadHint != "" {
		return a.o.ReloadHint
	}
	return "systemctl reload ssh, or kill -HUP $(cat /run/sshd.pid) without systemd"
}
