package main

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/pfwdctl/pfwdctl/internal/fail"
	"github.com/pfwdctl/pfwdctl/internal/sshlog"
	"github.com/pfwdctl/pfwdctl/internal/ui"
	"github.com/pfwdctl/pfwdctl/render"
	"github.com/pfwdctl/pfwdctl/users"
)

func init() { register("sessions", newSessionsCmd) }

type sessionsOpts struct {
	user, key, log string
	history        bool
	follow         bool
	since, until   string
	sshdFlags
}

func newSessionsCmd(g *Globals) *cobra.Command {
	o := &sessionsOpts{}
	c := &cobra.Command{
		Use:   "sessions",
		Short: "Who is tunnelling now (or did, with --history): key, source, since when",
		Long: `sessions lists the forward accounts' connections open now: the key each
logged in with (its name from authorized_keys, joined by fingerprint), the
source address and port, since when and for how long, and the per-connection
sshd pid. The key and source come from sshd's own log (LogLevel VERBOSE,
which pfwdctl's baseline sets): the systemd journal, /var/log/auth.log,
/var/log/secure, or --log FILE.

With --history it reads the past connections from the same log instead:
start, end, duration, source, key, how each ended, the forwards sshd refused,
and the failed logins for the account, with a summary per key.

"sessions kill NAME|FINGERPRINT|PID" ends only that key's (or that
connection's) sessions; revoke --kill-sessions does the same for the keys it
removes, so other friends' tunnels stay up.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error { return sessionsRun(c, g, o) },
	}
	f := c.Flags()
	f.StringVar(&o.user, "user", render.DefaultUser, "the port-forward-only `account` (default: every installed one)")
	f.StringVar(&o.key, "key", "", "only this key: its `NAME` or SHA256 fingerprint")
	f.StringVar(&o.log, "log", "", "read sshd's log from this `FILE` (syslog, ISO, RFC 5424, journal JSON or sshd -E; .gz too) instead of the journal or /var/log")
	f.BoolVar(&o.history, "history", false, "past connections from sshd's log instead of the open ones")
	f.BoolVar(&o.follow, "follow", false, "print logins, refused forwards, failures and disconnects as sshd logs them, until interrupted (--json: one object a line)")
	f.StringVar(&o.since, "since", "7d", "with --history: from this `TIME` (RFC 3339, 2006-01-02, or a duration ago such as 7d or 12h)")
	f.StringVar(&o.until, "until", "", "with --history: up to this `TIME` (default: now)")
	o.sshdFlags.add(c)
	c.AddCommand(newSessionsKillCmd(g, o))
	return c
}

func newSessionsKillCmd(g *Globals, o *sessionsOpts) *cobra.Command {
	c := &cobra.Command{
		Use:   "kill NAME|FINGERPRINT|PID",
		Short: "End the open sessions of one key (or one connection), leaving the others up",
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 1 {
				return fail.New(fail.Usage, "give the key's name or fingerprint (pfwdctl sessions lists them), or a session pid, e.g. pfwdctl sessions kill bob", "sessions kill takes one key or pid, got %d arguments", len(args))
			}
			return nil
		},
		RunE: func(c *cobra.Command, args []string) error { return sessionsKillRun(c, g, o, args[0]) },
	}
	f := c.Flags()
	f.StringVar(&o.user, "user", render.DefaultUser, "the port-forward-only `account` (default: every installed one)")
	f.StringVar(&o.log, "log", "", "read sshd's log from this `FILE` instead of the journal or /var/log")
	o.sshdFlags.add(c)
	return c
}

// sessionRow is one open session, as printed.
type sessionRow struct {
	Account string `json:"account"`
	users.Session
	Key string `json:"key,omitempty"` // the key's name in authorized_keys
}

// sessionsHost is the users.Host whose sessions carry the key sshd logged
// for each (sshd's log, read through internal/sshlog).
func (o *sessionsOpts) sessionsHost(g *Globals) users.Host {
	h := o.host(g)
	h.Attribute = logAttribute(g, o.log)
	return h
}

func sessionsRun(c *cobra.Command, g *Globals, o *sessionsOpts) error {
	if o.history && o.follow {
		return fail.New(fail.Usage, "use one of them", "--history and --follow do not go together")
	}
	if o.history {
		return sessionsHistoryRun(c, g, o)
	}
	if o.follow {
		return sessionsFollowRun(c, g, o)
	}
	rows, err := openSessions(c, g, o)
	if err != nil {
		return err
	}
	if g.JSON {
		return g.PrintJSON(rows)
	}
	if len(rows) == 0 {
		g.Printf("no open sessions\n")
		return nil
	}
	w := tabwriter.NewWriter(g.IO.Out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "ACCOUNT\tKEY\tFINGERPRINT\tFROM\tSINCE\tFOR\tPID\tREFUSED")
	now := g.Now()
	for _, r := range rows {
		since, dur := "?", "?"
		if !r.Since.IsZero() {
			since, dur = r.Since.Local().Format("2006-01-02 15:04:05"), now.Sub(r.Since).Truncate(time.Second).String()
		}
		from := "?"
		if r.Addr != "" {
			from = r.Addr + " port " + strconv.Itoa(r.Port)
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\n", ui.Escape(r.Account), ui.Escape(orDash(r.Key)), orDash(r.Fingerprint), ui.Escape(from), since, dur, r.PID, ui.Escape(orDash(strings.Join(r.Refused, " "))))
	}
	return w.Flush()
}

// openSessions lists the open sessions of the accounts asked for, with
// key names, filtered by --key.
func openSessions(c *cobra.Command, g *Globals, o *sessionsOpts) ([]sessionRow, error) {
	h := o.sessionsHost(g)
	names, err := forwardAccounts(c, g, o.user, o.config)
	if err != nil {
		return nil, err
	}
	rows := []sessionRow{}
	for _, name := range names {
		sess, err := h.OpenSessions(c.Context(), name)
		if err != nil {
			return nil, err
		}
		keyNames := keyNamesOf(h, name)
		for _, s := range sess {
			r := sessionRow{Account: name, Session: s, Key: keyNames[s.Fingerprint]}
			if o.key == "" || keyMatches(o.key, r.Key, r.Fingerprint) {
				rows = append(rows, r)
			}
		}
	}
	return rows, nil
}

// keyNamesOf maps the fingerprint of every key of the accounts to its
// name in authorized_keys (the name people revoke by).
func keyNamesOf(h users.Host, accounts ...string) map[string]string {
	out := map[string]string{}
	for _, name := range accounts {
		if lr, err := h.ListKeys(name); err == nil {
			for _, k := range lr.Keys {
				out[k.Fingerprint] = k.Name
			}
		}
	}
	return out
}

// keyMatches says whether the key named on the command line (a name, a
// fingerprint with or without SHA256:) is this one.
func keyMatches(arg, name, fp string) bool {
	if fp == "" {
		return false
	}
	return arg == name || arg == fp || "SHA256:"+arg == fp
}

func sessionsKillRun(c *cobra.Command, g *Globals, o *sessionsOpts, arg string) error {
	h := o.sessionsHost(g)
	names, err := forwardAccounts(c, g, o.user, o.config)
	if err != nil {
		return err
	}
	pid, isPID := strconv.Atoi(arg)
	type result struct {
		Account string          `json:"account"`
		Killed  []users.Session `json:"killed"`
		Kept    []users.Session `json:"kept"`
	}
	var out []result
	total := 0
	for _, name := range names {
		keyNames := keyNamesOf(h, name)
		killed, kept, err := h.KillSessions(c.Context(), name, func(s users.Session) bool {
			if isPID == nil {
				return s.PID == pid || s.PPID == pid
			}
			return keyMatches(arg, keyNames[s.Fingerprint], s.Fingerprint)
		})
		if err != nil {
			return err
		}
		total += len(killed)
		out = append(out, result{Account: name, Killed: append([]users.Session{}, killed...), Kept: append([]users.Session{}, kept...)})
	}
	if g.JSON {
		if err := g.PrintJSON(out); err != nil {
			return err
		}
	} else {
		st := g.Styles()
		for _, r := range out {
			for _, s := range r.Killed {
				g.Printf("%s ended session %d of %s (key %s from %s)\n", st.OK("✓"), s.PID, ui.Escape(r.Account), orDash(s.Fingerprint), ui.Escape(orDash(s.Addr)))
			}
			if len(r.Kept) > 0 {
				g.Printf("  %d other session(s) of %s left up\n", len(r.Kept), ui.Escape(r.Account))
			}
		}
	}
	if total == 0 {
		return fail.New(fail.Failed, "pfwdctl sessions lists the open sessions with their keys; a session whose key sshd did not log (LogLevel below VERBOSE) can be ended by its pid",
			"no open session of %s", arg)
	}
	return nil
}

// logSources are sshd's log for this host: --log FILE, or what
// sshlog.Sources finds (the journal, auth.log, secure, rotated files).
func logSources(g *Globals, logFile string, since, until time.Time) users.LogSources {
	return func(ctx context.Context) ([]sshlog.Source, error) {
		if logFile != "" {
			return []sshlog.Source{sshlog.FileSource(g.Root(), logFile)}, nil
		}
		srcs, err := sshlog.Sources(ctx, g.Root(), g.Runner, since, until)
		if err != nil {
			return nil, err
		}
		if len(srcs) == 0 {
			return nil, fail.New(fail.Failed, "pass --log FILE with sshd's log", "no sshd log found (no journal entries for ssh/sshd, no /var/log/auth.log or /var/log/secure)")
		}
		return srcs, nil
	}
}

// logAttribute names each session's key from sshd's log.
func logAttribute(g *Globals, logFile string) users.Attribute {
	return users.LogAttribute(logSources(g, logFile, time.Time{}, time.Time{}), g.Now, nil)
}

// parseWhen reads --since/--until: RFC 3339, a date, or a duration ago
// ("7d", "12h", "90m").
func parseWhen(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if t, err := time.ParseInLocation("2006-01-02", s, time.Local); err == nil {
		return t, nil
	}
	if n, ok := strings.CutSuffix(s, "d"); ok {
		if d, err := strconv.Atoi(n); err == nil && d >= 0 {
			return now.AddDate(0, 0, -d), nil
		}
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, fail.New(fail.Usage, "use RFC 3339 (2026-11-24T10:00:00Z), a date (2026-11-24) or a duration ago (7d, 12h)", "cannot read the time %q", s)
}

// historyKey is the per-key summary of --history.
type historyKey struct {
	Account     string    `json:"account"`
	Key         string    `json:"key,omitempty"`
	Fingerprint string    `json:"fingerprint"`
	Connections int       `json:"connections"`
	Total       string    `json:"total"`
	LastSeen    time.Time `json:"last_seen"`
	Sources     []string  `json:"sources"`
}

type historyReport struct {
	Connections []historyConn  `json:"connections"`
	Failures    []sshlog.Event `json:"failures"`
	Keys        []historyKey   `json:"keys"`
}

type historyConn struct {
	sshlog.Connection
	Key      string `json:"key,omitempty"`
	Duration string `json:"duration,omitempty"`
}

func sessionsHistoryRun(c *cobra.Command, g *Globals, o *sessionsOpts) error {
	now := g.Now()
	since, err := parseWhen(o.since, now)
	if err != nil {
		return err
	}
	until, err := parseWhen(o.until, now)
	if err != nil {
		return err
	}
	names, err := forwardAccounts(c, g, o.user, o.config)
	if err != nil {
		return err
	}
	h := o.host(g)
	keyNames := keyNamesOf(h, names...)
	rep := historyReport{Connections: []historyConn{}, Failures: []sshlog.Event{}, Keys: []historyKey{}}
	byKey := map[string]*historyKey{}
	totals := map[string]time.Duration{}
	var order []string
	j := sshlog.NewJoiner()
	j.OnFailure = func(f sshlog.Event) {
		if slices.Contains(names, f.User) {
			rep.Failures = append(rep.Failures, f)
		}
	}
	j.OnDone = func(conn sshlog.Connection) {
		if !slices.Contains(names, conn.User) {
			return
		}
		hc := historyConn{Connection: conn, Key: keyNames[conn.Fingerprint]}
		if o.key != "" && !keyMatches(o.key, hc.Key, conn.Fingerprint) {
			return
		}
		end := conn.End
		if conn.Open {
			end = now
		}
		var d time.Duration
		if !conn.Start.IsZero() && !end.IsZero() {
			d = end.Sub(conn.Start).Truncate(time.Second)
			hc.Duration = d.String()
		}
		rep.Connections = append(rep.Connections, hc)
		k := conn.User + " " + conn.Fingerprint
		hk := byKey[k]
		if hk == nil {
			hk = &historyKey{Account: conn.User, Key: hc.Key, Fingerprint: conn.Fingerprint}
			byKey[k] = hk
			order = append(order, k)
		}
		hk.Connections++
		totals[k] += d
		if conn.Start.After(hk.LastSeen) {
			hk.LastSeen = conn.Start
		}
		if !slices.Contains(hk.Sources, conn.Addr) {
			hk.Sources = append(hk.Sources, conn.Addr)
		}
	}
	srcs, err := logSources(g, o.log, since, until)(c.Context())
	if err != nil {
		return err
	}
	for _, src := range srcs {
		err := users.ScanLog(c.Context(), src, g.Now, func(ev sshlog.Event) {
			if (!since.IsZero() && !ev.Time.IsZero() && ev.Time.Before(since)) || (!until.IsZero() && ev.Time.After(until)) {
				return
			}
			j.Add(ev)
		})
		if err != nil {
			return err
		}
	}
	// A session pfwdctl ended left no line in sshd's log: its audit log
	// says when, by the connection's source.
	kills, _ := h.Kills()
	for _, conn := range j.Open() {
		for _, k := range kills {
			if k.Account == conn.User && k.Addr == conn.Addr && k.Port == conn.Port && !k.Time.Before(conn.Start) {
				conn.Open, conn.End, conn.Ended = false, k.Time, sshlog.Killed
				break
			}
		}
		j.OnDone(conn)
	}
	sort.SliceStable(rep.Connections, func(a, b int) bool { return rep.Connections[a].Start.Before(rep.Connections[b].Start) })
	for _, k := range order {
		byKey[k].Total = totals[k].String()
		rep.Keys = append(rep.Keys, *byKey[k])
	}
	if g.JSON {
		return g.PrintJSON(rep)
	}
	w := tabwriter.NewWriter(g.IO.Out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "START\tEND\tFOR\tACCOUNT\tKEY\tFROM\tENDED\tREFUSED")
	for _, hc := range rep.Connections {
		end, ended := "open", "-"
		if !hc.Open {
			end, ended = hc.End.Local().Format("01-02 15:04:05"), string(hc.Ended)
		}
		key := hc.Key
		if key == "" {
			key = orDash(hc.Fingerprint)
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", hc.Start.Local().Format("2006-01-02 15:04:05"), end, hc.Duration,
			ui.Escape(hc.User), ui.Escape(key), ui.Escape(hc.Addr+" port "+strconv.Itoa(hc.Port)), ended, ui.Escape(strings.Join(hc.Refused, " ")))
	}
	w.Flush()
	if len(rep.Keys) > 0 {
		g.Printf("\nper key:\n")
		w = tabwriter.NewWriter(g.IO.Out, 0, 0, 2, ' ', 0)
		fmt.Fprintln(w, "ACCOUNT\tKEY\tFINGERPRINT\tCONNECTIONS\tTOTAL\tLAST SEEN\tFROM")
		for _, k := range rep.Keys {
			fmt.Fprintf(w, "%s\t%s\t%s\t%d\t%s\t%s\t%s\n", ui.Escape(k.Account), ui.Escape(orDash(k.Key)), k.Fingerprint, k.Connections, k.Total,
				k.LastSeen.Local().Format("2006-01-02 15:04"), ui.Escape(strings.Join(k.Sources, " ")))
		}
		w.Flush()
	}
	if len(rep.Failures) > 0 {
		g.Printf("\nfailed logins:\n")
		for _, f := range rep.Failures {
			g.Printf("  %s %s from %s port %d: %s %s\n", f.Time.Local().Format("2006-01-02 15:04:05"), ui.Escape(f.User), ui.Escape(f.Addr), f.Port, ui.Escape(f.Reason), f.Fingerprint)
		}
	}
	return nil
}

// followEvent is one line of --follow.
type followEvent struct {
	sshlog.Event
	Key string `json:"key_name,omitempty"`
}

// sessionsFollowRun prints the forward accounts' events as sshd logs them.
func sessionsFollowRun(c *cobra.Command, g *Globals, o *sessionsOpts) error {
	names, err := forwardAccounts(c, g, o.user, o.config)
	if err != nil {
		return err
	}
	h := o.host(g)
	keyNames := keyNamesOf(h, names...)
	src, err := sshlog.Follow(c.Context(), g.Root(), g.Runner, o.log)
	if err != nil {
		return fail.Wrap(fail.Failed, err, "pass --log FILE with sshd's log", "cannot follow sshd's log")
	}
	if !g.JSON {
		g.Printf("following %s (interrupt to stop)\n", ui.Escape(src.Name))
	}
	// A line that names no user (a refused forward, "Connection closed
	// by ADDR") belongs to the connection whose login named one: by its
	// pid (or the child's, before 9.8) or its address and port. A line
	// tied to no forward account's login is not printed.
	owner := map[string]string{}
	peer := func(ev sshlog.Event) string { return "a" + ev.Addr + " " + strconv.Itoa(ev.Port) }
	pidKey := func(pid int) string { return "p" + strconv.Itoa(pid) }
	return users.ScanLog(c.Context(), src, g.Now, func(ev sshlog.Event) {
		switch {
		case ev.Kind == sshlog.Child:
			if u, ok := owner[pidKey(ev.PID)]; ok {
				owner[pidKey(ev.Child)] = u
			}
			return
		case ev.Kind == sshlog.Accepted && slices.Contains(names, ev.User):
			owner[pidKey(ev.PID)], owner[peer(ev)] = ev.User, ev.User
		case ev.User == "":
			if u, ok := owner[pidKey(ev.PID)]; ok && ev.PID != 0 {
				ev.User = u
			} else if u, ok := owner[peer(ev)]; ok && ev.Addr != "" {
				ev.User = u
			}
		}
		if !slices.Contains(names, ev.User) {
			return
		}
		fe := followEvent{Event: ev, Key: keyNames[ev.Fingerprint]}
		if o.key != "" && !keyMatches(o.key, fe.Key, ev.Fingerprint) {
			return
		}
		if g.JSON {
			g.PrintJSONLine(fe)
			return
		}
		what := string(ev.Kind)
		switch {
		case ev.Fingerprint != "":
			what += " key " + orDash(fe.Key) + " " + ev.Fingerprint
		case ev.Dest != "":
			what += " to " + ev.Dest
		case ev.Reason != "":
			what += ": " + ev.Reason
		}
		when := "-"
		if !ev.Time.IsZero() {
			when = ev.Time.Local().Format("2006-01-02 15:04:05")
		}
		g.Printf("%s %s %s from %s port %d\n", when, ui.Escape(orDash(ev.User)), ui.Escape(what), ui.Escape(orDash(ev.Addr)), ev.Port)
	})
}
