package lab

import (
	"io"
	"net"
	"strconv"
	"sync"

	"github.com/pfwdctl/pfwdctl/internal/fail"
	"github.com/pfwdctl/pfwdctl/internal/target"
)

// Echo is a tiny TCP echo service on 127.0.0.1, the lab's stand-in for the
// service the account forwards to.
type Echo struct {
	Addr   string
	Target target.Target
	l      net.Listener
	wg     sync.WaitGroup
}

// ListenEcho starts an echo service on a free port.
func ListenEcho() (*Echo, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fail.Wrap(fail.Unavailable, err, "", "listen on 127.0.0.1")
	}
	port := l.Addr().(*net.TCPAddr).Port
	e := &Echo{Addr: l.Addr().String(), Target: target.Target{Host: "127.0.0.1", Port: port}, l: l}
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		serveEcho(l)
	}()
	return e, nil
}

func serveEcho(l net.Listener) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			io.Copy(c, c)
		}()
	}
}

// Port is the echo service's port.
func (e *Echo) Port() string { return strconv.Itoa(e.Target.Port) }

// Close stops accepting; open connections end with their clients.
func (e *Echo) Close() error {
	err := e.l.Close()
	e.wg.Wait()
	return err
}
