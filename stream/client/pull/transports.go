package pull

import (
	"context"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"flowcam/stream/client/flowrecv"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"

	"flowcam/stream/client/rtspclient"
	"flowcam/stream/format/multiflow"
	"flowcam/stream/format/ntp"
	"flowcam/stream/format/rtpjpeg"
)

// registerWait bounds how long PLAY waits for the flows to register.
const registerWait = 2 * time.Second

// udpSource receives over UDP: multi-flow or a plain RTP/RTCP port pair.
type udpSource struct {
	r     *flowrecv.Receiver
	mode  multiflow.Mode
	paths []string // interface each flow is bound to, "" for any
}

func (s *udpSource) packets() <-chan flowrecv.Packet      { return s.r.Packets() }
func (s *udpSource) senderReport() *flowrecv.SenderReport { return s.r.LastSenderReport() }
func (s *udpSource) notice() *multiflow.RateNotice        { return s.r.LastNotice() }
func (s *udpSource) flowStats() []flowrecv.FlowStats      { return s.r.Stats() }
func (s *udpSource) close()                               { s.r.Close() }

func (s *udpSource) requestKeyFrame(now time.Time) { s.r.RequestKeyFrame(now) }
func (s *udpSource) pathNames() []string           { return s.paths }
func wildcard(a netip.Addr) string {
	return map[bool]string{true: "0.0.0.0:0", false: "[::]:0"}[a.Is4()]
}
func listenerFor(p *Path) func(string, string) (net.PacketConn, error) {
	if p == nil || p.ListenPacket == nil {
		return net.ListenPacket
	}
	return p.ListenPacket
}

// pathFor picks the client path for a flow to server: the one whose subnet
// holds the server's flow address, else the paths in turn.
func pathFor(via []Path, server netip.Addr, i int) *Path {
	for k := range via {
		for _, p := range via[k].Prefixes {
			if p.Masked().Contains(server) {
				return &via[k]
			}
		}
	}
	if len(via) == 0 {
		return nil
	}
	return &via[i%len(via)]
}

func setupMultiflow(ctx context.Context, c *rtspclient.Client, d *rtspclient.Description, cfg *Config) (*udpSource, error) {
	want := multiflow.Request{Flows: max(cfg.Flows, len(cfg.Via), len(cfg.Weights), 1), Mode: cfg.Mode,
		Report: multiflow.DefaultReportInterval, Latency: cfg.latency(), Weights: cfg.Weights}
	reply, tr, err := c.SetupMultiflow(ctx, d, want)
	if err != nil {
		return nil, err
	}
	src := &udpSource{mode: reply.Mode}
	var conns []net.PacketConn
	closeAll := func() {
		for _, pc := range conns {
			pc.Close()
		}
	}
	for i, server := range reply.Flows {
		p := pathFor(cfg.Via, server.Addr(), i)
		pc, err := listenerFor(p)("udp", wildcard(server.Addr()))
		if err != nil {
			closeAll()
			return nil, errorf("flow %d socket: %w", i, err)
		}
		conns = append(conns, pc)
		if p != nil {
			src.paths = append(src.paths, p.Name)
		} else {
			src.paths = append(src.paths, "")
		}
	}
	src.r, err = flowrecv.New(flowrecv.Config{Session: c.Session(), Token: reply.Token,
		ExtID: reply.ExtID, ServerSSRC: tr.SSRC, Servers: reply.Flows, Conns: conns, Logger: cfg.Logger})
	if err != nil {
		closeAll()
		return nil, err
	}
	if err := waitRegistered(ctx, src.r, len(conns), cfg); err != nil {
		src.r.Close()
		return nil, err
	}
	return src, nil
}

// waitRegistered gives every flow a moment to register, so the first
// frames are not sent before the server knows where to; one flow is enough
// to play, the others join when their path works.
func waitRegistered(ctx context.Context, r *flowrecv.Receiver, n int, cfg *Config) error {
	deadline := time.Now().Add(registerWait)
	for r.Registered() < n && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(10 * time.Millisecond)
	}
	if got := r.Registered(); got < n {
		if got == 0 {
			return errorf("no flow could register with the server within %v: check the interfaces and routes", registerWait)
		}
		cfg.Logger.Warn("not every flow registered; playing on the others", "registered", got, "flows", n)
	}
	return nil
}

func setupUDP(ctx context.Context, c *rtspclient.Client, d *rtspclient.Description, cfg *Config) (*udpSource, error) {
	server, err := serverAddr(c)
	if err != nil {
		return nil, err
	}
	var p *Path
	if len(cfg.Via) > 0 {
		p = &cfg.Via[0]
	}
	rtpConn, rtcpConn, err := listenPair(listenerFor(p), server)
	if err != nil {
		return nil, err
	}
	tr, err := c.SetupUDP(ctx, d, rtpConn.LocalAddr().(*net.UDPAddr).Port)
	if err != nil {
		rtpConn.Close()
		rtcpConn.Close()
		return nil, err
	}
	src := &udpSource{paths: []string{""}}
	if p != nil {
		src.paths[0] = p.Name
	}
	src.r, err = flowrecv.New(flowrecv.Config{Plain: true, ServerSSRC: tr.SSRC,
		Servers: []netip.AddrPort{netip.AddrPortFrom(server, uint16(tr.ServerPorts[0]))}, Conns: []net.PacketConn{rtpConn},
		RTCPConn: rtcpConn, RTCPServer: netip.AddrPortFrom(server, uint16(tr.ServerPorts[1])), Logger: cfg.Logger})
	if err != nil {
		rtpConn.Close()
		rtcpConn.Close()
		return nil, err
	}
	return src, nil
}

