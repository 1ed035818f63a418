// Package wizard is the bubbletea model behind `pfwdctl wizard`: seven
// screens that walk a first-time admin from a stock sshd to a verified
// port-forward-only account.
//
// It is a front end only: every check, plan and change is a call into the
// same libraries the plain commands use (render for the drop-ins and the
// lockout guard and the apply transaction with its rollback, users/keyline
// for keys, users for the account and authorized_keys, verify/self for the
// proof). It must never validate, render or write anything itself, never
// re-enter a cobra command, and never change the host before the admin
// pressed enter on the Review screen.
package wizard

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/cursor"
	"github.com/charmbracelet/bubbles/help"
	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/spinner"
	"github.com/charmbracelet/bubbles/textinput"
	"github.com/charmbracelet/bubbles/viewport"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"

	"github.com/pfwdctl/pfwdctl/internal/accounts"
	"github.com/pfwdctl/pfwdctl/internal/fail"
	"github.com/pfwdctl/pfwdctl/internal/hostfs"
	"github.com/pfwdctl/pfwdctl/internal/run"
	"github.com/pfwdctl/pfwdctl/internal/sshd"
	"github.com/pfwdctl/pfwdctl/internal/target"
	"github.com/pfwdctl/pfwdctl/internal/ui"
	"github.com/pfwdctl/pfwdctl/render"
	"github.com/pfwdctl/pfwdctl/users"
	"github.com/pfwdctl/pfwdctl/users/keyline"
	"github.com/pfwdctl/pfwdctl/verify"
)

// Config is what the wizard works on, injected like a command's Env.
type Config struct {
	Root       hostfs.Root
	Runner     run.Runner
	SshdConfig string // host path; empty: sshd.DefaultConfig
	SshdBin    string // empty: sshd.Find
	Getenv     func(string) string
	Now        func() time.Time
	Hostname   string // for the friend's command
	DryRun     bool   // stop at Review
	Color      bool
	// Reloader nil: a sshd.Reloader over Root and Runner.
	Reloader *sshd.Reloader
	// Syslog is handed to users.Host (tests capture it); nil: the default.
	Syslog func(string)
	// ProvePort is the local sshd's port for the Prove step (verify --self,
	// verify/self.Run); 0: the one sshd -T names (ListenAddress, loopback
	// preferred). The admin can change it on the Prove screen and retry.
	ProvePort int
	// ProveSkip, when set, says why the Prove step does not run; under a
	// --root tree it is skipped anyway (no running sshd to log in to).
	ProveSkip string
	// SelfVerify stands in for verify/self.Run in tests; nil: the real one
	// (unless ProveSkip). addr is the host:port it logs in on.
	SelfVerify func(ctx context.Context, user string, targets []target.Target, addr string) (*verify.Report, error)
	// Overrides and Keys are apply's (render.Applier): what wins over the
	// drop-ins fails the write step, which then rolls back; the account's
	// keys follow a change of its targets.
	Overrides render.OverrideCheck
	Keys      render.KeyFollow
}

type screen int

const (
	scrHost screen = iota
	scrAccount
	scrKeys
	scrReview
	scrApply
	scrProve
	scrDone
)

var titles = []string{"Host check", "Account and targets", "Friend's key", "Review", "Apply", "Prove it", "Done"}

// friendKey is one key the admin added on the key screen, already parsed
// by keyline.
type friendKey struct {
	Key      keyline.Key
	Name     string
	Expiry   time.Time
	From     []string
	Warnings []string
}

// Outcome is what the admin did, for the command's exit code and summary.
type Outcome struct {
	Applied bool // the apply steps all succeeded
	Failed  bool // a step failed (and was rolled back where possible)
	Quit    bool // left before applying: nothing changed
	// ProveFailed: verify --self ran and a check failed or it could not log in.
	ProveFailed bool
	Summary     string // the Done screen as plain text
}

