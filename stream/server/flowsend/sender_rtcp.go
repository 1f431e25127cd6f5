package flowsend

import (
	"net"
	"net/netip"
	"time"

	"flowcam/stream/format/multiflow"

	"github.com/pion/rtcp"

	"flowcam/stream/format/ntp"
	"flowcam/stream/format/rtpjpeg"
)

// read handles what the client sends on one flow: registrations, receiver
// reports and congestion control feedback, multiplexed on the flow's one
// socket.
func (s *Sender) read(f *senderFlow) {
	defer s.wg.Done()
	buf := make([]byte, 1500)
	for {
		n, from, err := f.conn.ReadFrom(buf)
		if err != nil {
			return // closed with the Sender
		}
		ua, ok := from.(*net.UDPAddr)
		if !ok || !multiflow.IsRTCP(buf[:n]) {
			continue
		}
		pkts, err := rtcp.Unmarshal(buf[:n])
		if err != nil {
			s.forged.Add(1)
			continue
		}
		src := netip.AddrPortFrom(ua.AddrPort().Addr().Unmap(), ua.AddrPort().Port())
		s.handle(f, src, pkts)
	}
}

func (s *Sender) handle(f *senderFlow, src netip.AddrPort, pkts []rtcp.Packet) {
	// Registrations first: a compound packet from a new address carries its
	// registration together with reports that are only valid after it.
	for _, p := range pkts {
		if app, ok := p.(*rtcp.ApplicationDefined); ok && app.Name == multiflow.NameRegister {
			s.register(f, src, app)
		}
	}
	now := s.cfg.Now()
	s.mu.Lock()
	if src != f.client {
		if hasReport(pkts) {
			s.spoofed.Add(1) // only the registered address may report
		}
		s.mu.Unlock()
		return
	}
	keyFrame := false
	for _, p := range pkts {
		switch p := p.(type) {
		case *rtcp.CCFeedbackReport:
			s.feedback(f, p, now)
		case *rtcp.ReceiverReport:
			s.report(f, p.Reports, now)
		case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
			keyFrame = true
		}
	}
	s.mu.Unlock()
	if keyFrame {
		s.cfg.OnKeyFrameRequest() // outside the lock: it reaches the broadcaster
	}
}

func hasReport(pkts []rtcp.Packet) bool {
	for _, p := range pkts {
		switch p.(type) {
		case *rtcp.CCFeedbackReport, *rtcp.ReceiverReport:
			return true
		}
	}
	return false
}

// register accepts a flow's return address only from an authenticated,
// fresh registration, so nobody can aim a flow at a third party or replay
// an old registration to hijack one.
func (s *Sender) register(f *senderFlow, src netip.AddrPort, app *rtcp.ApplicationDefined) {
	reg, ok := multiflow.VerifyRegistration(s.cfg.Token, s.cfg.Session, multiflow.NameRegister, app.SubType, app.Data)
	if !ok || app.SubType != f.index {
		if n := s.forged.Add(1); n == 1 || n%100 == 0 {
			s.log.Warn("forged flow registration ignored", "flow", f.index, "from", src, "forged_total", n)
		}
		return
	}
	now := s.cfg.Now()
	s.mu.Lock()
	if reg.Counter <= f.counter {
		s.mu.Unlock()
		if n := s.replays.Add(1); n == 1 || n%100 == 0 {
			s.log.Warn("replayed flow registration ignored", "flow", f.index, "from", src, "replayed_total", n)
		}
		return
	}
	moved := f.client != src
	f.counter, f.client = reg.Counter, src
	s.sched.Heard(int(f.index), now)
	s.mu.Unlock()
	if moved {
		s.log.Info("flow registered", "flow", f.index, "client", src.String(), "local", f.conn.LocalAddr().String())
	}
	ack := &rtcp.ApplicationDefined{SubType: f.index, SSRC: s.cfg.SSRC, Name: multiflow.NameAck,
		Data: multiflow.RegistrationData(s.cfg.Token, s.cfg.Session, multiflow.NameAck, reg)}
	if b, err := ack.Marshal(); err == nil {
		f.conn.WriteTo(b, net.UDPAddrFromAddrPort(src))
	}
	s.cfg.OnAlive()
}

// report folds a receiver report about this flow into its estimate: the
// round trip always; deliveries and loss only from a client that sends no
// per-packet feedback (the protocol's first version).
func (s *Sender) report(f *senderFlow, reports []rtcp.ReceptionReport, now time.Time) {
	i := int(f.index)
	for _, r := range reports {
		if r.SSRC != s.cfg.SSRC {
			continue
		}
		s.sched.Heard(i, now)
		if rtt, ok := ntp.RoundTrip(now, r.LastSenderReport, r.Delay); ok {
			s.sched.RTT(i, now, rtt)
		}
		f.rr = receptionStats{fractionLost: float64(r.FractionLost) / 256,
			jitter: time.Duration(r.Jitter) * time.Second / rtpjpeg.ClockRate}
		if !f.ccfb {
			s.sched.ReceiverReport(i, now, r.LastSequenceNumber, r.TotalLost)
		}
	}
	s.cfg.OnAlive() // an atomic store: safe under the lock
}

// feedback folds per-packet arrivals (RFC 8888, over the flow's own
// sequence numbers) into the flow's estimate.
func (s *Sender) feedback(f *senderFlow, rep *rtcp.CCFeedbackReport, now time.Time) {
	s.arrivals = s.reader.Arrivals(rep, s.cfg.SSRC, s.arrivals[:0])
	if len(s.arrivals) == 0 {
		return
	}
	f.ccfb = true
	s.sched.Heard(int(f.index), now)
	s.sched.Feedback(int(f.index), now, s.arrivals)
	s.cfg.OnAlive()
}

// sendReports sends each registered flow a sender report, which both maps
// the RTP clock to wall-clock time and lets the client's next receiver
// report echo it for a round-trip measurement, and the rate notice.
func (s *Sender) sendReports(now time.Time) {
	s.mu.Lock()
	type out struct {
		f   *senderFlow
		dst *net.UDPAddr
		sr  rtcp.SenderReport
	}
	var sends []out
	for _, f := range s.flows {
		if !f.client.IsValid() || s.lastCaptured.IsZero() {
			continue
		}
		rtpNow := s.lastTS + uint32(now.Sub(s.lastCaptured).Seconds()*rtpjpeg.ClockRate)
		sends = append(sends, out{f, net.UDPAddrFromAddrPort(f.client), rtcp.SenderReport{
			SSRC: s.cfg.SSRC, NTPTime: ntp.FromTime(now), RTPTime: rtpNow,
			PacketCount: f.packets, OctetCount: f.octets}})
	}
	notice := NoticeFrom(s.sched.Stats(now)).Packet(s.cfg.SSRC)
	s.mu.Unlock()
	for _, o := range sends {
		if b, err := rtcp.Marshal([]rtcp.Packet{&o.sr, notice}); err == nil {
			o.f.conn.WriteTo(b, o.dst)
		}
	}
}
