package congestion

import (
	"math"
	"time"

	"flowcam/stream/format/ccfb"
)

// delayState tracks one-way delay: receiver time minus send time, which is
// the true delay plus a constant clock offset. Only differences are used:
// the recent minimum above the floor is the standing queue, and between
// paths of one session the difference is real.
type delayState struct {
	samples   [256]owdSample
	next, n   int
	floor     time.Duration
	floorAt   time.Time // when a sample last came within floorSlack of it
	haveFloor bool
	probeMin  time.Duration // the least seen while re-measuring the floor
	probing   bool
	latest    time.Duration // receiver time of the newest sample
	fed       time.Time     // sender time of the newest sample
}

type owdSample struct {
	at, owd time.Duration // receiver time, one-way delay
}

func (d *delayState) init(now time.Time) { d.floorAt = now }

func (d *delayState) add(at, owd time.Duration, now time.Time) {
	d.samples[d.next] = owdSample{at, owd}
	d.next = (d.next + 1) % len(d.samples)
	d.n = min(d.n+1, len(d.samples))
	if d.n == 1 || at > d.latest {
		d.latest = at // receiver times may have any sign: start from the first
	}
	d.fed = now
	if d.probing {
		d.probeMin = min(d.probeMin, owd)
	}
	if !d.haveFloor || owd < d.floor {
		d.floor, d.haveFloor = owd, true
	}
	if owd <= d.floor+floorSlack {
		d.floorAt = now
	}
}

// recent is the least one-way delay of the packets that arrived in the last
// recentOWD: a standing queue raises it, jitter and a frame's own burst
// hardly do. With no sample for staleOWD (nothing sent, or nothing
// arriving), nothing is known of the queue now.
func (d *delayState) recent(now time.Time) (time.Duration, bool) {
	best, ok := time.Duration(0), false
	if now.Sub(d.fed) > staleOWD {
		return 0, false
	}
	for i := 0; i < d.n; i++ {
		s := d.samples[i]
		if s.at >= d.latest-recentOWD && (!ok || s.owd < best) {
			best, ok = s.owd, true
		}
	}
	return best, ok
}

// queue is the standing queue: the recent minimum above the floor.
func (d *delayState) queue(now time.Time) (time.Duration, bool) {
	r, ok := d.recent(now)
	if !ok || !d.haveFloor {
		return 0, false
	}
	return r - d.floor, true
}

func (d *delayState) startFloorProbe() { d.probing, d.probeMin = true, 1<<62 }

// endFloorProbe makes the least delay seen while draining the new floor,
// even if it is higher than the old one: the path itself changed.
func (d *delayState) endFloorProbe(now time.Time) {
	if d.probing && d.probeMin < 1<<62 {
		d.floor = d.probeMin
	}
	d.probing, d.floorAt = false, now
}

// lossWindow counts delivered and lost packets over the last lossSpan.
type lossWindow struct {
	ev   [64]lossEvent
	next int
}

type lossEvent struct {
	at          time.Time
	acked, lost int
}

func (w *lossWindow) add(now time.Time, acked, lost int) {
	if acked == 0 && lost == 0 {
		return
	}
	w.ev[w.next] = lossEvent{now, acked, lost}
	w.next = (w.next + 1) % len(w.ev)
}

// fraction is the share of packets lost in the window, 0 when the window
// holds too few packets to tell.
func (w *lossWindow) fraction(now time.Time) float64 {
	acked, lost := 0, 0
	for _, e := range w.ev {
		if !e.at.IsZero() && now.Sub(e.at) <= lossSpan {
			acked += e.acked
			lost += e.lost
		}
	}
	if acked+lost < minLossPkt {
		return 0
	}
	return float64(lost) / float64(acked+lost)
}

// rttState is RFC 6298 smoothing plus a windowed minimum, for receivers
// that report no per-packet times (their queue shows only in the RTT).
type rttState struct {
	srtt, rttvar, min time.Duration
	minAt             time.Time
	recentMin         time.Duration
	recentFrom        time.Time // start of recentMin's window
	recentAt          time.Time // newest sample
	have              bool
}