// Model is the wizard's bubbletea model.
type Model struct {
	cfg    Config
	ctx    context.Context
	st     ui.Styles
	screen screen
	width  int
	height int
	keys   keyMap
	help   help.Model

	host HostInfo

	user, targets       textinput.Model
	accFocus            int
	userErr, targetsErr error
	// acct is users' verdict on the account typed (users.CheckAccount,
	// CreateUser's own checks without the change), for the account screen
	// and Review.
	acct                 users.AccountCheck
	params               render.Params
	keyIn, nameIn, expIn textinput.Model
	fromIn               textinput.Model
	keyFocus             int
	keyOK                *friendKey
	keyErr               error
	fieldErr             error
	friends              []friendKey
	keyNote              string
	// keyRaw is a multi-line paste into the key field as it was pasted
	// (textinput turns its newlines into spaces, which would merge a second
	// key into the first one's name), while the field still shows
	// keyRawShown, what textinput made of it.
	keyRaw, keyRawShown string
	review              viewport.Model
	plan                []render.FileChange
	planErr             error
	guardErr            error
	keysErr             error // a queued key's name is taken (nameInUse)
	steps               []step
	cur                 int
	spin                spinner.Model
	applied             *render.ApplyResult
	changes             []string
	proving             bool
	report              *verify.Report
	proveErr            error
	// portIn is the Prove step's port, from sshd -T (listen) unless
	// ProvePort; the admin may change it and press r to try again.
	portIn     textinput.Model
	proveAddr  string // where the last Prove ran: host:port
	provedPort int    // the port a Prove passed on; 0: none yet
	// installed are the account's keys already in authorized_keys
	// (users.ListKeys), for Review's "update" and the name check.
	installed             []users.KeyInfo
	applyDone, applyError bool
	quitNote              string
	out                   Outcome
}

// New builds the model. Inspect runs here, synchronously: it only reads.
func New(ctx context.Context, cfg Config) *Model {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Runner == nil {
		cfg.Runner = run.Exec{}
	}
	m := &Model{cfg: cfg, ctx: ctx, st: ui.New(cfg.Color), width: defaultWidth, height: defaultHeight, keys: newKeyMap(), help: help.New()}
	mk := func(prompt, placeholder, value string) textinput.Model {
		ti := textinput.New()
		ti.Prompt = prompt
		ti.Placeholder = placeholder
		ti.SetValue(value)
		ti.CharLimit = keyline.MaxInput
		// A steady cursor: no blink timers, so screens (and tmux
		// captures) are the same every time.
		ti.Cursor.SetMode(cursor.CursorStatic)
		return ti
	}
	m.user = mk("account  ", "", render.DefaultUser)
	m.targets = mk("targets  ", "host:port, comma-separated", render.DefaultTarget)
	m.keyIn = mk("key      ", "paste the .pub line, or a path to it", "")
	m.nameIn = mk("name     ", "optional, e.g. alice-laptop", "")
	m.expIn = mk("expires  ", "optional: 30d, 8w, 2026-12-31", "")
	m.fromIn = mk("from     ", "optional CIDRs, e.g. 203.0.113.0/24", "")
	m.portIn = mk("port     ", "the port sshd listens on", "")
	m.portIn.CharLimit = 5
	m.spin = spinner.New(spinner.WithSpinner(spinner.Line))
	m.review = viewport.New(80, 10)
	m.validateAccount()
	m.host = Inspect(ctx, cfg, m.params.User)
	m.resize()
	return m
}

// Outcome is the result once the program has ended.
func (m *Model) Outcome() Outcome { return m.out }

// Init implements tea.Model.
func (m *Model) Init() tea.Cmd { return nil }

func (m *Model) total() int {
	if m.cfg.DryRun {
		return int(scrReview) + 1
	}
	return len(titles)
}

func (m *Model) resize() {
	w := m.width
	m.help.Width = w
	for _, ti := range []*textinput.Model{&m.user, &m.targets, &m.keyIn, &m.nameIn, &m.expIn, &m.fromIn, &m.portIn} {
		ti.Width = max(10, w-len(ti.Prompt)-3)
	}
	m.review.Width = w
	m.review.Height = max(3, m.height-m.chromeHeight()-3)
	if m.screen == scrReview {
		m.review.SetContent(m.reviewContent())
	}
}

