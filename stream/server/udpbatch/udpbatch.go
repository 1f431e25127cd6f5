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
	join  []byte   // a split packet joined, for connections without batches
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
func (w *Writer) WriteTo(pkts [][]byte, dst net.Addr) error { return w.write(pkts, nil, dst) }

// WriteSplit sends packets of two parts each, heads[i] then bodies[i], in
// order, without joining them: a viewer's own RTP headers and the payloads
// every viewer shares go to the kernel as separate iovecs, which the
// kernel copies anyway, so no frame is copied in user space per viewer.
func (w *Writer) WriteSplit(heads, bodies [][]byte, dst net.Addr) error {
	return w.write(heads, bodies, dst)
}

// write sends packet i = heads[i] + bodies[i] (bodies may be nil).
func (w *Writer) write(heads, bodies [][]byte, dst net.Addr) error {
	if w.batch == nil {
		return w.writeEach(heads, bodies, dst)
	}
	if w.gso != gsoOff && len(heads) > 1 {
		msgs := w.runs(heads, bodies, dst)
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
	return w.writePlain(heads, bodies, dst)
}

// writeEach sends one packet per call, for connections that are not UDP
// sockets (tests' fakes, wrappers).
func (w *Writer) writeEach(heads, bodies [][]byte, dst net.Addr) error {
	for i, p := range heads {
		if bodies != nil {
			w.join = append(append(w.join[:0], p...), bodies[i]...)
			p = w.join
		}
		if _, err := w.conn.WriteTo(p, dst); err != nil {
			return err
		}
	}
	return nil
}

func (w *Writer) writePlain(heads, bodies [][]byte, dst net.Addr) error {
	msgs := w.messages(len(heads))
	for i := range heads {
		msgs[i].Buffers = appendPacket(msgs[i].Buffers[:0], heads, bodies, i)
		msgs[i].OOB, msgs[i].Addr = nil, dst
	}
	_, err := w.send(msgs)
	return err
}

// packetLen is packet i's size.
func packetLen(heads, bodies [][]byte, i int) int {
	if bodies == nil {
		return len(heads[i])
	}
	return len(heads[i]) + len(bodies[i])
}

// appendPacket appends packet i's parts to an iovec list.
func appendPacket(bufs, heads, bodies [][]byte, i int) [][]byte {
	bufs = append(bufs, heads[i])
	if bodies != nil {
		bufs = append(bufs, bodies[i])
	}
	return bufs
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

// runs groups packets into messages: each a run of packets of one size
// (the last may be shorter) as one GSO buffer of several iovecs, or a lone
// packet as a plain datagram.
func (w *Writer) runs(heads, bodies [][]byte, dst net.Addr) []ipv4.Message {
	var msgs []ipv4.Message
	nmsg := 0
	for i := 0; i < len(heads); {
		size := packetLen(heads, bodies, i)
		j := i + 1
		for j < len(heads) && j-i < maxSegments && (j-i+1)*size <= maxGSOBytes && packetLen(heads, bodies, j) <= size {
			last := packetLen(heads, bodies, j) < size
			j++
			if last {
				break // a shorter packet ends the run
			}
		}
		if nmsg == len(w.msgs) {
			w.msgs = append(w.msgs, ipv4.Message{Buffers: make([][]byte, 1)})
		}
		m := &w.msgs[nmsg]
		m.Buffers = m.Buffers[:0]
		for k := i; k < j; k++ {
			m.Buffers = appendPacket(m.Buffers, heads, bodies, k)
		}
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
