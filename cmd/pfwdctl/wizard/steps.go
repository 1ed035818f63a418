package wizard

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/pfwdctl/pfwdctl/internal/fail"
	"github.com/pfwdctl/pfwdctl/internal/hostfs"
	"github.com/pfwdctl/pfwdctl/render"
	"github.com/pfwdctl/pfwdctl/users"
	"github.com/pfwdctl/pfwdctl/users/keyline"
	"github.com/pfwdctl/pfwdctl/verify"
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
	// snaps are the drop-ins as they were before apply (stepRender), so a
	// later failure can put them back before sshd ever reloads.
	snaps []hostfs.Snapshot
	// rolledBack: the library already restored its files (sshd -t refused).
	rolledBack bool
}

type proveMsg struct {
	report *verify.Report
	err    error
}

func (m *Model) usersHost() users.Host {
	return users.Host{Root: m.cfg.Root, Runner: m.cfg.Runner, SshdConfig: m.cfg.sshdConfig(), Now: m.cfg.Now, Getenv: m.cfg.Getenv, Syslog: m.cfg.Syslog}
}

func (m *Model) applier() render.Applier {
	return render.Applier{Root: m.cfg.Root, Runner: m.cfg.Runner, SshdConfig: m.cfg.sshdConfig(), SshdBin: m.cfg.SshdBin, Getenv: m.cfg.Getenv, Reloader: m.cfg.Reloader}
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
	root := m.cfg.Root
	reloader := m.cfg.reloader()
	return func() tea.Msg {
		switch i {
		case stepRender:
			_, changes, err := a.Plan(p)
			if err != nil {
				return stepMsg{i: i, err: err}
			}
			var snaps []hostfs.Snapshot
			var names []string
			for _, c := range changes {
				if c.Action == "unchanged" {
					continue
				}
				s, err := hostfs.Take(root.Path(c.Path))
				if err != nil {
					return stepMsg{i: i, err: err}
				}
				snaps = append(snaps, s)
				names = append(names, c.Action+" "+c.Path)
			}
			if len(names) == 0 {
				return stepMsg{i: i, detail: "the drop-ins are already up to date"}
			}
			return stepMsg{i: i, detail: strings.Join(names, ", "), snaps: snaps}
		case stepTest:
			res, err := a.Apply(ctx, render.ApplyOptions{Params: p, NoReload: true})
			if err != nil {
				var se *render.SshdError
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
			return stepMsg{i: i, detail: "sshd -t accepts the whole configuration", changes: ch}
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
			var done, ch []string
			for _, f := range friends {
				res, err := uh.AddKey(ctx, users.AddKeyRequest{User: p.User, Key: f.Key, Name: f.Name, Targets: p.TargetStrings(), Expiry: f.Expiry, From: f.From})
				if err != nil {
					if len(done) > 0 {
						err = fmt.Errorf("%w (already installed: %s)", err, strings.Join(done, ", "))
					}
					return stepMsg{i: i, err: err, changes: ch}
				}
				done = append(done, res.Name)
				if res.Changed {
					ch = append(ch, fmt.Sprintf("%s key %s (%s) in %s", res.Action, res.Name, res.Fingerprint, res.Path))
				}
			}
			return stepMsg{i: i, detail: strings.Join(done, ", "), changes: ch}
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
	if msg.snaps != nil {
		m.snaps = msg.snaps
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
// (a locked nologin account, or keys already added, both shown).
func (m *Model) rollbackDropIns() {
	st := &m.steps[stepTest]
	if st.state != stOK || len(m.snaps) == 0 {
		return
	}
	unlock, err := m.cfg.Root.Lock(hostfs.LockWait)
	if err == nil {
		defer unlock()
	}
	var errs []string
	for i := len(m.snaps) - 1; i >= 0; i-- {
		if err := m.snaps[i].Restore(); err != nil {
			errs = append(errs, err.Error())
		}
	}
	if len(errs) > 0 {
		st.state = stFailed
		st.detail = "rollback incomplete: " + strings.Join(errs, "; ")
		st.hint = "check the drop-ins by hand before sshd reloads"
		return
	}
	st.state = stRolledBack
	st.detail = "rolled back: the drop-ins are restored byte-for-byte; sshd was never reloaded"
	m.changes = nil
}

func (m *Model) startProve() tea.Cmd {
	m.screen = scrProve
	m.resize()
	if m.cfg.SelfVerify == nil {
		return nil
	}
	m.proving = true
	ctx, p, fn := m.ctx, m.params, m.cfg.SelfVerify
	return tea.Batch(m.spin.Tick, func() tea.Msg {
		r, err := fn(ctx, p.User, p.Targets)
		return proveMsg{report: r, err: err}
	})
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