// listenPair opens an even RTP port and the odd RTCP port after it.
func listenPair(listen func(string, string) (net.PacketConn, error), server netip.Addr) (net.PacketConn, net.PacketConn, error) {
	host := "0.0.0.0"
	if !server.Is4() {
		host = "::"
	}
	for try := 0; try < 64; try++ {
		a, err := listen("udp", net.JoinHostPort(host, "0"))
		if err != nil {
			return nil, nil, errorf("RTP socket: %w", err)
		}
		port := a.LocalAddr().(*net.UDPAddr).Port
		if port%2 == 0 && port < 65535 {
			if b, err := listen("udp", net.JoinHostPort(host, strconv.Itoa(port+1))); err == nil {
				return a, b, nil
			}
		}
		a.Close()
	}
	return nil, nil, errorf("no free UDP port pair")
}

// tcpSource receives RTP and RTCP interleaved on the control connection.
type tcpSource struct {
	c     *rtspclient.Client
	rtcp  uint8 // the RTCP channel
	ssrc  atomic.Uint32
	out   chan flowrecv.Packet
	sr    atomic.Pointer[flowrecv.SenderReport]
	note  atomic.Pointer[multiflow.RateNotice]
	stats seqStats
	done  chan struct{}
	wg    sync.WaitGroup
}

func setupTCP(ctx context.Context, c *rtspclient.Client, d *rtspclient.Description) (*tcpSource, error) {
	tr, err := c.SetupTCP(ctx, d)
	if err != nil {
		return nil, err
	}
	s := &tcpSource{c: c, rtcp: uint8(tr.Interleaved[1]), out: make(chan flowrecv.Packet, 1024), done: make(chan struct{})}
	s.wg.Add(1)
	go s.read(c, uint8(tr.Interleaved[0]))
	return s, nil
}

func (s *tcpSource) read(c *rtspclient.Client, ch uint8) {
	defer s.wg.Done()
	defer close(s.out)
	for f := range c.Interleaved() {
		now := time.Now()
		switch f.Channel {
		case ch:
			var p rtp.Packet
			if p.Unmarshal(f.Data) != nil {
				continue
			}
			s.stats.add(p.SequenceNumber, len(p.Payload))
			s.ssrc.Store(p.SSRC)
			select {
			case s.out <- flowrecv.Packet{Packet: p, Arrival: now}:
			case <-s.done:
				return
			}
		case ch + 1:
			s.readRTCP(f.Data)
		}
	}
}

func (s *tcpSource) readRTCP(b []byte) {
	pkts, err := rtcp.Unmarshal(b)
	if err != nil {
		return
	}
	for _, p := range pkts {
		switch p := p.(type) {
		case *rtcp.SenderReport:
			s.sr.Store(&flowrecv.SenderReport{RTPTime: p.RTPTime, NTP: ntp.ToTime(p.NTPTime)})
		case *rtcp.ApplicationDefined:
			if n, ok := multiflow.ParseRateNotice(p); ok {
				s.note.Store(&n)
			}
		}
	}
}

func (s *tcpSource) packets() <-chan flowrecv.Packet      { return s.out }
func (s *tcpSource) senderReport() *flowrecv.SenderReport { return s.sr.Load() }
func (s *tcpSource) notice() *multiflow.RateNotice        { return s.note.Load() }
func (s *tcpSource) pathNames() []string                  { return []string{""} }

// requestKeyFrame sends a PLI on the interleaved RTCP channel: TCP loses
// nothing, but the play-out deadline may have dropped a frame.
func (s *tcpSource) requestKeyFrame(time.Time) {
	b, err := rtcp.Marshal([]rtcp.Packet{&rtcp.ReceiverReport{SSRC: tcpClientSSRC},
		&rtcp.PictureLossIndication{SenderSSRC: tcpClientSSRC, MediaSSRC: s.ssrc.Load()}})
	if err == nil {
		s.c.WriteInterleaved(s.rtcp, b) // a connection that failed ends the pull anyway
	}
}

// tcpClientSSRC is the client's own SSRC in its RTCP over TCP; it sends
// no media, so any value serves.
const tcpClientSSRC = 0x666c6f77 // "flow"
func (s *tcpSource) close() {
	select {
	case <-s.done:
	default:
		close(s.done)
	}
}

func (s *tcpSource) flowStats() []flowrecv.FlowStats {
	return []flowrecv.FlowStats{s.stats.snapshot()}
}

// seqStats counts one RTP sequence space's packets and gaps.
type seqStats struct {
	mu              sync.Mutex
	started         bool
	base, max       uint64
	received, bytes uint64
}

func (q *seqStats) add(seq uint16, size int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	ext := uint64(seq)
	if q.started {
		// Place seq nearest to the highest seen so far, across wraps.
		ext = q.max + uint64(int16(seq-uint16(q.max)))
	} else {
		q.started, q.base, q.max = true, ext+1<<16, ext+1<<16
		ext = q.base
	}
	q.max = max(q.max, ext)
	q.received++
	q.bytes += uint64(size)
}

func (q *seqStats) snapshot() flowrecv.FlowStats {
	q.mu.Lock()
	defer q.mu.Unlock()
	s := flowrecv.FlowStats{Packets: q.received, Bytes: q.bytes, Registered: true}
	if q.started {
		expected := int64(q.max - q.base + 1)
		s.Lost = max(expected-int64(q.received), 0)
		s.Loss = float64(s.Lost) / float64(expected)
	}
	return s
}

// clockRate is the RTP/JPEG clock.
const clockRate = rtpjpeg.ClockRate
