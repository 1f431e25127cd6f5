package udpbatch

import (
	"bytes"
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

// frame is a video frame's packets: full-sized ones, a shorter last one,
// then odd sizes (H.264's parameter sets and small slices), each packet
// numbered in its first byte.
func frame() [][]byte {
	var pkts [][]byte
	for i, size := range []int{1200, 1200, 1200, 1200, 1200, 640, 30, 8, 1200, 1200, 77, 1200} {
		p := make([]byte, size)
		p[0] = byte(i)
		for j := 1; j < size; j++ {
			p[j] = byte(i * j)
		}
		pkts = append(pkts, p)
	}
	for i := 0; i < 100; i++ { // more than one GSO send can carry
		p := make([]byte, 1000)
		p[0] = byte(12 + i)
		pkts = append(pkts, p)
	}
	return pkts
}

// TestGSODeliversTheSamePackets: with segmentation offload and with the
// plain fallback, a receiving socket reads exactly the packets sent, in
// order; on loopback the kernel takes GSO.
func TestGSODeliversTheSamePackets(t *testing.T) {
	recv, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer recv.Close()
	recv.(*net.UDPConn).SetReadBuffer(4 << 20)
	send, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer send.Close()
	pkts := frame()
	heads, bodies := split(pkts)
	for _, c := range []struct {
		name  string
		w     *Writer
		gso   bool
		split bool
	}{
		{"gso", New(send), gsoBuilt, false}, {"plain", New(send, WithoutGSO()), false, false},
		{"gso split", New(send), gsoBuilt, true}, {"plain split", New(send, WithoutGSO()), false, true},
		{"no batches split", New(plainConn{send}), false, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			write := func() error { return c.w.WriteTo(pkts, recv.LocalAddr()) }
			if c.split {
				write = func() error { return c.w.WriteSplit(heads, bodies, recv.LocalAddr()) }
			}
			if err := write(); err != nil {
				t.Fatal(err)
			}
			if c.w.GSO() != c.gso {
				t.Errorf("GSO in use: %v, want %v", c.w.GSO(), c.gso)
			}
			buf := make([]byte, 2048)
			for i, want := range pkts {
				recv.SetReadDeadline(time.Now().Add(2 * time.Second))
				n, _, err := recv.ReadFrom(buf)
				if err != nil || !bytes.Equal(buf[:n], want) {
					t.Fatalf("packet %d: %v, %d bytes, want %d starting % x", i, err, n, len(want), want[:1])
				}
			}
		})
	}
}

// split cuts each packet after its first 12 bytes (an RTP header's worth),
// as a session sends its own header and the shared payload.
func split(pkts [][]byte) (heads, bodies [][]byte) {
	for _, p := range pkts {
		n := min(12, len(p))
		heads, bodies = append(heads, p[:n]), append(bodies, p[n:])
	}
	return heads, bodies
}

// TestGSOAllocatesNothing: a frame's write allocates nothing once the
// writer has its buffers.
func TestGSOAllocatesNothing(t *testing.T) {
	if raceOn {
		t.Skip("allocation counts mean nothing under the race detector; make test-unit runs this without it")
	}
	recv, _ := net.ListenPacket("udp", "127.0.0.1:0")
	defer recv.Close()
	send, _ := net.ListenPacket("udp", "127.0.0.1:0")
	defer send.Close()
	w := New(send)
	pkts := frame()[:12]
	w.WriteTo(pkts, recv.LocalAddr())
	if n := testing.AllocsPerRun(50, func() { w.WriteTo(pkts, recv.LocalAddr()) }); n > 0 {
		t.Errorf("%.1f allocations per frame", n)
	}
	heads, bodies := split(pkts)
	w.WriteSplit(heads, bodies, recv.LocalAddr())
	if n := testing.AllocsPerRun(50, func() { w.WriteSplit(heads, bodies, recv.LocalAddr()) }); n > 0 {
		t.Errorf("split: %.1f allocations per frame", n)
	}
}