func (r *rttState) add(rtt time.Duration, now time.Time) {
	if !r.have {
		r.srtt, r.rttvar, r.have = rtt, rtt/2, true
	} else {
		d := r.srtt - rtt
		if d < 0 {
			d = -d
		}
		r.rttvar = (3*r.rttvar + d) / 4
		r.srtt = (7*r.srtt + rtt) / 8
	}
	if r.min == 0 || rtt <= r.min || now.Sub(r.minAt) > floorWindow {
		r.min, r.minAt = rtt, now
	}
	// The recent minimum restarts every few windows, so a queue that
	// builds shows within them.
	if now.Sub(r.recentFrom) > 3*recentOWD || rtt < r.recentMin {
		r.recentMin = rtt
		if now.Sub(r.recentFrom) > 3*recentOWD {
			r.recentFrom = now
		}
	}
	r.recentAt = now
}

// Feedback folds in one per-packet report. Arrival times must come from
// the session's one ccfb.Reader.
func (p *Path) Feedback(now time.Time, arr []ccfb.Arrival) {
	p.now = latestTime(p.now, now)
	p.perPacket = true
	var highest uint64
	for _, a := range arr {
		if s := p.log.find(a.Seq); s != nil && a.Received && s.ext > highest {
			highest = s.ext
		}
	}
	acked, lost := 0, 0
	var newest *sent
	var span spanSample
	for _, a := range arr {
		s := p.log.find(a.Seq)
		if s == nil || s.acked {
			continue
		}
		if !a.Received {
			if !s.lost && s.ext+reorderSlack < highest {
				p.log.lose(s)
				// Losses of packets sent before the last cut are the
				// congestion that cut already answered.
				if !s.at.Before(p.cleanFrom) {
					lost++
				}
			}
			continue
		}
		acked++
		p.deliver(s, a, now)
		span.add(s, a)
		if s.haveSnapshot && (newest == nil || s.at.After(newest.at)) {
			newest = s
		}
	}
	p.loss.add(now, acked, lost)
	p.seen.add(now, acked, lost)
	bw, limited := p.rateSample(newest)
	if newest == nil {
		bw, limited = span.rate()
	}
	p.control(now, bw, limited)
}

// spanSample is the delivery rate over the packets one report newly
// acknowledges, for the first round trip when no packet carries a snapshot.
type spanSample struct {
	bytes, n         int
	firstAt, lastAt  time.Duration
	firstSent, lastS time.Time
}

func (s *spanSample) add(p *sent, a ccfb.Arrival) {
	if !a.Timed {
		return
	}
	if s.n == 0 || a.At < s.firstAt {
		s.firstAt = a.At
	}
	if s.n == 0 || a.At > s.lastAt {
		s.lastAt = a.At
	}
	if s.n == 0 || p.at.Before(s.firstSent) {
		s.firstSent = p.at
	}
	if s.n == 0 || p.at.After(s.lastS) {
		s.lastS = p.at
	}
	if s.n > 0 {
		s.bytes += p.size // the first packet opens the span
	}
	s.n++
}

func (s *spanSample) rate() (float64, bool) {
	return spanRate(float64(s.bytes), s.lastS.Sub(s.firstSent), s.lastAt-s.firstAt)
}

// spanRate is bytes over the longer of the send and receive spans, and
// whether the network stretched the packets (the path, not the sender,
// set the pace: the sample measures the path).
func spanRate(bytes float64, send, recv time.Duration) (float64, bool) {
	interval := max(send, recv)
	if interval < minSample || bytes <= 0 {
		return 0, false
	}
	return bytes * 8 / interval.Seconds(), recv > send+send/4
}

