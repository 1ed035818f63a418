package wizard

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/pfwdctl/pfwdctl/internal/fail"
	"github.com/pfwdctl/pfwdctl/internal/sshd"
	"github.com/pfwdctl/pfwdctl/internal/target"
	"github.com/pfwdctl/pfwdctl/render"
	"github.com/pfwdctl/pfwdctl/users"
	"github.com/pfwdctl/pfwdctl/users/keyline"
	"github.com/pfwdctl/pfwdctl/verify"
	"github.com/pfwdctl/pfwdctl/verify/self"
)

type stepState int

const (
	stPending stepState = iota
	stRunning
	stOK
	stFailed
	stSkipped
	stRolledBack
)

type step struct {
	name   string
	state  stepState
	detail string
	hint   string
}

// The apply steps, in the order the seed guide does them: the config is
// proven by sshd -t before any account or key exists, and sshd reloads last,
// after everything it will need is in place.
const (
	stepRender = iota
	stepTest
	stepAccount
	stepKeys
	stepReload
)

type stepMsg struct {
	i       int
	detail  string
	changes []string
	err     error
	skipped bool
	// applied is what stepTest installed, so a later failure can have the
	// Applier put it back (Rollback) before sshd ever reloads.
	applied *render.ApplyResult
	// rolledBack: the library already restored its files (sshd -t refused).
	rolledBack bool
}

type proveMsg struct {
	report *verify.Report
	err    error
	addr   string
}

func (m *Model) usersHost() users.Host {
	return users.Host{Root: m.cfg.Root, Runner: m.cfg.Runner, SshdConfig: m.cfg.sshdConfig(), Now: m.cfg.Now, Getenv: m.cfg.Getenv, Syslog: m.cfg.Syslog}
}

func (m *Model) applier() render.Applier {
	return render.Applier{Root: m.cfg.Root, Runner: m.cfg.Runner, SshdConfig: m.cfg.sshdConfig(), SshdBin: m.cfg.SshdBin, Getenv: m.cfg.Getenv, Reloader: m.cfg.Reloader,
		Overrides: m.cfg.Overrides, Keys: m.cfg.Keys}
}

func (m *Model) startApply() tea.Cmd {
	m.screen = scrApply
	m.steps = []step{{name: "render the drop-ins"}, {name: "write them and run sshd -t"}, {name: "account " + m.params.User}, {name: "friend's keys"}, {name: "reload sshd"}}
	m.cur = 0
	m.steps[0].state = stRunning
	m.resize()
	return tea.Batch(m.spin.Tick, m.runStep(0))
}

// runStep returns the command doing step i with the library call apply,
// user create and add-key make. It copies what it needs: commands run off
// the Update goroutine.
func (m *Model) runStep(i int) tea.Cmd {
	ctx, p, friends, a, uh := m.ctx, m.params, append([]friendKey(nil), m.friends...), m.applier(), m.usersHost()
	reloader := m.cfg.reloader()
	return func() tea.Msg {
		switch i {
		case stepRender:
			_, changes, err := a.Plan(p)
			if err != nil {
				return stepMsg{i: i, err: err}
			}
			var names []string
			for _, c := range changes {
				if c.Action != "unchanged" {
					names = append(names, c.Action+" "+c.Path)
				}
			}
			if len(names) == 0 {
				return stepMsg{i: i, detail: "the drop-ins are already up to date"}
			}
			return stepMsg{i: i, detail: strings.Join(names, ", ")}
		case stepTest:
			res, err := a.Apply(ctx, render.ApplyOptions{Params: p, NoReload: true})
			if err != nil && res.Validated {
				// Installed and valid, but other lines win over them
				// (res.Overrides): the wizard stops and puts the files
				// back, so a first run leaves nothing half done.
				if rbErr := a.Rollback(res); rbErr != nil {
					return stepMsg{i: i, err: errors.Join(err, rbErr)}
				}
				return stepMsg{i: i, err: err, rolledBack: true}
			}
			if err != nil {
				var se *sshd.ConfigError
				return stepMsg{i: i, err: err, rolledBack: errors.As(err, &se)}
			}
			if !res.Changed {
				return stepMsg{i: i, detail: "nothing to write; sshd -t not needed"}
			}
			var ch []string
			for _, f := range res.Files {
				if f.Action != "unchanged" {
					ch = append(ch, f.Action+"d "+f.Path)
				}
			}
			return stepMsg{i: i, detail: "sshd -t accepts the whole configuration", changes: ch, applied: &res}
		case stepAccount:
			res, err := uh.CreateUser(ctx, users.CreateRequest{User: p.User, Fix: true})
			if err != nil {
				return stepMsg{i: i, err: err}
			}
			switch res.Action {
			case "created":
				return stepMsg{i: i, detail: fmt.Sprintf("created %s (uid %d, home %s, shell %s, password locked)", res.Account.Name, res.Account.UID, res.Account.Home, res.Account.Shell),
					changes: []string{"created account " + res.Account.Name}}
			case "fixed":
				return stepMsg{i: i, detail: "fixed: " + strings.Join(res.Problems, "; "), changes: []string{"fixed account " + res.Account.Name + ": " + strings.Join(res.Problems, "; ")}}
			}
			return stepMsg{i: i, detail: res.Account.Name + " is already forward-only"}
		case stepKeys:
			if len(friends) == 0 {
				return stepMsg{i: i, skipped: true, detail: "no friend's key given (later: pfwdctl add-key FILE)"}
			}
			var done, did, ch []string
			for _, f := range friends {
				res, err := uh.AddKey(ctx, users.AddKeyRequest{User: p.User, Key: f.Key, Name: f.Name, Targets: p.TargetStrings(), Expiry: f.Expiry, From: f.From})
				if err != nil {
					if len(done) > 0 {
						err = fmt.Errorf("%w (already installed: %s)", err, strings.Join(done, ", "))
					}
					return stepMsg{i: i, err: err, changes: ch}
				}
				done = append(done, res.Name)
				did = append(did, res.Action+" "+res.Name)
				if res.Changed {
					ch = append(ch, fmt.Sprintf("%s key %s (%s) in %s", res.Action, res.Name, res.Fingerprint, res.Path))
				}
			}
			return stepMsg{i: i, detail: strings.Join(did, ", "), changes: ch}
		case stepReload:
			rr, err := reloader.Reload(ctx)
			if err != nil {
				return stepMsg{i: i, err: err}
			}
			if !rr.Reloaded {
				return stepMsg{i: i, skipped: true, detail: rr.Detail}
			}
			return stepMsg{i: i, detail: rr.Detail, changes: []string{rr.Detail}}
		}
		return nil
	}
}

