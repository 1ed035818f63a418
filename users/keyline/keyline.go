// Package keyline reads the public key an admin was sent and writes the one
// authorized_keys line pfwdctl installs for it; it also splits existing
// authorized_keys lines into options, key and comment the way sshd does,
// and (Judge) is the only code that says what such a line allows.
//
// It never accepts more than one key, never passes through options it did not
// build itself, and never emits anything but a single line of printable ASCII:
// a friend's .pub file is untrusted input that ends up in a file sshd obeys.
package keyline

import (
	"bytes"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"golang.org/x/crypto/ssh"

	"github.com/pfwdctl/pfwdctl/internal/target"

	"github.com/pfwdctl/pfwdctl/internal/fail"
)

// MaxInput is the largest input ParsePublic reads. The biggest public key
// OpenSSH makes (RSA 16384) is under 3 KiB; anything much larger is a
// mistake, not a key.
const MaxInput = 64 << 10

// MinRSABits is refused below; WarnRSABits is warned below (NIST and
// OpenSSH's own default moved to 3072).
const (
	MinRSABits  = 2048
	WarnRSABits = 3072
)

// Key is one public key with its comment.
type Key struct {
	Pub     ssh.PublicKey
	Comment string
}

// Type is the key's algorithm name as it appears in the line.
func (k Key) Type() string { return k.Pub.Type() }

// Fingerprint is the SHA256 fingerprint ssh-keygen -l prints.
func (k Key) Fingerprint() string { return ssh.FingerprintSHA256(k.Pub) }

// Base64 is the key blob as written in authorized_keys.
func (k Key) Base64() string { return base64.StdEncoding.EncodeToString(k.Pub.Marshal()) }

// Bits is the key size in bits, as ssh-keygen -l reports it.
func (k Key) Bits() int { return keyBits(k.Pub) }

func keyBits(pub ssh.PublicKey) int {
	switch pub.Type() {
	case ssh.KeyAlgoED25519, ssh.KeyAlgoSKED25519:
		return 256
	case ssh.KeyAlgoECDSA256, ssh.KeyAlgoSKECDSA256:
		return 256
	case ssh.KeyAlgoECDSA384:
		return 384
	case ssh.KeyAlgoECDSA521:
		return 521
	case ssh.KeyAlgoRSA:
		if cp, ok := pub.(ssh.CryptoPublicKey); ok {
			if rk, ok := cp.CryptoPublicKey().(*rsa.PublicKey); ok {
				return rk.N.BitLen()
			}
		}
	}
	return 0
}

// FromPublicKey wraps a key pfwdctl made itself (verify --self).
func FromPublicKey(pub ssh.PublicKey, comment string) Key {
	return Key{Pub: pub, Comment: SanitizeName(comment)}
}

// allowedTypes are the key types pfwdctl installs: what OpenSSH 9.x accepts
// by default, minus DSA (disabled since 7.0) and certificates.
var allowedTypes = []string{
	ssh.KeyAlgoED25519, ssh.KeyAlgoSKED25519,
	ssh.KeyAlgoECDSA256, ssh.KeyAlgoECDSA384, ssh.KeyAlgoECDSA521, ssh.KeyAlgoSKECDSA256,
	ssh.KeyAlgoRSA,
}

const askPub = "ask your friend for the one line in their .pub file (ssh-keygen -t ed25519 makes one; it starts with ssh-ed25519)"

func refuse(hint, format string, args ...any) error {
	return fail.New(fail.Usage, hint, format, args...)
}

var privateRE = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`(?i)(BEGIN [A-Z0-9 ]*PRIVATE KEY|PuTTY-User-Key-File-|BEGIN SSH2 ENCRYPTED PRIVATE KEY|openssh-key-v1|b3BlbnNzaC1rZXktdjE)`)
})

