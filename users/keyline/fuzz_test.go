package keyline

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// The parsers below read authorized_keys lines and flags that come from
// outside; the fuzz targets check they never panic and keep their own
// invariants. make fuzz runs each for a few seconds; the seeds live in
// testdata/fuzz/<Name>/.

func FuzzSplitLine(f *testing.F) {
	f.Add(`restrict,port-forwarding,permitopen="127.0.0.1:8009" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINptRJvBG7wfMRS4YTlmKuwP7hB2zO6PWKKZjylfQeQU friend`)
	f.Fuzz(func(t *testing.T, s string) {
		l, err := SplitLine(s)
		if err == nil && !isKeyType(l.Type) {
			t.Fatalf("SplitLine(%q) accepted type %q", s, l.Type)
		}
		if err == nil {
			l.Fingerprint()
			ParseOptions(l.Options)
		}
		// Judge reads every line of a file sshd obeys: it must not
		// panic, and a line it cannot read is never restricted.
		v := Judge(s, Match{Targets: []string{"127.0.0.1:8009"}}, time.Unix(1e9, 0))
		if v.Fingerprint == "" && v.Restricted() && strings.TrimSpace(s) != "" {
			t.Fatalf("Judge(%q): unreadable line counted as restricted", s)
		}
	})
}

func FuzzParseOptions(f *testing.F) {
	f.Add(`restrict,port-forwarding,permitopen="127.0.0.1:8009",expiry-time="202612311800Z"`)
	f.Fuzz(func(t *testing.T, s string) {
		opts, err := ParseOptions(s)
		if err != nil {
			return
		}
		for _, o := range opts {
			if o.Name != strings.ToLower(o.Name) {
				t.Fatalf("ParseOptions(%q): name %q not lower-case", s, o.Name)
			}
		}
	})
}

func FuzzParseFrom(f *testing.F) {
	f.Add("192.0.2.1,198.51.100.0/24")
	f.Fuzz(func(t *testing.T, s string) {
		out, err := ParseFrom([]string{s})
		if err != nil {
			return
		}
		// What ParseFrom accepts is canonical: it reads back the same, and
		// holds nothing that could end the from="..." option.
		again, err := ParseFrom(out)
		if err != nil || !slices.Equal(again, out) {
			t.Fatalf("ParseFrom(%q) = %q, again %q %v", s, out, again, err)
		}
		for _, e := range out {
			if strings.ContainsAny(e, "\",\\ \t\n") {
				t.Fatalf("ParseFrom(%q) let through %q", s, e)
			}
		}
	})
}

func FuzzParseExpires(f *testing.F) {
	f.Add("15m")
	f.Fuzz(func(t *testing.T, s string) {
		now := time.Date(2026, 3, 1, 10, 30, 20, 0, time.UTC)
		got, err := ParseExpires(s, now)
		if err != nil {
			return
		}
		if durRE().MatchString(strings.TrimSpace(s)) && got.Before(now.Add(MinExpires)) {
			t.Fatalf("ParseExpires(%q) = %v, under the minimum", s, got)
		}
	})
}

func FuzzParseExpiryTime(f *testing.F) {
	f.Add("202612311800Z")
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseExpiryTimeIn(s, time.UTC)
		if err != nil {
			return
		}
		// A minute-resolution UTC value formats back to itself.
		if len(s) == 13 && s[12] == 'Z' && FormatExpiry(got, nil) != s {
			t.Fatalf("ParseExpiryTime(%q) = %v, formats back as %q", s, got, FormatExpiry(got, nil))
		}
	})
}
