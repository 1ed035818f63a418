package main

import (
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/pfwdctl/pfwdctl/internal/testenv"
	"github.com/pfwdctl/pfwdctl/render"
	"github.com/pfwdctl/pfwdctl/verify/lab"
	"github.com/pfwdctl/pfwdctl/verify/lab/labtest"
)

// The baseline apply --permit-root-login prohibit-password renders, served
// by the real sshd on a loopback port: root logs in with a key, and with
// the guide's default baseline it does not (sshd refuses it even with the
// right key). Root's key is the lab's client key, in the file the lab's
// sshd reads for every account.
func TestE2ERootLoginByKey(t *testing.T) {
	testenv.Root(t)
	for _, c := range []struct {
		rootLogin string
		loggedIn  bool
	}{{render.RootLoginKeys, true}, {"", false}} {
		p := render.DefaultParams()
		p.PermitRootLogin = c.rootLogin
		files, err := render.Render(p)
		if err != nil {
			t.Fatal(err)
		}
		// AllowUsers adds up across lines: the lab's own names only its
		// account.
		s := labtest.New(t, lab.Options{DropIns: files, Global: []string{"AllowUsers root"}})
		cfg := s.ClientConfig()
		cfg.User = "root"
		cfg.Auth = []ssh.AuthMethod{ssh.PublicKeys(s.ClientKey)}
		cl, err := ssh.Dial("tcp", s.Addr, cfg)
		if err == nil {
			cl.Close()
		}
		if (err == nil) != c.loggedIn {
			t.Errorf("PermitRootLogin %s: root by key: %v, want logged in %v", p.RootLogin(), err, c.loggedIn)
		}
	}
}
