package netns

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"slices"
	"sync"
	"syscall"
	"time"
)

// Listen opens a listener in namespace ns (net.Listen semantics).
func (t *Topology) Listen(ns, network, addr string) (l net.Listener, err error) {
	err = RunIn(ns, func() error {
		l, err = net.Listen(network, addr)
		return err
	})
	return l, err
}

// ListenPacket opens a packet socket in namespace ns (net.ListenPacket).
func (t *Topology) ListenPacket(ns, network, addr string) (c net.PacketConn, err error) {
	err = RunIn(ns, func() error {
		c, err = net.ListenPacket(network, addr)
		return err
	})
	return c, err
}

// Dial connects from namespace ns (net.DialTimeout).
func (t *Topology) Dial(ns, network, addr string, timeout time.Duration) (c net.Conn, err error) {
	err = RunIn(ns, func() error {
		c, err = net.DialTimeout(network, addr, timeout)
		return err
	})
	return c, err
}

// EchoServer returns every UDP datagram to its sender.
type EchoServer struct {
	Port int
	conn net.PacketConn
	done chan struct{}
}

// StartEcho runs a UDP echo server on all addresses of namespace ns.
func (t *Topology) StartEcho(ns string) (*EchoServer, error) {
	c, err := t.ListenPacket(ns, "udp4", ":0")
	if err != nil {
		return nil, fmt.Errorf("echo server in %s: %w", ns, err)
	}
	growBuffers(c)
	e := &EchoServer{Port: c.LocalAddr().(*net.UDPAddr).Port, conn: c, done: make(chan struct{})}
	go e.serve()
	return e, nil
}

func (e *EchoServer) serve() {
	defer close(e.done)
	buf := make([]byte, 65536)
	for {
		n, from, err := e.conn.ReadFrom(buf)
		if err != nil {
			return
		}
		// A failed reply is the path's loss, which is what is measured.
		_, _ = e.conn.WriteTo(buf[:n], from)
	}
}

// Close stops the server.
func (e *EchoServer) Close() error {
	err := e.conn.Close()
	<-e.done
	return err
}

// EchoResult is the outcome of a UDP echo probe.
type EchoResult struct {
	Sent, Received int
	RTTs           []time.Duration // one per reply, in arrival order
}

// LossPercent is the share of probes without a reply.
func (r EchoResult) LossPercent() float64 {
	if r.Sent == 0 {
		return 0
	}
	return 100 * float64(r.Sent-r.Received) / float64(r.Sent)
}

// MedianRTT is the median round trip time, 0 without replies.
func (r EchoResult) MedianRTT() time.Duration {
	if len(r.RTTs) == 0 {
		return 0
	}
	s := slices.Clone(r.RTTs)
	slices.Sort(s)
	return s[len(s)/2]
}

// probeLen is the probe payload: sequence number and send time.
const probeLen = 16

// Unpaced probes go out in bursts of probeBurst, probeBurstGap apart:
// ~20k datagrams/s, fast, yet far below what the buffers absorb.
const (
	probeBurst    = 20
	probeBurstGap = time.Millisecond
)

// udpBufSize is the socket buffer of the echo sockets. SO_RCVBUFFORCE (we are
// root) overrides net.core.rmem_max, whose 208 KiB default holds only a few
// hundred small datagrams.
const udpBufSize = 4 << 20

// growBuffers enlarges the socket buffers of c, best effort: smaller
// buffers only make the measurement noisier.
func growBuffers(c any) {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return
	}
	_ = rc.Control(func(fd uintptr) {
		_ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUFFORCE, udpBufSize)
		_ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_SNDBUFFORCE, udpBufSize)
	})
}

// Echo sends n datagrams from namespace ns to the echo server at addr
// (host:port), gap apart (0: in bursts of probeBurst every probeBurstGap, so
// that socket buffers, not the path, never decide the loss), and collects the replies until wait after the last
// send. Duplicated replies count once, so loss is never under-reported.
func (t *Topology) Echo(ns, addr string, n int, gap, wait time.Duration) (EchoResult, error) {
	c, err := t.Dial(ns, "udp4", addr, time.Second)
	if err != nil {
		return EchoResult{}, fmt.Errorf("echo from %s to %s: %w", ns, addr, err)
	}
	defer c.Close()
	growBuffers(c)
	base := time.Now()
	var res EchoResult
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); res = collect(c, n, base) }()
	sent, sendErr := sendProbes(c, n, gap, base)
	// Replies may still be on their way; collect stops at this deadline.
	_ = c.SetReadDeadline(time.Now().Add(wait))
	wg.Wait()
	res.Sent = sent
	// Unreachable errors (no route, link down) are loss, not failure.
	if sendErr != nil && !isUnreachable(sendErr) {
		return res, fmt.Errorf("echo from %s to %s: %w", ns, addr, sendErr)
	}
	return res, nil
}

func sendProbes(c net.Conn, n int, gap time.Duration, base time.Time) (int, error) {
	var msg [probeLen]byte
	var firstErr error
	for i := 0; i < n; i++ {
		switch {
		case i > 0 && gap > 0:
			time.Sleep(gap)
		case i > 0 && gap == 0 && i%probeBurst == 0:
			time.Sleep(probeBurstGap)
		}
		binary.BigEndian.PutUint64(msg[:8], uint64(i))
		binary.BigEndian.PutUint64(msg[8:], uint64(time.Since(base)))
		if _, err := c.Write(msg[:]); err != nil && firstErr == nil {
			firstErr = err
		}
	}
	return n, firstErr
}

// collect reads replies until the read deadline set by Echo expires. Read
// errors other than the deadline (ICMP port unreachable) are skipped.
func collect(c net.Conn, n int, base time.Time) EchoResult {
	var res EchoResult
	seen := make([]bool, n)
	buf := make([]byte, 2048)
	for {
		m, err := c.Read(buf)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || !isUnreachable(err) {
				return res
			}
			continue // an ICMP error for an earlier probe
		}
		if m != probeLen {
			continue
		}
		seq := binary.BigEndian.Uint64(buf[:8])
		if seq >= uint64(n) || seen[seq] {
			continue
		}
		seen[seq] = true
		res.Received++
		sentAt := time.Duration(binary.BigEndian.Uint64(buf[8:]))
		res.RTTs = append(res.RTTs, time.Since(base)-sentAt)
	}
}

// isUnreachable tells path failures (no route, link down, ICMP errors) from
// programming errors.
func isUnreachable(err error) bool {
	for _, e := range []error{syscall.ENETUNREACH, syscall.EHOSTUNREACH, syscall.ENETDOWN,
		syscall.EHOSTDOWN, syscall.ECONNREFUSED, syscall.ENOBUFS} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}
