package render

import (
	"errors"
	"strings"
	"testing"

	"github.com/pfwdctl/pfwdctl/internal/fail"
)

func TestParseTarget(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"good_ipv4", "127.0.0.1:8009", "127.0.0.1:8009"},
		{"good_ipv6", "[::1]:8009", "[::1]:8009"},
		{"good_ipv6_normalised", "[0:0::1]:443", "[::1]:443"},
		{"good_hostname", "Inference.Internal:80", "inference.internal:80"},
		{"good_port_max", "10.0.0.1:65535", "10.0.0.1:65535"},
		{"fail_no_port", "127.0.0.1", ""},
		{"fail_port_zero", "127.0.0.1:0", ""},
		{"fail_port_big", "127.0.0.1:65536", ""},
		{"fail_port_leading_zero", "127.0.0.1:08009", ""},
		{"fail_port_name", "127.0.0.1:http", ""},
		{"fail_star", "*:8009", ""},
		{"fail_any_port", "127.0.0.1:*", ""},
		{"fail_empty_host", ":8009", ""},
		{"fail_newline_injection", "127.0.0.1:8009\nPermitOpen any", ""},
		{"fail_space_injection", "127.0.0.1:8009 any", ""},
		{"fail_quote", `127.0.0.1:8009"`, ""},
		{"fail_comma", "127.0.0.1:8009,10.0.0.1:22", ""},
		{"fail_ipv4_brackets", "[127.0.0.1]:8009", ""},
		{"fail_bad_hostname", "-x.example:80", ""},
		{"fail_underscore", "a_b:80", ""},
		{"fail_zone", "[fe80::1%eth0]:80", ""},
		{"fail_ipv6_unbracketed", "::1:8009", ""},
		{"fail_empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseTarget(tt.in)
			if strings.HasPrefix(tt.name, "good_") {
				if err != nil {
					t.Fatalf("ParseTarget(%q): %v", tt.in, err)
				}
				if got.String() != tt.want {
					t.Fatalf("ParseTarget(%q) = %s, want %s", tt.in, got, tt.want)
				}
				return
			}
			var fe *fail.Error
			if !errors.As(err, &fe) || fe.Kind != fail.Usage || fe.Hint == "" {
				t.Fatalf("ParseTarget(%q) = %v, %v; want a usage error with a hint", tt.in, got, err)
			}
		})
	}
}

func TestValidateUser(t *testing.T) {
	good := []string{"pfwd", "_svc", "a", "tunnel-2", strings.Repeat("a", 32)}
	bad := []string{"", "root", "Pfwd", "1abc", "pf wd", "pf\nwd", "pf*", "!pfwd", "pf,wd", "pf?", strings.Repeat("a", 33), "pfwd\nMatch all"}
	for _, u := range good {
		if err := ValidateUser(u); err != nil {
			t.Errorf("good_%q: %v", u, err)
		}
	}
	for _, u := range bad {
		if err := ValidateUser(u); err == nil {
			t.Errorf("fail_%q: accepted", u)
		}
	}
}

func TestParseTargetsRefusesDuplicates(t *testing.T) {
	if _, err := ParseTargets([]string{"127.0.0.1:8009", "127.0.0.1:8009"}); err == nil {
		t.Fatal("duplicate target accepted")
	}
}