// stepDone records a step and starts the next, or rolls back.
func (m *Model) stepDone(msg stepMsg) tea.Cmd {
	s := &m.steps[msg.i]
	m.changes = append(m.changes, msg.changes...)
	if msg.applied != nil {
		m.applied = msg.applied
	}
	if msg.err != nil {
		s.state = stFailed
		s.detail, s.hint = errText(msg.err)
		m.applyDone, m.applyError, m.out.Failed = true, true, true
		switch {
		case msg.rolledBack:
			s.detail += "\nrolled back: the previous files are restored byte-for-byte"
		case msg.i == stepAccount || msg.i == stepKeys:
			m.rollbackDropIns()
		}
		for j := msg.i + 1; j < len(m.steps); j++ {
			m.steps[j].state = stSkipped
			m.steps[j].detail = "not run"
		}
		m.resize()
		return nil
	}
	s.state, s.detail = stOK, msg.detail
	if msg.skipped {
		s.state = stSkipped
	}
	if msg.i+1 < len(m.steps) {
		m.cur = msg.i + 1
		m.steps[m.cur].state = stRunning
		return m.runStep(m.cur)
	}
	m.applyDone, m.out.Applied = true, true
	m.resize()
	return nil
}

// rollbackDropIns puts the drop-ins back when the account or a key failed
// after sshd -t: sshd has not been reloaded yet, so the running server never
// saw them, and the host is as before except for what users already did
// (a locked nologin account, or keys already added, both shown). The
// Applier that installed them undoes them, under the same lock as apply.
func (m *Model) rollbackDropIns() {
	st := &m.steps[stepTest]
	if st.state != stOK || m.applied == nil {
		return
	}
	if err := m.applier().Rollback(*m.applied); err != nil {
		st.state = stFailed
		st.detail, st.hint = errText(err)
		return
	}
	st.state = stRolledBack
	st.detail = "rolled back: the drop-ins are restored byte-for-byte; sshd was never reloaded"
	m.changes = nil
}

func (m *Model) startProve() tea.Cmd {
	m.screen = scrProve
	m.resize()
	if m.cfg.prover() == nil {
		return nil
	}
	// Where sshd listens now, after the reload: the port is sshd -T's,
	// never 22 by assumption.
	m.host.Listen, m.host.ListenErr = m.cfg.listenAddrs(m.ctx)
	port := m.cfg.ProvePort
	if port == 0 && m.host.ListenErr == nil {
		port = self.PickListen(m.host.Listen).Port
	}
	if port != 0 {
		m.portIn.SetValue(strconv.Itoa(port))
	}
	m.portIn.Focus()
	return m.runProve()
}

