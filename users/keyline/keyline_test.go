package keyline

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pfwdctl/pfwdctl/internal/fail"
	"github.com/pfwdctl/pfwdctl/internal/golden"
)

func fixture(t testing.TB, name string) string {
	t.Helper()
	data, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func TestParsePublic(t *testing.T) {
	ed := fixture(t, "ed25519.pub")
	edLine := strings.TrimSuffix(ed, "\n")
	for _, c := range []struct {
		name string
		in   string
		// want is a substring of the error, or for good_ cases the comment.
		want string
		warn bool
	}{
		{"good_ed25519", ed, "friend@laptop", false},
		{"good_no_newline", edLine, "friend@laptop", false},
		{"good_crlf", edLine + "\r\n", "friend@laptop", false},
		{"good_surrounding_spaces", "  " + edLine + "  \n", "friend@laptop", false},
		{"good_no_comment", strings.Join(strings.Fields(edLine)[:2], " "), "", false},
		{"good_comment_sanitised", strings.Join(strings.Fields(edLine)[:2], " ") + ` Jane "Doe" $(rm -rf /)`, "Jane-Doe-rm-", false},
		{"good_ecdsa", fixture(t, "ecdsa256pkcs8.pub"), "ec", false},
		{"good_rsa3072", fixture(t, "rsa3072pem.pub"), "rsa3072", false},
		{"good_rsa2048_warns", fixture(t, "rsa2048.pub"), "rsa2048", true},

		{"fail_private_openssh", fixture(t, "ed25519"), "this is a PRIVATE key; it must never leave your friend's machine; ask for the .pub file", false},
		{"fail_private_pem_rsa", fixture(t, "rsa3072pem"), "PRIVATE key", false},
		{"fail_private_pkcs8", fixture(t, "ecdsa256pkcs8"), "PRIVATE key", false},
		{"fail_private_encrypted_pkcs8", "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIF\n-----END ENCRYPTED PRIVATE KEY-----\n", "PRIVATE key", false},
		{"fail_private_putty", fixture(t, "putty.ppk"), "PRIVATE key", false},
		{"fail_private_sshcom", "---- BEGIN SSH2 ENCRYPTED PRIVATE KEY ----\nP2/56w==\n", "PRIVATE key", false},
		{"fail_private_body_only", "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ", "PRIVATE key", false},
		{"fail_rfc4716_public", fixture(t, "rfc4716.pub"), "RFC 4716", false},
		{"fail_two_keys", ed + fixture(t, "rsa3072pem.pub"), "holds 2 keys", false},
		{"fail_key_then_junk_line", ed + "junk\n", "2 lines", false},
		{"fail_blank_line_inside", ed + "\n", "2 lines", false},
		{"fail_options", `restrict,command="/bin/sh" ` + edLine, "already carries options", false},
		{"fail_options_quoted_space", `from="1.2.3.4",command="echo hi there" ` + edLine, "already carries options", false},
		{"fail_cert", fixture(t, "ed25519-cert.pub"), "certificate", false},
		{"fail_dss", fixture(t, "dsa.pub"), "ssh-dss", false},
		{"fail_rsa1024", fixture(t, "rsa1024.pub"), "1024 bits is too weak", false},
		{"fail_unknown_type", "ssh-foo AAAA x", "unknown or unsupported key type", false},
		{"fail_not_a_key", "hello world", "not an OpenSSH public key line", false},
		{"fail_type_only", "ssh-ed25519", "no key", false},
		{"fail_bad_base64", "ssh-ed25519 AAAA%%%% x", "not valid base64", false},
		{"fail_truncated_key", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5 x", "does not parse", false},
		{"fail_type_mismatch", "ssh-rsa " + strings.Fields(edLine)[1], "the line says ssh-rsa", false},
		{"fail_control_char", strings.Replace(edLine, "friend", "fri\x1bend", 1), "control character", false},
		{"fail_cr_inside", strings.Replace(edLine, " friend", "\rfriend", 1), "control character", false},
		{"fail_nul", edLine + "\x00", "binary", false},
		{"fail_binary", "\xff\xfe\x00\x01garbage", "binary", false},
		{"fail_empty", "", "empty", false},
		{"fail_whitespace_only", " \n", "empty", false},
		{"fail_too_big", edLine + strings.Repeat(" x", MaxInput), "over the 64 KiB limit", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			k, warns, err := ParsePublic([]byte(c.in))
			if strings.HasPrefix(c.name, "good_") {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				if !strings.HasPrefix(k.Comment, c.want) {
					t.Errorf("comment = %q, want prefix %q", k.Comment, c.want)
				}
				if (len(warns) > 0) != c.warn {
					t.Errorf("warnings = %v", warns)
				}
				return
			}
			if err == nil {
				t.Fatalf("accepted: %s %s", k.Type(), k.Fingerprint())
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error = %q, want it to contain %q", err, c.want)
			}
			var fe *fail.Error
			if !errors.As(err, &fe) || fe.Kind != fail.Usage || fe.Hint == "" {
				t.Errorf("want a usage error with a hint, got %#v", err)
			}
		})
	}
}

func mustKey(t testing.TB) Key {
	k, _, err := ParsePublic([]byte(fixture(t, "ed25519.pub")))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestBuild(t *testing.T) {
	k := mustKey(t)
	exp := time.Date(2026, 12, 31, 18, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name string
		o    Options
	}{
		{"good_default", Options{Targets: []string{"127.0.0.1:8009"}}},
		{"good_two_targets_expiry_from", Options{Targets: []string{"127.0.0.1:8009", "[::1]:8010"}, Expiry: exp, From: []string{"192.0.2.1,198.51.100.0/24"}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			line, err := Build(k, c.o)
			if err != nil {
				t.Fatal(err)
			}
			golden.Check(t, "keyline/"+c.name+".txt", []byte(line+"\n"))
		})
	}
	for _, c := range []struct {
		name string
		o    Options
		want string
	}{
		{"fail_no_target", Options{}, "no forward target"},
		{"fail_target_injection", Options{Targets: []string{`127.0.0.1:8009",command="sh`}}, "invalid target"},
		{"fail_from_garbage", Options{Targets: []string{"127.0.0.1:8009"}, From: []string{`*,"x`}}, "invalid --from"},
		{"fail_from_host_bits", Options{Targets: []string{"127.0.0.1:8009"}, From: []string{"192.0.2.1/24"}}, "host bits"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, err := Build(k, c.o); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want %q", err, c.want)
			}
		})
	}
}

