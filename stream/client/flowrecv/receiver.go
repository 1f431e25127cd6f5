package flowrecv

import (
	"flowcam/stream/format/multiflow"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"

	"flowcam/stream/client/rxstamp"
	"flowcam/stream/format/ccfb"
	"flowcam/stream/format/ntp"
	"flowcam/stream/format/rtpjpeg"
)

// Config sets up the client end of a session's flows.
type Config struct {
	Session    string
	Token      [16]byte
	ExtID      uint8
	ServerSSRC uint32 // from the SETUP reply's Transport ssrc
	// Servers and Conns are, per flow, the server's flow address and the
	// client socket (already bound to its interface). The Receiver owns
	// and closes the sockets.
	Servers []netip.AddrPort
	Conns   []net.PacketConn
	// Plain receives an ordinary RTSP/UDP session instead: one flow, RTP
	// on Conns[0] from Servers[0], RTCP on RTCPConn to and from RTCPServer,
	// no registration and no header extension.
	Plain      bool
	RTCPConn   net.PacketConn
	RTCPServer netip.AddrPort

	ReportEvery time.Duration // multiflow.DefaultReportInterval when zero
	Now         func() time.Time
	Logger      *slog.Logger
}

// Packet is one received RTP packet and where it came from.
type Packet struct {
	rtp.Packet
	Flow    int
	Arrival time.Time
}

// SenderReport maps the stream's RTP clock to the server's wall clock.
type SenderReport struct {
	RTPTime uint32
	NTP     time.Time
}

// Receiver receives one stream over its flows, registers them, and reports
// on each path so the server can schedule.
type Receiver struct {
	cfg     Config
	log     *slog.Logger
	ssrc    uint32
	counter atomic.Uint64
	flows   []*recvFlow
	out     chan Packet
	done    chan struct{}
	wg      sync.WaitGroup
	lastSR  atomic.Pointer[SenderReport]
	notice  atomic.Pointer[multiflow.RateNotice]
	clock   ccfb.Clock // stamps congestion control feedback
}

