package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/pfwdctl/pfwdctl/internal/testenv"
	"github.com/pfwdctl/pfwdctl/render/rendertest"
	"github.com/pfwdctl/pfwdctl/users"
	"github.com/pfwdctl/pfwdctl/verify/audit"
)

// agreeKey is a fresh key as "TYPE BASE64 name", for one line each.
func agreeKey(t *testing.T, name string) string {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sp, _ := ssh.NewPublicKey(pub)
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sp))) + " " + name
}

// agreeTree is a tree with pfwdctl's drop-ins applied by the real
// command (Match User pfwd, PermitOpen 127.0.0.1:8009) and pfwd's
// authorized_keys holding lines.
func agreeTree(t *testing.T, sshd string, lines []string) string {
	t.Helper()
	root := rendertest.New(t, rendertest.Tree{})
	env, _, errb := testEnv()
	if code := Main([]string{"--root", root.Dir(), "apply", "--sshd", sshd}, env); code != 0 {
		t.Fatalf("apply: exit %d\n%s", code, errb)
	}
	if err := os.MkdirAll(root.Path("/home/pfwd/.ssh"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(root.Path("/home/pfwd/.ssh/authorized_keys"), []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return root.Dir()
}

// TestListKeysAndAuditAgree runs the real list-keys and audit commands
// over the same authorized_keys and checks that, line by line, both flag
// it or both accept it, and both warn or neither does. The first line is
// the one from issue 10 that list-keys flagged and audit certified.
func TestListKeysAndAuditAgree(t *testing.T) {
	sshd := testenv.Sshd(t)
	const std = `restrict,port-forwarding,permitopen="127.0.0.1:8009"`
	cases := []struct {
		options string
		flag    bool // lets the key do more than forward to 127.0.0.1:8009
		warn    bool // only keeps the key from working
	}{
		{`restrict,port-forwarding,agent-forwarding,pty,permitopen="127.0.0.1:8009"`, true, false},
		{std, false, false},
		{`RESTRICT,Port-Forwarding,PERMITOPEN="127.0.0.1:8009"`, false, false},
		{std + `,expiry-time="20991231",from="192.0.2.0/24"`, false, false},
		{"", true, false},
		{`restrict,port-forwarding,permitopen="*:*"`, true, false},
		{`restrict,port-forwarding,permitopen="127.0.0.1:22"`, true, false},
		{`restrict,port-forwarding,X11-forwarding,permitopen="127.0.0.1:8009"`, true, false},
		{`restrict,port-forwarding,user-rc,permitopen="127.0.0.1:8009"`, true, false},
		{std + `,no-such-option`, true, false},
		{std + `,environment="LD_PRELOAD=/tmp/x.so"`, true, false},
		{std + `,cert-authority`, true, false},
		{`restrict,port-forwarding,permitopen=127.0.0.1:8009`, true, false},
		{std + `,expiry-time="20200101"`, false, true},
		{"restrict", false, true},
		{`port-forwarding,restrict,permitopen="127.0.0.1:8009"`, false, true},
	}
	var lines []string
	for i, c := range cases {
		lines = append(lines, strings.TrimSpace(c.options+" "+agreeKey(t, fmt.Sprintf("k%d", i))))
	}
	root := agreeTree(t, sshd, lines)
	const keysFile = "/home/pfwd/.ssh/authorized_keys"

	env, out, errb := testEnv()
	lkCode := Main([]string{"--root", root, "--json", "list-keys"}, env)
	var lk users.ListResult
	if err := json.Unmarshal(out.Bytes(), &lk); err != nil {
		t.Fatalf("list-keys --json: %v\n%s%s", err, out, errb)
	}
	env, out, errb = testEnv()
	auCode := Main([]string{"--root", root, "--json", "audit", "--sshd", sshd}, env)
	var rep audit.Report
	if err := json.NewDecoder(out).Decode(&rep); err != nil {
		t.Fatalf("audit --json: %v\n%s", err, errb)
	}
	if lkCode != 1 || auCode != 1 {
		t.Errorf("exit codes: list-keys %d, audit %d, want 1 and 1", lkCode, auCode)
	}
	if len(lk.Keys) != len(cases) {
		t.Fatalf("list-keys saw %d keys, want %d", len(lk.Keys), len(cases))
	}
	for i, c := range cases {
		num := i + 1
		k := lk.Keys[i]
		var auFail, auWarn []string
		for _, f := range rep.Findings {
			if f.File != keysFile || f.Line != num {
				continue
			}
			switch f.Severity {
			case audit.Fail:
				auFail = append(auFail, f.ID)
			case audit.Warn:
				auWarn = append(auWarn, f.ID)
			}
		}
		lkFlag, auFlag := !k.Restricted, len(auFail) > 0
		if lkFlag != auFlag || lkFlag != c.flag {
			t.Errorf("line %d %q: list-keys flags %v (%v), audit flags %v (%v), want %v", num, lines[i], lkFlag, k.Problems, auFlag, auFail, c.flag)
		}
		if lkWarn, aw := len(k.Warnings) > 0, len(auWarn) > 0; lkWarn != aw || (!c.flag && lkWarn != c.warn) {
			t.Errorf("line %d %q: list-keys warns %v (%v), audit warns %v (%v), want %v", num, lines[i], lkWarn, k.Warnings, aw, auWarn, c.warn)
		}
		if len(k.Problems) != len(auFail) || len(k.Warnings) != len(auWarn) {
			t.Errorf("line %d: list-keys %d problems %d warnings, audit %d fails %d warnings", num, len(k.Problems), len(k.Warnings), len(auFail), len(auWarn))
		}
	}
	// Nothing but the key lines fails: the tree is otherwise clean.
	for _, f := range rep.BySeverity(audit.Fail) {
		if f.File != keysFile {
			t.Errorf("unexpected failure: %s %s", f.ID, f.Title)
		}
	}
}

// The issue's line alone: both commands exit 1, in text mode too, and
// audit names the new finding.
func TestIssueLineFlaggedByBoth(t *testing.T) {
	sshd := testenv.Sshd(t)
	line := `restrict,port-forwarding,agent-forwarding,pty,permitopen="127.0.0.1:8009" ` + agreeKey(t, "bob")
	root := agreeTree(t, sshd, []string{line})

	env, out, errb := testEnv()
	if code := Main([]string{"--root", root, "list-keys"}, env); code != 1 || !strings.Contains(out.String(), "UNRESTRICTED: agent-forwarding turns agent forwarding back on after restrict") {
		t.Errorf("list-keys: exit %d\n%s%s", code, out, errb)
	}
	env, out, errb = testEnv()
	code := Main([]string{"--root", root, "audit", "--sshd", sshd}, env)
	if code != 1 || !strings.Contains(out.String(), "[key.reenables]") || !strings.Contains(out.String(), `key "bob": pty turns terminals`) {
		t.Errorf("audit: exit %d\n%s%s", code, out, errb)
	}
	if strings.Contains(out.String(), "all 1 key lines") {
		t.Errorf("audit still certifies the line:\n%s", out)
	}
}

// TestListKeysAndAuditFlagCopies: the same key on two lines (issue 12 item
// 2) is flagged on both lines by list-keys and audit, through the one
// function keyline.SameKey.
func TestListKeysAndAuditFlagCopies(t *testing.T) {
	sshd := testenv.Sshd(t)
	const std = `restrict,port-forwarding,permitopen="127.0.0.1:8009"`
	dup, other := agreeKey(t, "friend"), agreeKey(t, "other")
	root := agreeTree(t, sshd, []string{std + ` ` + dup, std + ` ` + other, dup})
	env, out, errb := testEnv()
	Main([]string{"--root", root, "--json", "list-keys"}, env)
	var lk users.ListResult
	if err := json.Unmarshal(out.Bytes(), &lk); err != nil {
		t.Fatalf("list-keys --json: %v\n%s%s", err, out, errb)
	}
	if len(lk.Keys) != 3 || !lk.Keys[0].Copies || lk.Keys[1].Copies || !lk.Keys[2].Copies {
		t.Fatalf("list-keys copies = %+v", lk.Keys)
	}
	env, out, errb = testEnv()
	Main([]string{"--root", root, "--json", "audit", "--sshd", sshd}, env)
	var rep audit.Report
	if err := json.NewDecoder(out).Decode(&rep); err != nil {
		t.Fatalf("audit --json: %v\n%s", err, errb)
	}
	lines := map[int]bool{}
	for _, f := range rep.Findings {
		if f.ID == "key.copies" {
			lines[f.Line] = true
		}
	}
	if !lines[1] || lines[2] || !lines[3] {
		t.Fatalf("audit key.copies on lines %v, want 1 and 3\n%+v", lines, rep.Findings)
	}
}