func TestSplitLineAndOptions(t *testing.T) {
	k := mustKey(t)
	line, _ := Build(k, Options{Targets: []string{"127.0.0.1:8009"}, Expiry: time.Date(2030, 1, 2, 3, 4, 0, 0, time.UTC), From: []string{"192.0.2.1"}})
	l, err := SplitLine(line)
	if err != nil {
		t.Fatal(err)
	}
	if fp, _ := l.Fingerprint(); fp != k.Fingerprint() || l.Comment != "friend@laptop" || l.Type != "ssh-ed25519" {
		t.Fatalf("split = %+v fp %s", l, fp)
	}
	opts, err := ParseOptions(l.Options)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, o := range opts {
		names = append(names, o.Name+"="+o.Value)
	}
	want := []string{"restrict=", "port-forwarding=", "permitopen=127.0.0.1:8009", "expiry-time=203001020304Z", "from=192.0.2.1"}
	if !slices.Equal(names, want) {
		t.Fatalf("options = %v, want %v", names, want)
	}
	// Quoted commas and spaces belong to the value, as in sshd.
	l, err = SplitLine(`command="echo a, b",no-pty ssh-ed25519 ` + k.Base64() + ` c d`)
	if err != nil || l.Options != `command="echo a, b",no-pty` || l.Comment != "c d" {
		t.Fatalf("split = %+v, %v", l, err)
	}
	opts, _ = ParseOptions(l.Options)
	if len(opts) != 2 || opts[0].Value != "echo a, b" {
		t.Fatalf("options = %+v", opts)
	}
	if _, err := ParseOptions(`command="x`); err == nil {
		t.Fatal("unterminated quote accepted")
	}
}

