// Package ccfb is RTCP congestion control feedback (RFC 8888) for one
// receiver's packets: on the receiving side a Log of arrivals per sequence
// space and the report blocks built from it, on the sending side a Reader
// that turns reports back into per-packet arrivals on one continuous
// receiver clock.
//
// Each report block names the packets from a begin sequence number on, one
// 16-bit entry each: a received bit, two ECN bits and the arrival time as
// an offset in 1/1024 s before the report's timestamp (the middle 32 bits
// of an NTP time). A sender that logged when it sent each packet gets from
// this its packets' one-way delays (up to one constant clock offset) and
// what was delivered when, which is what a delivery-rate and queueing-delay
// estimator needs.
//
// Flowcam's multi-flow sessions report per flow over the flow sequence
// numbers of their header extension (docs/multiflow.md); plain RTP sessions
// report over RTP sequence numbers, exactly as RFC 8888 describes.
package ccfb

import (
	"time"

	"github.com/pion/rtcp"

	"flowcam/stream/format/ntp"
)

// Arrival is what a report says of one packet.
type Arrival struct {
	Seq      uint16
	Received bool
	// Timed is false when the report carried no usable time for a received
	// packet (RFC 8888 over-range or unavailable values).
	Timed bool
	// At is when the packet arrived, on the receiver's clock as the Reader
	// unrolls it: any origin, but one for every report the Reader reads.
	At time.Duration
}

// Arrival time offsets: units per second and the reserved values.
const (
	atoUnits       = 1024
	atoOverRange   = 0x1FFE
	atoUnavailable = 0x1FFF
	atoMax         = 0x1FFD
)

// MaxEntries bounds one report block, so a report stays well inside one
// datagram (2 bytes an entry).
const MaxEntries = 400

// logSize is how many recent packets a Log remembers; a report never reaches
// further back.
const logSize = 1024

type entry struct {
	ext   uint64 // extended sequence number + 1; 0 marks an empty slot
	at    time.Time
	timed bool
}

// Log records the arrivals of one sequence space on the receiver and builds
// its report blocks. Each block covers the packets since the report before
// the last one, so every packet is reported twice and one lost report
// loses nothing. It is not safe for concurrent use.
type Log struct {
	ring      [logSize]entry
	started   bool
	highest   uint64 // extended
	prevStart uint64 // first sequence number the previous block was new for
	next      uint64 // first sequence number no block has covered yet
}

// Add records that packet seq arrived at at.
func (l *Log) Add(seq uint16, at time.Time) {
	ext := l.extend(seq)
	if !l.started {
		l.started, l.highest, l.prevStart, l.next = true, ext, ext, ext
	}
	if ext+logSize <= l.highest {
		return // older than anything a block could still cover
	}
	if ext > l.highest {
		l.highest = ext
	}
	l.ring[ext%logSize] = entry{ext: ext + 1, at: at, timed: true}
}

// extend places seq at the shortest distance from the highest seen (RFC 3550
// A.1); the first packet is given a full 16-bit cycle of room below it.
func (l *Log) extend(seq uint16) uint64 {
	if !l.started {
		return 1<<16 + uint64(seq)
	}
	return uint64(int64(l.highest) + int64(int16(seq-uint16(l.highest))))
}

// Block builds the report block for media source ssrc as of now (the time
// the report's timestamp will carry) and marks its packets reported. ok is
// false when nothing arrived yet.
func (l *Log) Block(ssrc uint32, now time.Time) (rtcp.CCFeedbackReportBlock, bool) {
	if !l.started {
		return rtcp.CCFeedbackReportBlock{}, false
	}
	from := max(l.prevStart, l.highest+1-min(MaxEntries, l.highest+1))
	if from > l.highest {
		return rtcp.CCFeedbackReportBlock{}, false // nothing arrived for two reports
	}
	l.prevStart, l.next = l.next, l.highest+1
	b := rtcp.CCFeedbackReportBlock{MediaSSRC: ssrc, BeginSequence: uint16(from),
		MetricBlocks: make([]rtcp.CCFeedbackMetricBlock, 0, l.highest+1-from)}
	for ext := from; ext <= l.highest; ext++ {
		e := l.ring[ext%logSize]
		if e.ext != ext+1 {
			b.MetricBlocks = append(b.MetricBlocks, rtcp.CCFeedbackMetricBlock{})
			continue
		}
		b.MetricBlocks = append(b.MetricBlocks, rtcp.CCFeedbackMetricBlock{Received: true,
			ArrivalTimeOffset: offset(now.Sub(e.at))})
	}
	return b, true
}

// offset encodes how long before the report timestamp a packet arrived.
func offset(d time.Duration) uint16 {
	if d < 0 {
		return atoUnavailable
	}
	n := d * atoUnits / time.Second
	if n > atoMax {
		return atoOverRange
	}
	return uint16(n)
}

// Clock stamps reports for one receiver. Stamps follow the monotonic clock
// from a wall-clock origin, so a stepped system clock does not move the
// arrivals it reports.
type Clock struct {
	wall time.Time // wall-clock time at origin
	mono time.Time // the same instant with its monotonic reading
}

// NewClock starts a report clock at now.
func NewClock(now time.Time) Clock { return Clock{wall: now.Round(0), mono: now} }

// Stamp is the report timestamp (NTP middle 32 bits) for now.
func (c Clock) Stamp(now time.Time) uint32 { return ntp.Middle(c.wall.Add(now.Sub(c.mono))) }

// Report wraps blocks into one feedback packet from sender ssrc at now.
func (c Clock) Report(sender uint32, now time.Time, blocks ...rtcp.CCFeedbackReportBlock) *rtcp.CCFeedbackReport {
	return &rtcp.CCFeedbackReport{SenderSSRC: sender, ReportBlocks: blocks, ReportTimestamp: c.Stamp(now)}
}

// Reader decodes reports from one receiver onto one continuous timeline. One
// Reader must serve every flow of a session: the flows share the receiver's
// clock, which is what makes their one-way delays comparable. It is not
// safe for concurrent use.
type Reader struct {
	started bool
	last    uint32 // previous report timestamp
	units   int64  // its unrolled value, in 1/65536 s
}

// Arrivals appends the arrivals that rep reports for media source ssrc.
func (r *Reader) Arrivals(rep *rtcp.CCFeedbackReport, ssrc uint32, dst []Arrival) []Arrival {
	rts := r.unroll(rep.ReportTimestamp)
	for _, b := range rep.ReportBlocks {
		if b.MediaSSRC != ssrc {
			continue
		}
		for i, m := range b.MetricBlocks {
			a := Arrival{Seq: b.BeginSequence + uint16(i), Received: m.Received}
			if m.Received && m.ArrivalTimeOffset < atoOverRange {
				a.Timed = true
				a.At = rts - time.Duration(m.ArrivalTimeOffset)*time.Second/atoUnits
			}
			dst = append(dst, a)
		}
	}
	return dst
}

// unroll extends a 32-bit report timestamp (wrapping every 18 hours) by the
// signed distance from the previous one.
func (r *Reader) unroll(ts uint32) time.Duration {
	if !r.started {
		r.started, r.last = true, ts
	}
	r.units += int64(int32(ts - r.last))
	r.last = ts
	// Whole seconds and the fraction apart, so a long session cannot
	// overflow the multiplication.
	return time.Duration(r.units>>16)*time.Second + time.Duration(r.units&0xFFFF)*time.Second>>16
}
