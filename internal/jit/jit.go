package jit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/pfwdctl/pfwdctl/internal/auditlog"
	"github.com/pfwdctl/pfwdctl/internal/fail"
	"github.com/pfwdctl/pfwdctl/internal/hostfs"
	"github.com/pfwdctl/pfwdctl/internal/run"
)

// Decision is root's decision on one request, kept in DecisionsDir with a
// copy of the request as it was decided.
type Decision struct {
	Version   int       `json:"version"`
	ID        string    `json:"id"`
	State     string    `json:"state"` // approved, denied, expired
	Request   Request   `json:"request"`
	Requester Person    `json:"requester"`
	Approver  Person    `json:"approver"`
	Time      time.Time `json:"time"`
	// Note is approve --note, deny --reason, or why it expired.
	Note string `json:"note,omitempty"`
	// Start and End are the window granted (approved only).
	Start time.Time `json:"start,omitzero"`
	End   time.Time `json:"end,omitzero"`
	// Grant is set for pfwdctl grant: filed and approved by one person.
	Grant bool `json:"grant,omitempty"`
	// What was installed: "key" (authorized_keys with expiry-time) or
	// "certificate" (with its serial and file).
	Method      string `json:"method,omitempty"`
	Fingerprint string `json:"fingerprint,omitempty"`
	Serial      uint64 `json:"serial,omitempty"`
	Certificate string `json:"certificate,omitempty"`
}

// Grant is what an Installer is asked to install.
type Grant struct {
	Request  Request
	Start    time.Time
	End      time.Time
	Approver Person
}

// Installed is what an Installer did.
type Installed struct {
	Method      string   `json:"method"`
	Fingerprint string   `json:"fingerprint"`
	Name        string   `json:"name"`
	Path        string   `json:"path,omitempty"`
	Line        string   `json:"line,omitempty"`
	Serial      uint64   `json:"serial,omitempty"`
	Certificate string   `json:"certificate,omitempty"`
	Warnings    []string `json:"warnings,omitempty"`
}

// Installer authorizes a request's key for g's window: add-key's code
// path with expiry-time (the caller holds pfwdctl's lock), or a
// certificate. It is given by the command, so this package never writes
// authorized_keys itself. An error with an Installed whose Method is set
// says the key was installed (the change was made) and something failed
// after: the approval then stands, since the key is live.
type Installer func(ctx context.Context, g Grant) (Installed, error)

// Service decides requests on one host.
type Service struct {
	Root hostfs.Root
	Log  auditlog.Log
	Now  func() time.Time
	// Caller is who runs pfwdctl (Caller).
	Caller Person
	// Runner runs the hooks (a run.InputRunner); nil: run.Exec.
	Runner run.Runner
	// Host names this machine in hook events.
	Host string
	// NoLock is for a caller that holds pfwdctl's lock already.
	NoLock bool
}

func (s Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s Service) lock() (func(), error) {
	if s.NoLock {
		return func() {}, nil
	}
	unlock, err := s.Root.Lock(hostfs.LockWait)
	if err != nil {
		return nil, fail.Wrap(fail.Unavailable, err, "wait for the other pfwdctl run to finish, then try again", "cannot take the pfwdctl lock")
	}
	return unlock, nil
}

// Result is what a decision did.
type Result struct {
	ID        string       `json:"id"`
	State     string       `json:"state"`
	Decision  Decision     `json:"decision,omitzero"` // none while pending
	Installed *Installed   `json:"installed,omitempty"`
	Hooks     []HookResult `json:"hooks"`
}

// File files r as the calling operator: checks it, writes it to the spool
// and runs the hooks (as the caller: see docs/jit.md for why).
func (s Service) File(ctx context.Context, r Request) (Result, error) {
	res := Result{ID: r.ID, State: StatePending, Hooks: []HookResult{}}
	if n := s.pendingOf(r.RequesterUID); n >= MaxPendingPerRequester {
		return res, fail.New(fail.Failed, "wait until an admin decides them, or withdraw one (rm "+SpoolDir+"/ID.json: only your own)",
			"you have %d pending requests, the most one person may have", n)
	}
	if err := Write(s.Root, r); err != nil {
		return res, err
	}
	res.Hooks = append(res.Hooks, RunHooks(ctx, s.Root, s.Runner, Event{Event: "request", Time: s.now().UTC(), Host: s.Host, ID: r.ID,
		Request: r, Requester: Requester(s.Root, r)})...)
	return res, nil
}

