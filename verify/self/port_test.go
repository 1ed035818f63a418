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

// PermitListen's hosts are patterns matched against the host a request
// sends: they are passed as written ("*" and a bare port as ssh -R's
// default, localhost), and verify also asks under every other spelling.
// Turning localhost:41503 into 127.0.0.1 once let it pass.
func TestPermitListensFromSshdT(t *testing.T) {
	testenv.Sshd(t)
	root := rendertest.New(t, rendertest.Tree{Files: map[string]string{
		"/etc/ssh/sshd_config.d/05-listen.conf": "Match User pfwd\n    PermitListen 127.0.0.1:41500 41501 *:41502 localhost:41503\n",
	}})
	got := permitListens(context.Background(), Options{Root: root, Runner: run.Exec{}}, "pfwd")
	var listens []string
	for _, d := range got {
		listens = append(listens, fmt.Sprintf("%s:%d", d.Host, d.Port))
	}
	if fmt.Sprint(listens) != "[127.0.0.1:41500 localhost:41501 localhost:41502 localhost:41503]" {
		t.Fatalf("listens %v from %+v", listens, got)
	}
}