// ParsePublic reads what an admin was sent: exactly one OpenSSH public key
// line, optionally ending in a newline or CRLF. It refuses everything else
// with a message that says what to ask for instead, and returns warnings
// for keys that are accepted but weak.
func ParsePublic(data []byte) (Key, []string, error) {
	if len(data) > MaxInput {
		return Key{}, nil, refuse(askPub, "the input is %d bytes, over the 64 KiB limit: a public key is one short line", len(data))
	}
	// A private key can look like anything below; say so first, loudly.
	if privateRE().Match(data) {
		return Key{}, nil, refuse("delete this copy, and ask for the .pub file instead (it is safe to send)",
			"this is a PRIVATE key; it must never leave your friend's machine; ask for the .pub file")
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return Key{}, nil, refuse(askPub, "the input is empty")
	}
	if bytes.IndexByte(data, 0) >= 0 || !utf8.Valid(data) {
		return Key{}, nil, refuse(askPub, "the input is binary, not a public key line")
	}
	if bytes.Contains(data, []byte("BEGIN SSH2 PUBLIC KEY")) {
		return Key{}, nil, refuse("convert it to OpenSSH's one-line format first: ssh-keygen -i -f friend.pub > friend-openssh.pub",
			"this is an RFC 4716 (SSH2/PuTTY) public key, not an OpenSSH key line")
	}
	line := data
	if bytes.HasSuffix(line, []byte("\r\n")) {
		line = line[:len(line)-2]
	} else if bytes.HasSuffix(line, []byte("\n")) {
		line = line[:len(line)-1]
	}
	if n := bytes.Count(line, []byte("\n")); n > 0 {
		keys := 0
		for _, l := range bytes.Split(line, []byte("\n")) {
			if _, _, _, _, err := ssh.ParseAuthorizedKey(l); err == nil {
				keys++
			}
		}
		if keys > 1 {
			return Key{}, nil, refuse("run add-key once per key, each with its own --name",
				"the input holds %d keys; add-key installs exactly one", keys)
		}
		return Key{}, nil, refuse(askPub, "the input holds %d lines; a public key is exactly one line", n+1)
	}
	if i := bytes.IndexFunc(line, func(r rune) bool { return (r < ' ' && r != '\t') || r == 0x7f || (r >= 0x80 && r < 0xa0) }); i >= 0 {
		return Key{}, nil, refuse(askPub, "the input contains a control character (byte %d, %q); a public key line has none", i, line[i])
	}
	s := strings.TrimSpace(string(line))
	fields := strings.Fields(s)
	if strings.HasSuffix(fields[0], "-cert-v01@openssh.com") {
		return Key{}, nil, refuse("ask for the plain public key (the .pub file, not the -cert.pub file)",
			"this is an SSH certificate, not a public key")
	}
	if fields[0] == ssh.KeyAlgoDSA {
		return Key{}, nil, refuse("ask for an ed25519 key: ssh-keygen -t ed25519",
			"ssh-dss (DSA) keys are disabled in OpenSSH and never log in")
	}
	if !slices.Contains(allowedTypes, fields[0]) {
		if l, err := SplitLine(s); err == nil && l.Options != "" {
			return Key{}, nil, refuse("send only the .pub file's line (TYPE BASE64 COMMENT); pfwdctl writes the options itself",
				"the line already carries options (%s)", ellipsis(l.Options, 60))
		}
		if strings.HasPrefix(fields[0], "ssh-") || strings.HasPrefix(fields[0], "ecdsa-") || strings.HasPrefix(fields[0], "sk-") {
			return Key{}, nil, refuse("ask for an ed25519 key: ssh-keygen -t ed25519", "unknown or unsupported key type %q", ellipsis(fields[0], 40))
		}
		return Key{}, nil, refuse(askPub, "this is not an OpenSSH public key line (it should start with ssh-ed25519, ecdsa-sha2-… or ssh-rsa)")
	}
	if len(fields) < 2 {
		return Key{}, nil, refuse(askPub, "the line has a key type but no key")
	}
	blob, err := base64.StdEncoding.DecodeString(fields[1])
	if err != nil {
		return Key{}, nil, refuse(askPub, "the key is not valid base64 (was the line cut or wrapped?)")
	}
	pub, err := ssh.ParsePublicKey(blob)
	if err != nil {
		return Key{}, nil, refuse(askPub, "the key does not parse: %v", err)
	}
	if pub.Type() != fields[0] {
		return Key{}, nil, refuse(askPub, "the line says %s but the key inside is %s", fields[0], pub.Type())
	}
	var warns []string
	if pub.Type() == ssh.KeyAlgoRSA {
		bits := keyBits(pub)
		if bits < MinRSABits {
			return Key{}, nil, refuse("ask for an ed25519 key (ssh-keygen -t ed25519) or RSA of at least 3072 bits",
				"RSA key of %d bits is too weak (OpenSSH refuses under %d)", bits, MinRSABits)
		}
		if bits < WarnRSABits {
			warns = append(warns, fmt.Sprintf("RSA key of %d bits: accepted, but ask for ed25519 or RSA 3072+ next time", bits))
		}
	}
	comment := strings.Join(fields[2:], " ")
	return Key{Pub: pub, Comment: SanitizeName(comment)}, warns, nil
}

