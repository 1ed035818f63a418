package jit

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/pfwdctl/pfwdctl/internal/accounts"
	"github.com/pfwdctl/pfwdctl/internal/fail"
	"github.com/pfwdctl/pfwdctl/internal/hostfs"
	"github.com/pfwdctl/pfwdctl/users/keyline"
)

// Host paths of the JIT files.
const (
	// StateDir is pfwdctl's state directory.
	StateDir = "/var/lib/pfwdctl"
	// SpoolDir holds pending requests, one file per request, written by
	// the operators: root:GROUP, mode 3770 (setgid, so files carry the
	// group; sticky, so an operator can delete or rename only their own).
	SpoolDir = "/var/lib/pfwdctl/requests"
	// DecisionsDir holds root's decisions, each with a copy of the
	// request it decided: root:GROUP 0750, files 0640.
	DecisionsDir = "/var/lib/pfwdctl/decisions"
	// CertDir holds the certificates approve issued, for the approver to
	// hand to the friend.
	CertDir = "/var/lib/pfwdctl/certs"
	// SettingsPath is where apply --jit-group keeps the host's settings.
	SettingsPath = "/etc/pfwdctl/jit.json"
	// HooksDir holds the hooks: executables run for every request and
	// decision with the event as JSON on stdin.
	HooksDir = "/etc/pfwdctl/hooks.d"
)

// MaxRequestSize bounds a spool file: a request is a few hundred bytes.
const MaxRequestSize = 16 << 10

// MaxDuration bounds a request's window (as ca.MaxValidity bounds a
// certificate's): just-in-time access is short; longer is add-key's job.
const MaxDuration = 30 * 24 * time.Hour

// CreatedSkew is how far a request's created time may be from its spool
// file's ctime (the kernel's: set when the file was written or renamed
// into place, and by chmod or chown).
const CreatedSkew = time.Minute

// MaxPendingPerRequester bounds the pending requests (spool files) one uid
// may have: request refuses more, so no operator floods the approvers,
// the hooks or prune.
const MaxPendingPerRequester = 20

// MaxExpirePerRun bounds the requests one prune run records as expired
// (each is an audit line pair and a hook run); the rest are expired by
// the next run.
const MaxExpirePerRun = 100

// DefaultTTL is how long a pending request can still be approved.
const DefaultTTL = 24 * time.Hour

// States of a request.
const (
	StatePending  = "pending"
	StateApproved = "approved"
	StateDenied   = "denied"
	StateExpired  = "expired"
)

// Audit log actions.
const (
	ActionRequest = "jit-request"
	ActionApprove = "jit-approve"
	ActionDeny    = "jit-deny"
	ActionExpire  = "jit-expire"
)

// Request is one spool file. Only the fields here are accepted
// (DisallowUnknownFields): a file with more was not written by pfwdctl.
type Request struct {
	Version int    `json:"version"`
	ID      string `json:"id"`
	Account string `json:"account"`
	// Name is the friend's name: a dormant key's (request --name), or
	// the name the key gets when installed.
	Name string `json:"name"`
	// Key is the public key line of request --key; empty for --name, whose
	// key root takes from the dormant registry at approval.
	Key         string `json:"key,omitempty"`
	Fingerprint string `json:"fingerprint,omitempty"`
	// Duration is the window asked for, in seconds.
	Duration int64     `json:"duration_seconds"`
	Reason   string    `json:"reason"`
	Created  time.Time `json:"created"`
	// RequesterUID is the real uid that wrote the file; it must own it.
	RequesterUID int `json:"requester_uid"`
	// Requester is the name of that uid when the request was filed, and
	// SudoUser the SUDO_USER it ran under: both informational unless the
	// uid is root (see Requester).
	Requester string `json:"requester"`
	SudoUser  string `json:"sudo_user,omitempty"`
}

// For is the request's duration.
func (r Request) For() time.Duration { return time.Duration(r.Duration) * time.Second }

var idRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[0-9]{8}-[0-9a-f]{8}$`) })

// ValidID says whether id is a request id as NewID makes them.
func ValidID(id string) bool { return idRE().MatchString(id) }

// NewID is a fresh request id: the UTC date and 32 random bits.
func NewID(now time.Time) (string, error) {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return now.UTC().Format("20060102") + "-" + hex.EncodeToString(b[:]), nil
}

// ParseDuration reads --for: a Go duration (90m, 4h) or days (2d).
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	var d time.Duration
	var err error
	if n, ok := strings.CutSuffix(s, "d"); ok {
		var days int
		days, err = strconv.Atoi(n)
		// Bounded before multiplying: a huge count would overflow into
		// a short, accepted window.
		if err == nil && (days < 0 || days > int(MaxDuration/(24*time.Hour))) {
			return 0, fail.New(fail.Usage, "just-in-time access is short-lived; for standing access use add-key", "--for %s is over the %s limit", s, MaxDuration)
		}
		d = time.Duration(days) * 24 * time.Hour
	} else {
		d, err = time.ParseDuration(s)
	}
	if err != nil || d <= 0 {
		return 0, fail.New(fail.Usage, "give a duration such as 30m, 4h or 2d", "invalid --for %q", s)
	}
	if d%time.Second != 0 {
		return 0, fail.New(fail.Usage, "give whole seconds", "--for %s has a fraction of a second", s)
	}
	if d > MaxDuration {
		return 0, fail.New(fail.Usage, "just-in-time access is short-lived; for standing access use add-key", "--for %s is over the %s limit", s, MaxDuration)
	}
	return d, nil
}

// check validates the request's own fields (not who wrote it).
func (r Request) check() error {
	bad := func(format string, args ...any) error {
		return fail.New(fail.Failed, "the request was not written by pfwdctl request, or was changed: deny it (pfwdctl deny ID --reason ...) and ask for a new one",
			"request %s: "+format, append([]any{r.ID}, args...)...)
	}
	if r.Version != 1 {
		return bad("unknown version %d", r.Version)
	}
	if !ValidID(r.ID) {
		return bad("invalid id")
	}
	if err := accounts.ValidateName(r.Account); err != nil {
		return bad("invalid account %q", r.Account)
	}
	if r.Name == "" || keyline.SanitizeName(r.Name) != r.Name {
		return bad("invalid name %q", r.Name)
	}
	// Always there: it is what approve --fingerprint names, and for a
	// registered key what the registry's must still be at approval.
	if !strings.HasPrefix(r.Fingerprint, "SHA256:") {
		return bad("no key fingerprint")
	}
	if r.Key != "" {
		k, _, err := keyline.ParsePublic([]byte(r.Key))
		if err != nil {
			return bad("key: %v", err)
		}
		if k.Fingerprint() != r.Fingerprint {
			return bad("the fingerprint %s is not the key's (%s)", r.Fingerprint, k.Fingerprint())
		}
	}
	if r.Duration <= 0 || r.For() > MaxDuration {
		return bad("duration %ds is out of range", r.Duration)
	}
	if strings.TrimSpace(r.Reason) == "" || len(r.Reason) > 500 || strings.ContainsFunc(r.Reason, func(c rune) bool { return c < 0x20 || c == 0x7f }) {
		return bad("the reason must be one line of text, at most 500 bytes")
	}
	if r.Created.IsZero() {
		return bad("no creation time")
	}
	if r.RequesterUID < 0 {
		return bad("invalid requester uid")
	}
	return nil
}

// Write files r in the spool under root, atomically (a dot-named temp
// file renamed into place, so root never reads half a request). It is run
// by the operator: the file's owner is their uid, which is what approve
// trusts.
func Write(root hostfs.Root, r Request) error {
	if err := r.check(); err != nil {
		return err
	}
	dir, err := hostfs.OpenDir(root.PathDir(SpoolDir))
	if err != nil {
		return spoolErr(err)
	}
	defer dir.Close()
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	// 0640: group members (the approvers' side too) may read it; only its
	// writer and root may replace it. The owner stays the caller's.
	if err := hostfs.WriteFileAt(dir, r.ID+".json", append(data, '\n'), 0o640, hostfs.Owner{UID: -1, GID: -1}); err != nil {
		return spoolErr(err)
	}
	return nil
}

func spoolErr(err error) error {
	if errors.Is(err, fs.ErrPermission) {
		return fail.Wrap(fail.Failed, err, "ask an admin to add you to the JIT group (pfwdctl apply --jit-group GROUP; see docs/jit.md), then log in again",
			"cannot write a request into %s", SpoolDir)
	}
	if errors.Is(err, fs.ErrNotExist) {
		return fail.Wrap(fail.Failed, err, "an admin sets it up with pfwdctl apply --jit-group GROUP (docs/jit.md)",
			"no request spool %s on this host", SpoolDir)
	}
	return fail.Wrap(fail.Failed, err, "", "write the request")
}

// Read reads and validates the spool file of id as root must before acting
// on it: a regular file (not a symlink, O_NOFOLLOW; not a hard link),
// at most MaxRequestSize, no unknown fields, the id its file name, and
// owned by the uid it names as requester.
func Read(root hostfs.Root, id string) (Request, error) {
	r, _, err := ReadDigest(root, id)
	return r, err
}

// ReadDigest is Read, and the digest of the spool file's bytes (Digest):
// what approve --digest binds an approval to.
func ReadDigest(root hostfs.Root, id string) (Request, string, error) {
	if !ValidID(id) {
		return Request{}, "", fail.New(fail.Usage, "pfwdctl requests lists the ids", "invalid request id %q", id)
	}
	dir, err := hostfs.OpenDir(root.PathDir(SpoolDir))
	if err != nil {
		return Request{}, "", fail.Wrap(fail.Failed, err, "", "open %s", SpoolDir)
	}
	defer dir.Close()
	f, err := hostfs.OpenFileAt(dir, id+".json")
	if errors.Is(err, fs.ErrNotExist) {
		return Request{}, "", fail.New(fail.Failed, "pfwdctl requests lists the ids", "no request %s", id)
	}
	if err != nil {
		return Request{}, "", fail.Wrap(fail.Failed, err, "a request file must be a regular file, not a symlink: deny it", "refusing request %s", id)
	}
	defer f.Close()
	return decode(f, id)
}

// Digest names one version of a spool file: the first 16 hex digits of
// the SHA-256 of its bytes. Its owner can replace a pending request (the
// spool is sticky, not append-only); approve --digest refuses any other
// version than the one the approver was shown.
func Digest(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])[:16]
}

func decode(f *os.File, id string) (Request, string, error) {
	r, data, err := decodeData(f, id)
	if err != nil {
		return r, "", err
	}
	return r, Digest(data), nil
}

func decodeData(f *os.File, id string) (Request, []byte, error) {
	var r Request
	refuse := func(format string, args ...any) error {
		return fail.New(fail.Failed, "the request was not written by pfwdctl request, or was changed: deny it (pfwdctl deny "+id+" --reason ...) and ask for a new one",
			"refusing request %s: "+format, append([]any{id}, args...)...)
	}
	fi, err := f.Stat()
	if err != nil {
		return r, nil, err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	switch {
	case !fi.Mode().IsRegular():
		return r, nil, refuse("not a regular file")
	case !ok:
		return r, nil, refuse("no owner")
	case fi.Mode().Perm()&0o022 != 0:
		// request writes 0640: a file its group or anyone may write is
		// not one whose owner alone vouches for it.
		return r, nil, refuse("mode %#o: writable by group or others", fi.Mode().Perm())
	case st.Nlink != 1:
		return r, nil, refuse("it has %d links (a hard link to another file?)", st.Nlink)
	case fi.Size() > MaxRequestSize:
		return r, nil, refuse("%d bytes, over the %d limit", fi.Size(), MaxRequestSize)
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxRequestSize+1))
	if err != nil {
		return r, nil, err
	}
	if len(data) > MaxRequestSize {
		return r, nil, refuse("over the %d bytes limit", MaxRequestSize)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return r, nil, refuse("%v", err)
	}
	if dec.More() {
		return r, nil, refuse("more than one JSON document")
	}
	if r.ID != id {
		return r, nil, refuse("its id %q is not its file name", r.ID)
	}
	if int(st.Uid) != r.RequesterUID {
		return r, nil, refuse("it names uid %d as requester but is owned by uid %d (forged?)", r.RequesterUID, st.Uid)
	}
	// created is the requester's word; the file's ctime is the kernel's
	// (no one but root can set it). A request's age is its created time,
	// so it must be the ctime give or take CreatedSkew: a backdated request
	// would be expired at once (prune's audit lines and hooks), a
	// future-dated one never.
	ctime := time.Unix(st.Ctim.Sec, st.Ctim.Nsec)
	if d := r.Created.Sub(ctime); d > CreatedSkew || d < -CreatedSkew {
		return r, nil, refuse("it says it was created %s, but the file was written %s (backdated or future-dated)", r.Created.UTC().Format(time.RFC3339), ctime.UTC().Format(time.RFC3339))
	}
	if err := r.check(); err != nil {
		return r, nil, err
	}
	return r, data, nil
}

// pendingIDs lists the spool's request ids (dot-named temp files and
// anything not named like a request are skipped).
func pendingIDs(root hostfs.Root) ([]string, error) {
	ents, err := os.ReadDir(root.PathDir(SpoolDir))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fail.Wrap(fail.Failed, err, "run as root or as a member of the JIT group", "list %s", SpoolDir)
	}
	var ids []string
	for _, e := range ents {
		if id, ok := strings.CutSuffix(e.Name(), ".json"); ok && ValidID(id) {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids, nil
}

// Requester is who filed r, as root may trust it: the owner uid's account
// name, or, for a request root filed under sudo, SUDO_USER.
func Requester(root hostfs.Root, r Request) Person {
	if r.RequesterUID == 0 && r.SudoUser != "" {
		if a, err := accounts.LookupPasswd(root, r.SudoUser); err == nil {
			return Person{UID: a.UID, Name: a.Name}
		}
		return Person{UID: -1, Name: r.SudoUser}
	}
	return Person{UID: r.RequesterUID, Name: nameOf(root, r.RequesterUID)}
}

// Person is a requester or approver.
type Person struct {
	UID  int    `json:"uid"`
	Name string `json:"name"`
}

// Same says whether p and q are one person: the same uid, or the same name.
func (p Person) Same(q Person) bool {
	return (p.UID >= 0 && p.UID == q.UID) || (p.Name != "" && p.Name == q.Name)
}

func (p Person) String() string {
	if p.Name != "" {
		return p.Name
	}
	return "uid " + strconv.Itoa(p.UID)
}

// nameOf is uid's account name under root, or "uid N".
func nameOf(root hostfs.Root, uid int) string {
	all, err := accounts.ReadPasswd(root)
	if err == nil {
		for _, a := range all {
			if a.UID == uid {
				return a.Name
			}
		}
	}
	return "uid " + strconv.Itoa(uid)
}

// LoginUIDPath is where the kernel keeps the audit login uid of a
// process: set by pam_loginuid at login, inherited by children, and kept
// across sudo and su, so an approver cannot choose it as they can
// SUDO_USER and SUDO_UID (sudo env SUDO_USER=bob pfwdctl approve ...).
const LoginUIDPath = "/proc/self/loginuid"

// unsetLoginUID is (uid_t)-1: no login recorded (a daemon, most
// containers).
const unsetLoginUID = 4294967295

// LoginUID reads LoginUIDPath: the login uid, and false when it is unset
// or unreadable.
func LoginUID() (int, bool) {
	data, err := os.ReadFile(LoginUIDPath)
	if err != nil {
		return 0, false
	}
	n, err := strconv.ParseUint(strings.TrimSpace(string(data)), 10, 32)
	if err != nil || n == unsetLoginUID {
		return 0, false
	}
	return int(n), true
}

// Caller is who runs pfwdctl: the real uid's account, or, for root, the
// person who logged in: the kernel's login uid (loginuid; nil: LoginUID)
// when it is set, and SUDO_USER/SUDO_UID only when it is not (containers,
// where nothing records a login). SUDO_UID disagreeing with a set login
// uid is refused: someone set it by hand. Root can always bypass this (it
// can write the files itself): the two-person rule is an audit control,
// not a barrier against root.
func Caller(root hostfs.Root, uid int, getenv func(string) string, loginuid func() (int, bool)) (Person, error) {
	if uid != 0 {
		return Person{UID: uid, Name: nameOf(root, uid)}, nil
	}
	if loginuid == nil {
		loginuid = LoginUID
	}
	if lu, ok := loginuid(); ok {
		if su := getenv("SUDO_UID"); su != "" && su != strconv.Itoa(lu) {
			return Person{}, fail.New(fail.Failed, "run pfwdctl under sudo as yourself, without setting SUDO_UID or SUDO_USER",
				"SUDO_UID %s is not the uid %d that logged in (%s): refusing to take the approver from the environment", su, lu, LoginUIDPath)
		}
		if su := getenv("SUDO_USER"); su != "" {
			if a, err := accounts.LookupPasswd(root, su); err == nil && a.UID != lu {
				return Person{}, fail.New(fail.Failed, "run pfwdctl under sudo as yourself, without setting SUDO_UID or SUDO_USER",
					"SUDO_USER %s is not the uid %d that logged in (%s): refusing to take the approver from the environment", su, lu, LoginUIDPath)
			}
		}
		return Person{UID: lu, Name: nameOf(root, lu)}, nil
	}
	if u := getenv("SUDO_USER"); u != "" && u != "root" {
		p := Person{UID: -1, Name: u}
		if n, err := strconv.Atoi(getenv("SUDO_UID")); err == nil {
			p.UID = n
		} else if a, err := accounts.LookupPasswd(root, u); err == nil {
			p.UID = a.UID
		}
		return p, nil
	}
	return Person{UID: uid, Name: nameOf(root, uid)}, nil
}

func readJSONFile(path string, v any, limit int64) error {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", path)
	}
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return err
	}
	if int64(len(data)) > limit {
		return fmt.Errorf("%s is over %d bytes", path, limit)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

func base(p string) string { return filepath.Base(p) }
