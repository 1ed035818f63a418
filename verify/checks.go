package verify

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/pfwdctl/pfwdctl/internal/accounts"
	"github.com/pfwdctl/pfwdctl/internal/target"
)

type check struct {
	name   string
	proves string
	hint   string
	run    func(*probeEnv) Result
}

// Names of the checks, in report order.
const (
	CheckShell       = "shell-blocked"
	CheckTunnel      = "tunnel-open"
	CheckOtherPorts  = "other-ports-prohibited"
	CheckRemote      = "remote-forward-refused"
	CheckAgent       = "agent-forward-refused"
	CheckX11         = "x11-refused"
	CheckTun         = "tun-refused"
	CheckStreamLocal = "streamlocal-refused"
	CheckPassword    = "password-auth-off"
)

// CheckNames lists every check in report order.
func CheckNames() []string {
	var out []string
	for _, c := range allChecks() {
		out = append(out, c.name)
	}
	return out
}

func allChecks() []check {
	return []check{
		{CheckShell, "no shell, no command, no sftp and no terminal: the key is good for forwarding only",
			"put ForceCommand " + accounts.DefaultNologin + " and PermitTTY no in the account's Match block (pfwdctl apply) and give the account a nologin shell",
			checkShell},
		{CheckTunnel, "each target can be reached through the tunnel (the guide's check B)",
			"the target must be in PermitOpen (Match block) and in every key's permitopen, with AllowTcpForwarding local: run pfwdctl apply, and re-add keys with pfwdctl add-key",
			checkTunnel},
		{CheckOtherPorts, "forwards to anything but the targets are refused, even to a port that listens (the guide's check C)",
			"limit PermitOpen in the Match block to the targets (pfwdctl apply) and install every key with its permitopen prefix (pfwdctl add-key)",
			checkOtherPorts},
		{CheckRemote, "the account cannot listen on the server (ssh -R)",
			"set AllowTcpForwarding local in the account's Match block (pfwdctl apply): the key's port-forwarding option allows -R as well as -L",
			checkRemote},
		{CheckAgent, "the account cannot forward an ssh-agent",
			"set AllowAgentForwarding no (pfwdctl apply) and install keys with the restrict prefix",
			checkAgent},
		{CheckX11, "the account cannot forward X11",
			"set X11Forwarding no (pfwdctl apply) and install keys with the restrict prefix",
			checkX11},
		{CheckTun, "the account cannot open a tun/tap device (ssh -w)",
			"set PermitTunnel no (pfwdctl apply) and install keys with the restrict prefix",
			checkTun},
		{CheckStreamLocal, "the account cannot forward to or listen on Unix sockets",
			"set AllowStreamLocalForwarding no (pfwdctl apply) and install keys with the restrict prefix",
			checkStreamLocal},
		{CheckPassword, "only public keys are accepted: no password to guess, no host-based or Kerberos login around the key's options",
			"set PasswordAuthentication no, KbdInteractiveAuthentication no, HostbasedAuthentication no, GSSAPIAuthentication no and AuthenticationMethods publickey (pfwdctl apply); a drop-in that sorts first or a line above the Include wins over ours (pfwdctl audit shows which)",
			checkPassword},
	}
}

type probeEnv struct {
	conn       ssh.Conn
	redial     func() (ssh.Conn, error)
	opts       Options
	token      string
	ctx        context.Context
	authProbed bool
	offered    []string
}

// findings is a failure listing what was found, the first 20 of a long
// list and how many in all.
func findings(found []string, what string) Result {
	if len(found) > 20 {
		return finding("%s; … %d %s in all", strings.Join(found[:20], "; "), len(found), what)
	}
	return finding("%s", strings.Join(found, "; "))
}

func pass(format string, args ...any) Result {
	return Result{Status: Pass, Detail: fmt.Sprintf(format, args...)}
}

func failed(format string, args ...any) Result {
	return Result{Status: Fail, Detail: fmt.Sprintf(format, args...)}
}

// unanswered is a check cut short after done of all its probes, each of
// which the server answered as it should (how).
func unanswered(done, all int, what, how string) Result {
	if done == 0 {
		return Result{Status: Unknown, Detail: fmt.Sprintf("not finished: none of the %d %s was answered before the run ended", all, what)}
	}
	return Result{Status: Unknown, Detail: fmt.Sprintf("not finished: %d of %d %s were answered before the run ended, each %s; the other %d prove nothing", done, all, what, how, all-done)}
}

// finding is a failure the server answered: something granted, opened or
// offered. Unlike a probe that could not be made, it stands when the run
// is cut short after it (unfinished).
func finding(format string, args ...any) Result {
	r := failed(format, args...)
	r.found = true
	return r
}

// errSessionsRefused: a fresh connection, with no other session open,
// was refused a session too. sshd then refuses every session to the
// account (MaxSessions 0), so no shell or request can run: proof, unlike a
// refusal on the busy first connection.
var errSessionsRefused = errors.New("sessions refused outright, on a fresh connection too")