// chromeHeight is the header plus the help footer.
func (m *Model) chromeHeight() int {
	return 2 + lipgloss.Height(m.footer())
}

// Update implements tea.Model.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
		// A pty whose size was never set (a serial console, script(1) fed
		// from a pipe) reports 0x0, and no resize ever follows: taken as
		// is, it showed a one-column "too small" notice ("…") for good.
		// An unknown size is the classic terminal's.
		if m.width <= 0 {
			m.width = defaultWidth
		}
		if m.height <= 0 {
			m.height = defaultHeight
		}
		m.resize()
		return m, nil
	case spinner.TickMsg:
		if m.screen == scrApply && !m.applyDone || m.proving {
			var cmd tea.Cmd
			m.spin, cmd = m.spin.Update(msg)
			return m, cmd
		}
		return m, nil
	case stepMsg:
		return m, m.stepDone(msg)
	case proveMsg:
		m.proving = false
		m.report, m.proveErr = msg.report, msg.err
		m.out.ProveFailed = msg.err != nil || msg.report == nil || !msg.report.Passed
		if !m.out.ProveFailed {
			_, p, _ := net.SplitHostPort(msg.addr)
			m.provedPort, _ = strconv.Atoi(p)
		}
		return m, nil
	case tea.KeyMsg:
		return m, m.key(msg)
	}
	return m, nil
}

func (m *Model) key(msg tea.KeyMsg) tea.Cmd {
	m.keys.setScreen(m)
	if m.tooSmall() && !key.Matches(msg, m.keys.Quit) {
		// The screen shows only the notice: a key typed blind could
		// apply or add something the admin cannot see.
		return nil
	}
	switch {
	case key.Matches(msg, m.keys.Quit):
		if m.screen == scrApply && !m.applyDone {
			m.quitNote = "applying: ctrl+c waits until the steps have finished or rolled back"
			return nil
		}
		if m.screen < scrApply {
			m.out.Quit = true
		}
		m.out.Summary = m.doneText(false)
		return tea.Quit
	case key.Matches(msg, m.keys.Help) && !msg.Paste:
		// No field takes "?" (keys are base64, names are sanitised,
		// accounts, targets, expiries, CIDRs and ports have none), so it
		// opens the help everywhere; only a paste keeps it as text.
		m.help.ShowAll = !m.help.ShowAll
		m.resize()
		return nil
	case key.Matches(msg, m.keys.Back):
		if m.screen > scrHost && m.screen <= scrReview {
			m.screen--
			m.focus()
		}
		return nil
	}
	switch m.screen {
	case scrHost:
		switch {
		case key.Matches(msg, m.keys.Recheck):
			m.host = Inspect(m.ctx, m.cfg, m.params.User)
		case key.Matches(msg, m.keys.Next):
			m.screen = scrAccount
			m.focus()
		}
	case scrAccount:
		return m.accountKey(msg)
	case scrKeys:
		return m.keysKey(msg)
	case scrReview:
		switch {
		case key.Matches(msg, m.keys.Next):
			if m.planErr != nil || m.guardErr != nil || m.keysErr != nil || m.cfg.DryRun {
				return nil
			}
			return m.startApply()
		case key.Matches(msg, m.keys.QuitQ) && m.cfg.DryRun:
			m.out.Quit = true
			return tea.Quit
		case key.Matches(msg, m.keys.Bottom):
			m.review.GotoBottom()
		case key.Matches(msg, m.keys.Top):
			m.review.GotoTop()
		default:
			var cmd tea.Cmd
			m.review, cmd = m.review.Update(msg)
			return cmd
		}
	case scrApply:
		if m.applyDone && key.Matches(msg, m.keys.Next) {
			if m.applyError {
				m.out.Summary = m.doneText(false)
				return tea.Quit
			}
			return m.startProve()
		}
	case scrProve:
		return m.proveKey(msg)
	case scrDone:
		if key.Matches(msg, m.keys.Next) || key.Matches(msg, m.keys.QuitQ) {
			m.out.Summary = m.doneText(false)
			return tea.Quit
		}
	}
	return nil
}