// pendingOf counts the spool files owned by uid (valid or not: each one
// is for an approver to look at).
func (s Service) pendingOf(uid int) int {
	ids, _ := pendingIDs(s.Root)
	n := 0
	for _, id := range ids {
		if fi, err := os.Lstat(s.spoolFile(id)); err == nil {
			if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) == uid {
				n++
			}
		}
	}
	return n
}

// ApproveOptions say how to approve.
type ApproveOptions struct {
	ID string
	// For shortens the window asked for; 0 keeps it.
	For     time.Duration
	Note    string
	Install Installer
	// Fingerprint is the key the approver approves (the one requests
	// showed): required, and refused when the request's key is another.
	Fingerprint string
	// Digest, when given, is the spool file's version the approver was
	// shown (Digest): any other version is refused.
	Digest string
	// Describe adds what the command knows about the request (targets,
	// from=) to the description approve prints when --fingerprint is
	// missing.
	Describe func(Request) string
}

// lockToDecide takes pfwdctl's lock for one decision (approve, grant,
// deny). release drops it and only then runs the hooks of ev, the event
// the decision made (nil: none), adding their results to res: a hook
// never runs while the lock is held.
func (s Service) lockToDecide(ctx context.Context, res *Result) (release func(ev *Event), err error) {
	unlock, err := s.lock()
	if err != nil {
		return nil, err
	}
	return func(ev *Event) {
		unlock()
		if ev != nil {
			res.Hooks = append(res.Hooks, RunHooks(ctx, s.Root, s.Runner, *ev)...)
		}
	}, nil
}

// Approve approves a pending request: under pfwdctl's lock it checks that
// no decision exists, reads the spool file strictly (Read), refuses
// self-approval (unless allowed), a request past its time-to-live (which
// is then recorded as expired) and a --for longer than asked; then records
// the decision, installs the key for [now, now+duration], and runs the
// hooks once the lock is released.
func (s Service) Approve(ctx context.Context, o ApproveOptions) (res Result, err error) {
	res = Result{ID: o.ID, Hooks: []HookResult{}}
	settings, err := LoadSettings(s.Root)
	if err != nil {
		return res, err
	}
	release, err := s.lockToDecide(ctx, &res)
	if err != nil {
		return res, err
	}
	var ev *Event // the decision's event, once made
	defer func() { release(ev) }()
	if err := s.undecided(o.ID); err != nil {
		return res, err
	}
	req, digest, err := ReadDigest(s.Root, o.ID)
	if err != nil {
		return res, err
	}
	requester := Requester(s.Root, req)
	now := s.now().UTC().Truncate(time.Second)
	if requester.Same(s.Caller) && !settings.AllowSelfApprove {
		return res, fail.New(fail.Failed, "another admin approves it (two people), or the host allows it with pfwdctl apply --jit-group "+orDash(settings.Group)+" --allow-self-approve",
			"refusing: %s filed request %s and cannot approve it", requester, o.ID)
	}
	if req.Created.After(now.Add(5 * time.Minute)) {
		return res, fail.New(fail.Failed, "deny it: a request made in the future was not written by pfwdctl on this host", "refusing request %s: created %s, in the future", o.ID, req.Created.Format(time.RFC3339))
	}
	if now.Sub(req.Created) > settings.TTL() {
		d := Decision{State: StateExpired, Note: fmt.Sprintf("older than its time-to-live (%s) when %s tried to approve it", settings.TTL(), s.Caller)}
		dec, _, err := s.record(ctx, req, requester, d, nil)
		if err == nil {
			res.State, res.Decision = StateExpired, dec
			ev = &Event{Event: "expire", Time: now, Host: s.Host, ID: req.ID, Request: req, Requester: requester, Decision: &dec}
		}
		return res, fail.New(fail.Failed, "ask for a new request (pfwdctl request ...)",
			"refusing: request %s was filed %s ago, over its time-to-live of %s; it is now expired", o.ID, now.Sub(req.Created).Truncate(time.Second), settings.TTL())
	}
	// The spool file is its owner's until it is decided: they can replace
	// it after the approver looked. The approval names the key it
	// approves (and, with --digest, the exact version of the file), so
	// what is installed is what was reviewed.
	if o.Fingerprint == "" {
		desc := Describe(req, requester)
		if o.Describe != nil {
			desc += o.Describe(req)
		}
		return res, fail.New(fail.Usage, "check it, then approve exactly this: pfwdctl approve "+o.ID+" --fingerprint "+req.Fingerprint+" --digest "+digest,
			"approve names the key it approves (--fingerprint): request %s is %s", o.ID, desc)
	}
	if strings.TrimPrefix(o.Fingerprint, "SHA256:") != strings.TrimPrefix(req.Fingerprint, "SHA256:") {
		return res, fail.New(fail.Failed, "the request was changed after you looked, or you named another one: check pfwdctl requests, and deny it if its owner replaced it",
			"refusing: request %s is now for key %s, not the %s given", o.ID, req.Fingerprint, o.Fingerprint)
	}
	if o.Digest != "" && o.Digest != digest {
		return res, fail.New(fail.Failed, "its owner replaced the request after it was shown: look again (pfwdctl approve "+o.ID+" --fingerprint "+req.Fingerprint+" prints it), or deny it",
			"refusing: request %s changed since it was shown (digest %s, not %s)", o.ID, digest, o.Digest)
	}
	dur := req.For()
	if o.For > 0 {
		if o.For > dur {
			return res, fail.New(fail.Usage, "--for can only shorten the window asked for ("+dur.String()+")", "--for %s is longer than request %s asked for", o.For, o.ID)
		}
		dur = o.For
	}
	d := Decision{State: StateApproved, Note: o.Note, Start: now, End: now.Add(dur)}
	dec, in, err := s.record(ctx, req, requester, d, o.Install)
	if in == nil && err != nil {
		return res, err
	}
	// Installed (even if something failed after): the approval stands,
	// and the hooks hear of it.
	res.State, res.Decision, res.Installed = StateApproved, dec, in
	ev = &Event{Event: "approve", Time: now, Host: s.Host, ID: req.ID, Request: req, Requester: requester, Decision: &dec}
	return res, err
}

