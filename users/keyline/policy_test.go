package keyline

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

const testKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINptRJvBG7wfMRS4YTlmKuwP7hB2zO6PWKKZjylfQeQU friend"

// TestJudge is the key-line policy as a table. The name says the outcome:
// good_* has no problem at all, warn_* only warnings (the key does no more
// than forward to the Match block's targets), fail_* lets the key do more
// or cannot be vouched for. ids are the problem IDs expected, sorted.
func TestJudge(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	one := []string{"127.0.0.1:8009"}
	two := []string{"127.0.0.1:8009", "[::1]:8009"}
	const std = `restrict,port-forwarding,permitopen="127.0.0.1:8009"`
	tests := []struct {
		name    string
		options string // prefixed to testKey; raw overrides the whole line
		raw     string
		match   []string
		ids     []string
		check   func(t *testing.T, v Verdict)
	}{
		{name: "good_standard", options: std, match: one, check: func(t *testing.T, v Verdict) {
			if !v.Restrict || !v.PortForwarding || v.Pty || v.AgentForwarding || v.X11Forwarding || v.UserRC || !slices.Equal(v.Permitopen, one) {
				t.Errorf("%+v", v)
			}
		}},
		{name: "good_two_targets", options: `restrict,port-forwarding,permitopen="127.0.0.1:8009",permitopen="[::1]:8009"`, match: two},
		{name: "good_case_insensitive_names", options: `RESTRICT,Port-Forwarding,PermitOpen="127.0.0.1:8009"`, match: one},
		{name: "good_no_match_block_any_single_target", options: `restrict,port-forwarding,permitopen="127.0.0.1:9999"`},
		{name: "good_expiry_future", options: std + `,expiry-time="20991231"`, match: one, check: func(t *testing.T, v Verdict) {
			if v.Expiry.Year() != 2099 || v.Expired {
				t.Errorf("expiry %v expired %v", v.Expiry, v.Expired)
			}
		}},
		{name: "good_expiry_utc_seconds", options: std + `,expiry-time="20991231235959Z"`, match: one},
		{name: "good_from", options: std + `,from="192.0.2.0/24,198.51.100.7"`, match: one, check: func(t *testing.T, v Verdict) {
			if !slices.Equal(v.From, []string{"192.0.2.0/24", "198.51.100.7"}) {
				t.Errorf("from = %v", v.From)
			}
		}},
		{name: "good_explicit_no_options", options: `restrict,port-forwarding,no-pty,no-agent-forwarding,no-X11-forwarding,no-user-rc,permitopen="127.0.0.1:8009"`, match: one},
		{name: "good_reenabled_then_off_again", options: `restrict,port-forwarding,pty,no-pty,permitopen="127.0.0.1:8009"`, match: one},
		{name: "good_fido_options_reported", options: std + `,no-touch-required,verify-required`, match: one, check: func(t *testing.T, v Verdict) {
			if !v.NoTouchRequired || !v.VerifyRequired {
				t.Errorf("%+v", v)
			}
		}},

		{name: "fail_issue_example_agent_and_pty", options: `restrict,port-forwarding,agent-forwarding,pty,permitopen="127.0.0.1:8009"`, match: one,
			ids: []string{"key.reenables"}, check: func(t *testing.T, v Verdict) {
				if !v.AgentForwarding || !v.Pty || len(v.Problems) != 2 {
					t.Errorf("%+v", v)
				}
			}},
		{name: "fail_x11_forwarding", options: `restrict,port-forwarding,X11-Forwarding,permitopen="127.0.0.1:8009"`, match: one, ids: []string{"key.reenables"}},
		{name: "fail_user_rc", options: `restrict,port-forwarding,user-rc,permitopen="127.0.0.1:8009"`, match: one, ids: []string{"key.reenables"}},
		{name: "fail_pty_alone", options: `restrict,port-forwarding,permitopen="127.0.0.1:8009",PTY`, match: one, ids: []string{"key.reenables"}},
		{name: "fail_bare_key", options: "", match: one, ids: []string{"key.permitopen", "key.restrict"}},
		{name: "fail_no_restrict_but_every_no", options: `no-pty,no-agent-forwarding,no-x11-forwarding,no-user-rc,permitopen="127.0.0.1:8009"`, match: one, ids: []string{"key.restrict"},
			check: func(t *testing.T, v Verdict) {
				if !v.PortForwarding || v.Pty {
					t.Errorf("%+v", v)
				}
			}},
		{name: "fail_port_forwarding_without_permitopen", options: "restrict,port-forwarding", match: one, ids: []string{"key.permitopen"}},
		{name: "fail_permitopen_wildcard_port", options: `restrict,port-forwarding,permitopen="127.0.0.1:*"`, ids: []string{"key.permitopen"}},
		{name: "fail_permitopen_wildcard_host", options: `restrict,port-forwarding,permitopen="*:8009"`, match: one, ids: []string{"key.permitopen"}},
		{name: "fail_permitopen_outside_match", options: `restrict,port-forwarding,permitopen="127.0.0.1:22"`, match: one, ids: []string{"key.permitopen"}},
		{name: "fail_one_of_two_outside_match", options: `restrict,port-forwarding,permitopen="127.0.0.1:8009",permitopen="127.0.0.1:22"`, match: one, ids: []string{"key.permitopen"}},
		{name: "fail_permitopen_without_port", options: `restrict,port-forwarding,permitopen="127.0.0.1"`, match: one, ids: []string{"key.permitopen", "key.unparsable"}},
		{name: "fail_environment", options: std + `,environment="LD_PRELOAD=/tmp/x.so"`, match: one, ids: []string{"key.environment"}},
		{name: "fail_tunnel", options: std + `,tunnel="0"`, match: one, ids: []string{"key.tunnel"}},
		{name: "fail_cert_authority", options: std + `,cert-authority,principals="bob"`, match: one, ids: []string{"key.cert-authority"}},
		{name: "fail_unknown_option", options: std + `,no-shell`, match: one, ids: []string{"key.unknown-option"}},
		{name: "fail_unknown_option_with_value", options: std + `,zap="1"`, match: one, ids: []string{"key.unknown-option"}},
		{name: "fail_expiry_garbage", options: std + `,expiry-time="soon"`, match: one, ids: []string{"key.unparsable"}},
		{name: "fail_unquoted_value", options: `restrict,port-forwarding,permitopen=127.0.0.1:8009`, match: one, ids: []string{"key.unparsable"}},
		{name: "fail_unterminated_quote", options: `restrict,port-forwarding,from="192.0.2.1,permitopen="127.0.0.1:8009"`, match: one, ids: []string{"key.unparsable"}},
		{name: "fail_flag_with_value", options: `restrict="yes",port-forwarding,permitopen="127.0.0.1:8009"`, match: one, ids: []string{"key.restrict", "key.unparsable"}},
		{name: "fail_value_option_without_value", options: `restrict,port-forwarding,permitopen`, match: one, ids: []string{"key.permitopen", "key.unparsable"}},
		{name: "fail_empty_option", options: `restrict,,port-forwarding,permitopen="127.0.0.1:8009"`, match: one, ids: []string{"key.unparsable"}},
		{name: "fail_bad_base64", raw: "ssh-ed25519 !!!! friend", ids: []string{"key.unparsable"}},
		{name: "fail_options_without_key", raw: std, ids: []string{"key.unparsable"}},

		{name: "warn_restrict_only", options: "restrict", match: one, ids: []string{"key.port-forwarding"}},
		{name: "warn_restrict_after_port_forwarding", options: `port-forwarding,restrict,permitopen="127.0.0.1:8009"`, match: one, ids: []string{"key.port-forwarding"}},
		{name: "warn_no_port_forwarding", options: `restrict,port-forwarding,no-port-forwarding,permitopen="127.0.0.1:8009"`, match: one, ids: []string{"key.port-forwarding"}},
		{name: "warn_expired", options: std + `,expiry-time="20250101"`, match: one, ids: []string{"key.expired"}},
		{name: "warn_expiry_twice_earliest_wins", options: std + `,expiry-time="20991231",expiry-time="20250101"`, match: one, ids: []string{"key.duplicate", "key.expired"},
			check: func(t *testing.T, v Verdict) {
				if v.Expiry.Year() != 2025 {
					t.Errorf("expiry %v", v.Expiry)
				}
			}},
		{name: "warn_from_twice", options: std + `,from="192.0.2.1",from="192.0.2.2"`, match: one, ids: []string{"key.duplicate"}},
		{name: "warn_permitopen_repeated", options: std + `,permitopen="127.0.0.1:8009"`, match: one, ids: []string{"key.duplicate"}},
		{name: "warn_command_escaped_quote", options: std + `,command="echo \"hi, there\""`, match: one, ids: []string{"key.command"},
			check: func(t *testing.T, v Verdict) {
				if v.Command != `echo "hi, there"` {
					t.Errorf("command = %q", v.Command)
				}
			}},
		{name: "warn_command_twice", options: std + `,command="a",command="b"`, match: one, ids: []string{"key.command", "key.duplicate"}},
		{name: "warn_permitlisten", options: std + `,permitlisten="localhost:8080"`, match: one, ids: []string{"key.permitlisten"}},
		{name: "warn_principals_without_cert_authority", options: std + `,principals="bob"`, match: one, ids: []string{"key.principals"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			raw := tc.raw
			if raw == "" {
				raw = strings.TrimSpace(tc.options + " " + testKey)
			}
			v := Judge(raw, Match{Targets: tc.match}, now)
			// list-keys judges lines it has already split and
			// fingerprinted: the same verdict, every field.
			l, err := SplitLine(strings.TrimSpace(raw))
			var fp string
			if err == nil {
				fp, err = l.Fingerprint()
			}
			if w := JudgeSplit(l, fp, err, Match{Targets: tc.match}, now); !reflect.DeepEqual(w, v) {
				t.Errorf("JudgeSplit: %+v\nJudge:      %+v", w, v)
			}
			var ids []string
			for _, p := range v.Problems {
				if p.Text == "" || (p.Severity != Fail && p.Severity != Warn) {
					t.Errorf("problem without text or severity: %+v", p)
				}
				if !slices.Contains(ids, p.ID) {
					ids = append(ids, p.ID)
				}
			}
			slices.Sort(ids)
			if !slices.Equal(ids, tc.ids) {
				t.Errorf("problems %v, want %v: %+v", ids, tc.ids, v.Problems)
			}
			switch {
			case strings.HasPrefix(tc.name, "good_"):
				if len(v.Problems) != 0 || !v.Restricted() {
					t.Errorf("good line has problems: %+v", v.Problems)
				}
			case strings.HasPrefix(tc.name, "warn_"):
				if !v.Restricted() || len(v.Texts(Warn)) == 0 {
					t.Errorf("want warnings only: %+v", v.Problems)
				}
			case strings.HasPrefix(tc.name, "fail_"):
				if v.Restricted() {
					t.Errorf("want not restricted: %+v", v.Problems)
				}
			default:
				t.Fatalf("name %q says no outcome", tc.name)
			}
			if tc.check != nil {
				tc.check(t, v)
			}
		})
	}
}