func ellipsis(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// SanitizeName turns a comment or --name into something safe and easy to
// type back into revoke: letters, digits and ._@+:=- only, others become
// "-", at most 64 characters.
func SanitizeName(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.TrimSpace(s) {
		ok := r < utf8.RuneSelf && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("._@+:=-", r))
		if !ok {
			if !dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			dash = true
			continue
		}
		dash = false
		b.WriteRune(r)
		if b.Len() >= 64 {
			break
		}
	}
	return strings.TrimRight(b.String(), "-")
}

// Options are the restrictions pfwdctl puts on a key.
type Options struct {
	Targets []string  // host:port, as in the Match block's PermitOpen
	Expiry  time.Time // zero: no expiry
	From    []string  // CIDR or address; empty: any source
	// Zone is the clock expiry-time is written in. nil writes UTC with the
	// "Z" suffix, which sshd reads the same whatever its time zone (OpenSSH
	// 9.1 and later, see TakesUTC). An older sshd reads expiry-time in its
	// own system zone: pass that zone (never the caller's $TZ, which sshd
	// does not see).
	Zone *time.Location
	// VerifyRequired (add-key --require-verify) makes sshd accept only
	// signatures in which a hardware-backed key says it checked its PIN or
	// biometric. NoTouchRequired (add-key --allow-no-touch) lets it accept
	// signatures made without a touch. Both are for FIDO keys only.
	VerifyRequired, NoTouchRequired bool
}

// AllowedOptions are the only option names Build ever writes.
var AllowedOptions = []string{"restrict", "port-forwarding", "permitopen", "expiry-time", "from", "verify-required", "no-touch-required"}

// ExpiryLayout is sshd's expiry-time format (YYYYMMDDHHMM, in sshd's
// system time zone unless followed by "Z"); authorized_keys(5).
const ExpiryLayout = "200601021504"

// FormatExpiry is the expiry-time value for t: UTC with "Z" when zone is
// nil, else t in zone without a suffix. A time with seconds keeps them
// (YYYYMMDDHHMMSS, which sshd's parse_absolute_time reads since 7.7): a
// just-in-time grant ends at the second it was approved for, never up to
// a minute later.
func FormatExpiry(t time.Time, zone *time.Location) string {
	layout := ExpiryLayout
	if t.Second() != 0 {
		layout += "05"
	}
	if zone == nil {
		return t.UTC().Format(layout) + "Z"
	}
	return t.In(zone).Format(layout)
}

var opensshRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`OpenSSH_(\d+)\.(\d+)`) })

// TakesUTC says whether the sshd whose version banner is given ("OpenSSH_9.2,
// OpenSSL ...", as sshd -V prints it) reads a "Z" (UTC) suffix on
// expiry-time. OpenSSH's parse_absolute_time (misc.c) accepts "Z" and "UTC"
// from 9.1 (regress test_convtime.c r1.3, August 2022); 9.0 and older
// refuse the whole line. An unknown version counts as new: a Z that an old
// sshd does not know makes it refuse the key, never accept it for longer.
func TakesUTC(version string) bool {
	m := opensshRE().FindStringSubmatch(version)
	if m == nil {
		return true
	}
	major, _ := strconv.Atoi(m[1])
	minor, _ := strconv.Atoi(m[2])
	return major > 9 || major == 9 && minor >= 1
}

// ParseFrom validates from= entries: IP addresses or CIDR prefixes in
// canonical form (sshd ignores a prefix with host bits set).
func ParseFrom(list []string) ([]string, error) {
	var out []string
	for _, raw := range list {
		for _, s := range strings.Split(raw, ",") {
			s = strings.TrimSpace(s)
			if s == "" {
				continue
			}
			if a, err := netip.ParseAddr(s); err == nil && a.Zone() == "" {
				out = append(out, a.String())
				continue
			}
			p, err := netip.ParsePrefix(s)
			if err != nil {
				return nil, refuse("give addresses or CIDR prefixes, e.g. --from 203.0.113.7,198.51.100.0/24", "invalid --from entry %q", s)
			}
			if p.Masked() != p {
				return nil, refuse("write it as "+p.Masked().String(), "--from %s has host bits set", s)
			}
			out = append(out, p.String())
		}
	}
	return out, nil
}

