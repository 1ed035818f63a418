package sshd

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// ReexecWait bounds how long a reload may take to show: sshd re-executes
// within milliseconds of SIGHUP, and systemctl reload returns after its
// ExecReload ran; two seconds leave room for a loaded host.
const ReexecWait = 2 * time.Second

// AwaitReexec waits until pid listens on sockets other than before (see
// Reexecuted), for at most wait.
func AwaitReexec(ctx context.Context, pid int, before map[uint64]bool, wait time.Duration) bool {
	deadline := time.Now().Add(wait)
	for {
		if Reexecuted(pid, before) {
			return true
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ConnSpec is the sshd -T -C connection spec pfwdctl asks about: a login
// by user from this host over loopback, as the probes make it.
func ConnSpec(user string) string {
	// laddr and lport too: sshd refuses -C without them when a Match
	// LocalAddress or LocalPort block exists ("not in connection test
	// specification").
	return fmt.Sprintf("user=%s,host=%s,addr=%s,laddr=%s,lport=%s", user, ConnHost, ConnAddr, ConnAddr, ConnPort)
}

// The loopback connection ConnSpec describes; audit's own Match evaluation
// (which line wins) uses the same.
const (
	ConnHost = "localhost"
	ConnAddr = "127.0.0.1"
	ConnPort = "22"
)

// GlobalSpec is the connection sshd -T is asked about for the global view
// when it refuses to answer without one: a Match LocalPort (or, on 7.7 to
// 8.0, any Match User) block makes a plain sshd -T exit. No Match User
// block names this account, so it sees what an arbitrary connection gets.
const GlobalSpec = "user=pfwdctl-global-view,host=localhost,addr=127.0.0.1,laddr=127.0.0.1,lport=22"

// Served is one probe of the running daemon: what it offered user on addr
// and what the config on disk says it should offer.
type Served struct {
	Addr     string   `json:"addr"`
	User     string   `json:"user"`
	Offered  []string `json:"offered"`
	Expected []string `json:"expected"`
	Mismatch string   `json:"mismatch,omitempty"`
	Err      string   `json:"error,omitempty"`
}

// ProbeServed asks every address sshd listens on (from the global sshd -T)
// which methods it offers each of users, and compares the answer with the
// effective config for that user. effective is Sshd.Effective (injected so
// the caller's root, binary and runner are used). A daemon that serves the
// config on disk gives no Mismatch; one still running an older config, or
// a different sshd on the port, does.
func ProbeServed(ctx context.Context, effective func(context.Context, string) (map[string][]string, error), users []string) ([]Served, error) {
	global, err := effective(ctx, "")
	if err != nil {
		return nil, err
	}
	var listens []string
	for k, v := range global {
		if strings.EqualFold(k, "listenaddress") {
			listens = v
		}
	}
	if len(listens) == 0 {
		return nil, fmt.Errorf("sshd -T names no ListenAddress")
	}
	var out []Served
	for _, u := range users {
		eff, err := effective(ctx, ConnSpec(u))
		if err != nil {
			return nil, err
		}
		want := ExpectedMethods(eff)
		for _, l := range listens {
			addr, err := ProbeAddr(l)
			if err != nil {
				return nil, err
			}
			s := Served{Addr: addr, User: u, Expected: want}
			pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			got, err := ServedMethods(pctx, addr, u)
			cancel()
			if err != nil {
				s.Err = err.Error()
			} else {
				s.Offered = got
				s.Mismatch = MethodsMismatch(got, want)
			}
			out = append(out, s)
		}
	}
	return out, nil
}