// deliver marks one packet delivered and takes its delay.
func (p *Path) deliver(s *sent, a ccfb.Arrival, now time.Time) {
	p.log.ack(s)
	p.delivered += uint64(s.size)
	p.ackedAt = latestTime(p.ackedAt, s.at)
	if s.at.After(p.firstSent) {
		p.firstSent = s.at
	}
	if a.Timed {
		p.deliveredAt = max(p.deliveredAt, a.At)
		p.delay.add(a.At, a.At-s.at.Sub(p.cfg.Epoch), now)
		p.sentSinceFed = 0
		p.received.add(a.At, s.size)
	}
	p.haveDelivered = true
}

// rateSample is the delivery rate since s was sent: bytes delivered over
// the longer of the send span and the receive span, so neither a burst
// that the network delivered late nor a report that bunched deliveries
// makes the path look faster than it is.
func (p *Path) rateSample(s *sent) (float64, bool) {
	if s == nil || s.delivered <= p.resumeDelivered && p.resumeDelivered > 0 {
		return 0, false
	}
	return spanRate(float64(p.delivered-s.delivered), s.at.Sub(s.firstSent), p.deliveredAt-s.deliveredAt)
}

// ReceiverReport folds in an RFC 3550 report block from a receiver that
// sends no per-packet feedback: highest is the extended highest sequence
// number received, lost the cumulative count. Deliveries are timed by the
// report's arrival.
func (p *Path) ReceiverReport(now time.Time, highest, lost uint32) {
	p.now = latestTime(p.now, now)
	if p.perPacket {
		return
	}
	if !p.rrStarted {
		p.rrHighest, p.rrLost, p.rrAt, p.rrStarted = highest, lost, now, true
		return
	}
	n := int(int32(highest - p.rrHighest))
	dl := max(int(int32(lost-p.rrLost)), 0)
	if n <= 0 {
		return
	}
	bytes, first, last := 0, time.Time{}, time.Time{}
	for i := 1; i <= n; i++ {
		if s := p.log.find(uint16(p.rrHighest + uint32(i))); s != nil && !s.acked {
			p.log.ack(s)
			bytes += s.size
			if first.IsZero() {
				first = s.at
			}
			last = s.at
		}
	}
	dl = min(dl, n)
	bytes = bytes * (n - dl) / n
	span := max(now.Sub(p.rrAt), last.Sub(first))
	// What a report acknowledges arrived over the span since the last
	// one, not at once: spread it, or a player reporting every second
	// would seem to receive in bursts twice its rate.
	for k := 1; k <= rrSlices; k++ {
		at := now.Add(-span * time.Duration(rrSlices-k) / rrSlices)
		p.received.add(at.Sub(p.cfg.Epoch), bytes/rrSlices)
	}
	p.rrHighest, p.rrLost, p.rrAt = highest, lost, now
	p.ackedAt = latestTime(p.ackedAt, last)
	// Losses among packets sent before the last cut are the congestion
	// that cut answered; a report cannot say which packets it lost.
	if first.Before(p.cleanFrom) {
		p.loss.add(now, n-dl, 0)
	} else {
		p.loss.add(now, n-dl, dl)
	}
	p.seen.add(now, n-dl, dl)
	sample := 0.0
	if span >= minSample {
		sample = float64(bytes) * 8 / span.Seconds()
	}
	// Packets the path dropped mean it, not the sender, set the rate.
	p.control(now, sample, dl*50 > n)
}

// rrSlices is how many pieces a receiver report's deliveries are spread
// over.
const rrSlices = 8

// drainedSince estimates how much of the measured queue has drained since
// the newest delay sample: the bottleneck serves at the path's capacity,
// and gets what was sent since. After a cut little is sent, and the
// estimate falls as the real queue does instead of waiting for samples.
func (p *Path) drainedSince(sample time.Time, sent int) time.Duration {
	el := p.now.Sub(sample)
	if el <= 0 {
		return 0
	}
	served := bitsPerByte(p.Capacity()) * el.Seconds()
	return time.Duration(float64(el) * (1 - min(1, float64(sent)/served)))
}