// session opens a session channel; the server's own requests on it
// (exit-status) need no answer. When the first connection refuses it, the
// session limit (MaxSessions, SSHD-NOTES 14) may be why: the probe moves
// to a fresh connection of its own. release closes the channel and that
// connection.
func (e *probeEnv) session() (ch ssh.Channel, release func(), err error) {
	ch, reqs, err := e.conn.OpenChannel("session", nil)
	if err == nil {
		ch = watchExit(ch, reqs)
		return ch, func() { ch.Close() }, nil
	}
	var oce *ssh.OpenChannelError
	if !errors.As(err, &oce) || e.redial == nil {
		return nil, nil, err
	}
	c, derr := e.redial()
	if derr != nil {
		return nil, nil, fmt.Errorf("%w (session refused on the first connection, perhaps by MaxSessions; a second connection failed: %v)", errProbeFailed, derr)
	}
	ch, reqs, err = c.OpenChannel("session", nil)
	if err != nil {
		c.Close()
		if errors.As(err, &oce) {
			return nil, nil, errSessionsRefused
		}
		return nil, nil, err
	}
	ch = watchExit(ch, reqs)
	return ch, func() { ch.Close(); c.Close() }, nil
}

// exitChannel is a session channel that records how its command ended:
// the exit-status or exit-signal request sshd sends before closing it.
type exitChannel struct {
	ssh.Channel
	mu     sync.Mutex
	status int  // valid when known
	known  bool // an exit-status or exit-signal came
	signal string
	done   chan struct{} // closed when the server's requests end
}

// watchExit answers the channel's requests (false to any that wants a
// reply, as DiscardRequests does) and records its exit.
func watchExit(ch ssh.Channel, reqs <-chan *ssh.Request) *exitChannel {
	x := &exitChannel{Channel: ch, done: make(chan struct{})}
	go func() {
		defer close(x.done)
		for r := range reqs {
			x.mu.Lock()
			switch {
			case r.Type == "exit-status" && len(r.Payload) >= 4:
				x.status, x.known = int(binary.BigEndian.Uint32(r.Payload)), true
			case r.Type == "exit-signal":
				var sig struct{ Name string }
				ssh.Unmarshal(r.Payload, &sig) // a short payload leaves Name empty
				x.signal, x.known = "SIG"+sig.Name, true
			}
			x.mu.Unlock()
			if r.WantReply {
				r.Reply(false, nil)
			}
		}
	}()
	return x
}

// exit waits (at most d) for the server's last request and reports how
// the command ended: an exit status, a signal, or nothing known.
func (x *exitChannel) exit(d time.Duration) (status int, signal string, known bool) {
	select {
	case <-x.done:
	case <-time.After(d):
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.status, x.signal, x.known
}

// errProbeFailed: the probe could not be made, so it proves nothing.
var errProbeFailed = errors.New("probe failed")

// collect reads stdout and stderr until both end (the command exited and
// sshd sent EOF), stop says it has seen enough, or the probe's deadline
// comes. It reports whether stop fired and whether the channel was still
// open at the deadline: accepted, silent and still running is not proof
// of anything (a shell whose PAM session or motd is slow has not read the
// canary yet).
func (e *probeEnv) collect(ch ssh.Channel, stop func([]byte) bool) (out []byte, stopped, open bool) {
	var (
		mu   sync.Mutex
		buf  bytes.Buffer
		hit  = make(chan struct{})
		once sync.Once
		wg   sync.WaitGroup
	)
	// The first 64 KiB are kept for the report; past them, a window of
	// the latest output is still searched, so a server cannot hide the
	// canary behind a long banner (it was once simply not read).
	var tail []byte
	const tailMax = 8 << 10
	read := func(r io.Reader) {
		defer wg.Done()
		b := make([]byte, 4096)
		for {
			n, err := r.Read(b)
			mu.Lock()
			if buf.Len() < 64<<10 {
				buf.Write(b[:n])
			}
			tail = append(tail, b[:n]...)
			if len(tail) > tailMax {
				tail = append(tail[:0], tail[len(tail)-tailMax:]...)
			}
			seen := stop != nil && (stop(buf.Bytes()) || stop(tail))
			mu.Unlock()
			if seen {
				once.Do(func() { close(hit) })
				return
			}
			if err != nil {
				return
			}
		}
	}
	wg.Add(2)
	go read(ch)
	go read(ch.Stderr())
	closed := make(chan struct{})
	go func() { wg.Wait(); close(closed) }()
	t := time.NewTimer(e.wait())
	defer t.Stop()
	select {
	case <-hit:
		stopped = true
	case <-closed:
	case <-t.C:
		open = true
	case <-e.ctx.Done():
		open = true
	}
	ch.Close()
	mu.Lock()
	defer mu.Unlock()
	select {
	case <-hit:
		stopped, open = true, false
	default:
	}
	out = bytes.Clone(buf.Bytes())
	if buf.Len() >= 64<<10 {
		out = append(append(out, "\n…\n"...), tail...)
	}
	return out, stopped, open
}

// wait is how long a session probe waits for the command to end: until
// shortly before the run's deadline, so the check can still report why.
func (e *probeEnv) wait() time.Duration {
	d := e.opts.Timeout
	if dl, ok := e.ctx.Deadline(); ok {
		d = time.Until(dl)
	}
	d -= d / 10
	if d < 100*time.Millisecond {
		d = 100 * time.Millisecond
	}
	return d
}

// canary is a command whose output appears only if something executes
// it, with or without a shell: printf turns a decimal number in the
// command text into hex in its output, so a server that echoes the
// command back (a ForceCommand saying what it refused) shows no canary,
// while a wrapper that runs $SSH_ORIGINAL_COMMAND without a shell does
// (an echo with the token split by "" once missed that: without a shell
// the quotes stay).
func (e *probeEnv) canary() string {
	return fmt.Sprintf("printf pfwd%%xv %d", e.canaryNum())
}

func (e *probeEnv) canaryNum() uint64 {
	n, _ := strconv.ParseUint(e.token[:12], 16, 64)
	return n | 1<<44 // never short: at least 14 decimal digits
}

func (e *probeEnv) tokenIn(b []byte) bool {
	return bytes.Contains(b, []byte(fmt.Sprintf("pfwd%xv", e.canaryNum())))
}

// said is the last line the server printed (nologin's message comes after
// sshd's own complaints, e.g. about a missing home), for the report.
func said(out []byte) string {
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		// sshd's own note for an account without a home, which comes
		// before or after nologin's words depending on timing.
		if !strings.HasPrefix(l, "Could not chdir to home directory") {
			lines = append(lines, l)
		}
	}
	if len(lines) == 0 {
		return ""
	}
	line := strings.TrimSpace(lines[len(lines)-1])
	if len(line) > 80 {
		line = line[:80] + "…"
	}
	return line
}