// GrantOptions say what pfwdctl grant files and approves at once.
type GrantOptions struct {
	Request Request // Name, Account, Key/Fingerprint, Duration, Reason
	Install Installer
}

// Grant files and approves a request in one step, by the caller (root):
// the shortcut for a registered friend when the admin is also the
// approver. It is recorded as a request approved by the same person.
func (s Service) Grant(ctx context.Context, o GrantOptions) (res Result, err error) {
	r := o.Request
	res = Result{ID: r.ID, Hooks: []HookResult{}}
	if err := r.check(); err != nil {
		return res, err
	}
	release, err := s.lockToDecide(ctx, &res)
	if err != nil {
		return res, err
	}
	var ev *Event // the decision's event, once made
	defer func() { release(ev) }()
	now := s.now().UTC().Truncate(time.Second)
	d := Decision{State: StateApproved, Note: "granted by the requester (pfwdctl grant)", Start: now, End: now.Add(r.For()), Grant: true}
	dec, in, err := s.record(ctx, r, s.Caller, d, o.Install)
	if in == nil && err != nil {
		return res, err
	}
	res.State, res.Decision, res.Installed = StateApproved, dec, in
	ev = &Event{Event: "approve", Time: now, Host: s.Host, ID: r.ID, Request: r, Requester: s.Caller, Decision: &dec}
	return res, err
}

// Deny denies a pending request. A spool file that Read refuses (forged,
// a symlink, extra fields) can be denied too: the decision records why,
// and the file is removed.
func (s Service) Deny(ctx context.Context, id, reason string) (res Result, err error) {
	res = Result{ID: id, Hooks: []HookResult{}}
	if strings.TrimSpace(reason) == "" {
		return res, fail.New(fail.Usage, "say why, e.g. --reason 'not needed: use the VPN'", "deny needs --reason")
	}
	if !ValidID(id) {
		return res, fail.New(fail.Usage, "pfwdctl requests lists the ids", "invalid request id %q", id)
	}
	release, err := s.lockToDecide(ctx, &res)
	if err != nil {
		return res, err
	}
	var ev *Event // the decision's event, once made
	defer func() { release(ev) }()
	if err := s.undecided(id); err != nil {
		return res, err
	}
	req, rerr := Read(s.Root, id)
	if rerr != nil {
		if _, err := os.Lstat(s.spoolFile(id)); err != nil {
			return res, rerr
		}
		// Keep what can be said about the invalid file: its id.
		req = Request{Version: 1, ID: id, RequesterUID: -1}
		reason += " (invalid request: " + auditlog.OneLine(rerr.Error()) + ")"
	}
	requester := Requester(s.Root, req)
	if rerr != nil {
		requester = Person{UID: -1, Name: "unknown"}
	}
	dec, _, err := s.record(ctx, req, requester, Decision{State: StateDenied, Note: reason}, nil)
	if err != nil {
		return res, err
	}
	res.State, res.Decision = StateDenied, dec
	ev = &Event{Event: "deny", Time: dec.Time, Host: s.Host, ID: id, Request: req, Requester: requester, Decision: &dec}
	return res, nil
}

