// Package packetconn is an in-memory net.PacketConn for tests that drive a
// socket reader datagram by datagram: the test hands each datagram to the
// reader with Deliver, which returns once the reader has come back for the
// next one, so the datagram has been fully handled.
package packetconn

import (
	"net"
	"sync/atomic"
	"time"
)

// Conn is a net.PacketConn fed by the test. Writes are counted and
// discarded.
type Conn struct {
	in     chan datagram
	closed chan struct{}
	reads  atomic.Int64
	writes atomic.Int64
	local  net.Addr
}

type datagram struct {
	data []byte
	from net.Addr
	ack  chan int64 // the reader's read count when it took the datagram
}

// New returns a Conn whose LocalAddr is local.
func New(local net.Addr) *Conn {
	return &Conn{in: make(chan datagram), closed: make(chan struct{}), local: local}
}

// ReadFrom waits for the next delivered datagram, or fails with
// net.ErrClosed once the Conn is closed.
func (c *Conn) ReadFrom(b []byte) (int, net.Addr, error) {
	n := c.reads.Add(1)
	select {
	case d := <-c.in:
		d.ack <- n
		return copy(b, d.data), d.from, nil
	case <-c.closed:
		return 0, nil, net.ErrClosed
	}
}

// Deliver hands data, coming from from, to the reader and waits until the
// reader asks for the next datagram.
func (c *Conn) Deliver(from net.Addr, data []byte) {
	d := datagram{data: data, from: from, ack: make(chan int64, 1)}
	c.in <- d
	n := <-d.ack
	for c.reads.Load() <= n {
		time.Sleep(10 * time.Microsecond)
	}
}

// WriteTo counts and discards b.
func (c *Conn) WriteTo(b []byte, _ net.Addr) (int, error) {
	c.writes.Add(1)
	return len(b), nil
}

// Writes is how many datagrams were written.
func (c *Conn) Writes() int64 { return c.writes.Load() }

// Close ends pending and later reads; it may be called more than once.
func (c *Conn) Close() error {
	select {
	case <-c.closed:
	default:
		close(c.closed)
	}
	return nil
}

func (c *Conn) LocalAddr() net.Addr              { return c.local }
func (c *Conn) SetDeadline(time.Time) error      { return nil }
func (c *Conn) SetReadDeadline(time.Time) error  { return nil }
func (c *Conn) SetWriteDeadline(time.Time) error { return nil }
