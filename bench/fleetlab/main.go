// Command fleetlab starts N lab sshds (verify/lab) listening on one
// address, writes an inventory for pfwdctl verify --inventory, and keeps
// them running until it is interrupted. bench/fleet-netem.sh runs it in a
// network namespace behind a delayed link; it is not part of pfwdctl and
// changes nothing outside its temp directories.
//
//	fleetlab -n 200 -listen 10.77.0.1 -inventory /tmp/inv
//	fleetlab -n 200 -rtt 50ms -inventory /tmp/inv
//
// With -rtt each host sits behind a TCP relay that adds the round trip in
// user space (half on the way in, half on the way out, one more round trip
// before the first byte for TCP's handshake): for kernels without
// sch_netem, where tc netem cannot add it to a link.
//
// It prints "target=HOST:PORT" (the echo service every lab may forward to,
// for verify --target) and then "ready" on stdout.
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/pfwdctl/pfwdctl/internal/target"
	"github.com/pfwdctl/pfwdctl/verify/lab"
)

func main() {
	n := flag.Int("n", 20, "how many lab sshds")
	listen := flag.String("listen", "127.0.0.1", "the address every sshd listens on")
	inv := flag.String("inventory", "", "write the inventory to this file")
	sshd := flag.String("sshd", "", "the sshd binary (default: from PATH)")
	rtt := flag.Duration("rtt", 0, "put each host behind a relay adding this round-trip time")
	flag.Parse()
	if err := run(*n, *listen, *inv, *sshd, *rtt); err != nil {
		fmt.Fprintln(os.Stderr, "fleetlab:", err)
		os.Exit(1)
	}
}

func run(n int, listen, inv, sshd string, rtt time.Duration) error {
	echo, err := lab.ListenEcho()
	if err != nil {
		return err
	}
	defer echo.Close()
	labs := make([]*lab.Server, n)
	errs := make([]error, n)
	// Sixteen at a time: each start generates keys and waits for a banner.
	sem := make(chan struct{}, 16)
	var wg sync.WaitGroup
	for i := range labs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			labs[i], errs[i] = lab.Start(ctx, lab.Options{Sshd: sshd, Targets: []target.Target{echo.Target}, ListenHost: listen, StartTimeout: 30 * time.Second})
		}()
	}
	wg.Wait()
	defer func() {
		for _, s := range labs {
			if s != nil {
				s.Close()
			}
		}
	}()
	var lines []string
	for i, s := range labs {
		if errs[i] != nil {
			return fmt.Errorf("lab %d: %w", i, errs[i])
		}
		addr := s.Addr
		if rtt > 0 {
			if addr, err = relay(listen, s.Addr, rtt); err != nil {
				return err
			}
		}
		lines = append(lines, fmt.Sprintf("%s user=%s key=%s host-key=%s", addr, s.User, s.ClientKeyFile, ssh.FingerprintSHA256(s.HostKey)))
	}
	if err := os.WriteFile(inv, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		return err
	}
	fmt.Printf("target=%s\nready\n", echo.Target)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	<-sig
	return nil
}

// relay listens on host:0 and connects each client to backend, adding rtt:
// one round trip before anything flows (TCP's handshake), then each chunk
// arrives rtt/2 after it was sent, in each direction, in order.
func relay(host, backend string, rtt time.Duration) (string, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return "", err
	}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				time.Sleep(rtt)
				b, err := net.Dial("tcp", backend)
				if err != nil {
					return
				}
				defer b.Close()
				done := make(chan struct{}, 2)
				go func() { delayed(b, c, rtt/2); done <- struct{}{} }()
				go func() { delayed(c, b, rtt/2); done <- struct{}{} }()
				<-done
				<-done
			}()
		}
	}()
	return l.Addr().String(), nil
}

// delayed copies src to dst, each chunk written d after it was read.
func delayed(dst, src net.Conn, d time.Duration) {
	type chunk struct {
		due  time.Time
		data []byte
	}
	q := make(chan chunk, 4096)
	go func() {
		defer close(q)
		for {
			buf := make([]byte, 32*1024)
			n, err := src.Read(buf)
			if n > 0 {
				q <- chunk{time.Now().Add(d), buf[:n]}
			}
			if err != nil {
				return
			}
		}
	}()
	for c := range q {
		time.Sleep(time.Until(c.due))
		if _, err := dst.Write(c.data); err != nil {
			break
		}
	}
	// Let the other side see EOF (after the delay, like the data).
	if tc, ok := dst.(*net.TCPConn); ok {
		tc.CloseWrite()
	}
}