func TestParseExpires(t *testing.T) {
	now := time.Date(2026, 3, 1, 10, 30, 20, 0, time.Local)
	for in, want := range map[string]time.Time{
		"30d":              time.Date(2026, 3, 31, 10, 31, 0, 0, time.Local),
		"12h":              time.Date(2026, 3, 1, 22, 31, 0, 0, time.Local),
		"2w":               time.Date(2026, 3, 15, 10, 31, 0, 0, time.Local),
		"15m":              time.Date(2026, 3, 1, 10, 46, 0, 0, time.Local),
		"90m":              time.Date(2026, 3, 1, 12, 1, 0, 0, time.Local),
		"5m":               time.Date(2026, 3, 1, 10, 36, 0, 0, time.Local),
		"2026-12-31":       time.Date(2026, 12, 31, 0, 0, 0, 0, time.Local),
		"2026-12-31T18:00": time.Date(2026, 12, 31, 18, 0, 0, 0, time.Local),
	} {
		got, err := ParseExpires(in, now)
		if err != nil || !got.Equal(want) {
			t.Errorf("ParseExpires(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "soon", "0d", "-1d", "2026-13-01", "30", "90s", "4m", "0m", "99999999999w"} {
		if _, err := ParseExpires(bad, now); err == nil {
			t.Errorf("ParseExpires(%q) accepted", bad)
		}
	}
	for in, want := range map[string]time.Time{
		"20261231":        time.Date(2026, 12, 31, 0, 0, 0, 0, time.Local),
		"202612311800":    time.Date(2026, 12, 31, 18, 0, 0, 0, time.Local),
		"20261231180005Z": time.Date(2026, 12, 31, 18, 0, 5, 0, time.UTC),
	} {
		if got, err := ParseExpiryTime(in); err != nil || !got.Equal(want) {
			t.Errorf("ParseExpiryTime(%q) = %v, %v", in, got, err)
		}
	}
}

// FuzzParseBuild feeds arbitrary input (and a name) through the parser and
// builder: whatever is accepted must come out as exactly one printable line
// whose options are all in AllowedOptions and whose key is the one parsed.
func FuzzParseBuild(f *testing.F) {
	for _, name := range []string{"ed25519.pub", "rsa2048.pub", "ecdsa256pkcs8.pub", "ed25519", "putty.ppk", "ed25519-cert.pub", "dsa.pub", "rfc4716.pub"} {
		f.Add([]byte(fixture(f, name)), "friend")
	}
	ed := strings.TrimSpace(fixture(f, "ed25519.pub"))
	f.Add([]byte(ed+"\r\n"), "a\nb")
	f.Add([]byte(`restrict,command="x" `+ed), `x",command="sh`)
	f.Add([]byte(ed+"\n"+ed), "")
	f.Add([]byte(strings.Replace(ed, "friend", "fr\u2028iend\u0085", 1)), "\x00")
	f.Fuzz(func(t *testing.T, data []byte, name string) {
		k, _, err := ParsePublic(data)
		if err != nil {
			return
		}
		if name != "" {
			k.Comment = SanitizeName(name)
		}
		line, err := Build(k, Options{Targets: []string{"127.0.0.1:8009"}, Expiry: time.Unix(1893456000, 0), From: []string{"192.0.2.0/24"}})
		if err != nil {
			t.Fatalf("parsed key does not build: %v", err)
		}
		for _, r := range line {
			if r < ' ' || r > '~' {
				t.Fatalf("non-printable %q in %q", r, line)
			}
		}
		l, err := SplitLine(line)
		if err != nil {
			t.Fatalf("built line does not split: %v", err)
		}
		opts, err := ParseOptions(l.Options)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range opts {
			if !slices.Contains(AllowedOptions, o.Name) {
				t.Fatalf("option %q outside the allowed set in %q", o.Name, line)
			}
		}
		if v := Judge(line, Match{Targets: []string{"127.0.0.1:8009"}}, time.Time{}); len(v.Problems) != 0 {
			t.Fatalf("Build's line %q judged: %+v", line, v.Problems)
		}
		if fp, _ := l.Fingerprint(); fp != k.Fingerprint() {
			t.Fatalf("fingerprint changed: %s vs %s", fp, k.Fingerprint())
		}
	})
}

// A --expires duration is an instant: written as UTC with Z, sshd reads
// the same instant whatever the TZ of pfwdctl or of sshd. The old code
// wrote the wall clock of pfwdctl's TZ without a zone.
func TestExpiryFarFromUTC(t *testing.T) {
	west, err := time.LoadLocation("Etc/GMT+12") // UTC-12
	if err != nil {
		t.Skip("no tzdata:", err)
	}
	now := time.Date(2026, 3, 1, 10, 30, 20, 0, west)
	exp, err := ParseExpires("1h", now)
	if err != nil {
		t.Fatal(err)
	}
	k := mustKey(t)
	line, err := Build(k, Options{Targets: []string{"127.0.0.1:8009"}, Expiry: exp})
	if err != nil {
		t.Fatal(err)
	}
	// 11:31 at UTC-12 is 23:31 UTC.
	if !strings.Contains(line, `expiry-time="202603012331Z"`) {
		t.Fatalf("line = %s, want expiry-time 202603012331Z", line)
	}
	v := Judge(line, Match{}, now)
	if v.Expired || !v.Expiry.Equal(exp) {
		t.Fatalf("judged expiry %v expired=%v, want %v", v.Expiry, v.Expired, exp)
	}
	// An old sshd gets its own system zone, not pfwdctl's.
	east, err := time.LoadLocation("Etc/GMT-14") // UTC+14
	if err != nil {
		t.Skip(err)
	}
	if got := FormatExpiry(exp, east); got != "202603021331" {
		t.Fatalf("FormatExpiry in UTC+14 = %s", got)
	}
}

func TestTakesUTC(t *testing.T) {
	for v, want := range map[string]bool{
		"OpenSSH_9.2p1 Debian-2+deb12u3, OpenSSL 3.0.15": true,
		"OpenSSH_9.1p1": true,
		"OpenSSH_10.0":  true,
		"OpenSSH_9.0p1": false,
		"OpenSSH_8.9p1 Ubuntu-3ubuntu0.10, OpenSSL 3.0.2": false,
		"OpenSSH_7.7": false,
		"":            true, // unknown: Z, which an old sshd refuses rather than misreads
	} {
		if got := TakesUTC(v); got != want {
			t.Errorf("TakesUTC(%q) = %v, want %v", v, got, want)
		}
	}
}

// Fingerprint decodes in stack buffers up to an 8192-bit RSA key and
// allocates beyond: both give ssh-keygen's SHA256 fingerprint, and bad
// base64 is an error on both paths.
func TestFingerprintShortAndLongBlobs(t *testing.T) {
	for _, n := range []int{51, 1124, 1125, 1126, 3000} {
		blob := make([]byte, n)
		for i := range blob {
			blob[i] = byte(i * 7)
		}
		sum := sha256.Sum256(blob)
		want := "SHA256:" + base64.RawStdEncoding.EncodeToString(sum[:])
		l := Line{Base64: base64.StdEncoding.EncodeToString(blob)}
		if got, err := l.Fingerprint(); err != nil || got != want {
			t.Errorf("%d bytes: %q %v, want %q", n, got, err, want)
		}
		if _, err := (Line{Base64: l.Base64[:len(l.Base64)-5] + "!!!!="}).Fingerprint(); err == nil {
			t.Errorf("%d bytes: bad base64 accepted", n)
		}
	}
}

// A just-in-time window ends to the second: a time with seconds keeps
// them (sshd reads YYYYMMDDHHMMSS), one on the minute is written as
// before, and both read back as the same instant.
func TestFormatExpiryKeepsSeconds(t *testing.T) {
	for _, tc := range []struct {
		at   time.Time
		want string
	}{
		{time.Date(2026, 11, 24, 3, 4, 5, 0, time.UTC), "20261124030405Z"},
		{time.Date(2026, 11, 24, 3, 4, 0, 0, time.UTC), "202611240304Z"},
	} {
		got := FormatExpiry(tc.at, nil)
		if got != tc.want {
			t.Errorf("FormatExpiry(%v) = %s, want %s", tc.at, got, tc.want)
		}
		if back, err := ParseExpiryTime(got); err != nil || !back.Equal(tc.at) {
			t.Errorf("%s reads back as %v %v", got, back, err)
		}
	}
}
