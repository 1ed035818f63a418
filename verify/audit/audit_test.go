package audit

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pfwdctl/pfwdctl/internal/hostfs"
	"github.com/pfwdctl/pfwdctl/internal/run"
	"github.com/pfwdctl/pfwdctl/internal/sk"
	"github.com/pfwdctl/pfwdctl/internal/sshd"
	"github.com/pfwdctl/pfwdctl/internal/testenv"
	"github.com/pfwdctl/pfwdctl/render"
	"github.com/pfwdctl/pfwdctl/render/rendertest"
	"github.com/pfwdctl/pfwdctl/users/keyline"
)

const (
	keyBlob  = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAcXhRaoCtUCwN57W6p5GdA/6RwrBUuewlAmEtiU539A"
	goodKey  = `restrict,port-forwarding,permitopen="127.0.0.1:8009" ` + keyBlob + " friend\n"
	dropDir  = "/etc/ssh/sshd_config.d/"
	mainConf = "/etc/ssh/sshd_config"
	keysFile = "/home/pfwd/.ssh/authorized_keys"
)

// stockLines is Debian's main file as lines, for trees that edit it.
func stockLines() []string {
	return strings.Split(strings.TrimSuffix(string(rendertest.StockSshdConfig), "\n"), "\n")
}

// tree is a host after pfwdctl apply and add-key: Debian's stock main
// file, the rendered drop-ins, the locked pfwd account with one key.
// files replace or add host files ("" deletes); post runs last.
func tree(t *testing.T, p render.Params, files map[string]string, post func(root hostfs.Root)) hostfs.Root {
	t.Helper()
	all := map[string]string{keysFile: goodKey}
	rendered, err := render.Render(p)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range rendered {
		all[dropDir+f.Name] = string(f.Data)
	}
	var del []string
	for k, v := range files {
		if v == "" {
			del = append(del, k)
			continue
		}
		all[k] = v
	}
	root := rendertest.New(t, rendertest.Tree{Files: all})
	for _, d := range del {
		if err := os.Remove(root.Path(d)); err != nil {
			t.Fatal(err)
		}
	}
	if post != nil {
		post(root)
	}
	return root
}

func audit(t *testing.T, root hostfs.Root, p render.Params) *Report {
	t.Helper()
	sshd := testenv.Sshd(t)
	rep, err := Run(context.Background(), Options{Root: root, Runner: run.Exec{}, SshdBin: sshd, Params: p,
		Now: func() time.Time { return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) }})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func dump(rep *Report) string {
	var b strings.Builder
	for _, f := range rep.Findings {
		if f.Severity != OK {
			fmt.Fprintf(&b, "  %s %s %s: %s\n", f.Severity, f.ID, f.At(), f.Title)
		}
	}
	return b.String()
}

func TestBaselinePasses(t *testing.T) {
	t.Parallel()
	p := render.DefaultParams()
	rep := audit(t, tree(t, p, nil, nil), p)
	if !rep.Passed {
		t.Fatalf("baseline fails:\n%s", dump(rep))
	}
	for _, f := range rep.Findings {
		// Debian's stock algorithms are outside the crypto policy: warnings.
		if f.Severity == Warn && !strings.HasPrefix(f.ID, "crypto.") {
			t.Errorf("unexpected warning %s %s: %s", f.ID, f.At(), f.Title)
		}
	}
	if rep.OtherUser != "admin" {
		t.Errorf("other user = %q, want admin", rep.OtherUser)
	}
}

// skKeyLine is a hardware-backed key installed as add-key writes it.
func skKeyLine(t *testing.T) string {
	t.Helper()
	a, err := sk.New("", sk.UserPresence)
	if err != nil {
		t.Fatal(err)
	}
	line, err := keyline.Build(keyline.FromPublicKey(a.PublicKey(), "yubikey"), keyline.Options{Targets: []string{"127.0.0.1:8009"}, VerifyRequired: true})
	if err != nil {
		t.Fatal(err)
	}
	return line + "\n"
}

