package self_test

import (
	"context"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pfwdctl/pfwdctl/internal/target"
	"github.com/pfwdctl/pfwdctl/verify"
	"github.com/pfwdctl/pfwdctl/verify/lab"
	"github.com/pfwdctl/pfwdctl/verify/lab/labtest"
	"github.com/pfwdctl/pfwdctl/verify/self"
)

func TestListenersSeesEveryListener(t *testing.T) {
	l4, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l4.Close()
	any, err := net.Listen("tcp", ":0") // wildcard, v4 and v6
	if err != nil {
		t.Fatal(err)
	}
	defer any.Close()
	tgt := target.Target{Host: "127.0.0.1", Port: 8009}
	ds := self.Listeners("/proc/net", []target.Target{tgt})
	has := func(host string, port int) bool {
		return slices.ContainsFunc(ds, func(d verify.Destination) bool { return d.Host == host && d.Port == port })
	}
	if !has("127.0.0.1", l4.Addr().(*net.TCPAddr).Port) {
		t.Errorf("loopback listener missing from %v", ds)
	}
	if !has("127.0.0.1", any.Addr().(*net.TCPAddr).Port) {
		t.Errorf("wildcard listener not tried on loopback: %v", ds)
	}
	if !has("127.0.0.1", 8009) {
		t.Errorf("the target's own host:port is listed (it is filtered by verify, but the loopback address must be a local address): %v", ds)
	}
}

func TestUnixListeners(t *testing.T) {
	path := t.TempDir() + "/s.sock"
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if got := self.UnixListeners("/proc/net"); !slices.Contains(got, path) {
		t.Fatalf("%s not in %v", path, got)
	}
}

// A second permitted port that answers (a database, a metrics endpoint)
// passes the three samples; the complete local proof finds it.
func TestSecondPermittedPortIsFound(t *testing.T) {
	other := labtest.Echo(t)
	echo := labtest.Echo(t)
	both := "PermitOpen " + echo.Target.String() + " " + other.Target.String()
	s := labtest.New(t, lab.Options{Targets: []target.Target{echo.Target}, BareKey: true,
		Edit: lab.ReplaceLine("20-pfwd-only.conf", "PermitOpen", both)})
	o := s.VerifyOptions()
	o.Timeout = 20 * time.Second
	run := func(dests []verify.Destination) verify.Result {
		t.Helper()
		o.Destinations = dests
		rep, err := verify.Run(context.Background(), o)
		if err != nil {
			t.Fatal(err)
		}
		c, ok := rep.Check(verify.CheckOtherPorts)
		if !ok {
			t.Fatal("no other-ports check")
		}
		return c
	}
	if r := run(nil); r.Status != verify.Pass {
		t.Fatalf("the samples alone should miss it (else this test proves nothing): %+v", r)
	}
	r := run(self.Listeners("/proc/net", s.Targets))
	if r.Status != verify.Fail || !strings.Contains(r.Detail, other.Target.String()+" (a listening socket) opened") {
		t.Fatalf("second permitted port not found: %+v", r)
	}

	// The good config passes the complete proof, and says how much it tried.
	g := labtest.New(t, lab.Options{Targets: []target.Target{echo.Target}})
	o = g.VerifyOptions()
	o.Timeout = 20 * time.Second
	o.Destinations = self.Listeners("/proc/net", g.Targets)
	rep, err := verify.Run(context.Background(), o)
	if err != nil || !rep.Passed {
		t.Fatalf("good lab with every listener: %+v %v", rep, err)
	}
	for _, c := range rep.Checks {
		if c.Name == verify.CheckOtherPorts && (len(c.Tried) < 3 || !strings.Contains(c.Detail, "destinations")) {
			t.Errorf("tried not reported: %+v", c)
		}
	}
}

// PermitListen 127.0.0.1:P with AllowTcpForwarding yes refuses port 0 and
// listens on P: asking for port 0 alone passed it.
func TestPermitListenPortIsTried(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	s := labtest.New(t, lab.Options{Edit: lab.ReplaceLine("20-pfwd-only.conf", "AllowTcpForwarding",
		"AllowTcpForwarding yes\n    PermitListen 127.0.0.1:"+strconv.Itoa(port))})
	o := s.VerifyOptions()
	o.Timeout = 20 * time.Second
	remote := func() verify.Result {
		t.Helper()
		rep, err := verify.Run(context.Background(), o)
		if err != nil {
			t.Fatal(err)
		}
		c, ok := rep.Check(verify.CheckRemote)
		if !ok {
			t.Fatal("no remote check")
		}
		return c
	}
	if r := remote(); r.Status != verify.Pass {
		t.Fatalf("port 0 alone should miss it (else this test proves nothing): %+v", r)
	}
	o.Listens = []verify.Destination{{Host: "127.0.0.1", Port: port, Why: "named by PermitListen"}}
	if r := remote(); r.Status != verify.Fail || !strings.Contains(r.Detail, "listened on 127.0.0.1:"+strconv.Itoa(port)) {
		t.Fatalf("PermitListen port not tried: %+v", r)
	}
}
