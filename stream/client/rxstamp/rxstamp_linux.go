package rxstamp

import (
	"net"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// enable turns on SO_TIMESTAMPNS: each datagram carries the kernel's
// receive time (CLOCK_REALTIME, nanoseconds) as a control message.
func enable(uc *net.UDPConn) bool {
	raw, err := uc.SyscallConn()
	if err != nil {
		return false
	}
	var serr error
	if err := raw.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1)
	}); err != nil || serr != nil {
		return false
	}
	return true
}

// parse finds the SCM_TIMESTAMPNS control message.
func parse(oob []byte) (time.Time, bool) {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return time.Time{}, false
	}
	for _, m := range msgs {
		if m.Header.Level != unix.SOL_SOCKET || m.Header.Type != unix.SCM_TIMESTAMPNS ||
			len(m.Data) < int(unsafe.Sizeof(unix.Timespec{})) {
			continue
		}
		ts := (*unix.Timespec)(unsafe.Pointer(&m.Data[0]))
		return time.Unix(int64(ts.Sec), int64(ts.Nsec)), true
	}
	return time.Time{}, false
}
