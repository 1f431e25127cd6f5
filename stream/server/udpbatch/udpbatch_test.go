package udpbatch

import (
	"net"
	"testing"
	"time"
)

func TestWriteToDeliversInOrder(t *testing.T) {
	recv, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer recv.Close()
	send, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer send.Close()
	var pkts [][]byte
	for i := 0; i < 50; i++ {
		pkts = append(pkts, []byte{byte(i), 1, 2, 3})
	}
	// Once batched, and once through a conn that cannot batch.
	for _, w := range []*Writer{New(send), New(plainConn{send})} {
		if err := w.WriteTo(pkts, recv.LocalAddr()); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 64)
		recv.SetReadDeadline(time.Now().Add(2 * time.Second))
		for i := 0; i < len(pkts); i++ {
			n, _, err := recv.ReadFrom(buf)
			if err != nil || n != 4 || buf[0] != byte(i) {
				t.Fatalf("packet %d: %v % x", i, err, buf[:n])
			}
		}
	}
}

// plainConn hides the *net.UDPConn so the Writer falls back to WriteTo.
type plainConn struct{ net.PacketConn }
