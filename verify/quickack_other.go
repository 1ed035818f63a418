//go:build !linux

package verify

import "net"

func quickAck(c net.Conn) net.Conn { return c }
