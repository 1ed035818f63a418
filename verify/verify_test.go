package verify_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/pfwdctl/pfwdctl/render"
	"github.com/pfwdctl/pfwdctl/verify"
	"github.com/pfwdctl/pfwdctl/verify/lab"
	"github.com/pfwdctl/pfwdctl/verify/lab/labtest"
)

// against starts a lab with an echo target and returns Options for it.
func against(t *testing.T, o lab.Options) (*lab.Server, verify.Options) {
	t.Helper()
	echo := labtest.Echo(t)
	if o.Targets == nil {
		o.Targets = []render.Target{echo.Target}
	}
	s := labtest.New(t, o)
	return s, verify.Options{
		Host:    "127.0.0.1",
		Port:    s.Port,
		User:    s.User,
		Targets: s.Targets,
		Auth:    []ssh.AuthMethod{ssh.PublicKeys(s.ClientKey)},
		HostKey: verify.HostKeyPolicy{KnownHosts: s.KnownHostsFile},
		Sockets: []string{s.Socket},
		Timeout: 20 * time.Second,
	}
}

func TestGoodConfigPassesEveryCheck(t *testing.T) {
	t.Parallel()
	s, o := against(t, lab.Options{})
	rep, err := verify.Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range rep.Checks {
		t.Logf("%-24s %-4s %s (%s)", c.Name, c.Status, c.Detail, c.Duration)
		if c.Status != verify.Pass {
			t.Errorf("%s: %s: %s", c.Name, c.Status, c.Detail)
		}
	}
	if !rep.Passed || rep.HostKey != ssh.FingerprintSHA256(s.HostKey) {
		t.Errorf("passed=%v host key %s", rep.Passed, rep.HostKey)
	}
	if strings.Join(rep.AuthMethods, ",") != "publickey" {
		t.Errorf("auth methods %v", rep.AuthMethods)
	}
}
