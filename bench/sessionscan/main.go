// sessionscan is bench/sessions-history.sh's driver: it reads one log
// file through internal/sshlog exactly as `pfwdctl sessions --history
// --log FILE` does (FileSource, Scanner, Joiner) and prints what it found
// and how long it took.
//
//	go run ./bench/sessionscan FILE
package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/pfwdctl/pfwdctl/internal/hostfs"
	"github.com/pfwdctl/pfwdctl/internal/sshlog"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: sessionscan FILE")
		os.Exit(2)
	}
	abs, err := filepath.Abs(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	start := time.Now()
	src := sshlog.FileSource(hostfs.MustRoot(filepath.Dir(abs)), "/"+filepath.Base(abs))
	rc, f, err := src.Open(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer rc.Close()
	s := sshlog.NewScanner(rc, f, sshlog.Options{Now: time.Date(2026, 12, 31, 0, 0, 0, 0, time.UTC), Location: time.UTC})
	// As sessions --history does: each finished connection goes into a
	// per-key summary and is not kept, so memory follows the connections
	// open at once, not the file.
	j := sshlog.NewJoiner()
	type sum struct {
		n       int
		total   time.Duration
		refused int
	}
	keys := map[string]*sum{}
	conns, failures, refused := 0, 0, 0
	j.OnDone = func(c sshlog.Connection) {
		conns++
		refused += len(c.Refused)
		k := keys[c.Fingerprint]
		if k == nil {
			k = &sum{}
			keys[c.Fingerprint] = k
		}
		k.n++
		k.refused += len(c.Refused)
		if !c.End.IsZero() {
			k.total += c.End.Sub(c.Start)
		}
	}
	j.OnFailure = func(sshlog.Event) { failures++ }
	events := 0
	for {
		e, ok := s.Next()
		if !ok {
			break
		}
		events++
		j.Add(e)
	}
	if err := s.Err(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	open := len(j.Open())
	fmt.Printf("format %s: %d events, %d connections (%d still open), %d keys, %d refused forwards, %d failures in %s\n",
		f, events, conns+open, open, len(keys), refused, failures, time.Since(start).Round(time.Millisecond))
}
