package audit

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pfwdctl/pfwdctl/internal/run"
	"github.com/pfwdctl/pfwdctl/internal/testenv"
	"github.com/pfwdctl/pfwdctl/render"
	"github.com/pfwdctl/pfwdctl/verify/lab"
	"github.com/pfwdctl/pfwdctl/verify/lab/labtest"
)

// TestLiveStale: a daemon that runs another config than the files say is a
// failure, found by asking the daemon (issue: "audit 0 failed" after a
// reload that never happened). The tree's ListenAddress names a real lab
// sshd, which runs the hardened config; the tree then gains a line that
// turns passwords on, which that daemon was never told about.
func TestLiveStale(t *testing.T) {
	bin := testenv.Sshd(t)
	s := labtest.New(t, lab.Options{})
	listen := fmt.Sprintf("ListenAddress %s\n", s.Addr)
	p := render.DefaultParams()
	audit := func(extra string) *Report {
		t.Helper()
		conf := strings.Replace(strings.Join(stockLines(), "\n")+"\n", "Include /etc/ssh/sshd_config.d/*.conf\n", extra+"Include /etc/ssh/sshd_config.d/*.conf\n"+listen, 1)
		root := tree(t, p, map[string]string{mainConf: conf}, nil)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		rep, err := Run(ctx, Options{Root: root, Runner: run.Exec{}, SshdBin: bin, Params: p, Live: true, ReloadHint: "kill -HUP 1234"})
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	rep := audit("")
	if f := find(rep, "live.stale"); f != nil {
		t.Fatalf("a daemon serving the config on disk is called stale: %+v", f)
	}
	if f := find(rep, "live"); f == nil || f.Severity != OK {
		t.Fatalf("no live OK finding: %+v", rep.Findings)
	}
	rep = audit("PasswordAuthentication yes\nAuthenticationMethods any\n")
	f := find(rep, "live.stale")
	if f == nil || f.Severity != Fail || !strings.Contains(f.Detail, "does not offer password") || !strings.Contains(f.Fix, "kill -HUP 1234") {
		t.Fatalf("stale daemon not found: %+v", rep.Findings)
	}
	if rep.Passed {
		t.Fatal("audit passes a stale daemon")
	}
}

func find(r *Report, id string) *Finding {
	for i := range r.Findings {
		if r.Findings[i].ID == id {
			return &r.Findings[i]
		}
	}
	return nil
}
