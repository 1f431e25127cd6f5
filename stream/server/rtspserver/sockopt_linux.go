package rtspserver

import (
	"net"

	"golang.org/x/sys/unix"
)

// notSentLowat bounds the bytes a TCP viewer's kernel queue holds beyond
// what is in flight. Without it Linux buffers up to 4 MiB, seconds of video
// that a slow viewer would watch ever later; with it the writer blocks
// early, and the viewer's frame queue drops whole frames instead.
const notSentLowat = 128 << 10

func limitSendQueue(nc net.Conn) {
	tc, ok := nc.(*net.TCPConn)
	if !ok {
		return
	}
	raw, err := tc.SyscallConn()
	if err != nil {
		return
	}
	raw.Control(func(fd uintptr) {
		unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_NOTSENT_LOWAT, notSentLowat)
	})
}
