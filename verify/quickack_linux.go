package verify

import (
	"net"
	"syscall"
)

// quickAck turns off delayed ACKs after every read. sshd does not set
// TCP_NODELAY on a non-interactive connection, so when several replies are
// in flight, Nagle holds each small one until the previous is ACKed, and
// the client's delayed ACK adds 40 ms per round. The kernel re-arms delayed
// ACKs by itself, hence after every read.
func quickAck(c net.Conn) net.Conn {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return c
	}
	raw, err := tc.SyscallConn()
	if err != nil {
		return c
	}
	return &quickAckConn{TCPConn: tc, raw: raw}
}

type quickAckConn struct {
	*net.TCPConn
	raw syscall.RawConn
}

func (q *quickAckConn) Read(b []byte) (int, error) {
	n, err := q.TCPConn.Read(b)
	q.raw.Control(func(fd uintptr) {
		syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_QUICKACK, 1)
	})
	return n, err
}
