package rxstamp

import (
	"net"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestKernelStampsPrecedeTheRead waits until a datagram sits in the socket,
// notes the time, then reads: a kernel arrival stamp lies between the send
// and that moment, while a stamp taken at the read (the fallback, given a
// clock that says so) cannot. Linux turns receive stamping on for the whole
// stack from a deferred work item after the first socket asks for it; until
// that has run, recvmsg stamps at read time. So the test sends until one
// datagram carries an arrival stamp and fails only if none ever does. It
// waits for events, not for time, so a loaded machine cannot fail it.
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
	var late time.Duration
	for try := 0; try < 200; try++ {
		sent, queued, at := stampOne(t, r, a, b)
		if at.Before(sent) {
			t.Fatalf("stamped %v before sending", sent.Sub(at))
		}
		if !at.After(queued) {
			return
		}
		late = at.Sub(queued)
	}
	t.Fatalf("every stamp came after the datagram was seen queued (last %v later): taken at the read, not at arrival", late)
}

// stampOne sends one datagram from b to a and returns when it was sent, a
// moment it was already queued, and the stamp the reader gave it.
func stampOne(t *testing.T, r *Reader, a, b net.PacketConn) (sent, queued, at time.Time) {
	t.Helper()
	sent = time.Now()
	if _, err := b.WriteTo([]byte("x"), a.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	waitQueued(t, a.(*net.UDPConn))
	queued = time.Now()
	fallback := queued.Add(time.Hour) // what a read-time stamp would say
	buf := make([]byte, 16)
	n, from, at, err := r.Read(buf, func() time.Time { return fallback })
	if err != nil || n != 1 || from.String() != b.LocalAddr().String() {
		t.Fatalf("read %d from %v: %v", n, from, err)
	}
	if at.Equal(fallback) {
		t.Fatal("the reader fell back to its clock: no kernel stamp")
	}
	return sent, queued, at
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
