// Package udpbatch sends many UDP datagrams with one system call (sendmmsg
// on Linux): a video frame is tens of packets, and one call per packet is
// most of a streaming server's CPU.
package udpbatch

import (
	"net"

	"golang.org/x/net/ipv4"
)

// Writer sends datagrams from one socket. It is not safe for concurrent use.
type Writer struct {
	conn  net.PacketConn
	batch *ipv4.PacketConn // nil when conn is not a *net.UDPConn: one write per packet
	msgs  []ipv4.Message
}

// New wraps conn. The ipv4 batch API serves IPv6 sockets too: x/net
// encodes each destination by its own family, and Linux accepts IPv4
// destinations on dual-stack sockets.
func New(conn net.PacketConn) *Writer {
	w := &Writer{conn: conn}
	if uc, ok := conn.(*net.UDPConn); ok {
		w.batch = ipv4.NewPacketConn(uc)
	}
	return w
}

// WriteTo sends every packet to dst, in order.
func (w *Writer) WriteTo(pkts [][]byte, dst net.Addr) error {
	if w.batch == nil {
		for _, p := range pkts {
			if _, err := w.conn.WriteTo(p, dst); err != nil {
				return err
			}
		}
		return nil
	}
	for len(w.msgs) < len(pkts) {
		w.msgs = append(w.msgs, ipv4.Message{Buffers: make([][]byte, 1)})
	}
	msgs := w.msgs[:len(pkts)]
	for i, p := range pkts {
		msgs[i].Buffers[0], msgs[i].Addr = p, dst
	}
	for len(msgs) > 0 {
		n, err := w.batch.WriteBatch(msgs, 0)
		if err != nil {
			return err
		}
		msgs = msgs[n:]
	}
	return nil
}