func bitsPerByte(bps float64) float64 { return bps / 8 }

// Delivering is what the path delivered over the last half second, in
// bits/s, while reports are fresh (0 otherwise): a better guess of when a
// frame sent now arrives than a bound that was cut below it to drain a
// queue.
func (p *Path) Delivering() float64 {
	if p.now.Sub(p.delay.fed) > staleOWD {
		return 0
	}
	return p.received.rate()
}

// RTT folds in a round-trip sample.
func (p *Path) RTT(now time.Time, rtt time.Duration) {
	p.now = latestTime(p.now, now)
	p.rtt.add(rtt, now)
	p.sentSinceRTT = 0
	// The echoed report left a round trip ago: the queue it shows is the
	// one packets sent then met.
	p.rttFrom = now.Add(-rtt)
}

func latestTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// SRTT is the smoothed round trip, 0 before any sample.
func (p *Path) SRTT() time.Duration { return p.rtt.srtt }

// RTTVar is the round-trip variation (RFC 6298), 0 before any sample.
func (p *Path) RTTVar() time.Duration { return p.rtt.rttvar }

// MinRTT is the windowed minimum round trip, 0 before any sample.
func (p *Path) MinRTT() time.Duration { return p.rtt.min }

// QueueDelay is the standing queue: from per-packet delays when the
// receiver reports them, else from round trips.
func (p *Path) QueueDelay() (time.Duration, bool) {
	if q, ok := p.delay.queue(p.now); ok {
		return max(q-p.drainedSince(p.delay.fed, p.sentSinceFed), 0), true
	}
	if p.rtt.have && !p.perPacket {
		// A viewer that reports only when it receives goes quiet when
		// nothing is sent: its last round trip must not hold the queue.
		q := p.rtt.recentMin - p.rtt.min
		return max(q-p.drainedSince(p.rtt.recentAt, p.sentSinceRTT), 0), true
	}
	return 0, false
}

// OWD is the recent one-way delay on the session's shared clock offset
// (see Config.Epoch); ok is false before any timed report.
func (p *Path) OWD() (time.Duration, bool) { return p.delay.recent(p.now) }

// Floor is the path's one-way delay floor on the same scale as OWD.
func (p *Path) Floor() (time.Duration, bool) { return p.delay.floor, p.delay.haveFloor }

// Loss is the share of packets lost over the last half second.
func (p *Path) Loss(now time.Time) float64 { return p.seen.fraction(now) }

// recvWindow is what arrived over the last recvSpan of receiver time: the
// rate a congested path delivers, over a span long enough that neither a
// token bucket's burst nor one frame's packets sway it much (GCC's
// incoming rate).
type recvWindow struct {
	ev    [512]recvEvent
	next  int
	first time.Duration
	have  bool
}

type recvEvent struct {
	at    time.Duration
	bytes int
}

const recvSpan = 500 * time.Millisecond

func (w *recvWindow) add(at time.Duration, bytes int) {
	if !w.have {
		w.first, w.have = at, true
	}
	w.ev[w.next] = recvEvent{at, bytes}
	w.next = (w.next + 1) % len(w.ev)
}

// rate is bits/s over the window ending at the newest event, 0 before
// there is a tenth of a second to go by.
func (w *recvWindow) rate() float64 {
	latest := time.Duration(math.MinInt64)
	for _, e := range w.ev {
		if e.bytes > 0 && e.at > latest {
			latest = e.at
		}
	}
	return w.rateAt(latest)
}

// rateAt is bits/s over the window ending at end.
func (w *recvWindow) rateAt(end time.Duration) float64 {
	latest := end
	span := min(recvSpan, latest-w.first)
	if !w.have || span < recvSpan/5 {
		return 0
	}
	bytes := 0
	for _, e := range w.ev {
		if e.bytes > 0 && e.at > latest-span && e.at <= latest {
			bytes += e.bytes
		}
	}
	return float64(bytes) * 8 / span.Seconds()
}