// New starts receiving; registrations go out at once.
func New(cfg Config) (*Receiver, error) {
	if len(cfg.Conns) == 0 || len(cfg.Conns) != len(cfg.Servers) || len(cfg.Conns) > multiflow.MaxFlows {
		return nil, fmt.Errorf("multiflow: %d sockets for %d flows", len(cfg.Conns), len(cfg.Servers))
	}
	if cfg.Plain && (len(cfg.Conns) != 1 || cfg.RTCPConn == nil) {
		return nil, fmt.Errorf("multiflow: a plain session has one flow and an RTCP socket")
	}
	if cfg.ReportEvery <= 0 {
		cfg.ReportEvery = multiflow.DefaultReportInterval
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	r := &Receiver{cfg: cfg, log: cfg.Logger, ssrc: mrand.Uint32(), out: make(chan Packet, 1024), done: make(chan struct{}),
		clock: ccfb.NewClock(cfg.Now())}
	// Counters start at the wall clock so a restarted client never reuses
	// one, and grow from there.
	r.counter.Store(uint64(cfg.Now().UnixNano()))
	for i, c := range cfg.Conns {
		f := &recvFlow{index: i, conn: c, rtcpConn: c, server: cfg.Servers[i], rtcpServer: cfg.Servers[i]}
		if cfg.Plain {
			f.rtcpConn, f.rtcpServer = cfg.RTCPConn, cfg.RTCPServer
		}
		r.flows = append(r.flows, f)
	}
	r.start()
	return r, nil
}

func (r *Receiver) start() {
	for _, f := range r.flows {
		r.wg.Add(1)
		go r.read(f, f.conn)
		if f.rtcpConn != f.conn {
			r.wg.Add(1)
			go r.read(f, f.rtcpConn)
		}
	}
	r.wg.Add(1)
	go r.reportLoop()
}

// Packets delivers received RTP packets. It is closed by Close.
func (r *Receiver) Packets() <-chan Packet { return r.out }

// LastSenderReport is the newest RTP-to-wall-clock mapping, or nil.
func (r *Receiver) LastSenderReport() *SenderReport { return r.lastSR.Load() }

// LastNotice is the server's newest rate notice, or nil (a server that
// sends none).
func (r *Receiver) LastNotice() *multiflow.RateNotice { return r.notice.Load() }

// ReportEvery is the interval at which the Receiver reports on each flow.
func (r *Receiver) ReportEvery() time.Duration { return r.cfg.ReportEvery }

// Close stops receiving and closes the sockets.
func (r *Receiver) Close() {
	select {
	case <-r.done:
		return
	default:
	}
	close(r.done)
	for _, f := range r.flows {
		f.conn.Close()
		if f.rtcpConn != f.conn {
			f.rtcpConn.Close()
		}
	}
	r.wg.Wait()
	close(r.out)
}

// Registered reports how many flows the server has acknowledged.
func (r *Receiver) Registered() int {
	n := 0
	for _, f := range r.flows {
		if f.acked.Load() {
			n++
		}
	}
	return n
}

func (r *Receiver) read(f *recvFlow, c net.PacketConn) {
	defer r.wg.Done()
	buf := make([]byte, 65536)
	rd := rxstamp.New(c)
	for {
		// The kernel's receive time goes into the feedback (the server
		// reads queues from it, and our own scheduling delay is not the
		// path's); the play-out works on the monotonic clock.
		n, from, at, err := rd.Read(buf, r.cfg.Now)
		if err != nil {
			return
		}
		now := r.cfg.Now()
		ua, ok := from.(*net.UDPAddr)
		if !ok || ua.AddrPort().Addr().Unmap() != f.server.Addr() {
			f.foreign.Add(1) // only the server's flow address may send
			continue
		}
		if multiflow.IsRTCP(buf[:n]) {
			r.rtcp(f, buf[:n], now)
			continue
		}
		var p rtp.Packet
		if err := p.Unmarshal(append([]byte(nil), buf[:n]...)); err != nil {
			f.malformed.Add(1)
			continue
		}
		r.rtp(f, p, now, at)
	}
}

func (r *Receiver) rtp(f *recvFlow, p rtp.Packet, now, at time.Time) {
	seq := p.SequenceNumber
	if !r.cfg.Plain {
		fl, fseq, ok := multiflow.ParseExtension(p.GetExtension(r.cfg.ExtID))
		if !ok || int(fl) != f.index {
			f.malformed.Add(1)
			return
		}
		seq = fseq
	}
	first := f.packets.Load() == 0
	f.count(seq, p.Timestamp, len(p.Payload), at)
	// A frame's last packet is reported at once: the sender learns what
	// a frame cost the path within a round trip, not a report interval.
	// So is a flow's first packet: from it the sender knows this receiver
	// sends per-packet feedback, and holds a new path to what it can be
	// trusted with instead of a report interval of frames.
	if first || p.Marker && f.earlyReportDue(now, markerReportGap) {
		r.sendReport(f, now)
	}
	select {
	case r.out <- Packet{Packet: p, Flow: f.index, Arrival: now}:
	case <-r.done:
	}
}

// markerReportGap is the least time between two early reports on a flow, so a
// burst of small frames does not become a burst of reports.
const markerReportGap = 10 * time.Millisecond

func (r *Receiver) rtcp(f *recvFlow, b []byte, now time.Time) {
	pkts, err := rtcp.Unmarshal(b)
	if err != nil {
		f.malformed.Add(1)
		return
	}
	for _, p := range pkts {
		switch p := p.(type) {
		case *rtcp.SenderReport:
			if p.SSRC == r.cfg.ServerSSRC || r.cfg.ServerSSRC == 0 {
				f.senderReport(p.NTPTime, now)
				r.lastSR.Store(&SenderReport{RTPTime: p.RTPTime, NTP: ntp.ToTime(p.NTPTime)})
			}
		case *rtcp.ApplicationDefined:
			if n, ok := multiflow.ParseRateNotice(p); ok {
				r.notice.Store(&n)
				continue
			}
			if p.Name != multiflow.NameAck || int(p.SubType) != f.index {
				continue
			}
			if reg, ok := multiflow.VerifyRegistration(r.cfg.Token, r.cfg.Session, multiflow.NameAck, p.SubType, p.Data); ok {
				f.ack(reg.Counter, now)
			}
		}
	}
}

// reportLoop sends, per flow, a receiver report, congestion control
// feedback and (multi-flow) a registration, which also keeps NAT bindings
// open and measures RTT.
func (r *Receiver) reportLoop() {
	defer r.wg.Done()
	t := time.NewTicker(r.cfg.ReportEvery)
	defer t.Stop()
	for {
		for _, f := range r.flows {
			r.sendReport(f, r.cfg.Now())
		}
		select {
		case <-r.done:
			return
		case <-t.C:
		}
	}
}

func (r *Receiver) sendReport(f *recvFlow, now time.Time) {
	b, err := r.report(f, now)
	if err != nil {
		return
	}
	if _, err := f.rtcpConn.WriteTo(b, net.UDPAddrFromAddrPort(f.rtcpServer)); err != nil {
		f.sendErrs.Add(1) // a path that is down: keep trying, it may return
	}
}

// RequestKeyFrame sends a PLI on every flow (a compound packet led by a
// receiver report, as RFC 4585 asks), for a decoder that lost a frame.
func (r *Receiver) RequestKeyFrame(now time.Time) {
	for _, f := range r.flows {
		pkts := []rtcp.Packet{&rtcp.ReceiverReport{SSRC: r.ssrc},
			&rtcp.PictureLossIndication{SenderSSRC: r.ssrc, MediaSSRC: r.cfg.ServerSSRC}}
		if !r.cfg.Plain {
			reg := multiflow.Registration{Flow: uint8(f.index), Counter: r.counter.Add(1)}
			f.sentRegistration(reg.Counter, now)
			pkts = append(pkts, &rtcp.ApplicationDefined{SubType: reg.Flow, SSRC: r.ssrc, Name: multiflow.NameRegister,
				Data: multiflow.RegistrationData(r.cfg.Token, r.cfg.Session, multiflow.NameRegister, reg)})
		}
		if b, err := rtcp.Marshal(pkts); err == nil {
			if _, err := f.rtcpConn.WriteTo(b, net.UDPAddrFromAddrPort(f.rtcpServer)); err != nil {
				f.sendErrs.Add(1)
			}
		}
	}
}

// report builds one flow's compound RTCP packet (docs/multiflow.md): a
// receiver report, congestion control feedback on what arrived, and on a
// multi-flow session the flow's registration.
func (r *Receiver) report(f *recvFlow, now time.Time) ([]byte, error) {
	rr := &rtcp.ReceiverReport{SSRC: r.ssrc}
	if block, ok := f.reportBlock(r.cfg.ServerSSRC, now); ok {
		rr.Reports = []rtcp.ReceptionReport{block}
	}
	pkts := []rtcp.Packet{rr}
	if block, ok := f.feedbackBlock(r.cfg.ServerSSRC, now); ok {
		pkts = append(pkts, r.clock.Report(r.ssrc, now, block))
	}
	if !r.cfg.Plain {
		reg := multiflow.Registration{Flow: uint8(f.index), Counter: r.counter.Add(1)}
		f.sentRegistration(reg.Counter, now)
		pkts = append(pkts, &rtcp.ApplicationDefined{SubType: reg.Flow, SSRC: r.ssrc, Name: multiflow.NameRegister,
			Data: multiflow.RegistrationData(r.cfg.Token, r.cfg.Session, multiflow.NameRegister, reg)})
	}
	return rtcp.Marshal(pkts)
}

// clockRate converts the RTP clock for jitter.
const clockRate = rtpjpeg.ClockRate
