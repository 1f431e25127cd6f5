// Package udpbatch sends many UDP datagrams with few system calls: a video
// frame is tens of packets, and one call per packet is most of a streaming
// server's CPU. On Linux a run of equal-sized packets goes to the kernel
// as one buffer with UDP segmentation offload (UDP_SEGMENT, "GSO"): the
// stack handles one buffer instead of twenty, and the device or the
// kernel's last step cuts it into the datagrams. Runs go out together in
// one sendmmsg. Where the kernel or the route refuses GSO, the socket
// falls back to one sendmmsg entry per packet, and says why once.
package udpbatch

import (
	"log/slog"
	"net"
	"sync"

	"golang.org/x/net/ipv4"
)

// Writer sends datagrams from one socket. It is not safe for concurrent use.
type Writer struct {
	conn  net.PacketConn
	batch *ipv4.PacketConn // nil when conn is not a *net.UDPConn: one write per packet
	msgs  []ipv4.Message
	gso   gsoState
	oob   [][]byte // one UDP_SEGMENT control message per GSO run
	log   *slog.Logger
}

type gsoState int

const (
	gsoUntried gsoState = iota
	gsoOn
	gsoOff
)

// Option adjusts a Writer.
type Option func(*Writer)

// WithoutGSO sends one sendmmsg entry per packet, as where GSO is refused.
func WithoutGSO() Option { return func(w *Writer) { w.gso = gsoOff } }

// WithLogger says, once per process, why GSO was refused; nil: the
// default logger.
func WithLogger(l *slog.Logger) Option { return func(w *Writer) { w.log = l } }

// New wraps conn. The ipv4 batch API serves IPv6 sockets too: x/net
// encodes each destination by its own family, and Linux accepts IPv4
// destinations on dual-stack sockets.
func New(conn net.PacketConn, opts ...Option) *Writer {
	w := &Writer{conn: conn, log: slog.Default()}
	if uc, ok := conn.(*net.UDPConn); ok {
		w.batch = ipv4.NewPacketConn(uc)
	} else {
		w.gso = gsoOff
	}
	if !gsoBuilt {
		w.gso = gsoOff
	}
	for _, o := range opts {
		o(w)
	}
	return w
}

// GSO reports whether the socket sends with segmentation offload: false
// until the first multi-packet write has found out.
func (w *Writer) GSO() bool { return w.gso == gsoOn }

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
	if w.gso != gsoOff && len(pkts) > 1 {
		msgs := w.runs(pkts, dst)
		sent, err := w.send(msgs)
		switch {
		case err == nil:
			w.gso = gsoOn
			return nil
		case w.gso == gsoUntried && sent == 0 && refused(err):
			w.gso = gsoOff
			refusedOnce.Do(func() {
				w.log.Info("udp segmentation offload refused here; sending one datagram per sendmmsg entry", "err", err)
			})
		default:
			return err
		}
	}
	return w.writePlain(pkts, dst)
}

func (w *Writer) writePlain(pkts [][]byte, dst net.Addr) error {
	msgs := w.messages(len(pkts))
	for i, p := range pkts {
		msgs[i].Buffers = msgs[i].Buffers[:1]
		msgs[i].Buffers[0], msgs[i].OOB, msgs[i].Addr = p, nil, dst
	}
	_, err := w.send(msgs)
	return err
}

// messages returns n reusable messages.
func (w *Writer) messages(n int) []ipv4.Message {
	for len(w.msgs) < n {
		w.msgs = append(w.msgs, ipv4.Message{Buffers: make([][]byte, 1)})
	}
	return w.msgs[:n]
}

// send writes msgs, resuming after partial batches; it returns how many
// went out.
func (w *Writer) send(msgs []ipv4.Message) (int, error) {
	sent := 0
	for sent < len(msgs) {
		n, err := w.batch.WriteBatch(msgs[sent:], 0)
		if err != nil {
			return sent, err
		}
		sent += n
	}
	return sent, nil
}

// runs groups pkts into messages: each a run of packets of one size (the
// last may be shorter) as one GSO buffer of several iovecs, or a lone
// packet as a plain datagram.
func (w *Writer) runs(pkts [][]byte, dst net.Addr) []ipv4.Message {
	var msgs []ipv4.Message
	nmsg := 0
	for i := 0; i < len(pkts); {
		size := len(pkts[i])
		j := i + 1
		for j < len(pkts) && j-i < maxSegments && (j-i+1)*size <= maxGSOBytes && len(pkts[j]) <= size {
			last := len(pkts[j]) < size
			j++
			if last {
				break // a shorter packet ends the run
			}
		}
		if nmsg == len(w.msgs) {
			w.msgs = append(w.msgs, ipv4.Message{Buffers: make([][]byte, 1)})
		}
		m := &w.msgs[nmsg]
		m.Buffers = append(m.Buffers[:0], pkts[i:j]...)
		m.Addr, m.OOB = dst, nil
		if j-i > 1 {
			m.OOB = w.segment(nmsg, size)
		}
		nmsg++
		i = j
	}
	msgs = w.msgs[:nmsg]
	return msgs
}

// segment is message i's UDP_SEGMENT control message for size.
func (w *Writer) segment(i, size int) []byte {
	for len(w.oob) <= i {
		w.oob = append(w.oob, make([]byte, cmsgSpace))
	}
	putSegment(w.oob[i], size)
	return w.oob[i]
}

var refusedOnce sync.Once