// apply --hardware-keys-only --require-verify with a FIDO key: audit reads
// the policy from the installed block, proves it with sshd -T and passes.
func TestHardwareKeysBaselinePasses(t *testing.T) {
	t.Parallel()
	p := render.DefaultParams()
	p.HardwareKeys = &render.HardwareKeys{Algorithms: keyline.HardwareKeyAlgorithms, RequireVerify: true}
	rep := audit(t, tree(t, p, map[string]string{keysFile: skKeyLine(t)}, nil), render.DefaultParams())
	if !rep.Passed {
		t.Fatalf("fails:\n%s", dump(rep))
	}
	ok := false
	for _, f := range rep.Findings {
		if f.Severity == Warn && !strings.HasPrefix(f.ID, "crypto.") {
			t.Errorf("unexpected warning %s %s: %s", f.ID, f.At(), f.Title)
		}
		ok = ok || f.ID == "fido.policy" && f.Severity == OK && strings.Contains(f.Title, "PIN")
	}
	if !ok {
		t.Errorf("no passing fido.policy:\n%+v", rep.Findings)
	}
}

func TestBaselineWithCryptoHasNoWarnings(t *testing.T) {
	t.Parallel()
	p := render.DefaultParams()
	c := probedPolicy(t)
	p.Crypto = &c
	rep := audit(t, tree(t, p, nil, nil), render.DefaultParams())
	if w := rep.BySeverity(Warn); len(w) > 0 || !rep.Passed {
		t.Fatalf("with the crypto drop-in:\n%s", dump(rep))
	}
}