// ExpireStale records the pending requests older than the time-to-live
// as expired (prune runs it), at most MaxExpirePerRun of them, and runs the
// hooks for each. left is how many stale requests remain for the next run.
func (s Service) ExpireStale(ctx context.Context) (out []Result, left int, err error) {
	settings, err := LoadSettings(s.Root)
	if err != nil {
		return nil, 0, err
	}
	ids, err := pendingIDs(s.Root)
	if err != nil || len(ids) == 0 {
		return nil, 0, err
	}
	unlock, err := s.lock()
	if err != nil {
		return nil, 0, err
	}
	var evs []Event
	now := s.now().UTC().Truncate(time.Second)
	for _, id := range ids {
		if s.undecided(id) != nil {
			continue
		}
		req, err := Read(s.Root, id)
		if err != nil || now.Sub(req.Created) <= settings.TTL() {
			continue // an invalid file is for an admin to deny, not to expire
		}
		if len(out) >= MaxExpirePerRun {
			left++
			continue
		}
		requester := Requester(s.Root, req)
		dec, _, err := s.record(ctx, req, requester, Decision{State: StateExpired, Note: "not decided within its time-to-live (" + settings.TTL().String() + ")"}, nil)
		if err != nil {
			unlock()
			// The ones already recorded are expired: their hooks run.
			s.runHooks(ctx, out, evs)
			return out, left, err
		}
		out = append(out, Result{ID: id, State: StateExpired, Decision: dec, Hooks: []HookResult{}})
		evs = append(evs, Event{Event: "expire", Time: now, Host: s.Host, ID: id, Request: req, Requester: requester, Decision: &dec})
	}
	unlock()
	s.runHooks(ctx, out, evs)
	return out, left, nil
}

// runHooks runs the hooks of evs, each into its result in out.
func (s Service) runHooks(ctx context.Context, out []Result, evs []Event) {
	for i, ev := range evs {
		out[i].Hooks = append(out[i].Hooks, RunHooks(ctx, s.Root, s.Runner, ev)...)
	}
}

