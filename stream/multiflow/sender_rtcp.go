package multiflow

import (
	"net"
	"net/netip"
	"time"

	"github.com/pion/rtcp"

	"flowcam/stream/ntp"
	"flowcam/stream/rtpjpeg"
)

// read handles what the client sends on one flow: registrations and
// receiver reports, multiplexed on the flow's single socket.
func (s *Sender) read(f *senderFlow) {
	defer s.wg.Done()
	buf := make([]byte, 1500)
	for {
		n, from, err := f.conn.ReadFrom(buf)
		if err != nil {
			return // closed with the Sender
		}
		ua, ok := from.(*net.UDPAddr)
		if !ok || !IsRTCP(buf[:n]) {
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
	// registration together with a report that is only valid after it.
	for _, p := range pkts {
		if app, ok := p.(*rtcp.ApplicationDefined); ok && app.Name == nameRegister {
			s.register(f, src, app)
		}
	}
	for _, p := range pkts {
		if rr, ok := p.(*rtcp.ReceiverReport); ok {
			s.report(f, src, rr.Reports)
		}
	}
}

// register accepts a flow's return address only from an authenticated,
// fresh registration, so nobody can aim a flow at a third party or replay
// an old registration to hijack one.
func (s *Sender) register(f *senderFlow, src netip.AddrPort, app *rtcp.ApplicationDefined) {
	reg, ok := verify(s.cfg.Token, s.cfg.Session, nameRegister, app.SubType, app.Data)
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
	s.paths[f.index].heardAt(now, s.cfg.ReportEvery)
	s.sched.update(now)
	s.mu.Unlock()
	if moved {
		s.log.Info("flow registered", "flow", f.index, "client", src.String(), "local", f.conn.LocalAddr().String())
	}
	ack := &rtcp.ApplicationDefined{SubType: f.index, SSRC: s.cfg.SSRC, Name: nameAck,
		Data: appData(s.cfg.Token, s.cfg.Session, nameAck, reg)}
	if b, err := ack.Marshal(); err == nil {
		f.conn.WriteTo(b, net.UDPAddrFromAddrPort(src))
	}
	s.cfg.OnAlive()
}

// report folds a receiver report about this flow into its path estimate.
func (s *Sender) report(f *senderFlow, src netip.AddrPort, reports []rtcp.ReceptionReport) {
	now := s.cfg.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if src != f.client {
		s.spoofed.Add(1) // only the registered address may report
		return
	}
	p := s.paths[f.index]
	for _, r := range reports {
		if r.SSRC != s.cfg.SSRC {
			continue
		}
		p.heardAt(now, s.cfg.ReportEvery)
		if rtt, ok := ntp.RoundTrip(now, r.LastSenderReport, r.Delay); ok {
			p.rttSample(rtt, now)
		}
		p.jitter = time.Duration(r.Jitter) * time.Second / rtpjpeg.ClockRate
		util := 0.0
		if d := s.streamBytes - p.streamMark; d > 0 {
			util = float64(p.sentBytes) / float64(d)
		}
		p.report(float64(r.FractionLost)/256, util, s.sched.probing[f.index], now)
		p.streamMark = s.streamBytes
		s.sched.update(now)
	}
	s.cfg.OnAlive() // an atomic store: safe under the lock
}

// sendReports sends each registered flow a sender report, which both maps
// the RTP clock to wall-clock time and lets the client's next receiver
// report echo it for a round-trip measurement.
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
	s.mu.Unlock()
	for _, o := range sends {
		if b, err := o.sr.Marshal(); err == nil {
			o.f.conn.WriteTo(b, o.dst)
		}
	}
}