// Without a now, expiry is parsed and reported but never judged.
func TestJudgeExpiryWithoutNow(t *testing.T) {
	t.Parallel()
	v := Judge(`restrict,port-forwarding,permitopen="127.0.0.1:8009",expiry-time="20000101" `+testKey, Match{}, time.Time{})
	if v.Expired || v.Expiry.Year() != 2000 || len(v.Problems) != 0 {
		t.Fatalf("%+v", v)
	}
}

// What Build writes is what Judge accepts, with nothing to report, and
// Prefix is Build's option text.
func TestBuildIsJudgedGood(t *testing.T) {
	t.Parallel()
	k, _, err := ParsePublic([]byte(testKey))
	if err != nil {
		t.Fatal(err)
	}
	o := Options{Targets: []string{"127.0.0.1:8009", "[::1]:8009"}, Expiry: time.Now().Add(time.Hour), From: []string{"192.0.2.0/24"}}
	line, err := Build(k, o)
	if err != nil {
		t.Fatal(err)
	}
	prefix, err := Prefix(o)
	if err != nil || !strings.HasPrefix(line, prefix+" ssh-ed25519 ") {
		t.Fatalf("prefix %q (%v) does not start %q", prefix, err, line)
	}
	if v := Judge(line, Match{Targets: o.Targets}, time.Now()); len(v.Problems) != 0 {
		t.Fatalf("Build's line judged: %+v", v.Problems)
	}
	if _, err := Prefix(Options{}); err == nil {
		t.Fatal("a prefix without targets")
	}
}
