package rxstamp

import (
	"net"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestKernelStampsPrecedeTheRead waits until the datagram sits in the
// socket, notes the time, then reads: a kernel stamp lies between the send
// and that moment, while a stamp taken at the read (the fallback, given a
// clock that says so) cannot. It waits for the event, not for time, so a
// loaded machine that delays loopback delivery cannot fail it.
func TestKernelStampsPrecedeTheRead(t *testing.T) {
	a, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, _ := net.ListenPacket("udp", "127.0.0.1:0")
	defer b.Close()
	r := New(a)
	if !r.Kernel() {
		t.Fatal("no kernel timestamps on Linux")
	}
	sent := time.Now()
	if _, err := b.WriteTo([]byte("x"), a.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	waitQueued(t, a.(*net.UDPConn))
	queued := time.Now()
	fallback := queued.Add(time.Hour) // what a read-time stamp would say
	buf := make([]byte, 16)
	n, from, at, err := r.Read(buf, func() time.Time { return fallback })
	if err != nil || n != 1 || from.String() != b.LocalAddr().String() {
		t.Fatalf("read %d from %v: %v", n, from, err)
	}
	if at.Equal(fallback) || at.Before(sent) || at.After(queued) {
		t.Fatalf("stamped %v after sending, %v before the datagram was seen queued: not the kernel's arrival",
			at.Sub(sent), queued.Sub(at))
	}
}

// waitQueued returns once the socket holds a datagram (SIOCINQ).
func waitQueued(t *testing.T, c *net.UDPConn) {
	raw, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		var queued int
		if err := raw.Control(func(fd uintptr) { queued, err = unix.IoctlGetInt(int(fd), unix.SIOCINQ) }); err != nil {
			t.Fatal(err)
		}
		if err != nil {
			t.Fatalf("SIOCINQ: %v", err)
		}
		if queued > 0 {
			return
		}
	}
	t.Fatal("the datagram never reached the socket")
}