// Each broken tree must be flagged with the right finding at the right
// file and line.
func TestBrokenTrees(t *testing.T) {
	t.Parallel()
	stock := stockLines()
	withMain := func(lines ...string) string { return strings.Join(lines, "\n") + "\n" }
	var noInclude []string
	for _, l := range stock {
		if !strings.HasPrefix(l, "Include ") {
			noInclude = append(noInclude, l)
		}
	}
	appended := append(append([]string{}, stock...), "", "Match User backup", "    ForceCommand internal-sftp", "", "PermitRootLogin yes")
	n := len(stock)
	shadowWith := func(pw string) string {
		return "root:*:19000:0:99999:7:::\nadmin:$y$j9T$abc$def:19000:0:99999:7:::\npfwd:" + pw + ":19000:0:99999:7:::\n"
	}
	tests := []struct {
		name     string
		files    map[string]string
		post     func(hostfs.Root)
		id       string
		sev      Severity
		at       string
		alsoWant []string // more IDs that must be present
		// hw renders the tree with apply --hardware-keys-only; the audit
		// still starts from the default params and reads the policy
		// from the installed block, as a plain pfwdctl audit does.
		hw bool
	}{
		{name: "earlier drop-in re-enables password auth",
			files: map[string]string{dropDir + "05-local.conf": "# local\nPasswordAuthentication yes\n"},
			id:    "dropin.earlier", sev: Fail, at: dropDir + "05-local.conf:2"},
		{name: "AllowTcpForwarding yes above the Include",
			files: map[string]string{mainConf: withMain(append([]string{"AllowTcpForwarding yes"}, stock...)...)},
			id:    "include.order", sev: Fail, at: mainConf + ":1"},
		{name: "line appended after a trailing Match in the main file",
			files: map[string]string{mainConf: withMain(appended...)},
			id:    "match.trailing", sev: Fail, at: fmt.Sprintf("%s:%d", mainConf, n+5)},
		{name: "earlier Match User pfwd block",
			files: map[string]string{dropDir + "05-local.conf": "Match User pfwd\n    AllowTcpForwarding yes\n"},
			id:    "match.override", sev: Fail, at: dropDir + "05-local.conf:2", alsoWant: []string{"match.earlier"}},
		{name: "a killed add-key left an open intent in the audit log",
			files: map[string]string{"/var/log/pfwdctl/audit.jsonl": `{"time":"2026-01-01T00:00:00Z","action":"key-add","account":"pfwd","fingerprint":"SHA256:x","admin":"alice","id":"1","status":"intent"}` + "\n" +
				`{"time":"2026-01-01T00:00:00Z","action":"key-add","account":"pfwd","fingerprint":"SHA256:y","admin":"alice","id":"2","status":"intent"}` + "\n" +
				`{"time":"2026-01-01T00:00:00Z","action":"key-add","account":"pfwd","fingerprint":"SHA256:y","admin":"alice","id":"2","status":"done"}` + "\n"},
			id: "auditlog.interrupted", sev: Warn, at: "/var/log/pfwdctl/audit.jsonl"},
		// Issue 13: ways around the key options, and a tunnel that cannot
		// work at all.
		{name: "TrustedUserCAKeys lets certificates in without the key options",
			files: map[string]string{dropDir + "60-local.conf": "TrustedUserCAKeys /etc/ssh/user_ca.pub\n"},
			id:    "keys.ca", sev: Fail, at: dropDir + "60-local.conf:1"},
		{name: "host-based login allowed for the account",
			files: map[string]string{dropDir + "05-local.conf": "Match User pfwd\n    AuthenticationMethods any\n    HostbasedAuthentication yes\n"},
			id:    "auth.hostbased", sev: Fail, at: dropDir + "05-local.conf:3", alsoWant: []string{"match.earlier"}},
		{name: "GSSAPI login allowed for the account",
			files: map[string]string{dropDir + "05-local.conf": "Match User pfwd\n    AuthenticationMethods any\n    GSSAPIAuthentication yes\n"},
			id:    "auth.gssapi-with-mic", sev: Fail, at: dropDir + "05-local.conf:3"},
		{name: "AllowUsers leaves the account out",
			files: map[string]string{dropDir + "05-local.conf": "AllowUsers admin root\n"},
			id:    "login.blocked", sev: Fail, at: dropDir + "05-local.conf:1"},
		{name: "DenyUsers names the account",
			files: map[string]string{dropDir + "60-local.conf": "DenyUsers pf*\n"},
			id:    "login.blocked", sev: Fail, at: dropDir + "60-local.conf:1"},
		{name: "AllowGroups leaves the account's groups out",
			files: map[string]string{dropDir + "60-local.conf": "AllowGroups sudo\n"},
			id:    "login.blocked", sev: Fail, at: dropDir + "60-local.conf:1"},
		{name: "PubkeyAuthentication no",
			files: map[string]string{dropDir + "05-local.conf": "Match User pfwd\n    PubkeyAuthentication no\n    AuthenticationMethods any\n"},
			id:    "login.blocked", sev: Fail, at: dropDir + "05-local.conf:2"},
		{name: "accepted algorithms exclude the installed key's type",
			files: map[string]string{dropDir + "05-local.conf": "PubkeyAcceptedAlgorithms rsa-sha2-512,rsa-sha2-256\n"},
			id:    "login.blocked", sev: Fail, at: dropDir + "05-local.conf:1"},
		{name: "the only key has expired",
			files: map[string]string{keysFile: `restrict,port-forwarding,permitopen="127.0.0.1:8009",expiry-time="20200101" ` + keyBlob + " old\n"},
			id:    "login.blocked", sev: Fail, at: ""},
		// Who can change what sshd reads or runs.
		{name: "world-writable drop-in directory",
			post: func(r hostfs.Root) { chmod(t, r, "/etc/ssh/sshd_config.d", 0o777) },
			id:   "write.other", sev: Fail, at: "/etc/ssh/sshd_config.d"},
		{name: "group-writable main config",
			post: func(r hostfs.Root) { chmod(t, r, mainConf, 0o664) },
			id:   "write.other", sev: Fail, at: mainConf},
		{name: "world-writable ForceCommand program",
			files: map[string]string{"/usr/sbin/nologin": "#!/bin/sh\nexit 1\n"},
			post:  func(r hostfs.Root) { chmod(t, r, "/usr/sbin/nologin", 0o777) },
			id:    "write.other", sev: Fail, at: "/usr/sbin/nologin"},
		// Match blocks that apply only on some connections.
		{name: "Match Address opens every port from a LAN",
			files: map[string]string{dropDir + "05-local.conf": "Match Address 10.0.0.0/8\n    PermitOpen any\n"},
			id:    "match.conditional", sev: Fail, at: dropDir + "05-local.conf:1"},
		{name: "Match LocalPort turns remote forwarding on",
			files: map[string]string{dropDir + "05-local.conf": "Match LocalPort 2222\n    AllowTcpForwarding yes\n"},
			id:    "match.conditional", sev: Fail, at: dropDir + "05-local.conf:1"},
		{name: "Match Host with a wildcard gives a terminal",
			files: map[string]string{dropDir + "05-local.conf": "Match Host *.example.com User pf*\n    PermitTTY yes\n"},
			id:    "match.conditional", sev: Fail, at: dropDir + "05-local.conf:1"},
		// Patterns the first-positive reading got wrong (each reproduced
		// against sshd -T): a negation excluding the one derived address,
		// wildcards, "Criterion=value", and key sources a later block
		// adds where pfwdctl's block sets nothing.
		{name: "Match Address with a negation of the first address",
			files: map[string]string{dropDir + "05-local.conf": "Match Address 10.0.0.0/8,!10.0.0.1\n    PermitOpen any\n    PermitTTY yes\n"},
			id:    "match.conditional", sev: Fail, at: dropDir + "05-local.conf:1"},
		{name: "Match LocalAddress with a negation",
			files: map[string]string{dropDir + "05-local.conf": "Match LocalAddress 127.0.0.0/8,!127.0.0.1\n    PermitOpen any\n"},
			id:    "match.conditional", sev: Fail, at: dropDir + "05-local.conf:1"},
		{name: "Match Address with an octet wildcard",
			files: map[string]string{dropDir + "05-local.conf": "Match Address 10.*\n    PermitOpen any\n"},
			id:    "match.conditional", sev: Fail, at: dropDir + "05-local.conf:1"},
		{name: "Match Address everything but loopback",
			files: map[string]string{dropDir + "05-local.conf": "Match Address !127.0.0.1,!::1,*\n    PermitTTY yes\n"},
			id:    "match.conditional", sev: Fail, at: dropDir + "05-local.conf:1"},
		{name: "Match Address=CIDR",
			files: map[string]string{dropDir + "05-local.conf": "Match Address=10.0.0.0/8\n    PermitOpen any\n"},
			id:    "match.conditional", sev: Fail, at: dropDir + "05-local.conf:1"},
		{name: "Match Address =CIDR",
			files: map[string]string{dropDir + "05-local.conf": "Match Address =198.51.100.0/24\n    PermitOpen any\n"},
			id:    "match.conditional", sev: Fail, at: dropDir + "05-local.conf:1"},
		{name: "Match Address = CIDR",
			files: map[string]string{dropDir + "05-local.conf": "Match Address = 198.51.100.0/24\n    PermitOpen any\n"},
			id:    "match.conditional", sev: Fail, at: dropDir + "05-local.conf:1"},
		{name: "Match Address= CIDR",
			files: map[string]string{dropDir + "05-local.conf": "Match Address= 198.51.100.0/24\n    PermitOpen any\n"},
			id:    "match.conditional", sev: Fail, at: dropDir + "05-local.conf:1"},
		{name: "Match two criteria both led by a negation",
			files: map[string]string{dropDir + "05-local.conf": "Match Address !10.0.0.0/8,* LocalAddress !127.0.0.1,*\n    PermitOpen any\n"},
			id:    "match.conditional", sev: Fail, at: dropDir + "05-local.conf:1"},
		{name: "Match LocalPort after pfwdctl's block adds a keys command and a CA",
			files: map[string]string{dropDir + "90-local.conf": "Match LocalPort 2222\n    AuthorizedKeysCommand /usr/bin/cat /etc/ssh/extra_keys\n    AuthorizedKeysCommandUser nobody\n    TrustedUserCAKeys /etc/ssh/evil_ca.pub\n"},
			id:    "match.conditional", sev: Fail, at: dropDir + "90-local.conf:1"},
		// On a --root tree sshd -T looks groups up on the host, not in
		// the tree: the earlier block's own reading must fail it.
		{name: "earlier Match Group of the tree's groups opens every port",
			files: map[string]string{"/etc/group": "root:x:0:\npfwd:x:999:\npfwdctl-tree-only:x:2000:pfwd\n",
				dropDir + "05-local.conf": "Match Group pfwdctl-tree-only\n    PermitOpen any\n    PermitTTY yes\n"},
			id: "match.earlier", sev: Fail, at: dropDir + "05-local.conf:1"},
		// Merged /usr: /sbin/nologin is /usr/sbin/nologin, the same
		// ForceCommand as pfwdctl's: a note, not a failure.
		{name: "earlier Match with the same nologin by another path",
			files: map[string]string{"/usr/sbin/nologin": "#!/bin/sh\nexit 1\n",
				dropDir + "05-local.conf": "Match User pfwd\n    ForceCommand /sbin/nologin\n"},
			post: func(r hostfs.Root) {
				if err := os.Symlink("usr/sbin", r.Path("/sbin")); err != nil {
					t.Fatal(err)
				}
			},
			id: "match.earlier", sev: Warn, at: dropDir + "05-local.conf:1"},
		{name: "DisableForwarding yes",
			files: map[string]string{dropDir + "60-local.conf": "DisableForwarding yes\n"},
			id:    "forwarding.disabled", sev: Fail, at: dropDir + "60-local.conf:1"},
		{name: "missing Include",
			files: map[string]string{mainConf: withMain(noInclude...)},
			id:    "include.missing", sev: Fail, at: mainConf, alsoWant: []string{"effective.unset"}},
		{name: "key without restrict",
			files: map[string]string{keysFile: "# friends\n" + `permitopen="127.0.0.1:8009" ` + keyBlob + " friend\n"},
			id:    "key.restrict", sev: Fail, at: keysFile + ":2"},
		{name: "key permitopen beyond the Match block",
			files: map[string]string{keysFile: goodKey + `restrict,port-forwarding,permitopen="127.0.0.1:22" ` + keyBlob + " other\n"},
			id:    "key.permitopen", sev: Fail, at: keysFile + ":2"},
		{name: "key without permitopen",
			files: map[string]string{keysFile: "restrict,port-forwarding " + keyBlob + " any\n"},
			id:    "key.permitopen", sev: Fail, at: keysFile + ":1"},
		{name: "key re-enables agent forwarding and pty after restrict (issue 10)",
			files: map[string]string{keysFile: goodKey + `restrict,port-forwarding,agent-forwarding,pty,permitopen="127.0.0.1:8009" ` + keyBlob + " bob\n"},
			id:    "key.reenables", sev: Fail, at: keysFile + ":2"},
		{name: "key with an unknown option",
			files: map[string]string{keysFile: `restrict,port-forwarding,permitopen="127.0.0.1:8009",no-shell ` + keyBlob + " odd\n"},
			id:    "key.unknown-option", sev: Fail, at: keysFile + ":1"},
		{name: "expired key",
			files: map[string]string{keysFile: goodKey + `restrict,port-forwarding,permitopen="127.0.0.1:8009",expiry-time="20250101" ` + keyBlob + " old\n"},
			id:    "key.expired", sev: Warn, at: keysFile + ":2"},
		{name: "key expires within 7 days: plan its rotation",
			files: map[string]string{keysFile: goodKey + `restrict,port-forwarding,permitopen="127.0.0.1:8009",expiry-time="202601031200Z" ` + keyBlob + " soon\n"},
			id:    "keys.expiring-soon", sev: Warn, at: keysFile + ":2"},
		{name: "world-writable .ssh",
			post: func(r hostfs.Root) { chmod(t, r, "/home/pfwd/.ssh", 0o777) },
			id:   "strict.mode", sev: Fail, at: "/home/pfwd/.ssh"},
		{name: "authorized_keys owned by someone else",
			post: func(r hostfs.Root) { chown(t, r, keysFile, 1000) },
			id:   "strict.mode", sev: Fail, at: keysFile},
		{name: "unlocked account",
			files: map[string]string{"/etc/shadow": shadowWith("$y$j9T$abc$def")},
			id:    "account.unlocked", sev: Fail, at: "/etc/shadow"},
		{name: "locked with ! and UsePAM no",
			files: map[string]string{"/etc/shadow": shadowWith("!"), dropDir + "05-local.conf": "UsePAM no\n"},
			id:    "account.bang-locked", sev: Fail, at: "/etc/shadow"},
		{name: "locked with ! and UsePAM yes",
			files: map[string]string{"/etc/shadow": shadowWith("!")},
			id:    "account.bang-locked", sev: Warn, at: "/etc/shadow"},
		{name: "login shell",
			files: map[string]string{"/etc/passwd": "root:x:0:0:root:/root:/bin/bash\nadmin:x:1000:1000::/home/admin:/bin/bash\npfwd:x:999:999::/home/pfwd:/bin/bash\n"},
			id:    "account.shell", sev: Fail, at: "/etc/passwd"},
		// A global line no longer reaches the account: pfwdctl's Match
		// block names its file. An earlier Match block still does.
		{name: "second AuthorizedKeysFile",
			files: map[string]string{dropDir + "05-local.conf": "Match User pfwd\n    AuthorizedKeysFile .ssh/authorized_keys /etc/ssh/keys/%u\n"},
			id:    "keys.other-file", sev: Fail, at: dropDir + "05-local.conf:2"},
		{name: "AuthorizedKeysCommand",
			files: map[string]string{dropDir + "05-local.conf": "AuthorizedKeysCommand /usr/local/bin/keys %u\nAuthorizedKeysCommandUser nobody\n"},
			id:    "keys.other-source", sev: Fail, at: dropDir + "05-local.conf:1"},
		{name: "authorized_keys2 exists",
			files: map[string]string{"/home/pfwd/.ssh/authorized_keys2": keyBlob + " bare\n",
				dropDir + "05-local.conf": "Match User pfwd\n    AuthorizedKeysFile .ssh/authorized_keys .ssh/authorized_keys2\n"},
			id: "key.restrict", sev: Fail, at: "/home/pfwd/.ssh/authorized_keys2:1", alsoWant: []string{"keys.other-file"}},
		{name: "pfwdctl drop-in edited",
			files: map[string]string{dropDir + "20-pfwd-only.conf": strings.Replace(mustRender(t)["20-pfwd-only.conf"], "AllowTcpForwarding local", "AllowTcpForwarding yes", 1)},
			id:    "dropin.edited", sev: Fail, at: dropDir + "20-pfwd-only.conf:8", alsoWant: []string{"dropin.changed"}},
		{name: "Match block for the admin allows passwords",
			files: map[string]string{mainConf: withMain(append(append([]string{}, stock...), "Match User admin", "    PasswordAuthentication yes")...)},
			id:    "match.override", sev: Fail, at: fmt.Sprintf("%s:%d", mainConf, n+2)},
		// Issue 18: an account that takes hardware-backed keys only.
		{name: "earlier Match block lets plain keys into a hardware-keys-only account", hw: true,
			files: map[string]string{keysFile: skKeyLine(t), dropDir + "05-local.conf": "Match User pfwd\n    PubkeyAcceptedAlgorithms ssh-ed25519,sk-ssh-ed25519@openssh.com\n"},
			id:    "fido.policy", sev: Fail, at: dropDir + "05-local.conf:2", alsoWant: []string{"match.earlier"}},
		{name: "earlier Match block drops the touch for a hardware-keys-only account", hw: true,
			files: map[string]string{keysFile: skKeyLine(t), dropDir + "05-local.conf": "Match User pfwd\n    PubkeyAuthOptions none\n"},
			id:    "fido.policy", sev: Fail, at: dropDir + "05-local.conf:2"},
		{name: "plain key left in a hardware-keys-only account", hw: true,
			files: map[string]string{keysFile: skKeyLine(t) + goodKey},
			id:    "key.not-hardware", sev: Warn, at: keysFile + ":2"},
		{name: "sshd rejects a crypto keyword inside Match",
			files: map[string]string{dropDir + "05-local.conf": "Match User pfwd\n    Ciphers aes128-ctr\n"},
			id:    "sshd.rejects", sev: Fail, at: mainConf},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := render.DefaultParams()
			tp := p
			if tc.hw {
				tp.HardwareKeys = &render.HardwareKeys{Algorithms: keyline.HardwareKeyAlgorithms}
			}
			rep := audit(t, tree(t, tp, tc.files, tc.post), p)
			if rep.Passed != (tc.sev != Fail) {
				t.Errorf("passed = %v", rep.Passed)
			}
			found := false
			for _, f := range rep.Findings {
				if f.ID == tc.id && f.Severity == tc.sev && f.At() == tc.at {
					found = true
					if f.Fix == "" {
						t.Errorf("%s has no fix", f.ID)
					}
				}
			}
			if !found {
				t.Errorf("want %s %s at %s; got:\n%s", tc.sev, tc.id, tc.at, dump(rep))
			}
			for _, id := range tc.alsoWant {
				if !hasID(rep, id) {
					t.Errorf("want also %s; got:\n%s", id, dump(rep))
				}
			}
		})
	}
}