// runProve runs verify --self on the port in the field (the address sshd
// -T names for it, else 127.0.0.1).
func (m *Model) runProve() tea.Cmd {
	port, err := strconv.Atoi(strings.TrimSpace(m.portIn.Value()))
	if err != nil || port < 1 || port > 65535 {
		m.report = nil
		m.proveErr = fail.New(fail.Usage, "type the port sshd listens on below and press r", "no port to prove on")
		if m.host.ListenErr != nil {
			m.proveErr = m.host.ListenErr
		}
		m.out.ProveFailed = true
		return nil
	}
	addr := net.JoinHostPort(self.DefaultHost, strconv.Itoa(port))
	var same []self.ListenAddr
	for _, l := range m.host.Listen {
		if l.Port == port {
			same = append(same, l)
		}
	}
	if len(same) > 0 {
		addr = self.PickListen(same).Dial
	}
	fn := m.cfg.prover()
	m.proving, m.proveAddr, m.report, m.proveErr = true, addr, nil, nil
	ctx, p := m.ctx, m.params
	return tea.Batch(m.spin.Tick, func() tea.Msg {
		r, err := fn(ctx, p.User, p.Targets, addr)
		return proveMsg{report: r, err: err, addr: addr}
	})
}

// proveKey: r tries again on the port in the field, digits change it,
// enter goes on to the summary.
func (m *Model) proveKey(msg tea.KeyMsg) tea.Cmd {
	if m.proving {
		return nil
	}
	switch {
	case key.Matches(msg, m.keys.Next):
		m.screen = scrDone
		m.out.Summary = m.doneText(false)
		return nil
	case m.cfg.prover() == nil:
		return nil
	case key.Matches(msg, m.keys.Recheck):
		return m.runProve()
	case msg.Type == tea.KeyRunes && strings.Trim(string(msg.Runes), "0123456789") != "":
		return nil // a port has digits only
	}
	var cmd tea.Cmd
	m.portIn, cmd = m.portIn.Update(msg)
	return cmd
}

// prover is the Prove step's call: verifySelf, or the test's stand-in; nil
// when proveSkip says why there is nothing to prove.
func (c Config) prover() func(ctx context.Context, user string, targets []target.Target, addr string) (*verify.Report, error) {
	switch {
	case c.SelfVerify != nil:
		return c.SelfVerify
	case c.proveSkip() != "":
		return nil
	}
	return c.verifySelf
}

// listenAddrs is where the local sshd listens (verify/self.ListenAddrs:
// sshd -T over the host's config, the same question --self asks).
func (c Config) listenAddrs(ctx context.Context) ([]self.ListenAddr, error) {
	return self.ListenAddrs(ctx, sshd.Binary{Bin: c.SshdBin, Runner: c.Runner, Root: c.Root, Config: c.sshdConfig()})
}

// proveSkip is why the Prove step does not run: ProveSkip, or a --root
// tree, where no running sshd reads the files just written.
func (c Config) proveSkip() string {
	if c.ProveSkip == "" && !c.Root.IsHost() {
		return "--root names a tree, not the running sshd: nothing to log in to"
	}
	return c.ProveSkip
}

// verifySelf is verify --self's own library function, self.Run, as the
// command calls it (the throwaway key, its expiry, its removal whatever
// happens, the local known_hosts), on addr, with the report handed back
// instead of printed: the TUI owns the terminal.
func (c Config) verifySelf(ctx context.Context, user string, targets []target.Target, addr string) (*verify.Report, error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	port, _ := strconv.Atoi(p)
	ts := make([]string, len(targets))
	for i, t := range targets {
		ts[i] = t.String()
	}
	res, err := self.Run(ctx, self.Options{
		Settings: verify.Settings{Host: host, Port: port, User: user, Targets: ts, Timeout: verify.DefaultTimeout},
		Root:     c.Root, Runner: c.Runner, Getenv: c.Getenv, Now: c.Now,
	})
	if res.Leftover != nil {
		// The key outlived the run: say so, whatever verify said.
		if err == nil {
			err = res.Leftover
		} else {
			err = fmt.Errorf("%w (%v)", err, res.Leftover)
		}
	}
	return res.Report, err
}

// readKeyFile reads a key file the way add-key does: regular files only,
// one byte past the limit so an oversize file is refused by ParsePublic.
func readKeyFile(p string) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, fail.Wrap(fail.Usage, err, "give the path of the .pub file, or paste its line", "read the key")
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && !fi.Mode().IsRegular() {
		return nil, fail.New(fail.Usage, "give the path of the .pub file", "%s is not a regular file", p)
	}
	return io.ReadAll(io.LimitReader(f, keyline.MaxInput+1))
}
