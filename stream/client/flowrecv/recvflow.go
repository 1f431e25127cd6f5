package flowrecv

import (
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"

	"flowcam/stream/format/ccfb"
)

// recvFlow is the client's view of one path: RFC 3550 reception
// statistics over the flow's own sequence numbers, and round-trip time from
// acknowledged registrations.
type recvFlow struct {
	index      int
	conn       net.PacketConn
	rtcpConn   net.PacketConn
	server     netip.AddrPort
	rtcpServer netip.AddrPort

	acked                                 atomic.Bool
	foreign, malformed, sendErrs, packets atomic.Uint64

	mu            sync.Mutex
	started       bool
	baseSeq       uint16
	maxSeq        uint16
	cycles        uint32
	received      uint64
	bytes         uint64
	expectedPrior uint64
	receivedPrior uint64
	transit       float64
	jitter        float64 // RTP clock units (RFC 3550 A.8)
	lastArrival   time.Time
	lastSR        uint32 // middle 32 bits of the last SR's NTP time
	lastSRAt      time.Time
	sentAt        [16]struct {
		counter uint64
		at      time.Time
	}
	rtt       time.Duration
	lossRatio float64 // fraction lost in the last report interval
	arrivals  ccfb.Log
	lastEarly time.Time // the newest report sent ahead of the interval
}

// earlyReportDue reports whether a report may go out ahead of the report
// interval (for a frame's last packet, or the flow's first): at most one
// per gap, and if so counts one as sent now. The interval's own reports do
// not count: one that happened to leave just before a frame arrived says
// nothing of that frame.
func (f *recvFlow) earlyReportDue(now time.Time, gap time.Duration) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if now.Sub(f.lastEarly) < gap {
		return false
	}
	f.lastEarly = now
	return true
}

// received updates the statistics for one packet (RFC 3550 A.1, A.8).
func (f *recvFlow) count(seq uint16, ts uint32, size int, now time.Time) {
	f.packets.Add(1)
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.started {
		f.started, f.baseSeq, f.maxSeq = true, seq, seq
	} else if d := seq - f.maxSeq; d < 0x8000 && d != 0 {
		if seq < f.maxSeq {
			f.cycles += 1 << 16 // wrapped
		}
		f.maxSeq = seq
	}
	f.received++
	f.bytes += uint64(size)
	f.arrivals.Add(seq, now)
	arrival := float64(now.UnixNano()) * clockRate / 1e9
	transit := arrival - float64(ts)
	if f.lastArrival.IsZero() {
		f.transit = transit
	}
	d := transit - f.transit
	if d < 0 {
		d = -d
	}
	// A transit jump of more than a second is a timestamp wrap or a pause,
	// not jitter.
	if d < clockRate {
		f.jitter += (d - f.jitter) / 16
	}
	f.transit, f.lastArrival = transit, now
}

func (f *recvFlow) extendedMax() uint64 { return uint64(f.cycles) + uint64(f.maxSeq) }

// reportBlock builds this flow's reception report (RFC 3550 6.4.1, A.3).
func (f *recvFlow) reportBlock(ssrc uint32, now time.Time) (rtcp.ReceptionReport, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.started {
		return rtcp.ReceptionReport{}, false
	}
	expected := f.extendedMax() - uint64(f.baseSeq) + 1
	lost := int64(expected) - int64(f.received)
	expInterval := expected - f.expectedPrior
	recvInterval := f.received - f.receivedPrior
	f.expectedPrior, f.receivedPrior = expected, f.received
	var fraction uint8
	if lostInterval := int64(expInterval) - int64(recvInterval); expInterval > 0 && lostInterval > 0 {
		fraction = uint8(min(lostInterval<<8/int64(expInterval), 255))
	}
	f.lossRatio = float64(fraction) / 256
	block := rtcp.ReceptionReport{
		SSRC:               ssrc,
		FractionLost:       fraction,
		TotalLost:          uint32(min(max(lost, 0), 0x7FFFFF)),
		LastSequenceNumber: uint32(f.extendedMax()),
		Jitter:             uint32(f.jitter),
		LastSenderReport:   f.lastSR,
	}
	if !f.lastSRAt.IsZero() {
		block.Delay = uint32(now.Sub(f.lastSRAt).Seconds() * 65536)
	}
	return block, true
}

// feedbackBlock reports the flow's recent arrivals (RFC 8888).
func (f *recvFlow) feedbackBlock(ssrc uint32, now time.Time) (rtcp.CCFeedbackReportBlock, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.arrivals.Block(ssrc, now)
}

func (f *recvFlow) senderReport(ntp uint64, now time.Time) {
	f.mu.Lock()
	f.lastSR, f.lastSRAt = uint32(ntp>>16), now
	f.mu.Unlock()
}

func (f *recvFlow) sentRegistration(counter uint64, now time.Time) {
	f.mu.Lock()
	f.sentAt[counter%uint64(len(f.sentAt))] = struct {
		counter uint64
		at      time.Time
	}{counter, now}
	f.mu.Unlock()
}

// ack measures the round trip of an acknowledged registration.
func (f *recvFlow) ack(counter uint64, now time.Time) {
	f.acked.Store(true)
	f.mu.Lock()
	defer f.mu.Unlock()
	if s := f.sentAt[counter%uint64(len(f.sentAt))]; s.counter == counter {
		sample := now.Sub(s.at)
		if f.rtt == 0 {
			f.rtt = sample
		} else {
			f.rtt = (7*f.rtt + sample) / 8
		}
	}
}

// FlowStats is the client's view of one path.
type FlowStats struct {
	Flow       int
	Local      string
	Server     string
	Registered bool
	Packets    uint64
	Bytes      uint64
	Lost       int64   // packets the server sent on this flow that never arrived
	Loss       float64 // Lost / expected, over the whole session
	RecentLoss float64 // fraction lost in the last report interval
	Jitter     time.Duration
	RTT        time.Duration
	Foreign    uint64 // packets from addresses other than the flow's server
	Malformed  uint64
}

// Stats returns every flow's statistics.
func (r *Receiver) Stats() []FlowStats {
	out := make([]FlowStats, len(r.flows))
	for i, f := range r.flows {
		f.mu.Lock()
		s := FlowStats{Flow: i, Local: f.conn.LocalAddr().String(), Server: f.server.String(),
			Registered: f.acked.Load() || r.cfg.Plain, Packets: f.received, Bytes: f.bytes,
			RecentLoss: f.lossRatio, RTT: f.rtt,
			Jitter:  time.Duration(f.jitter / clockRate * float64(time.Second)),
			Foreign: f.foreign.Load(), Malformed: f.malformed.Load()}
		if f.started {
			expected := int64(f.extendedMax() - uint64(f.baseSeq) + 1)
			s.Lost = max(expected-int64(f.received), 0)
			s.Loss = float64(s.Lost) / float64(expected)
		}
		f.mu.Unlock()
		out[i] = s
	}
	return out
}