func mustRender(t *testing.T) map[string]string {
	files, err := render.Render(render.DefaultParams())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, f := range files {
		out[f.Name] = string(f.Data)
	}
	return out
}

func hasID(rep *Report, id string) bool {
	for _, f := range rep.Findings {
		if f.ID == id {
			return true
		}
	}
	return false
}

func chmod(t *testing.T, r hostfs.Root, p string, m os.FileMode) {
	if err := os.Chmod(r.Path(p), m); err != nil {
		t.Fatal(err)
	}
}

func chown(t *testing.T, r hostfs.Root, p string, uid int) {
	if os.Geteuid() != 0 {
		t.Skip("chown needs root")
	}
	if err := os.Chown(r.Path(p), uid, uid); err != nil {
		t.Fatal(err)
	}
}

// Conditional Match blocks that cannot hurt the account pass: one that
// excludes it, and one that sorts after pfwdctl's block (whose values win).
func TestConditionalMatchCorrectVariants(t *testing.T) {
	t.Parallel()
	for name, files := range map[string]map[string]string{
		"excludes the account": {dropDir + "05-local.conf": "Match Address 10.0.0.0/8 User !pfwd,*\n    PermitOpen any\n"},
		"after pfwdctl's":      {dropDir + "60-local.conf": "Match Address 10.0.0.0/8\n    PermitOpen any\n"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			p := render.DefaultParams()
			rep := audit(t, tree(t, p, files, nil), p)
			if !rep.Passed || hasID(rep, "match.conditional") {
				t.Errorf("a harmless conditional block is reported:\n%s", dump(rep))
			}
		})
	}
}