func checkShell(e *probeEnv) Result {
	parts := make([]part, 4)
	var wg sync.WaitGroup
	// The first way in found (a canary that ran, sftp answering, a pty)
	// settles the check: the probes still waiting for a silent session
	// to end stop shortly after (wayInGrace, for the others to report
	// what they saw too) instead of near --timeout.
	ctx, cancel := context.WithCancel(e.ctx)
	defer cancel()
	var once sync.Once
	found := func() { once.Do(func() { time.AfterFunc(wayInGrace, cancel) }) }
	outer := e
	se := *e
	se.ctx = ctx
	e = &se
	run := func(i int, f func() part) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			parts[i] = f()
			if parts[i].wayIn {
				found()
			}
		}()
	}
	// sendAndRead opens a session, sends the request, optionally writes
	// stdin, and reads what comes back.
	sendAndRead := func(req string, payload, stdin []byte, stop func([]byte) bool) (accepted bool, out []byte, open bool, end string, err error) {
		ch, release, err := e.session()
		if err != nil {
			return false, nil, false, "", err
		}
		defer release()
		ok, err := ch.SendRequest(req, true, payload)
		if err != nil || !ok {
			return false, nil, false, "", err
		}
		if stdin != nil {
			ch.Write(stdin)
			// Not for sftp: sftp-server exits on EOF before it flushes
			// its answer to what came with it.
			if req != "subsystem" {
				ch.CloseWrite()
			}
		}
		out, stopped, open := e.collect(ch, stop)
		if !open && !stopped {
			end = exitEnd(ch)
		}
		return true, out, open, end, nil
	}
	describe := func(what string, accepted bool, out []byte, err error) string {
		switch {
		case errors.Is(err, errSessionsRefused):
			return what + ": " + err.Error()
		case err != nil:
			return what + " refused (" + err.Error() + ")"
		case !accepted:
			return what + " refused"
		case said(out) != "":
			return fmt.Sprintf("%s: %q", what, said(out))
		}
		return what + ": no output"
	}
	run(0, func() part {
		acc, out, open, end, err := sendAndRead("shell", nil, []byte(e.canary()+"\nexit\n"), e.tokenIn)
		if acc && e.tokenIn(out) {
			return part{problem: "a shell ran the canary command", wayIn: true}
		}
		return e.unproven("shell", acc, open, end, err, describe("shell", acc, out, err))
	})
	run(1, func() part {
		acc, out, open, end, err := sendAndRead("exec", ssh.Marshal(struct{ Command string }{e.canary()}), nil, e.tokenIn)
		if acc && e.tokenIn(out) {
			return part{problem: "exec ran the canary command", wayIn: true}
		}
		return e.unproven("exec", acc, open, end, err, describe("exec", acc, out, err))
	})
	run(2, func() part {
		// SSH_FXP_INIT, version 3: a real sftp server answers with
		// SSH_FXP_VERSION.
		init := []byte{0, 0, 0, 5, 1, 0, 0, 0, 3}
		acc, out, open, end, err := sendAndRead("subsystem", ssh.Marshal(struct{ Name string }{"sftp"}), init, isSFTPVersion)
		if acc && isSFTPVersion(out) {
			return part{problem: "the sftp subsystem answered", wayIn: true}
		}
		if acc {
			out = bytes.TrimLeft(out, "\x00")
		}
		return e.unproven("sftp", acc, open, end, err, describe("sftp", acc, out, err))
	})
	run(3, func() part {
		ch, release, err := e.session()
		if err != nil {
			if errors.Is(err, errSessionsRefused) {
				return part{note: "pty: " + err.Error()}
			}
			return part{problem: "pty not probed: " + err.Error()}
		}
		defer release()
		ok, err := ch.SendRequest("pty-req", true, ssh.Marshal(ptyReq{Term: "xterm", Columns: 80, Rows: 24, Modes: "\x00"}))
		if err == nil && ok {
			return part{problem: "a pty was granted", wayIn: true}
		}
		return part{note: "pty refused"}
	})
	wg.Wait()
	cut := ctx.Err() != nil && outer.ctx.Err() == nil
	var problems, notes []string
	stopped := false
	for _, p := range parts {
		switch {
		case cut && p.problem != "" && !p.wayIn:
			// Stopped early (or never made) once another probe
			// found a way in: it proves nothing either way.
			stopped = true
		case p.problem != "":
			problems = append(problems, p.problem)
		default:
			notes = append(notes, p.note)
		}
	}
	if len(problems) > 0 {
		if stopped {
			problems = append(problems, "the other probes stopped there")
		}
		r := failed("%s", strings.Join(problems, "; "))
		r.found = slices.ContainsFunc(parts, func(p part) bool { return p.wayIn })
		return r
	}
	return pass("%s", strings.Join(dedupe(notes), "; "))
}

