// genauthlog writes a realistic auth.log for bench/sessions-history.sh:
// interleaved forward-account connections as OpenSSH 9.2 on Debian 12
// logs them (Accepted with a fingerprint, the child pid, refused
// forwards, the disconnect), brute-force noise (Invalid user, failed
// passwords), keys refused while authenticating, and other programs'
// lines (CRON, sudo, systemd-logind). Deterministic: the same -seed gives
// the same file.
//
//	go run ./bench/genauthlog -lines 1000000 > auth.log
package main

import (
	"bufio"
	"crypto/sha256"
	"encoding/base64"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"time"
)

type conn struct {
	pid, child int
	user, addr string
	port       int
}

func main() {
	lines := flag.Int("lines", 1000000, "lines to write")
	seed := flag.Uint64("seed", 1, "random seed")
	iso := flag.Bool("iso", false, "Debian 12 rsyslog ISO timestamps instead of RFC 3164")
	flag.Parse()
	r := rand.New(rand.NewPCG(*seed, 2))
	w := bufio.NewWriterSize(os.Stdout, 1<<20)
	defer w.Flush()

	users := []string{"pfwd", "tunnel", "db-fwd"}
	fps := make([]string, 40)
	for i := range fps {
		h := sha256.Sum256([]byte{byte(i)})
		fps[i] = "SHA256:" + base64.RawStdEncoding.EncodeToString(h[:])
	}
	t := time.Date(2026, 10, 25, 0, 0, 0, 0, time.UTC)
	pid := 1000
	var open []conn
	n := 0
	emit := func(prog string, p int, msg string) {
		if *iso {
			fmt.Fprintf(w, "%s deb %s[%d]: %s\n", t.Format("2006-01-02T15:04:05.000000-07:00"), prog, p, msg)
		} else {
			fmt.Fprintf(w, "%s deb %s[%d]: %s\n", t.Format(time.Stamp), prog, p, msg)
		}
		n++
	}
	ip := func() string {
		return fmt.Sprintf("%d.%d.%d.%d", 1+r.IntN(222), r.IntN(256), r.IntN(256), 1+r.IntN(254))
	}
	for n < *lines {
		t = t.Add(time.Duration(r.IntN(2500)) * time.Millisecond)
		switch k := r.IntN(100); {
		case k < 12 && len(open) < 200: // a tunnel starts
			pid += 1 + r.IntN(5)
			c := conn{pid: pid, child: pid + 2, user: users[r.IntN(len(users))], addr: ip(), port: 1024 + r.IntN(60000)}
			fp := fps[r.IntN(len(fps))]
			emit("sshd", c.pid, fmt.Sprintf("Connection from %s port %d on 10.0.0.1 port 22 rdomain \"\"", c.addr, c.port))
			emit("sshd", c.pid, fmt.Sprintf("Accepted key ED25519 %s found at /home/%s/.ssh/authorized_keys:%d", fp, c.user, 1+r.IntN(9)))
			emit("sshd", c.pid, fmt.Sprintf("Postponed publickey for %s from %s port %d ssh2 [preauth]", c.user, c.addr, c.port))
			emit("sshd", c.pid, fmt.Sprintf("Accepted publickey for %s from %s port %d ssh2: ED25519 %s", c.user, c.addr, c.port, fp))
			emit("sshd", c.pid, fmt.Sprintf("pam_unix(sshd:session): session opened for user %s(uid=1001) by (uid=0)", c.user))
			emit("sshd", c.pid, fmt.Sprintf("User child is on pid %d", c.child))
			open = append(open, c)
		case k < 16 && len(open) > 0: // a refused forward
			c := open[r.IntN(len(open))]
			emit("sshd", c.child, fmt.Sprintf("Received request from %s port %d to connect to host 10.%d.%d.%d port %d, but the request was denied.", c.addr, c.port, r.IntN(256), r.IntN(256), r.IntN(256), 1+r.IntN(65535)))
		case k < 27 && len(open) > 0: // a tunnel ends
			i := r.IntN(len(open))
			c := open[i]
			open[i] = open[len(open)-1]
			open = open[:len(open)-1]
			if r.IntN(10) == 0 {
				emit("sshd", c.child, fmt.Sprintf("Timeout, client not responding from user %s %s port %d", c.user, c.addr, c.port))
			} else {
				emit("sshd", c.child, fmt.Sprintf("Received disconnect from %s port %d:11: disconnected by user", c.addr, c.port))
				emit("sshd", c.child, fmt.Sprintf("Disconnected from user %s %s port %d", c.user, c.addr, c.port))
			}
			emit("sshd", c.pid, fmt.Sprintf("pam_unix(sshd:session): session closed for user %s", c.user))
		case k < 60: // brute force
			pid += 1 + r.IntN(3)
			a, p := ip(), 1024+r.IntN(60000)
			u := []string{"admin", "root", "oracle", "test", "ubuntu", "x from 6.6.6.6 port 1 ssh2: ED25519 " + fps[0]}[r.IntN(6)]
			emit("sshd", pid, fmt.Sprintf("Invalid user %s from %s port %d", u, a, p))
			emit("sshd", pid, fmt.Sprintf("Failed password for invalid user %s from %s port %d ssh2", u, a, p))
			emit("sshd", pid, fmt.Sprintf("Connection closed by invalid user %s %s port %d [preauth]", u, a, p))
		case k < 64: // a revoked key
			pid += 1 + r.IntN(3)
			emit("sshd", pid, fmt.Sprintf("Connection closed by authenticating user %s %s port %d [preauth]", users[r.IntN(len(users))], ip(), 1024+r.IntN(60000)))
		case k < 85:
			emit("CRON", 30000+r.IntN(1000), "pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)")
		case k < 93:
			emit("sudo", 31000+r.IntN(1000), "pam_unix(sudo:session): session closed for user root")
		default:
			emit("systemd-logind", 500, fmt.Sprintf("New session %d of user admin.", r.IntN(100000)))
		}
	}
}
