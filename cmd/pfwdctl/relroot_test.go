package main

import (
	"encoding/json"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/pfwdctl/pfwdctl/internal/testenv"
	"github.com/pfwdctl/pfwdctl/render/rendertest"
	"github.com/pfwdctl/pfwdctl/verify/audit"
)

// A relative --root once reached sshd as a relative Include, which sshd
// resolves against /etc/ssh: sshd -t read none of the tree's drop-ins, so
// apply with a broken drop-in said "sshd -t accepts" and audit reported
// failures that were not there. --root is made absolute when parsed, so a
// relative root behaves exactly like the absolute one.
func TestRelativeRootApplyRefusesBrokenDropIn(t *testing.T) {
	sshd := testenv.Sshd(t)
	root := rendertest.New(t, rendertest.Tree{Files: map[string]string{
		"/etc/ssh/sshd_config.d/05-broken.conf": "NoSuchKeyword yes\n",
	}})
	t.Chdir(filepath.Dir(root.Dir()))
	rel := filepath.Base(root.Dir())
	before := rendertest.Snapshot(t, root)

	for _, dir := range []string{rel, "./" + rel + "/", root.Dir()} {
		env, out, errb := testEnv()
		code := Main([]string{"--root", dir, "apply", "--sshd", sshd, "--no-reload"}, env)
		if code != 1 {
			t.Errorf("--root %s apply: exit %d, want 1\n%s%s", dir, code, out, errb)
		}
		if strings.Contains(out.String(), "sshd -t accepts") || !strings.Contains(errb.String(), "NoSuchKeyword") {
			t.Errorf("--root %s apply did not report sshd's refusal:\n%s%s", dir, out, errb)
		}
		if after := rendertest.Snapshot(t, root); !reflect.DeepEqual(before, after) {
			t.Errorf("--root %s apply changed the tree:\nbefore %v\nafter  %v", dir, keys(before), keys(after))
		}
	}
}

func TestRelativeRootAuditSameAsAbsolute(t *testing.T) {
	sshd := testenv.Sshd(t)
	root := rendertest.New(t, rendertest.Tree{})
	env, _, errb := testEnv()
	if code := Main([]string{"--root", root.Dir(), "apply", "--sshd", sshd, "--no-reload"}, env); code != 0 {
		t.Fatalf("apply: exit %d\n%s", code, errb)
	}
	t.Chdir(filepath.Dir(root.Dir()))
	rel := filepath.Base(root.Dir())

	auditJSON := func(dir string) (int, audit.Report) {
		env, out, _ := testEnv()
		code := Main([]string{"--root", dir, "--json", "audit", "--sshd", sshd}, env)
		var rep audit.Report
		if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
			t.Fatalf("--root %s audit --json: %v\n%s", dir, err, out)
		}
		return code, rep
	}
	absCode, abs := auditJSON(root.Dir())
	if absCode != 0 || len(abs.BySeverity(audit.Fail)) != 0 {
		t.Fatalf("absolute root: exit %d, fails %+v", absCode, abs.BySeverity(audit.Fail))
	}
	relCode, relRep := auditJSON(rel)
	if relCode != absCode || !reflect.DeepEqual(relRep, abs) {
		t.Errorf("relative root: exit %d, fails %+v; the absolute root gave exit %d and no failure", relCode, relRep.BySeverity(audit.Fail), absCode)
	}
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