// wayInGrace is how long checkShell's other probes may still run once
// one found a way in: nologin and a ForceCommand answer within it, a
// silent shell is not waited for until --timeout.
const wayInGrace = 500 * time.Millisecond

// part is one session probe of checkShell.
type part struct {
	problem string // non-empty: a way in, or a probe that proves nothing
	wayIn   bool   // problem is a way in seen (not a probe that proves nothing)
	note    string // what the server did
}

// unproven turns a session probe that did not show the canary into a note
// only when its outcome is proof: a refusal by the server (on a fresh
// connection where the session limit cannot be the reason), or a command
// that ended. A probe that could not be made, or one accepted and still
// running silently at the deadline, is a failure that says why.
//
// A command that ended is proof only by how it ended: nologin (and
// pfwdctl's ForceCommand) exits non-zero. An exit status of 0, or none at
// all, with no canary in the output says nothing: the command may have
// run with its output sent elsewhere (end is exitEnd's verdict).
func (e *probeEnv) unproven(what string, accepted, open bool, end string, err error, note string) part {
	switch {
	case err != nil && !errors.Is(err, errSessionsRefused):
		var oce *ssh.OpenChannelError
		if errors.As(err, &oce) {
			return part{note: note}
		}
		return part{problem: what + " not probed: " + err.Error()}
	case accepted && open:
		return part{problem: what + " was accepted and still running near --timeout without exiting or answering: a shell may be starting (nologin or a ForceCommand would have exited at once)"}
	case accepted && end != "" && end != endRefused:
		msg := what + " was accepted and " + end + ", without the canary's output: that cannot show the command did not run (nologin exits 1)"
		if end == "exited 0" {
			// The common honest case: a ForceCommand that prints a notice
			// (echo) or does nothing (/bin/true) looks exactly like a
			// wrapper that ran the command with its output elsewhere.
			msg += "; a ForceCommand such as echo or /bin/true exits 0 too: use /usr/sbin/nologin (or /bin/false), which refuses with exit 1"
		}
		return part{problem: msg}
	}
	return part{note: note}
}

// endRefused is exitEnd's verdict for a command that ended as nologin
// does: a non-zero exit status (or a signal).
const endRefused = "refused"

// exitEnd says how an accepted session's command ended: endRefused for a
// non-zero exit status or a signal; otherwise what happened instead.
func exitEnd(ch ssh.Channel) string {
	x, ok := ch.(*exitChannel)
	if !ok {
		return ""
	}
	status, signal, known := x.exit(2 * time.Second)
	switch {
	case !known:
		return "ended without an exit status"
	case signal != "" || status != 0:
		return endRefused
	}
	return "exited 0"
}

// dedupe folds notes that differ only in the request name ("shell: X",
// "exec: X") into one line.
func dedupe(notes []string) []string {
	var out []string
	byMsg := map[string][]string{}
	var order []string
	for _, n := range notes {
		what, msg, ok := strings.Cut(n, ": ")
		if !ok {
			out = append(out, n)
			continue
		}
		if _, seen := byMsg[msg]; !seen {
			order = append(order, msg)
		}
		byMsg[msg] = append(byMsg[msg], what)
	}
	var folded []string
	for _, msg := range order {
		folded = append(folded, strings.Join(byMsg[msg], ", ")+": "+msg)
	}
	return append(folded, out...)
}

func isSFTPVersion(b []byte) bool {
	if len(b) < 9 {
		return false
	}
	n := binary.BigEndian.Uint32(b)
	return n >= 5 && n < 1<<16 && b[4] == 2
}

type ptyReq struct {
	Term              string
	Columns, Rows     uint32
	WidthPx, HeightPx uint32
	Modes             string
}

type directTCPIP struct {
	Host     string
	Port     uint32
	OrigHost string
	OrigPort uint32
}

// openDirect opens (and at once closes) a direct-tcpip channel, as ssh -L
// does for each connection.
func (e *probeEnv) openDirect(host string, port int) error {
	ch, reqs, err := e.conn.OpenChannel("direct-tcpip", ssh.Marshal(directTCPIP{host, uint32(port), "127.0.0.1", 0}))
	if err != nil {
		return err
	}
	go ssh.DiscardRequests(reqs)
	ch.Close()
	return nil
}

func reason(err error) (ssh.RejectionReason, bool) {
	var oe *ssh.OpenChannelError
	if errors.As(err, &oe) {
		return oe.Reason, true
	}
	return 0, false
}