// minWidth and minHeight are the smallest terminal every screen fits in
// (TestResize); below it the wizard shows only a notice.
const minWidth, minHeight = 60, 20

// defaultWidth and defaultHeight stand in for a size the terminal does not
// know (0x0), and before the first WindowSizeMsg.
const defaultWidth, defaultHeight = 80, 24

func (m *Model) tooSmall() bool { return m.width < minWidth || m.height < minHeight }

func (m *Model) focus() {
	for _, ti := range []*textinput.Model{&m.user, &m.targets, &m.keyIn, &m.nameIn, &m.expIn, &m.fromIn} {
		ti.Blur()
	}
	switch m.screen {
	case scrAccount:
		[]*textinput.Model{&m.user, &m.targets}[m.accFocus].Focus()
	case scrKeys:
		m.keyInputs()[m.keyFocus].Focus()
		m.loadInstalled()
		m.validateKey()
	case scrReview:
		m.enterReview()
	}
	m.resize()
}

func (m *Model) keyInputs() []*textinput.Model {
	return []*textinput.Model{&m.keyIn, &m.nameIn, &m.expIn, &m.fromIn}
}

func (m *Model) accountKey(msg tea.KeyMsg) tea.Cmd {
	switch {
	case key.Matches(msg, m.keys.Tab):
		m.accFocus = 1 - m.accFocus
		m.focus()
		return nil
	case key.Matches(msg, m.keys.Next):
		if m.accFocus == 0 {
			m.accFocus = 1
			m.focus()
			return nil
		}
		if m.userErr == nil && m.targetsErr == nil {
			m.host.Lockout = m.cfg.guard(context.Background(), m.params.User)
			m.screen = scrKeys
			m.focus()
		}
		return nil
	}
	var cmd tea.Cmd
	if m.accFocus == 0 {
		m.user, cmd = m.user.Update(msg)
	} else {
		m.targets, cmd = m.targets.Update(msg)
	}
	m.validateAccount()
	return cmd
}

// validateAccount runs render's own validators on every keystroke.
func (m *Model) validateAccount() {
	user := strings.TrimSpace(m.user.Value())
	m.userErr = accounts.ValidateName(user)
	m.acct = users.AccountCheck{}
	if m.userErr == nil {
		// What user create --fix (Apply's account step) would refuse is
		// said here, as the name is typed, not at Review or after sshd -t.
		m.acct, m.userErr = m.usersHost().CheckAccount(user)
		if m.userErr == nil && m.acct.Person != "" {
			m.userErr = fail.New(fail.Failed, "pick a dedicated account such as "+render.DefaultUser+" (the wizard creates it); making a person's account forward-only (nologin shell, password locked) would lock them out",
				"%s is a person's account (%s): the wizard refuses it", user, m.acct.Person)
		}
	}
	raw := strings.FieldsFunc(m.targets.Value(), func(r rune) bool { return r == ',' || r == ' ' })
	ts, err := target.ParseList(raw)
	p := render.DefaultParams()
	p.User, p.Targets = user, ts
	if err == nil && len(ts) == 0 {
		err = fail.New(fail.Usage, "give at least one host:port, e.g. "+render.DefaultTarget, "no forward target")
	}
	m.targetsErr = err
	if m.userErr == nil && m.targetsErr == nil {
		m.params = p
	}
}

