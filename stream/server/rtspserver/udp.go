package rtspserver

import (
	"log/slog"
	"net"
	"time"

	"github.com/pion/rtp"

	"flowcam/stream/server/broadcast"
	"flowcam/stream/server/udpbatch"
)

// udpMedia sends RTP and RTCP from a pair of server ports (even RTP, odd
// RTCP) to the ports the client named, and reads the client's RTCP.
type udpMedia struct {
	rtpConn, rtcpConn net.PacketConn
	client            net.IP
	dst, dstRTCP      *net.UDPAddr
	out               *udpbatch.Writer
	batch             packetBatch
	rate              *udpRate
	released          [][][]byte
}

// listenUDP opens a server port pair on the local address the client
// reached us on.
func listenUDP(ports *portRange, listen func(string, string) (net.PacketConn, error), local, client net.IP, clientPorts [2]int, log *slog.Logger) (*udpMedia, error) {
	host := ""
	if local != nil && !local.IsUnspecified() {
		host = local.String()
	}
	rtpConn, rtcpConn, err := ports.pair(listen, host)
	if err != nil {
		return nil, err
	}
	return &udpMedia{
		rtpConn:  rtpConn,
		rtcpConn: rtcpConn,
		client:   client,
		dst:      &net.UDPAddr{IP: client, Port: clientPorts[0]},
		dstRTCP:  &net.UDPAddr{IP: client, Port: clientPorts[1]},
		out:      udpbatch.New(rtpConn, udpbatch.WithLogger(log)),
	}, nil
}

// adapt turns rate adaptation on for the session's stream (SSRC ssrc).
func (m *udpMedia) adapt(now time.Time, ssrc uint32) { m.rate = newUDPRate(now, ssrc) }

func (m *udpMedia) name() string { return "udp" }

func (m *udpMedia) serverPorts() [2]int {
	return [2]int{m.rtpConn.LocalAddr().(*net.UDPAddr).Port, m.rtcpConn.LocalAddr().(*net.UDPAddr).Port}
}

// start reads what the client sends to either port: RTCP receiver reports,
// and NAT-opening packets that prove it is still there.
func (m *udpMedia) start(ss *session) {
	ss.srv.wg.Add(2)
	go m.read(ss, m.rtpConn, false)
	go m.read(ss, m.rtcpConn, true)
}

func (m *udpMedia) read(ss *session, c net.PacketConn, isRTCP bool) {
	defer ss.srv.wg.Done()
	buf := make([]byte, 1500)
	for {
		n, from, err := c.ReadFrom(buf)
		if err != nil {
			return // closed with the session
		}
		// Only the client may speak for its session: anything else is a
		// spoofing attempt or noise.
		if ua, ok := from.(*net.UDPAddr); !ok || !ua.IP.Equal(m.client) {
			ss.spoofed.Add(1)
			continue
		}
		ss.touch()
		if isRTCP {
			ss.handleRTCP(buf[:n])
		}
	}
}

// sendFrame sends a frame at once when the path is unbounded, hands it to
// the pacer when it is not, and skips it when the path cannot carry it.
func (m *udpMedia) sendFrame(h rtp.Header, u *broadcast.Unit, now time.Time) (bool, error) {
	if !m.rate.admit(now, u.Captured, h.Timestamp, &u.Payloads, u.Anchor) {
		return false, nil
	}
	m.rate.mu.Lock()
	if m.rate.sched.Direct(0) {
		heads, bodies := m.batch.split(h, &u.Payloads)
		for i := range heads {
			m.rate.sched.Sent(0, h.SequenceNumber+uint16(i), len(heads[i])+len(bodies[i]), now)
		}
		m.rate.mu.Unlock()
		return true, m.out.WriteSplit(heads, bodies, m.dst)
	}
	// The pacer holds packets past this frame's turn: they need a copy.
	m.batch.build(h, &u.Payloads)
	for i, p := range m.batch.packets() {
		m.rate.sched.Enqueue(0, h.SequenceNumber+uint16(i), p)
	}
	m.rate.mu.Unlock()
	return true, nil // the writer's pacing releases it
}

// release sends the paced packets that are due and returns when the next
// one is (zero when none waits).
func (m *udpMedia) release(now time.Time) time.Time {
	m.rate.mu.Lock()
	var next time.Time
	m.released, next = m.rate.sched.Release(now, m.released)
	m.rate.mu.Unlock()
	if len(m.released[0]) > 0 {
		m.out.WriteTo(m.released[0], m.dst) // a failed send is the path's loss
	}
	m.rate.mu.Lock()
	m.rate.sched.Recycle(m.released)
	m.rate.mu.Unlock()
	return next
}

func (m *udpMedia) writeRTCP(p []byte) error {
	_, err := m.rtcpConn.WriteTo(p, m.dstRTCP)
	return err
}

func (m *udpMedia) close() {
	m.rtpConn.Close()
	m.rtcpConn.Close()
}