func checkTunnel(e *probeEnv) Result {
	type out struct {
		status   Status
		msg      string
		answered bool
	}
	res := make([]out, len(e.opts.Targets))
	var wg sync.WaitGroup
	for i, t := range e.opts.Targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := e.openDirect(t.Host, t.Port)
			r, isOpen := reason(err)
			switch {
			case err == nil:
				res[i] = out{Pass, t.String() + " opens", true}
			case isOpen && r == ssh.ConnectionFailed:
				res[i] = out{Warn, "permitted, but nothing answers at " + t.String(), true}
			case isOpen && r == ssh.Prohibited:
				res[i] = out{Fail, t.String() + " refused: administratively prohibited", true}
			default:
				res[i] = out{Fail, t.String() + ": " + err.Error(), false}
			}
		}()
	}
	wg.Wait()
	status := Pass
	var msgs []string
	for _, r := range res {
		msgs = append(msgs, r.msg)
		if r.status == Fail || (r.status == Warn && status == Pass) {
			status = r.status
		}
	}
	r := Result{Status: status, Detail: strings.Join(msgs, "; ")}
	// A target refused (administratively prohibited) is the server's
	// answer; a forward that could not be asked for is not.
	r.found = slices.ContainsFunc(res, func(o out) bool { return o.answered && o.status == Fail })
	if status == Warn {
		r.Hint = "the rule is right but the service is down: start it, or check --target"
	}
	return r
}

type probe struct {
	host, why string
	port      int
}

// otherProbes are forwards that must be refused: the server's own SSH port
// (which certainly listens), another port, and the target's port under
// another spelling of the host (permitopen does no name lookup).
func (e *probeEnv) otherProbes() []probe {
	allowed := map[string]bool{}
	for _, t := range e.opts.Targets {
		allowed[t.String()] = true
	}
	ok := func(p probe) bool {
		return !allowed[target.Target{Host: p.host, Port: p.port}.String()]
	}
	var ps []probe
	if p := (probe{"127.0.0.1", "the SSH port", e.opts.Port}); ok(p) {
		ps = append(ps, p)
	}
	t0 := e.opts.Targets[0]
	other := t0.Port
	for {
		other = other%65535 + 1
		p := probe{t0.Host, "another port", other}
		if ok(p) && other != e.opts.Port {
			ps = append(ps, p)
			break
		}
	}
	if alt := otherSpelling(t0.Host); alt != "" {
		if p := (probe{alt, "the target's port by another name", t0.Port}); ok(p) {
			ps = append(ps, p)
		}
	}
	seen := map[string]bool{}
	for _, p := range ps {
		seen[target.Target{Host: p.host, Port: p.port}.String()] = true
	}
	if e.opts.Sweep {
		for _, h := range sweepHosts(e.opts.Targets) {
			for port := 1; port <= 65535; port++ {
				p := probe{h, "sweep", port}
				k := target.Target{Host: h, Port: port}.String()
				if ok(p) && !seen[k] {
					seen[k] = true
					ps = append(ps, p)
				}
			}
		}
	}
	for _, d := range e.opts.Destinations {
		p := probe{d.Host, d.Why, d.Port}
		k := target.Target{Host: p.host, Port: p.port}.String()
		if ok(p) && !seen[k] {
			seen[k] = true
			ps = append(ps, p)
		}
	}
	return ps
}

// probeParallel bounds the channel opens one check has in flight: a host
// with hundreds of listeners must not look like a flood to sshd.
const probeParallel = 32

// sweepHosts are the hosts a sweep covers: every target host and its other
// spelling, each once.
func sweepHosts(ts []target.Target) []string {
	var out []string
	add := func(h string) {
		if h != "" && !slices.Contains(out, h) {
			out = append(out, h)
		}
	}
	for _, t := range ts {
		add(t.Host)
		add(otherSpelling(t.Host))
	}
	return out
}

// ranges writes host:port destinations as host:a-b,c,d-e, one string per
// host in order of first appearance: a sweep's tried list in --json.
func ranges(tried []string) []string {
	var hosts []string
	ports := map[string][]int{}
	for _, d := range tried {
		// Not target.Parse: a listen's host may be "*" and its port 0.
		h, p, err := net.SplitHostPort(d)
		port, perr := strconv.Atoi(p)
		if err != nil || perr != nil {
			continue
		}
		if _, ok := ports[h]; !ok {
			hosts = append(hosts, h)
		}
		ports[h] = append(ports[h], port)
	}
	var out []string
	for _, h := range hosts {
		ps := ports[h]
		slices.Sort(ps)
		var parts []string
		for i := 0; i < len(ps); {
			j := i
			for j+1 < len(ps) && ps[j+1] == ps[j]+1 {
				j++
			}
			if i == j {
				parts = append(parts, strconv.Itoa(ps[i]))
			} else {
				parts = append(parts, fmt.Sprintf("%d-%d", ps[i], ps[j]))
			}
			i = j + 1
		}
		// "host:" as target spells it ("[::1]:" for IPv6).
		prefix := strings.TrimSuffix(net.JoinHostPort(h, "1"), "1")
		out = append(out, prefix+strings.Join(parts, ","))
	}
	return out
}

// summarize lists what was tried: all of it when short, else the first
// few and the count (the full list is in Result.Tried).
func summarize(tried []string) string {
	if len(tried) <= 6 {
		return strings.Join(tried, ", ")
	}
	return fmt.Sprintf("%s, … (%d destinations)", strings.Join(tried[:4], ", "), len(tried))
}

func otherSpelling(host string) string {
	if strings.EqualFold(host, "localhost") {
		return "127.0.0.1"
	}
	if a, err := netip.ParseAddr(host); err == nil && a.IsLoopback() {
		return "localhost"
	}
	return ""
}