// Build returns the authorized_keys line (without newline) for k:
//
//	restrict,port-forwarding,permitopen="H:P"[,...][,expiry-time="..."][,from="..."][,verify-required][,no-touch-required] TYPE BASE64 COMMENT
func Build(k Key, o Options) (string, error) {
	if k.Pub == nil {
		return "", fmt.Errorf("no key")
	}
	if !slices.Contains(allowedTypes, k.Pub.Type()) {
		return "", refuse("", "key type %s is not installable", k.Pub.Type())
	}
	if (o.VerifyRequired || o.NoTouchRequired) && !IsHardware(k.Pub.Type()) {
		flag := "--require-verify"
		if !o.VerifyRequired {
			flag = "--allow-no-touch"
		}
		return "", refuse("drop "+flag+", or ask for a hardware-backed key: ssh-keygen -t ed25519-sk -O verify-required (docs/hardware-keys.md)",
			"%s is for hardware-backed (FIDO) keys only; this is a %s key", flag, k.Pub.Type())
	}
	prefix, err := Prefix(o)
	if err != nil {
		return "", err
	}
	line := prefix + " " + k.Type() + " " + k.Base64()
	if c := SanitizeName(k.Comment); c != "" {
		line += " " + c
	}
	return line, nil
}

// Line is one authorized_keys line split the way sshd splits it.
type Line struct {
	Options string // raw option text, "" when none
	Type    string
	Base64  string
	Comment string
}

func isKeyType(s string) bool {
	return slices.Contains(allowedTypes, s) || s == ssh.KeyAlgoDSA || strings.HasSuffix(s, "-cert-v01@openssh.com") ||
		strings.HasPrefix(s, "ssh-") || strings.HasPrefix(s, "ecdsa-sha2-") || strings.HasPrefix(s, "sk-")
}

// SplitLine splits a line into options, type, base64 and comment without
// decoding the key: cheap enough to run over 10,000 lines per add-key. Like
// sshd (auth2-pubkeyfile.c), a first field that is not a key type starts
// the options, which run to the first unquoted space or tab.
func SplitLine(s string) (Line, error) {
	s = strings.TrimLeft(s, " \t")
	var l Line
	first := s
	if i := strings.IndexAny(s, " \t"); i >= 0 {
		first = s[:i]
	}
	if !isKeyType(first) {
		end, quoted := -1, false
		for i := 0; i < len(s); i++ {
			c := s[i]
			if c == '\\' && quoted && i+1 < len(s) && s[i+1] == '"' {
				i++
				continue
			}
			if c == '"' {
				quoted = !quoted
				continue
			}
			if !quoted && (c == ' ' || c == '\t') {
				end = i
				break
			}
		}
		if end < 0 {
			return l, fmt.Errorf("no key after the options")
		}
		l.Options = s[:end]
		s = strings.TrimLeft(s[end:], " \t")
	}
	// strings.SplitN(s, " ", 3) without its slice: this runs for every line.
	typ, rest, ok := strings.Cut(s, " ")
	if !ok {
		f := strings.Fields(s)
		if len(f) < 2 {
			return l, fmt.Errorf("no key")
		}
		typ, rest = f[0], f[1]
		if len(f) == 3 { // as SplitN's fallback did: a comment only when 3
			rest += " " + f[2]
		}
	}
	b64, comment, hasComment := strings.Cut(rest, " ")
	l.Type, l.Base64 = typ, strings.TrimRight(b64, "\r\t")
	if hasComment {
		l.Comment = strings.TrimSpace(comment)
	}
	if !isKeyType(l.Type) {
		return l, fmt.Errorf("unknown key type %q", ellipsis(l.Type, 40))
	}
	return l, nil
}

// Fingerprint is the SHA256 fingerprint of the line's key, computed from the
// blob alone.
//
// It runs for every line of every file add-key, list-keys and revoke read,
// so it works in stack buffers: the only allocation is the result (an RSA
// key of up to 8192 bits fits; a longer blob takes the allocating path).
func (l Line) Fingerprint() (string, error) {
	var src [1500]byte
	var dst [1125]byte
	var blob []byte
	if len(l.Base64) <= len(src) {
		n, err := base64.StdEncoding.Decode(dst[:], src[:copy(src[:], l.Base64)])
		if err != nil {
			return "", fmt.Errorf("key is not valid base64")
		}
		blob = dst[:n]
	} else {
		var err error
		if blob, err = base64.StdEncoding.DecodeString(l.Base64); err != nil {
			return "", fmt.Errorf("key is not valid base64")
		}
	}
	sum := sha256.Sum256(blob)
	var out [7 + 43]byte // "SHA256:" and 32 bytes in unpadded base64
	copy(out[:], "SHA256:")
	base64.RawStdEncoding.Encode(out[7:], sum[:])
	return string(out[:]), nil
}

