// Package rxstamp reads UDP datagrams together with the time the kernel
// received them. A receiver that timestamps after its read returns adds
// its own scheduling delay to every arrival it reports; on a busy box that
// is milliseconds, enough for a sender to see a queue that is not there.
// Where the kernel cannot say (other systems, sockets that are not UDP),
// the time of the read is used.
package rxstamp

import (
	"net"
	"time"
)

// Reader reads from one socket.
type Reader struct {
	conn     net.PacketConn
	udp      *net.UDPConn // nil: no kernel timestamps
	oob      []byte
	kernel   bool // the kernel stamps this socket
	fellBack bool
}

// New prepares conn for stamped reads, asking the kernel to stamp each
// datagram where it can.
func New(conn net.PacketConn) *Reader {
	r := &Reader{conn: conn, oob: make([]byte, 128)}
	if uc, ok := conn.(*net.UDPConn); ok {
		r.udp = uc
		r.kernel = enable(uc)
	}
	return r
}

// Kernel reports whether the kernel stamps this socket's datagrams.
func (r *Reader) Kernel() bool { return r.kernel }

// Read reads one datagram into buf and returns when it arrived: the
// kernel's stamp (wall clock), or now() after the read when there is none.
func (r *Reader) Read(buf []byte, now func() time.Time) (int, net.Addr, time.Time, error) {
	if !r.kernel {
		n, from, err := r.conn.ReadFrom(buf)
		return n, from, now(), err
	}
	n, oobn, _, from, err := r.udp.ReadMsgUDP(buf, r.oob)
	if err != nil {
		return n, nil, time.Time{}, err
	}
	at, ok := parse(r.oob[:oobn])
	if !ok {
		at = now()
	}
	return n, from, at, nil
}