// otherPortProblem opens one forward that must be refused; "" when it is
// (administratively prohibited), else what went wrong, and whether that
// is the server's answer (opened, or permitted) rather than a probe that
// could not be made.
func (e *probeEnv) otherPortProblem(p probe) (problem string, answered bool) {
	hp := target.Target{Host: p.host, Port: p.port}.String()
	err := e.openDirect(p.host, p.port)
	r, isOpen := reason(err)
	switch {
	case err == nil:
		return fmt.Sprintf("%s (%s) opened", hp, p.why), true
	case isOpen && r == ssh.Prohibited:
		return "", true
	case isOpen && r == ssh.ConnectionFailed:
		return fmt.Sprintf("%s (%s) is permitted (nothing answered there)", hp, p.why), true
	default:
		return fmt.Sprintf("%s (%s): %v", hp, p.why, err), false
	}
}

func checkOtherPorts(e *probeEnv) Result {
	ps := e.otherProbes()
	problems := make([]string, len(ps))
	// answered: the server's own answer came back for the probe, before
	// the run was cut short; a probe asked after the cut, or failing
	// because of it, proves nothing.
	answered := make([]bool, len(ps))
	byServer := make([]bool, len(ps))
	// A fixed pool of workers, not a goroutine per probe: a sweep has
	// 131,070 of them. The feed stops at the run's end: the rest would
	// only fail on the closed connection.
	var wg sync.WaitGroup
	next := make(chan int)
	go func() {
		defer close(next)
		for i := range ps {
			select {
			case next <- i:
			case <-e.ctx.Done():
				return
			}
		}
	}()
	for range min(probeParallel, len(ps)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if e.ctx.Err() != nil {
					continue
				}
				problem, ok := e.otherPortProblem(ps[i])
				if !ok && e.ctx.Err() != nil {
					continue
				}
				problems[i], answered[i], byServer[i] = problem, true, ok
			}
		}()
	}
	wg.Wait()
	var bad, tried []string
	missing, foundOne := 0, false
	for i, p := range ps {
		if !answered[i] {
			missing++
			continue
		}
		tried = append(tried, target.Target{Host: p.host, Port: p.port}.String())
		if problems[i] != "" {
			bad = append(bad, problems[i])
			foundOne = foundOne || byServer[i]
		}
	}
	var r Result
	switch {
	case len(bad) > 0:
		r = findings(bad, "permitted destinations")
		r.found = foundOne
		if missing > 0 {
			r.Detail += fmt.Sprintf(" (%d of %d destinations tried before the run ended)", len(tried), len(ps))
		}
	case missing > 0:
		r = unanswered(len(tried), len(ps), "destinations", "administratively prohibited")
	case e.opts.Sweep:
		r = pass("%d destinations (%s): administratively prohibited", len(tried), strings.Join(ranges(tried), "; "))
	default:
		r = pass("%s: administratively prohibited", summarize(tried))
	}
	switch {
	case len(tried) > 1000:
		r.TriedRanges = ranges(tried)
	case len(tried) > 6:
		r.Tried = tried
	}
	return r
}

// listenHosts are the bind-address spellings a client can send in a
// tcpip-forward request. sshd matches each PermitListen host against the
// string as sent, with match_pattern (channels.c remote_open_match): a
// bare port ("PermitListen 41500" is "*:41500") allows every spelling, but
// "PermitListen 127.0.0.1:41500" only a request spelled 127.0.0.1. ssh -R
// PORT:... sends "localhost" (channel_rfwd_bind_host), -R :PORT:... and
// -R '*:PORT:...' send "", and an explicit bind address is sent as typed.
var listenHosts = []string{"localhost", "127.0.0.1", "", "::1", "0.0.0.0"}

// sweepListenHosts are the spellings --sweep asks every port for: ssh's
// default and the loopback address, which between them match a bare port,
// "localhost:PORT" and "127.0.0.1:PORT".
var sweepListenHosts = []string{"localhost", "127.0.0.1"}

// sweepListenFirst is the first port a listen sweep asks for: sshd refuses
// ports below 1024 to every account but root whatever PermitListen says
// (serverloop.c bind_permitted), and the forward account is never root.
const sweepListenFirst = 1024

// listenConns is how many connections a listen sweep spreads over: sshd
// answers global requests one at a time, in order, on each connection
// (x/crypto waits for each reply), so one connection would leave the second
// core idle.
const listenConns = 4

// listenTries are the remote forwards that must be refused: port 0 (any
// free port) and each target's port under every spelling, what --self
// read from PermitListen (named), and with --sweep every unprivileged port.
func (e *probeEnv) listenTries() (out []Destination, named bool) {
	seen := map[string]bool{}
	add := func(d Destination) {
		k := d.Host + "\x00" + strconv.Itoa(d.Port)
		if !seen[k] {
			seen[k] = true
			out = append(out, d)
		}
	}
	for _, h := range listenHosts {
		add(Destination{Host: h, Port: 0, Why: "any free port"})
	}
	// A PermitListen that names the target (PermitOpen's port copied
	// into the wrong keyword) would let the account take the service's
	// port while it is down. While it listens, the bind fails on
	// 127.0.0.1 but may still succeed on ::1.
	for _, t := range e.opts.Targets {
		for _, h := range listenHosts {
			add(Destination{Host: h, Port: t.Port, Why: "the target's port"})
		}
	}
	// A listen --self read from PermitListen is asked for as written and
	// under every spelling: the host in PermitListen is a pattern that
	// the spelling sent must match.
	listens := e.opts.Listens
	if e.opts.ListensFrom != nil {
		listens = append(slices.Clone(listens), e.opts.ListensFrom()...)
	}
	for _, d := range listens {
		add(d)
		for _, h := range listenHosts {
			add(Destination{Host: h, Port: d.Port, Why: d.Why})
		}
	}
	if e.opts.Sweep {
		for _, h := range sweepListenHosts {
			for port := sweepListenFirst; port <= 65535; port++ {
				add(Destination{Host: h, Port: port, Why: "sweep"})
			}
		}
	}
	return out, len(listens) > 0
}