func (m *Model) keysKey(msg tea.KeyMsg) tea.Cmd {
	ins := m.keyInputs()
	switch {
	case key.Matches(msg, m.keys.Tab):
		m.keyFocus = (m.keyFocus + 1) % len(ins)
		m.focus()
		return nil
	case key.Matches(msg, m.keys.ShiftTab):
		m.keyFocus = (m.keyFocus + len(ins) - 1) % len(ins)
		m.focus()
		return nil
	case key.Matches(msg, m.keys.Remove) && len(m.friends) > 0:
		f := m.friends[len(m.friends)-1]
		m.friends = m.friends[:len(m.friends)-1]
		m.validateKey()
		m.keyNote = fmt.Sprintf("removed %s (%s) from the list", f.Name, f.Key.Fingerprint())
		return nil
	case key.Matches(msg, m.keys.Next):
		if strings.TrimSpace(m.keyIn.Value()) == "" {
			m.screen = scrReview
			m.focus()
			return nil
		}
		if m.keyErr != nil || m.fieldErr != nil || m.keyOK == nil {
			return nil
		}
		if m.keyFocus == 0 {
			// Enter on the key itself goes on to its name and expiry: a
			// pasted .pub ends in a newline, which a terminal without
			// bracketed paste sends as enter, and the key must not be
			// queued before the admin could name it or set its expiry.
			m.keyFocus = 1
			m.focus()
			return nil
		}
		for _, f := range m.friends {
			if f.Key.Fingerprint() == m.keyOK.Key.Fingerprint() {
				m.keyErr = fmt.Errorf("this key (%s) is already in the list", f.Key.Fingerprint())
				return nil
			}
		}
		m.friends = append(m.friends, *m.keyOK)
		// Queued, not added: nothing is written before Apply (and never
		// with --dry-run).
		note := fmt.Sprintf("queued %s (listed above): Apply installs it; paste another, or press enter on an empty key to continue", m.keyOK.Name)
		for _, ti := range ins {
			ti.SetValue("")
		}
		m.keyRaw, m.keyRawShown = "", ""
		m.keyFocus = 0
		m.focus()
		m.keyNote = note
		return nil
	}
	var pasted string
	if msg.Paste {
		// A pasted .pub keeps its final newline; it is not part of the key.
		// Terminals (tmux among them) send a paste's newlines as CR.
		pasted = strings.NewReplacer("\r\n", "\n", "\r", "\n").Replace(string(msg.Runes))
		pasted = strings.TrimRight(pasted, "\n")
		msg.Runes = []rune(pasted)
	}
	before, pos := []rune(m.keyIn.Value()), m.keyIn.Position()
	var cmd tea.Cmd
	*ins[m.keyFocus], cmd = ins[m.keyFocus].Update(msg)
	switch {
	case m.keyFocus == 0 && strings.Contains(pasted, "\n"):
		// Judge what was pasted, newlines and all (cat bob.pub alice.pub
		// is two keys, not one key with a long comment).
		pos = min(pos, len(before))
		m.keyRaw, m.keyRawShown = string(before[:pos])+pasted+string(before[pos:]), m.keyIn.Value()
	case m.keyIn.Value() != m.keyRawShown:
		m.keyRaw, m.keyRawShown = "", ""
	}
	m.validateKey()
	return cmd
}

// loadInstalled reads the account's keys (users.ListKeys, the reader
// list-keys uses); none when the account does not exist yet.
func (m *Model) loadInstalled() {
	m.installed = nil
	if lr, err := m.usersHost().ListKeys(m.params.User); err == nil {
		m.installed = lr.Keys
	}
}

// installedKey is the installed key with this fingerprint, if any.
func (m *Model) installedKey(fp string) *users.KeyInfo {
	for i, k := range m.installed {
		if k.Fingerprint == fp {
			return &m.installed[i]
		}
	}
	return nil
}

// nameInUse is why a name cannot be given to the key fp: another key,
// queued or installed, has it (names are how keys are revoked; add-key
// refuses the same without --replace).
func (m *Model) nameInUse(name, fp string) error {
	for _, f := range m.friends {
		if f.Name == name && f.Key.Fingerprint() != fp {
			return fmt.Errorf("another key in the list is named %q: give this one another name", name)
		}
	}
	for _, k := range m.installed {
		if k.Name == name && k.Fingerprint != fp {
			return fail.New(fail.Failed, "give this key another name, or replace that key later with pfwdctl add-key --replace",
				"%s already has a key named %q (%s)", m.params.User, name, k.Fingerprint)
		}
	}
	return nil
}