// A line that loses under first-value-wins is no failure: the audit says
// it is shadowed, and by what (issue 13).
func TestShadowedLineIsNotAFailure(t *testing.T) {
	t.Parallel()
	p := render.DefaultParams()
	rep := audit(t, tree(t, p, map[string]string{dropDir + "60-local.conf": "PasswordAuthentication yes\n"}, nil), p)
	if !rep.Passed {
		t.Fatalf("a shadowed line fails the audit:\n%s", dump(rep))
	}
	for _, f := range rep.Findings {
		if f.ID == "shadowed" && f.At() == dropDir+"60-local.conf:1" && f.Severity == OK && strings.Contains(f.Title, "10-hardening.conf") {
			return
		}
	}
	t.Errorf("no shadowed finding naming the winner: %+v", rep.Findings)
}

// The audit never changes the tree.
func TestAuditChangesNothing(t *testing.T) {
	t.Parallel()
	p := render.DefaultParams()
	root := tree(t, p, map[string]string{dropDir + "05-local.conf": "PasswordAuthentication yes\n"}, nil)
	before := rendertest.Snapshot(t, root)
	audit(t, root, p)
	rendertest.Unchanged(t, root, before)
}

func TestMatchList(t *testing.T) {
	for _, tc := range []struct {
		s, list string
		want    bool
	}{
		{"pfwd", "pfwd", true},
		{"pfwd", "pf*", true},
		{"pfwd", "admin,pfwd", true},
		{"pfwd", "*,!pfwd", false},
		{"pfwd", "admin", false},
		{"pfwd", "pfw?", true},
	} {
		if got := matchList(tc.s, tc.list, false); got != tc.want {
			t.Errorf("matchList(%q, %q) = %v", tc.s, tc.list, got)
		}
	}
	if !matchAddr("127.0.0.1", "10.0.0.0/8,127.0.0.0/8") || matchAddr("127.0.0.1", "10.0.0.0/8") || matchAddr("127.0.0.1", "*,!127.0.0.1") {
		t.Error("matchAddr")
	}
}