type tcpipForward struct {
	Addr string
	Port uint32
}

// tryListen asks for one remote forward: the name it was granted as
// (host:port, with the port sshd chose for port 0; a granted forward is
// cancelled at once), or "" when sshd refused it.
func tryListen(c ssh.Conn, d Destination) (string, error) {
	ok, reply, err := c.SendRequest("tcpip-forward", true, ssh.Marshal(tcpipForward{d.Host, uint32(d.Port)}))
	if err != nil || !ok {
		return "", err
	}
	port := uint32(d.Port)
	if port == 0 {
		var bound struct{ Port uint32 }
		ssh.Unmarshal(reply, &bound)
		port = bound.Port
	}
	c.SendRequest("cancel-tcpip-forward", false, ssh.Marshal(tcpipForward{d.Host, port}))
	return listenName(d.Host, int(port)), nil
}

// listenName is host:port as ssh -R would take it ("" is the wildcard).
func listenName(host string, port int) string {
	if host == "" {
		host = "*"
	}
	return target.Target{Host: host, Port: port}.String()
}

// grantedListens says which listens the server granted, once: grouped by
// why each was asked for, the first 20 names and how many in all, not one
// sentence per listen (port 0 alone is asked for under five spellings).
func grantedListens(names []string, whys []string) string {
	var order []string
	byWhy := map[string][]string{}
	for i, n := range names {
		if _, ok := byWhy[whys[i]]; !ok {
			order = append(order, whys[i])
		}
		byWhy[whys[i]] = append(byWhy[whys[i]], n)
	}
	var groups []string
	shown := 0
	for _, why := range order {
		ns := byWhy[why]
		if shown+len(ns) > 20 {
			ns = ns[:max(0, 20-shown)]
		}
		if len(ns) == 0 {
			break
		}
		shown += len(ns)
		groups = append(groups, strings.Join(ns, ", ")+" ("+why+")")
	}
	msg := "the server listened on " + strings.Join(groups, "; on ")
	if shown < len(names) {
		msg += fmt.Sprintf("; … %d listens granted in all", len(names))
	}
	return msg + ", for the account; each cancelled at once"
}

func checkRemote(e *probeEnv) Result {
	tries, named := e.listenTries()
	granted := make([]string, len(tries))
	asked := make([]bool, len(tries))
	// Few tries go over the shared connection; a sweep is cut into
	// listenConns slices, each on a connection of its own.
	conns := 1
	if len(tries) > 1000 && e.redial != nil {
		conns = listenConns
	}
	var wg sync.WaitGroup
	errs := make([]error, conns)
	for w := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := e.conn
			if w > 0 {
				rc, err := e.redial()
				if err != nil {
					errs[w] = fmt.Errorf("a connection for the listen sweep failed: %w", err)
					return
				}
				defer rc.Close()
				c = rc
			}
			lo, hi := w*len(tries)/conns, (w+1)*len(tries)/conns
			for i := lo; i < hi && e.ctx.Err() == nil; i++ {
				name, err := tryListen(c, tries[i])
				if err != nil {
					errs[w] = fmt.Errorf("tcpip-forward: %w", err)
					return
				}
				granted[i], asked[i] = name, true
			}
		}()
	}
	wg.Wait()
	var found, whys, tried []string
	for i, d := range tries {
		if !asked[i] {
			continue
		}
		tried = append(tried, listenName(d.Host, d.Port))
		if granted[i] != "" {
			found = append(found, granted[i])
			whys = append(whys, d.Why)
		}
	}
	var r Result
	switch {
	case len(found) > 0:
		r = finding("%s", grantedListens(found, whys))
	default:
		if e.ctx.Err() != nil && len(tried) < len(tries) {
			// The errors are the closed connection's, not the server's.
			return unanswered(len(tried), len(tries), "listens", "refused")
		}
		if err := joinErrs(errs); err != "" {
			// A listen that was never asked for proves nothing.
			return failed("not probed: %s", err)
		}
		if e.opts.Sweep {
			r = pass("tcpip-forward refused: %d listens (%s)", len(tried), strings.Join(ranges(tried), "; "))
		} else {
			what := "any free port and each target's port"
			if named {
				what = "any free port, each target's port and each port PermitListen names"
			}
			// The ports themselves are in Tried (--json).
			r = pass("tcpip-forward refused: %d listens (%s, as localhost, 127.0.0.1, *, ::1 and 0.0.0.0)", len(tried), what)
		}
	}
	switch {
	case len(tried) > 1000:
		r.TriedRanges = ranges(tried)
	case len(tried) > 6:
		r.Tried = tried
	}
	return r
}

// joinErrs says each distinct error once, with how many connections hit
// it: one line, where errors.Join would repeat "tcpip-forward: EOF" once
// per connection on lines of their own.
func joinErrs(errs []error) string {
	var order []string
	n := map[string]int{}
	for _, err := range errs {
		if err == nil {
			continue
		}
		m := err.Error()
		if n[m] == 0 {
			order = append(order, m)
		}
		n[m]++
	}
	for i, m := range order {
		if n[m] > 1 {
			order[i] = fmt.Sprintf("%s (on %d connections)", m, n[m])
		}
	}
	return strings.Join(order, "; ")
}