// validateKey runs keyline's own parser (the one add-key uses) on every
// keystroke, so a private key is refused the moment it is pasted.
func (m *Model) validateKey() {
	m.keyOK, m.keyErr, m.fieldErr, m.keyNote = nil, nil, nil, ""
	raw := strings.TrimSpace(m.keyIn.Value())
	if raw == "" {
		return
	}
	if m.keyRaw != "" && m.keyIn.Value() == m.keyRawShown {
		raw = strings.TrimSpace(m.keyRaw)
	}
	data, err := m.keyData(raw)
	if err != nil {
		m.keyErr = err
		return
	}
	k, warns, err := keyline.ParsePublic(data)
	if err != nil {
		m.keyErr = severalKeys(raw, err)
		return
	}
	fk := friendKey{Key: k, Warnings: warns, Name: k.Comment}
	for _, f := range []struct {
		what string
		ti   *textinput.Model
	}{{"name", &m.nameIn}, {"expires", &m.expIn}, {"from", &m.fromIn}} {
		// A paste of two keys without bracketed paste: the first key's
		// newline arrives as enter, which moves on to the name, and the
		// second key lands there. Taken as a name it would be lost.
		if v := strings.TrimSpace(f.ti.Value()); v != "" {
			if other, _, err := keyline.ParsePublic([]byte(v)); err == nil {
				m.fieldErr = fail.New(fail.Usage, "clear the field (ctrl+u); add the keys one at a time: queue this one, then paste the next into the key field",
					"the %s field holds another public key (%s %s): was a second key pasted? it would be lost", f.what, other.Type(), other.Fingerprint())
				return
			}
		}
	}
	if n := strings.TrimSpace(m.nameIn.Value()); n != "" {
		fk.Name = keyline.SanitizeName(n)
		if fk.Name == "" {
			m.fieldErr = fmt.Errorf("name %q has nothing printable left: use letters, digits and ._@+:=-", n)
			return
		}
	}
	if e := strings.TrimSpace(m.expIn.Value()); e != "" {
		if fk.Expiry, err = keyline.ParseExpires(e, m.cfg.Now()); err != nil {
			m.fieldErr = err
			return
		}
	}
	if f := strings.TrimSpace(m.fromIn.Value()); f != "" {
		if fk.From, err = keyline.ParseFrom(strings.Split(f, ",")); err != nil {
			m.fieldErr = err
			return
		}
	}
	if err := m.nameInUse(fk.Name, k.Fingerprint()); err != nil {
		m.fieldErr = err
		return
	}
	m.keyOK = &fk
}

// keyData is the pasted text, or the file it names (read as add-key reads
// FILE: the admin's own file system, not --root, at most MaxInput+1 bytes).
func (m *Model) keyData(raw string) ([]byte, error) {
	if strings.Contains(raw, "\n") {
		return []byte(raw), nil // a multi-line paste, not a path
	}
	if !(strings.HasPrefix(raw, "/") || strings.HasPrefix(raw, "~/") || strings.HasPrefix(raw, "./")) {
		return []byte(raw), nil
	}
	p := raw
	if strings.HasPrefix(p, "~/") {
		p = m.cfg.getenv("HOME") + p[1:]
	}
	return readKeyFile(p)
}

// severalKeys is ParsePublic's refusal of a multi-line paste, said for the
// wizard when the lines are each a public key: one key at a time, each
// with its own name, and nothing merged or dropped. A private key among
// them keeps keyline's own message, which says to delete that copy.
func severalKeys(raw string, err error) error {
	if !strings.Contains(raw, "\n") || strings.Contains(err.Error(), "PRIVATE") {
		return err
	}
	var names []string
	for _, l := range strings.Split(raw, "\n") {
		l = strings.TrimSuffix(l, "\r") // a CRLF file
		if strings.TrimSpace(l) == "" {
			continue
		}
		if k, _, err := keyline.ParsePublic([]byte(l)); err == nil {
			n := k.Comment
			if n == "" {
				n = k.Fingerprint()
			}
			names = append(names, n)
		}
	}
	if len(names) < 2 {
		return err
	}
	return fail.New(fail.Usage, "clear the field (ctrl+u) and paste one key at a time: each gets its own name and expiry",
		"the paste holds %d keys (%s); the wizard adds one key at a time and took none of them", len(names), strings.Join(names, ", "))
}

// expiryText is a queued key's expiry as the key screen shows it.
func expiryText(t time.Time) string {
	if t.IsZero() {
		return "no expiry"
	}
	return "expires " + t.Local().Format("2006-01-02 15:04")
}

