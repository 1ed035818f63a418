package main

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/pfwdctl/pfwdctl/internal/golden"
	"github.com/pfwdctl/pfwdctl/internal/testenv"
	"github.com/pfwdctl/pfwdctl/render/rendertest"
	"github.com/pfwdctl/pfwdctl/verify/audit"
)

// A fixed report, so the layout is pinned whatever sshd the machine has.
func sampleAuditReport() *audit.Report {
	return &audit.Report{
		User: "pfwd", Targets: []string{"127.0.0.1:8009"}, OtherUser: "admin",
		SshdConfig: "/etc/ssh/sshd_config", SshdVersion: "9.2",
		Findings: []audit.Finding{
			{ID: "dropin.earlier", Severity: audit.Fail, Title: "PasswordAuthentication is yes, pfwdctl wants no: globally, for admin",
				File: "/etc/ssh/sshd_config.d/05-local.conf", Line: 2,
				Detail: "05-local.conf sorts before 10-hardening.conf, and sshd keeps the first value it reads",
				Fix:    "delete PasswordAuthentication at /etc/ssh/sshd_config.d/05-local.conf:2 (or the whole file if it is not needed)"},
			{ID: "crypto.macs", Severity: audit.Warn, Title: "MACs in effect do not follow the crypto policy for OpenSSH 9.2",
				Detail: "outside the policy: hmac-sha1 (SHA-1)",
				Fix:    "run pfwdctl apply --crypto, or add this line to /etc/ssh/sshd_config.d/15-crypto.conf (a drop-in that sorts before any other that sets it):\nMACs hmac-sha2-512-etm@openssh.com,hmac-sha2-256-etm@openssh.com,umac-128-etm@openssh.com"},
			{ID: "include", Severity: audit.OK, Title: "/etc/ssh/sshd_config includes the drop-ins at /etc/ssh/sshd_config:12"},
		},
		Layers: &audit.LayersReport{LabUser: "nobody", Layers: []audit.Layer{
			{ID: "key-options", Name: "layer 1 (key options)", Holds: true},
			{ID: "match-block", Name: "layer 2 (Match User block)", Holds: false},
		}},
	}
}

func TestAuditOutput(t *testing.T) {
	env, out, _ := testEnv()
	g := &Globals{Env: env}
	printAudit(g, sampleAuditReport())
	golden.Check(t, "cmd/audit.txt", out.Bytes())

	// On a terminal the same text comes with colour.
	var tty bytes.Buffer
	env.IO.Out, env.IO.IsTTY = &tty, true
	env.Getenv = func(k string) string { return map[string]string{"TERM": "xterm-256color"}[k] }
	printAudit(g, sampleAuditReport())
	if !strings.Contains(tty.String(), "\x1b[") {
		t.Error("no colour on a terminal")
	}
}

// Exit codes through Main over a real tree and the real sshd -T: 1 with
// findings (and one JSON document with --json), 0 when clean, 2 for bad
// flags.
func TestAuditExitCodes(t *testing.T) {
	sshd := testenv.Sshd(t)
	root := rendertest.New(t, rendertest.Tree{})
	env, _, _ := testEnv()
	if code := Main([]string{"--root", root.Dir(), "apply", "--sshd", sshd}, env); code != 0 {
		t.Fatalf("apply: exit %d", code)
	}

	env, out, errb := testEnv()
	if code := Main([]string{"--root", root.Dir(), "audit", "--sshd", sshd}, env); code != 0 {
		t.Fatalf("clean tree: exit %d\n%s%s", code, out, errb)
	}

	if err := os.WriteFile(root.Path("/etc/ssh/sshd_config.d/00-local.conf"), []byte("PermitRootLogin yes\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	env, out, errb = testEnv()
	code := Main([]string{"--root", root.Dir(), "--json", "audit", "--sshd", sshd}, env)
	if code != 1 {
		t.Fatalf("broken tree: exit %d\n%s", code, errb)
	}
	var rep audit.Report
	dec := json.NewDecoder(out)
	if err := dec.Decode(&rep); err != nil {
		t.Fatal(err)
	}
	if dec.More() {
		t.Error("more than one JSON document")
	}
	f := rep.BySeverity(audit.Fail)
	if rep.Passed || len(f) != 1 || f[0].ID != "dropin.earlier" || f[0].At() != "/etc/ssh/sshd_config.d/00-local.conf:1" {
		t.Errorf("findings: %+v", f)
	}

	env, _, errb = testEnv()
	if code := Main([]string{"--root", root.Dir(), "audit", "--sshd", sshd, "--other-user", "Bad User"}, env); code != 2 {
		t.Errorf("bad --other-user: exit %d\n%s", code, errb)
	}
}