// sessionRequest sends one request on a session of its own. An error
// other than errSessionsRefused means the request was never made.
func (e *probeEnv) sessionRequest(name string, payload []byte) (bool, error) {
	ch, release, err := e.session()
	if err != nil {
		return false, err
	}
	defer release()
	return ch.SendRequest(name, true, payload)
}

// requestRefused judges a sessionRequest: granted is a finding, refused
// (or sessions refused outright) a pass, and a request that could not be
// made proves nothing.
func requestRefused(what string, ok bool, err error) Result {
	switch {
	case err == nil && ok:
		return finding("%s granted", what)
	case err != nil && !errors.Is(err, errSessionsRefused):
		return failed("%s not probed: %v", what, err)
	case err != nil:
		return pass("%s refused: %v", what, err)
	}
	return pass("%s refused", what)
}

func checkAgent(e *probeEnv) Result {
	ok, err := e.sessionRequest("auth-agent-req@openssh.com", nil)
	if err == nil && ok {
		return finding("agent forwarding granted")
	}
	return requestRefused("auth-agent-req", ok, err)
}

func checkX11(e *probeEnv) Result {
	req := struct {
		Single   bool
		Protocol string
		Cookie   string
		Screen   uint32
	}{false, "MIT-MAGIC-COOKIE-1", strings.Repeat(e.token, 2), 0}
	ok, err := e.sessionRequest("x11-req", ssh.Marshal(req))
	if err == nil && ok {
		return finding("X11 forwarding granted")
	}
	return requestRefused("x11-req", ok, err)
}

func checkTun(e *probeEnv) Result {
	// Point-to-point, any free unit: what ssh -w any does.
	ch, reqs, err := e.conn.OpenChannel("tun@openssh.com", ssh.Marshal(struct{ Mode, Unit uint32 }{1, 0x7fffffff}))
	if err == nil {
		go ssh.DiscardRequests(reqs)
		ch.Close()
		return finding("a tun device was opened for the account (closed again)")
	}
	// sshd answers "connect failed" both when PermitTunnel forbids it and
	// when the device cannot be opened: only an open tunnel is a finding.
	return pass("tun@openssh.com refused")
}

// DefaultSockets are Unix sockets that exist on most Linux servers and
// accept a connection from anyone. sshd answers a refused
// direct-streamlocal and a permitted one to a missing socket alike
// ("connect failed"), so only a socket that exists can prove a refusal.
var DefaultSockets = []string{"/run/dbus/system_bus_socket", "/run/systemd/journal/stdout", "/dev/log"}

func checkStreamLocal(e *probeEnv) Result {
	sockets := e.opts.Sockets
	if sockets == nil {
		sockets = DefaultSockets
	}
	problems := make([]string, len(sockets)+1)
	var wg sync.WaitGroup
	sem := make(chan struct{}, probeParallel)
	for i, path := range sockets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			ch, reqs, err := e.conn.OpenChannel("direct-streamlocal@openssh.com", ssh.Marshal(struct {
				Path, Reserved string
				Reserved2      uint32
			}{path, "", 0}))
			if err == nil {
				go ssh.DiscardRequests(reqs)
				ch.Close()
				problems[i] = "direct-streamlocal to " + path + " opened"
			}
		}()
	}
	// Listening needs a path sshd can bind: only a server that permits it
	// creates this socket, and the forward is cancelled at once.
	dir := e.opts.ListenDir
	if dir == "" {
		dir = "/tmp"
	}
	listen := strings.TrimSuffix(dir, "/") + "/pfwdctl-verify-" + e.token + ".sock"
	wg.Add(1)
	go func() {
		defer wg.Done()
		ok, _, err := e.conn.SendRequest("streamlocal-forward@openssh.com", true, ssh.Marshal(struct{ Path string }{listen}))
		if err == nil && ok {
			e.conn.SendRequest("cancel-streamlocal-forward@openssh.com", false, ssh.Marshal(struct{ Path string }{listen}))
			problems[len(sockets)] = "streamlocal-forward listened on " + listen + " (cancelled; sshd may leave the socket file)"
		}
	}()
	wg.Wait()
	var bad []string
	for _, p := range problems {
		if p != "" {
			bad = append(bad, p)
		}
	}
	if len(bad) > 0 {
		return finding("%s", strings.Join(bad, "; "))
	}
	tried := fmt.Sprintf("%d sockets", len(sockets))
	if len(sockets) == 1 {
		tried = sockets[0]
	}
	r := pass("direct-streamlocal refused (%s), streamlocal-forward refused", tried)
	if len(sockets) > 1 {
		r.Tried = sockets
	}
	return r
}

func checkPassword(e *probeEnv) Result {
	if !e.authProbed {
		return finding("the server let the account in without any authentication")
	}
	// Every method but publickey is a way in that the key's options do
	// not restrict: password and keyboard-interactive can be guessed,
	// hostbased trusts another host's word, gssapi-with-mic a Kerberos
	// ticket. Only a list naming publickey alone passes.
	var bad []string
	for _, m := range e.offered {
		if m != "publickey" {
			bad = append(bad, m)
		}
	}
	if len(bad) > 0 {
		return finding("the server offers %s", strings.Join(bad, " and "))
	}
	offered := slices.Clone(e.offered)
	if len(offered) == 0 {
		offered = []string{"nothing"}
	}
	return pass("offered: %s", strings.Join(offered, ", "))
}
