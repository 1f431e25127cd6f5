package rtspserver

import (
	"sync"
	"time"

	"flowcam/stream/server/flowsend"

	"github.com/pion/rtcp"

	"flowcam/stream/format/ntp"
	"flowcam/stream/format/rtpjpeg"
)

// receiverStats is what the client's receiver reports say about delivery.
type receiverStats struct {
	mu           sync.Mutex
	reports      uint64
	invalid      uint64
	fractionLost float64
	totalLost    uint32
	jitter       uint32 // RTP clock units
	rtt          time.Duration
	lastSR       uint32 // middle 32 bits of the NTP time of our last SR
	lastSRAt     time.Time
}

// sendSR sends a sender report tying our RTP clock to wall-clock time, so
// players can measure delay and synchronise.
func (s *session) sendSR() {
	if s.lastCaptured.IsZero() {
		return // nothing sent yet: no timestamp to anchor
	}
	now := s.srv.cfg.Now()
	elapsed := now.Sub(s.lastCaptured)
	stamp := ntp.FromTime(now)
	pkts := []rtcp.Packet{
		&rtcp.SenderReport{
			SSRC:        s.ssrc,
			NTPTime:     stamp,
			RTPTime:     s.lastTS + uint32(elapsed.Seconds()*rtpjpeg.ClockRate),
			PacketCount: uint32(s.packets.Load()),
			OctetCount:  uint32(s.octets.Load()),
		},
		rtcp.NewCNAMESourceDescription(s.ssrc, "flowcam@"+s.srv.cfg.ServerName),
	}
	if m, ok := s.media.(*udpMedia); ok {
		m.rate.sentSR(stamp, now)
		pkts = append(pkts, m.rate.notice(now).Packet(s.ssrc))
	}
	buf, err := rtcp.Marshal(pkts)
	if err != nil {
		return
	}
	s.rtcp.mu.Lock()
	s.rtcp.lastSR, s.rtcp.lastSRAt = uint32(stamp>>16), now
	s.rtcp.mu.Unlock()
	if err := s.media.writeRTCP(buf); err != nil {
		s.log.Debug("send RTCP", "err", err)
	}
}

// handleRTCP reads receiver reports about our SSRC and key frame requests
// (PLI, FIR); everything else in the compound packet is ignored.
func (s *session) handleRTCP(data []byte) {
	pkts, err := rtcp.Unmarshal(data)
	if err != nil {
		s.rtcp.mu.Lock()
		s.rtcp.invalid++
		s.rtcp.mu.Unlock()
		return
	}
	now := s.srv.cfg.Now()
	udp, _ := s.media.(*udpMedia)
	for _, p := range pkts {
		var reports []rtcp.ReceptionReport
		switch r := p.(type) {
		case *rtcp.ReceiverReport:
			reports = r.Reports
		case *rtcp.SenderReport:
			reports = r.Reports
		case *rtcp.CCFeedbackReport:
			if udp != nil {
				udp.rate.feedback(r, s.ssrc, now)
			}
		case *rtcp.PictureLossIndication:
			if r.MediaSSRC == s.ssrc {
				s.keyFrameRequest(now)
			}
		case *rtcp.FullIntraRequest:
			for _, e := range r.FIR {
				if e.SSRC == s.ssrc {
					s.keyFrameRequest(now)
				}
			}
		}
		for _, rr := range reports {
			if rr.SSRC != s.ssrc {
				continue
			}
			s.rtcp.update(rr, now)
			if udp != nil {
				udp.rate.report(rr, now)
			}
		}
	}
}

func (r *receiverStats) update(rr rtcp.ReceptionReport, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reports++
	r.fractionLost = float64(rr.FractionLost) / 256
	r.totalLost = rr.TotalLost
	r.jitter = rr.Jitter
	if rr.LastSenderReport == r.lastSR {
		if rtt, ok := ntp.RoundTrip(now, rr.LastSenderReport, rr.Delay); ok {
			r.rtt = rtt
		}
	}
}

// SessionInfo is a snapshot of one session, for tests, logs and metrics.
type SessionInfo struct {
	ID, Path, Transport string
	Client              string // the RTSP client's address, host:port
	Playing             bool
	Frames, Packets     uint64
	Octets, SendErrors  uint64
	Dropped             uint64 // frames skipped because the viewer lagged
	Skipped             uint64 // frames skipped because the viewer's path could not carry them
	KeyFrameRequests    uint64 // PLI and FIR received
	KeyFrames           uint64 // of those, honoured (within the rate limit)
	Spoofed             uint64 // packets from an address other than the client's
	ServerPorts         [2]int // UDP only
	Reports             uint64 // receiver reports about our stream
	InvalidRTCP         uint64
	FractionLost        float64
	TotalLost           uint32
	Jitter              uint32
	RTT                 time.Duration
	// Rate is what share of the frames the session gets and why (UDP and
	// multi-flow sessions; TCP viewers drop frames from their queue).
	Rate      *flowsend.RateStats
	Multiflow *flowsend.Stats // multi-flow sessions only
}

func (s *session) info() SessionInfo {
	s.mu.Lock()
	in := SessionInfo{ID: s.id, Path: s.stream.Path, Client: s.client, Playing: s.state == statePlaying}
	if s.sub != nil {
		in.Dropped = s.sub.Dropped()
	}
	s.mu.Unlock()
	if s.media != nil {
		in.Transport = s.media.name()
		switch m := s.media.(type) {
		case *udpMedia:
			in.ServerPorts = m.serverPorts()
			rs := flowsend.RateStatsFrom(m.rate.stats(s.srv.cfg.Now()))
			in.Rate = &rs
		case *multiflowMedia:
			st := m.sender.Stats()
			in.Multiflow, in.Rate = &st, &st.Rate
		}
	}
	sent := s
	if m, ok := s.media.(*multicastMedia); ok {
		sent = m.g.sender // what the group sends is what each of its viewers gets
	}
	in.Frames, in.Packets, in.Octets = sent.frames.Load(), sent.packets.Load(), sent.octets.Load()
	in.SendErrors, in.Spoofed, in.Skipped = s.sendErrs.Load(), s.spoofed.Load(), s.skipped.Load()
	in.KeyFrameRequests, in.KeyFrames = s.keyRequests.Load(), s.keyFrames.Load()
	s.rtcp.mu.Lock()
	in.Reports, in.InvalidRTCP = s.rtcp.reports, s.rtcp.invalid
	in.FractionLost, in.TotalLost, in.Jitter, in.RTT = s.rtcp.fractionLost, s.rtcp.totalLost, s.rtcp.jitter, s.rtcp.rtt
	s.rtcp.mu.Unlock()
	return in
}

// keyFrameRequest passes a viewer's PLI or FIR on, within the server's
// rate limit.
func (s *session) keyFrameRequest(now time.Time) {
	s.mu.Lock()
	sub := s.sub
	s.mu.Unlock()
	s.keyRequests.Add(1)
	if sub != nil && sub.RequestKeyFrame(now, s.srv.cfg.KeyFrameInterval) {
		s.keyFrames.Add(1)
	}
}