func (m *Model) planChanges() bool {
	for _, c := range m.plan {
		if c.Action != "unchanged" {
			return true
		}
	}
	return false
}

// View implements tea.Model.
func (m *Model) View() string {
	if m.tooSmall() {
		// Fields would be cut off: say so instead of drawing them.
		s := fmt.Sprintf("pfwdctl wizard: the terminal is too small (%dx%d); it needs at least %dx%d. Make the window larger, or press ctrl+c to quit without changes.",
			m.width, m.height, minWidth, minHeight)
		return clip(ansi.Wrap(s, max(1, m.width), ""), max(1, m.height))
	}
	header := m.header()
	var body string
	switch m.screen {
	case scrHost:
		body = m.hostView()
	case scrAccount:
		body = m.accountView()
	case scrKeys:
		body = m.keysView()
	case scrReview:
		body = m.reviewView()
	case scrApply:
		body = m.applyView()
	case scrProve:
		body = m.proveView()
	case scrDone:
		body = m.doneText(true)
	}
	if m.quitNote != "" {
		body += "\n" + m.st.Warn(m.quitNote)
	}
	footer := m.footer()
	avail := m.height - 2 - lipgloss.Height(footer)
	body = clip(wrap(body, m.width), avail)
	pad := avail - lipgloss.Height(body)
	if pad < 0 {
		pad = 0
	}
	return header + "\n\n" + body + strings.Repeat("\n", pad) + "\n" + footer
}

func (m *Model) header() string {
	k := int(m.screen) + 1
	s := fmt.Sprintf("pfwdctl wizard · step %d of %d · %s", k, m.total(), titles[m.screen])
	if m.cfg.DryRun {
		s += " · dry run"
	}
	if !m.cfg.Root.IsHost() {
		s += " · --root"
	}
	return m.st.Bold(truncate(s, m.width))
}

func (m *Model) footer() string {
	m.keys.setScreen(m)
	return m.help.View(m.keys)
}

// wrap folds long lines at the terminal width with a hanging indent, so a
// wrapped detail stays under its mark; ansi.Wrap keeps escape codes intact.
func wrap(s string, w int) string {
	if w <= 10 {
		return s
	}
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if lipgloss.Width(l) <= w {
			out = append(out, l)
			continue
		}
		plain := ansi.Strip(l)
		indent := len(plain) - len(strings.TrimLeft(plain, " "))
		for _, mark := range []string{"✓ ", "✗ ", "! ", "→ ", "- ", "↺ ", "• "} {
			if strings.HasPrefix(plain[indent:], mark) {
				indent += 2
				break
			}
		}
		if indent > w/2 {
			indent = 0
		}
		// The first screen line, then the rest of the line itself wrapped
		// under the indent. (Joining the first wrap's other lines with
		// spaces put a space into every word that wrap had to break, such
		// as a key's base64 on Review.)
		first, _, _ := strings.Cut(ansi.Wrap(l, w, ""), "\n")
		lw := ansi.StringWidth(l)
		rem := ansi.Cut(l, ansi.StringWidth(first), lw)
		if strings.HasPrefix(ansi.Strip(rem), " ") {
			rem = ansi.Cut(rem, 1, lw)
		}
		rest := ansi.Wrap(rem, w-indent, "")
		out = append(out, first)
		for _, r := range strings.Split(rest, "\n") {
			out = append(out, strings.Repeat(" ", indent)+r)
		}
	}
	return strings.Join(out, "\n")
}

// clip keeps the first n lines so the footer always shows at 80x24.
func clip(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	// lipgloss pads every line to the width; trailing spaces are noise in
	// golden files and terminals.
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " ")
	}
	if n > 0 && len(lines) > n {
		lines = append(lines[:n-1], "…")
	}
	return strings.Join(lines, "\n")
}

func truncate(s string, w int) string {
	if w > 1 && lipgloss.Width(s) > w {
		r := []rune(s)
		for lipgloss.Width(string(r)) > w-1 {
			r = r[:len(r)-1]
		}
		return string(r) + "…"
	}
	return s
}