// ed25519Blob is the wire form of every ssh-ed25519 public key: the type,
// then the 32 key bytes (RFC 8709).
var ed25519Blob = [...]byte{0, 0, 0, 11, 's', 's', 'h', '-', 'e', 'd', '2', '5', '5', '1', '9', 0, 0, 0, 32}

// Bits is Key().Bits() (0 when the key does not parse), without x/crypto's
// full parse for the common case: a blob that is exactly an ssh-ed25519 key
// is 256 bits. list-keys asks it of every line.
func (l Line) Bits() int {
	if len(l.Base64) <= 88 {
		var src [88]byte
		var dst [66]byte
		n, err := base64.StdEncoding.Decode(dst[:], src[:copy(src[:], l.Base64)])
		if err == nil && n == len(ed25519Blob)+32 && [len(ed25519Blob)]byte(dst[:len(ed25519Blob)]) == ed25519Blob {
			return 256
		}
	}
	k, err := l.Key()
	if err != nil {
		return 0
	}
	return k.Bits()
}

// Key decodes the line's key.
func (l Line) Key() (Key, error) {
	blob, err := base64.StdEncoding.DecodeString(l.Base64)
	if err != nil {
		return Key{}, fmt.Errorf("key is not valid base64")
	}
	pub, err := ssh.ParsePublicKey(blob)
	if err != nil {
		return Key{}, err
	}
	return Key{Pub: pub, Comment: l.Comment}, nil
}

// Option is one parsed key option.
type Option struct {
	Name     string // lower-case
	Value    string // unquoted
	HasValue bool
}

// ParseOptions splits the option text at unquoted commas and unquotes
// values (a backslash escapes a double quote, as in sshd).
func ParseOptions(s string) ([]Option, error) {
	parts, err := splitOptions(s)
	var out []Option
	for _, part := range parts {
		name, val, has := strings.Cut(part, "=")
		o := Option{Name: strings.ToLower(name), HasValue: has}
		if has {
			if len(val) < 2 || val[0] != '"' || val[len(val)-1] != '"' {
				return out, fmt.Errorf("option %s: value is not quoted", name)
			}
			o.Value = strings.ReplaceAll(val[1:len(val)-1], `\"`, `"`)
		}
		out = append(out, o)
	}
	return out, err
}

// splitOptions splits option text at unquoted commas, each part as
// written. An unterminated quote is an error after the parts before it.
func splitOptions(s string) ([]string, error) {
	var out []string
	for s != "" {
		i, quoted := 0, false
		for ; i < len(s); i++ {
			c := s[i]
			if c == '\\' && quoted && i+1 < len(s) && s[i+1] == '"' {
				i++
				continue
			}
			if c == '"' {
				quoted = !quoted
			}
			if c == ',' && !quoted {
				break
			}
		}
		if quoted {
			return out, fmt.Errorf("unterminated quote in options")
		}
		out = append(out, s[:i])
		if i < len(s) {
			s = s[i+1:]
		} else {
			s = ""
		}
	}
	return out, nil
}

// Retarget rewrites option text for new targets: every permitopen goes,
// and one per target takes the place of the first; every other option
// stays as written. It is how keys follow a change of the Match block.
func Retarget(options string, targets []string) (string, error) {
	parts, err := splitOptions(options)
	if err != nil {
		return "", err
	}
	var repl []string
	for _, t := range targets {
		tt, err := target.Parse(t)
		if err != nil {
			return "", err
		}
		repl = append(repl, `permitopen="`+tt.String()+`"`)
	}
	var out []string
	placed := false
	for _, p := range parts {
		name, _, _ := strings.Cut(p, "=")
		if !strings.EqualFold(name, "permitopen") {
			out = append(out, p)
			continue
		}
		if !placed {
			out = append(out, repl...)
			placed = true
		}
	}
	if !placed {
		return "", fmt.Errorf("no permitopen to replace")
	}
	return strings.Join(out, ","), nil
}

