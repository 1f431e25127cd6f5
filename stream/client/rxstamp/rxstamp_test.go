package rxstamp

import (
	"net"
	"runtime"
	"testing"
	"time"
)

func TestKernelStampsPrecedeTheRead(t *testing.T) {
	a, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, _ := net.ListenPacket("udp", "127.0.0.1:0")
	defer b.Close()
	r := New(a)
	if runtime.GOOS == "linux" && !r.Kernel() {
		t.Fatal("no kernel timestamps on Linux")
	}
	sent := time.Now()
	b.WriteTo([]byte("x"), a.LocalAddr())
	time.Sleep(30 * time.Millisecond) // the datagram waits in the socket
	buf := make([]byte, 16)
	n, from, at, err := r.Read(buf, time.Now)
	if err != nil || n != 1 || from.String() != b.LocalAddr().String() {
		t.Fatalf("read %d from %v: %v", n, from, err)
	}
	if r.Kernel() && (at.Before(sent.Add(-time.Second)) || time.Since(at) < 20*time.Millisecond) {
		t.Fatalf("stamped %v after sending, %v before now: not the kernel's arrival", at.Sub(sent), time.Since(at))
	}
}