// record writes the decision d on req and, for an approval, installs the
// key between the decision's intent and completion in the audit log. The
// decision file is written first (atomically): a concurrent or later run
// sees the request decided and never installs it again. If the install
// fails, the decision is taken back and the request stays pending.
func (s Service) record(ctx context.Context, req Request, requester Person, d Decision, install Installer) (Decision, *Installed, error) {
	now := s.now().UTC().Truncate(time.Second)
	d.Version, d.ID, d.Request, d.Requester, d.Approver, d.Time = 1, req.ID, req, requester, s.Caller, now
	if d.State == StateExpired {
		d.Approver = Person{UID: -1, Name: "pfwdctl"}
	}
	d.Fingerprint = req.Fingerprint
	action := map[string]string{StateApproved: ActionApprove, StateDenied: ActionDeny, StateExpired: ActionExpire}[d.State]
	reqEv := auditlog.Event{Action: ActionRequest, Account: req.Account, Fingerprint: req.Fingerprint, Name: req.Name,
		Admin: requester.String(), Request: req.ID, Requester: requester.String(), Reason: req.Reason,
		Detail: fmt.Sprintf("filed %s by uid %d for %s", req.Created.UTC().Format(time.RFC3339), req.RequesterUID, req.For())}
	if !req.Created.IsZero() {
		reqEv.Time = req.Created
	}
	decEv := auditlog.Event{Action: action, Account: req.Account, Fingerprint: req.Fingerprint, Name: req.Name,
		Admin: d.Approver.String(), Request: req.ID, Requester: requester.String(), Reason: req.Reason,
		WindowStart: d.Start, WindowEnd: d.End, Detail: d.Note}
	if d.Grant {
		decEv.Detail = strings.TrimPrefix(decEv.Detail+"; self-approved", "; ")
	}
	if d.State == StateDenied {
		decEv.Detail = "denied: " + d.Note
	}
	if d.State == StateExpired {
		decEv.Detail = "expired: " + d.Note
	}
	change, err := s.Log.Begin(reqEv, decEv)
	if err != nil {
		return d, nil, fail.Wrap(fail.Failed, err, "run as root (the audit log is root's)", "record the decision in the audit log; nothing decided")
	}
	if err := s.writeDecision(d); err != nil {
		change.Abort(err)
		return d, nil, err
	}
	var installed *Installed
	if install != nil {
		in, err := install(ctx, Grant{Request: req, Start: d.Start, End: d.End, Approver: s.Caller})
		if err != nil && in.Method == "" {
			// Not installed: the request stays pending, to approve again
			// once the cause is fixed.
			os.Remove(s.Root.Path(DecisionsDir + "/" + d.ID + ".json"))
			change.Abort(err)
			return d, nil, err
		}
		var ierr error
		if err != nil {
			// Installed, then something failed (AddKey's read-back, say):
			// the key is live, so the decision that explains it stays.
			ierr = fail.Wrap(fail.Failed, err, "the key is authorized until the window ends: check "+orDash(in.Path)+", or revoke it (pfwdctl revoke "+in.Fingerprint+")",
				"request %s: installed, but", req.ID)
			d.Note = strings.TrimPrefix(d.Note+"; installed, but: "+auditlog.OneLine(err.Error()), "; ")
			decEv.Detail = strings.TrimPrefix(decEv.Detail+"; installed, but: "+auditlog.OneLine(err.Error()), "; ")
		}
		installed = &in
		d.Method, d.Fingerprint, d.Serial, d.Certificate = in.Method, in.Fingerprint, in.Serial, in.Certificate
		decEv.Fingerprint = in.Fingerprint
		reqEv.Fingerprint = in.Fingerprint
		if in.Method == "certificate" {
			decEv.Detail = strings.TrimPrefix(fmt.Sprintf("%s; certificate serial %d", decEv.Detail, in.Serial), "; ")
		}
		if err := s.writeDecision(d); err != nil {
			change.Done(reqEv, decEv)
			s.removeSpool(req.ID)
			return d, installed, fail.Wrap(fail.Failed, err, "the key is installed; pfwdctl requests may not show its fingerprint", "update the decision")
		}
		if ierr != nil {
			change.Done(reqEv, decEv)
			s.removeSpool(req.ID)
			return d, installed, ierr
		}
	}
	if err := change.Done(reqEv, decEv); err != nil {
		return d, installed, err
	}
	s.removeSpool(req.ID)
	return d, installed, nil
}

// removeSpool removes a decided request's spool file: the decision keeps
// the request, and nobody can change what the list shows as decided. Root
// may remove it from the sticky spool.
func (s Service) removeSpool(id string) {
	if err := os.Remove(s.spoolFile(id)); err == nil {
		hostfs.SyncDir(s.Root.PathDir(SpoolDir))
	}
}

func (s Service) spoolFile(id string) string { return s.Root.PathDir(SpoolDir) + "/" + id + ".json" }

// undecided refuses a request that has a decision.
func (s Service) undecided(id string) error {
	d, err := ReadDecision(s.Root, id)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fail.Wrap(fail.Failed, err, "", "read the decision on %s", id)
	}
	return fail.New(fail.Failed, "file a new request (pfwdctl request ...)", "request %s was already %s by %s at %s", id, d.State, d.Approver, d.Time.Format(time.RFC3339))
}

func (s Service) writeDecision(d Decision) error {
	p := s.Root.PathDir(DecisionsDir)
	if _, err := os.Lstat(p); errors.Is(err, fs.ErrNotExist) {
		// grant works on a host never set up for requests.
		if err := os.MkdirAll(p, 0o750); err != nil {
			return err
		}
	}
	dir, err := hostfs.OpenDir(p)
	if err != nil {
		return err
	}
	defer dir.Close()
	data, err := marshal(d)
	if err != nil {
		return err
	}
	return hostfs.WriteFileAt(dir, d.ID+".json", data, 0o640, hostfs.Owner{UID: 0, GID: dataGID(s.Root)})
}

// ReadDecision reads the decision on id.
func ReadDecision(root hostfs.Root, id string) (Decision, error) {
	var d Decision
	if !ValidID(id) {
		return d, fs.ErrNotExist
	}
	err := readJSONFile(root.PathDir(DecisionsDir)+"/"+id+".json", &d, 1<<20)
	return d, err
}