// ParseExpiryTime reads sshd's expiry-time value: YYYYMMDD[HHMM[SS]][Z|UTC],
// in this process's local zone unless Z or UTC (see ParseExpiryTimeIn).
func ParseExpiryTime(v string) (time.Time, error) { return ParseExpiryTimeIn(v, time.Local) }

// ParseExpiryTimeIn reads an expiry-time value as sshd does, a value
// without Z or UTC in sshd's system zone loc.
func ParseExpiryTimeIn(v string, loc *time.Location) (time.Time, error) {
	if strings.HasSuffix(v, "UTC") {
		loc, v = time.UTC, v[:len(v)-3]
	} else if strings.HasSuffix(v, "Z") {
		loc, v = time.UTC, v[:len(v)-1]
	}
	for _, c := range v {
		if c < '0' || c > '9' {
			return time.Time{}, fmt.Errorf("invalid expiry-time %q", v)
		}
	}
	layouts := map[int]string{8: "20060102", 12: "200601021504", 14: "20060102150405"}
	layout, ok := layouts[len(v)]
	if !ok {
		return time.Time{}, fmt.Errorf("invalid expiry-time %q", v)
	}
	return time.ParseInLocation(layout, v, loc)
}

var durRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^(\d+)([smhdw])$`) })

// ExpiringSoon is how far ahead list-keys and audit warn that a key
// expires, so its rotation can be planned (pfwdctl rotate).
const ExpiringSoon = 7 * 24 * time.Hour

// ExpiresWithin reports whether a key with expiry exp (zero: never) still
// works at now but stops within d. One rule for list-keys --expiring, its
// warning and audit's keys.expiring-soon.
func ExpiresWithin(exp, now time.Time, d time.Duration) bool {
	return !exp.IsZero() && exp.After(now) && !exp.After(now.Add(d))
}

// ParseWindow reads a look-ahead such as list-keys --expiring's: the
// durations --expires takes (15m, 12h, 30d, 8w) or Go's (36h, 90m).
func ParseWindow(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if m := durRE().FindStringSubmatch(s); m != nil {
		n, err := strconv.Atoi(m[1])
		unit := map[string]time.Duration{"s": time.Second, "m": time.Minute, "h": time.Hour, "d": 24 * time.Hour, "w": 7 * 24 * time.Hour}[m[2]]
		if err == nil && n > 0 && n < 10000000 && time.Duration(n)*unit <= 100000*24*time.Hour {
			return time.Duration(n) * unit, nil
		}
	} else if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return d, nil
	}
	return 0, refuse("use a duration such as 7d, 48h or 2w", "invalid window %q", s)
}

// MinExpires is the shortest relative --expires: sshd's expiry-time has
// minute resolution and is checked only at login, so less than this is
// gone before the friend has typed the ssh command.
const MinExpires = 5 * time.Minute

const expiresHint = "use a duration (15m, 12h, 30d, 8w) or a local date and time (2026-12-31 or 2026-12-31T18:00)"

// ParseExpires reads --expires: a duration from now (15m, 12h, 30d, 8w) or
// a date/time in the caller's local zone (2026-12-31, 2026-12-31T18:00).
// The result is an instant; Prefix decides the clock sshd gets it in.
func ParseExpires(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if m := durRE().FindStringSubmatch(s); m != nil {
		n, err := strconv.Atoi(m[1])
		unit := map[string]time.Duration{"s": time.Second, "m": time.Minute, "h": time.Hour, "d": 24 * time.Hour, "w": 7 * 24 * time.Hour}[m[2]]
		if err != nil || n >= 10000000 || time.Duration(n)*unit > 100000*24*time.Hour {
			return time.Time{}, refuse(expiresHint, "--expires %q is too far away", s)
		}
		if d := time.Duration(n) * unit; d < MinExpires {
			return time.Time{}, refuse("give at least 5m (sshd checks expiry-time to the minute, at login only)",
				"--expires %s is too short to be useful", s)
		}
		// sshd's expiry-time has minute resolution; round up so the key
		// lasts at least as long as asked.
		return now.Add(time.Duration(n) * unit).Truncate(time.Minute).Add(time.Minute), nil
	}
	for _, layout := range []string{"2006-01-02T15:04", "2006-01-02 15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, time.Local); err == nil {
			return t, nil
		}
	}
	return time.Time{}, refuse(expiresHint, "invalid --expires %q", s)
}
