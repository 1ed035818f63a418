package self

import (
	"context"
	"fmt"
	"testing"

	"github.com/pfwdctl/pfwdctl/internal/run"
	"github.com/pfwdctl/pfwdctl/internal/testenv"
	"github.com/pfwdctl/pfwdctl/render/rendertest"
)

// --self and the wizard's Prove step used port 22 by assumption and failed
// with "refused" on a host whose sshd listens elsewhere; they ask sshd -T.
func TestLocalListenerFromSshdT(t *testing.T) {
	testenv.Sshd(t)
	root := rendertest.New(t, rendertest.Tree{Files: map[string]string{
		"/etc/ssh/sshd_config": "Include /etc/ssh/sshd_config.d/*.conf\nPort 2222\nListenAddress 192.0.2.1\nListenAddress 127.0.0.1\n",
	}})
	host, port, err := localListener(context.Background(), Options{Root: root, Runner: run.Exec{}})
	if err != nil || host != "127.0.0.1" || port != 2222 {
		t.Fatalf("got %s %d %v, want 127.0.0.1 2222", host, port, err)
	}
}

func TestPermitListensFromSshdT(t *testing.T) {
	testenv.Sshd(t)
	root := rendertest.New(t, rendertest.Tree{Files: map[string]string{
		"/etc/ssh/sshd_config.d/05-listen.conf": "Match User pfwd\n    PermitListen 127.0.0.1:41500 41501 *:41502\n",
	}})
	got := permitListens(context.Background(), Options{Root: root, Runner: run.Exec{}}, "pfwd")
	var ports []int
	for _, d := range got {
		if d.Host != "127.0.0.1" {
			t.Errorf("host %q", d.Host)
		}
		ports = append(ports, d.Port)
	}
	if fmt.Sprint(ports) != "[41500 41501 41502]" {
		t.Fatalf("ports %v from %+v", ports, got)
	}
}