// Record is one line of pfwdctl requests.
type Record struct {
	ID          string `json:"id"`
	State       string `json:"state"`
	Account     string `json:"account"`
	Name        string `json:"name"`
	Fingerprint string `json:"fingerprint,omitempty"`
	// KeySource is where the key approve installs comes from:
	// "registered" (the dormant registry, request --name) or "submitted"
	// (the key line in the request, request --key).
	KeySource string `json:"key_source,omitempty"`
	Requester string `json:"requester"`
	// Digest is a pending request's spool file version (approve --digest).
	Digest   string    `json:"digest,omitempty"`
	Reason   string    `json:"reason"`
	For      string    `json:"for"`
	Created  time.Time `json:"created"`
	Decision *Decision `json:"decision,omitempty"`
	// Error says why a spool file is not a valid request (state invalid).
	Error string `json:"error,omitempty"`
}

// StateInvalid is a spool file Read refuses; deny removes it.
const StateInvalid = "invalid"

// List returns every request, pending and decided, oldest first. A
// pending request past its time-to-live is listed as expired (prune
// records it so).
func List(root hostfs.Root, now time.Time) ([]Record, error) {
	settings, _ := LoadSettings(root)
	out := []Record{}
	seen := map[string]bool{}
	ents, err := os.ReadDir(root.PathDir(DecisionsDir))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fail.Wrap(fail.Failed, err, "run as root or as a member of the JIT group", "list %s", DecisionsDir)
	}
	for _, e := range ents {
		id, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok || !ValidID(id) {
			continue
		}
		d, err := ReadDecision(root, id)
		if err != nil {
			continue
		}
		seen[id] = true
		r := recordOf(d.Request, d.Requester, d.State)
		r.Decision = &d
		if d.Fingerprint != "" {
			r.Fingerprint = d.Fingerprint
		}
		out = append(out, r)
	}
	ids, err := pendingIDs(root)
	if err != nil {
		return nil, err
	}
	for _, id := range ids {
		if seen[id] {
			continue
		}
		req, digest, err := ReadDigest(root, id)
		if err != nil {
			out = append(out, Record{ID: id, State: StateInvalid, Error: auditlog.OneLine(err.Error())})
			continue
		}
		st := StatePending
		if now.Sub(req.Created) > settings.TTL() {
			st = StateExpired
		}
		rec := recordOf(req, Requester(root, req), st)
		rec.Digest = digest
		out = append(out, rec)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Created.Before(out[j].Created) })
	return out, nil
}

// Describe is r in one line, as approve shows it before it is approved.
func Describe(r Request, requester Person) string {
	src := "submitted"
	if r.Key == "" {
		src = "registered"
	}
	return fmt.Sprintf("key %s (%s, %s) for account %s, window %s, filed by %s at %s, reason %q",
		r.Fingerprint, r.Name, src, r.Account, r.For(), requester, r.Created.UTC().Format(time.RFC3339), r.Reason)
}

func recordOf(r Request, requester Person, state string) Record {
	src := "submitted"
	if r.Key == "" {
		src = "registered"
	}
	return Record{ID: r.ID, State: state, Account: r.Account, Name: r.Name, Fingerprint: r.Fingerprint, KeySource: src,
		Requester: requester.String(), Reason: r.Reason, For: r.For().String(), Created: r.Created}
}

// GrantAt returns the approved request whose key (fingerprint) was
// authorized for account at t, or "": sessions --history joins a
// connection to the request it used this way. A log without times (sshd
// -E) gives a zero t: then the join is by key alone, and only when that
// key was granted exactly once, so no connection is ever tied to the
// wrong request.
func GrantAt(records []Record, account, fingerprint string, t time.Time) string {
	var ids []string
	for _, r := range records {
		d := r.Decision
		if d == nil || d.State != StateApproved || d.Fingerprint != fingerprint || r.Account != account {
			continue
		}
		if t.IsZero() {
			ids = append(ids, r.ID)
			continue
		}
		// A minute's slack before the start: a certificate is valid from
		// a minute before (clock skew), and the log's clock is sshd's.
		if !t.Before(d.Start.Add(-time.Minute)) && !t.After(d.End) {
			return r.ID
		}
	}
	if len(ids) == 1 {
		return ids[0]
	}
	return ""
}

func marshal(v any) ([]byte, error) {
	data, err := json.MarshalIndent(v, "", "  ")
	return append(data, '\n'), err
}

func orDash(s string) string {
	if s == "" {
		return "GROUP"
	}
	return s
}
