package sshd

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
)

// fakeProc builds a /proc tree with the files OfUser and Terminate read.
func fakeProc(t *testing.T) (dir string, mk func(pid, comm, uid, cmd string)) {
	dir = t.TempDir()
	return dir, func(pid, comm, uid, cmd string) {
		os.MkdirAll(filepath.Join(dir, pid), 0o755)
		os.WriteFile(filepath.Join(dir, pid, "comm"), []byte(comm+"\n"), 0o644)
		os.WriteFile(filepath.Join(dir, pid, "status"), []byte("Name:\t"+comm+"\nUid:\t"+uid+"\t"+uid+"\t"+uid+"\t"+uid+"\n"), 0o644)
		os.WriteFile(filepath.Join(dir, pid, "cmdline"), []byte(cmd+"\x00"), 0o644)
	}
}

func TestOfUser(t *testing.T) {
	dir, mk := fakeProc(t)
	mk("100", "sshd", "0", "sshd: pfwd [priv]")
	mk("101", "sshd", "999", "sshd: pfwd@notty")
	mk("102", "bash", "999", "bash")
	mk("103", "sshd", "1000", "sshd: admin@pts/0")
	os.MkdirAll(filepath.Join(dir, "self"), 0o755)
	s, err := Procs{Dir: dir}.OfUser(999)
	if err != nil || len(s) != 1 || s[0].PID != 101 || s[0].Command != "sshd: pfwd@notty" {
		t.Fatalf("processes = %+v %v", s, err)
	}
}

// OpenSSH 9.8+ serves each connection from a process named sshd-session
// (10.x adds sshd-auth): those are the account's sessions too, and a
// program that merely runs as the account is not.
func TestOfUserFindsSshdSession(t *testing.T) {
	dir, mk := fakeProc(t)
	mk("200", "sshd", "0", "sshd: /usr/sbin/sshd -D [listener] 0 of 10-100 startups")
	mk("201", "sshd-session", "0", "sshd-session: pfwd [priv]")
	mk("202", "sshd-session", "999", "sshd-session: pfwd@notty")
	mk("203", "sshd-auth", "999", "sshd-auth: pfwd [net]")
	mk("204", "sshd-sessionx", "999", "not sshd")
	mk("205", "sleep", "999", "sleep 60")
	s, err := Procs{Dir: dir}.OfUser(999)
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, p := range s {
		pids = append(pids, p.PID)
	}
	if !slices.Equal(pids, []int{202, 203}) {
		t.Fatalf("pids = %v (%+v), want [202 203]", pids, s)
	}
}

// Terminate signals only a process that is still sshd's: a PID listed a
// moment ago may since belong to another program.
func TestTerminateOnlySshd(t *testing.T) {
	dir, mk := fakeProc(t)
	mk("300", "sshd-session", "999", "sshd-session: pfwd@notty")
	mk("301", "sleep", "999", "sleep 60")
	var signalled []int
	p := Procs{Dir: dir, Kill: func(pid int, sig syscall.Signal) error {
		if sig != syscall.SIGTERM {
			t.Errorf("signal %v, want SIGTERM", sig)
		}
		signalled = append(signalled, pid)
		return nil
	}}
	if err := p.Terminate(300); err != nil {
		t.Fatal(err)
	}
	for _, pid := range []int{301, 302} { // another program; gone
		if err := p.Terminate(pid); !errors.Is(err, ErrNotSshd) {
			t.Errorf("Terminate(%d) = %v, want ErrNotSshd", pid, err)
		}
	}
	if !slices.Equal(signalled, []int{300}) {
		t.Fatalf("signalled %v, want [300]", signalled)
	}
}
