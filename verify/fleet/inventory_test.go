package fleet

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

const fp = "SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s"

func TestParseGood(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     []Host
	}{
		{"good_native", `
# the fleet
web1.example.org
web2.example.org:2222 user=tunnel key=/k/id_ed25519 host-key=` + fp + `   # pinned
10.0.0.7:22
[2001:db8::1]:2200
2001:db8::2
`, []Host{
			{Name: "web1.example.org", Addr: "web1.example.org", Line: 3},
			{Name: "web2.example.org:2222", Addr: "web2.example.org", Port: 2222, User: "tunnel", Key: "/k/id_ed25519", HostKey: fp, Line: 4},
			{Name: "10.0.0.7:22", Addr: "10.0.0.7", Port: 22, Line: 5},
			{Name: "[2001:db8::1]:2200", Addr: "2001:db8::1", Port: 2200, Line: 6},
			{Name: "2001:db8::2", Addr: "2001:db8::2", Line: 7},
		}},
		{"good_ansible_vars_and_children", `
; Ansible INI
mail ansible_host=192.0.2.9

[web]
web[01:03] ansible_port=2201
edge ansible_host=192.0.2.1 ansible_port=22 ansible_user=admin ansible_ssh_private_key_file=~/.ssh/admin pfwdctl_user=edgefwd

[db]
db1.example.org:2022 some_var="x y"

[prod:children]
web

[web:vars]
pfwdctl_user=webfwd
ansible_port=2200

[prod:vars]
pfwdctl_user=prodfwd
pfwdctl_host_key=` + fp + `

[all:vars]
pfwdctl_key=/keys/fleet
`, []Host{
			{Name: "mail", Addr: "192.0.2.9", Key: "/keys/fleet", Line: 3},
			// host vars win over [web:vars], which win over [prod:vars] (web is prod's child)
			{Name: "web01", Addr: "web01", Port: 2201, User: "webfwd", Key: "/keys/fleet", HostKey: fp, Line: 6},
			{Name: "web02", Addr: "web02", Port: 2201, User: "webfwd", Key: "/keys/fleet", HostKey: fp, Line: 6},
			{Name: "web03", Addr: "web03", Port: 2201, User: "webfwd", Key: "/keys/fleet", HostKey: fp, Line: 6},
			// ansible_user and the admin's key are not the forward-only account's
			{Name: "edge", Addr: "192.0.2.1", Port: 22, User: "edgefwd", Key: "/keys/fleet", HostKey: fp, Line: 7},
			{Name: "db1.example.org:2022", Addr: "db1.example.org", Port: 2022, Key: "/keys/fleet", Line: 10},
		}},
		{"good_host_in_two_groups_listed_once", `
[a]
h1
[b]
h1 ansible_port=2222
`, []Host{{Name: "h1", Addr: "h1", Port: 2222, Line: 3}}},
		{"good_empty", "# nothing yet\n\n", []Host{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse(strings.NewReader(tc.in), "inv")
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got\n%+v\nwant\n%+v", got, tc.want)
			}
		})
	}
}

func TestParseFail(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"fail_typo_key", "h1 hostkey=" + fp, `inv:1: unknown key "hostkey"`},
		{"fail_bare_word", "h1 tunnel", `inv:1: expected key=value after the host, got "tunnel"`},
		{"fail_port", "h1:99999", `inv:1: bad port in "h1:99999"`},
		{"fail_port_var", "[g]\nh1 ansible_port=ssh", `inv:2: ansible_port="ssh" is not a port number`},
		{"fail_host_key", "h1 host-key=MD5:aa:bb", `inv:1: host-key="MD5:aa:bb" is not a SHA256: fingerprint`},
		{"fail_twice", "h1\n\nh1 user=x", `inv:3: host h1 is listed twice (first on line 1)`},
		{"fail_yaml", "all:\n  hosts:\n    h1:\n", `inv:1: this looks like a YAML inventory`},
		{"fail_vars_line", "[g:vars]\njust-a-word", `inv:2: expected key=value in [g:vars]`},
		{"fail_range", "web[5:1]", `inv:1: bad host range "[5:1]"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(strings.NewReader(tc.in), "inv")
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("got %v, want a *ParseError", err)
			}
			if !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("got  %q\nwant %q...", err, tc.want)
			}
		})
	}
}

func TestHostTarget(t *testing.T) {
	if got := (Host{Addr: "2001:db8::1"}).Target(22); got != "[2001:db8::1]:22" {
		t.Errorf("got %s", got)
	}
	if got := (Host{Addr: "h", Port: 2200}).Target(22); got != "h:2200" {
		t.Errorf("got %s", got)
	}
}