// probedPolicy is the crypto policy for the system sshd, probed over a
// stock tree.
func probedPolicy(t *testing.T) render.Crypto {
	t.Helper()
	bin := testenv.Sshd(t)
	v, err := sshd.Binary{Bin: bin, Runner: run.Exec{}}.Version(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	root := rendertest.New(t, rendertest.Tree{})
	return ProbedCryptoPolicy(context.Background(), sshd.Binary{Bin: bin, Runner: run.Exec{}, Root: root, Config: mainConf}, v)
}

// TestCryptoPolicyByCapability is issue 14 item 6: the policy follows what
// the installed sshd accepts, not its version number. Debian's 9.2 offers
// the plain sntrup761x25519-sha512 by default (upstream named it in 9.9):
// apply --crypto used to take it away. Every algorithm of the policy that
// the stock server offers stays, and every one in the policy is one sshd
// accepts.
func TestCryptoPolicyByCapability(t *testing.T) {
	t.Parallel()
	pol := probedPolicy(t)
	bin := testenv.Sshd(t)
	root := rendertest.New(t, rendertest.Tree{})
	b := sshd.Binary{Bin: bin, Runner: run.Exec{}, Root: root, Config: mainConf}
	stock, err := b.Effective(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		kw   string
		pol  []string
		cand []alg
	}{{"kexalgorithms", pol.KexAlgorithms, policyKex}, {"ciphers", pol.Ciphers, policyCiphers}, {"macs", pol.MACs, policyMACs}} {
		offered := strings.Split(stock[c.kw][0], ",")
		for _, a := range c.cand {
			if slices.Contains(offered, a.name) && !slices.Contains(c.pol, a.name) {
				t.Errorf("%s: the stock server offers %s, the policy's own choice, and the policy drops it", c.kw, a.name)
			}
		}
		for _, a := range c.pol {
			if err := b.Accepts(context.Background(), c.kw+"="+a); err != nil {
				t.Errorf("%s: the policy names %s, which this sshd refuses: %v", c.kw, a, err)
			}
		}
	}
}

// The policy follows the sshd version: post-quantum ML-KEM only from 9.9.
func TestCryptoPolicyByVersion(t *testing.T) {
	p92 := CryptoPolicy(sshd.Version{Major: 9, Minor: 2})
	p99 := CryptoPolicy(sshd.Version{Major: 9, Minor: 9})
	if strings.Contains(strings.Join(p92.KexAlgorithms, ","), "mlkem") {
		t.Errorf("9.2 gets ML-KEM: %v", p92.KexAlgorithms)
	}
	if p92.KexAlgorithms[0] != "sntrup761x25519-sha512@openssh.com" {
		t.Errorf("9.2 prefers %s", p92.KexAlgorithms[0])
	}
	if p99.KexAlgorithms[0] != "mlkem768x25519-sha256" {
		t.Errorf("9.9 prefers %s", p99.KexAlgorithms[0])
	}
	for _, l := range [][]string{p92.KexAlgorithms, p92.Ciphers, p92.MACs, p92.HostKeyAlgorithms} {
		for _, a := range l {
			if strings.Contains(a, "sha1") || strings.Contains(a, "cbc") || strings.Contains(a, "nistp") || a == "ssh-rsa" {
				t.Errorf("policy allows %s", a)
			}
		}
	}
	for _, m := range p92.MACs {
		if !strings.Contains(m, "-etm@") {
			t.Errorf("policy allows non-etm MAC %s", m)
		}
	}
}
