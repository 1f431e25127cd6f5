// Package congestion estimates what one network path can carry and decides
// how fast to send on it. Its input is what the sender sent (sequence
// number, size, time) and what the receiver reported: per-packet arrivals
// (RTCP congestion control feedback, package ccfb) or, from receivers that
// send only RFC 3550 receiver reports, their counts; and round-trip samples.
//
// The model follows TCP BBR where a video sender can: the deliverable rate
// is a windowed maximum of delivery-rate samples in bits/s (delivered bytes
// over the longer of the send and receive spans), and the path's one-way
// delay floor is a minimum that is refreshed by briefly draining the path,
// so a standing queue is never taken for the floor. Queueing delay is the
// recent minimum one-way delay above that floor. Like BBR's second version
// and Google's GCC, a path whose queue stands above a threshold, or that
// loses more than a few percent, is bounded at what it actually delivered
// and drained; it earns its rate back by probing, each successful probe
// raising the bound by a quarter. See docs/multiflow.md for the numbers.
package congestion

import (
	"math"
	"math/rand/v2"
	"time"
)

// Tuning. The thresholds are in time, so they hold for any rate.
const (
	// QueueHigh is the standing queue that counts as congestion: far above
	// jitter and a frame's own burst, far below a router buffer.
	QueueHigh = 15 * time.Millisecond
	// QueueLow is where a drained path is clean again.
	QueueLow = 5 * time.Millisecond
	// LossHigh is the loss over lossSpan that counts as congestion: above
	// the few percent a radio loses at random (GCC's 10 % less a margin).
	LossHigh   = 0.08
	lossSpan   = 500 * time.Millisecond
	minLossPkt = 12 // fewer packets than this in the window say nothing

	beta        = 0.9  // a congested path is bounded at this much of what it delivered
	probeGain   = 1.25 // a probe asks this much more
	drainGain   = 0.75 // a queued path sends this much less until the queue is gone
	floorGain   = 0.5  // while the delay floor is re-measured
	bwWindow    = 3 * time.Second
	floorWindow = 10 * time.Second // BBR's min_rtt window
	floorSlack  = time.Millisecond // report time resolution
	floorProbe  = 200 * time.Millisecond
	recentOWD   = 100 * time.Millisecond // the recent minimum is over this span
	staleOWD    = 300 * time.Millisecond // with no sample for this long the queue is unknown
	probeFor    = 250 * time.Millisecond
	probeEvery  = 2 * time.Second // with up to a quarter of random spread
	drainMax    = 2 * time.Second
	// MinRate is the least a path is ever given, so that it stays measured.
	MinRate = 64e3
	// reorderSlack is how many packets may overtake one before it is lost.
	reorderSlack = 3
	// minSample is the shortest span a delivery-rate sample may cover: the
	// report times are in milliseconds.
	minSample = 10 * time.Millisecond
)

// Phase is what a path's controller is doing.
type Phase int

const (
	Cruise     Phase = iota // sending at the estimate
	Probing                 // asking a quarter more, to find capacity
	Draining                // sending less until a standing queue is gone
	FloorProbe              // sending half, to re-measure the delay floor
)

var phaseNames = [...]string{"cruise", "probing", "draining", "floor"}

func (p Phase) String() string { return phaseNames[p] }

// Limit says why a path's rate is what it is.
type Limit int

const (
	Unlimited Limit = iota // nothing has bounded it (the stream is the limit)
	ByQueue                // it queued: bounded at what it delivered
	ByLoss                 // it lost packets: bounded at what it delivered
	ByStartup              // its first reports showed it slower than the stream
)

var limitNames = [...]string{"none", "queueing delay", "loss", "start-up"}

func (l Limit) String() string { return limitNames[l] }

// Config sets up a Path.
type Config struct {
	// Epoch is the sender's time origin. One-way delays are measured as
	// receiver time minus send time since Epoch: paths of one session that
	// share Epoch and a ccfb.Reader have comparable delays.
	Epoch time.Time
	// Prior is the rate (bits/s) a path is assumed to carry until it has
	// shown otherwise; SetPrior updates it.
	Prior float64
	// FeedbackEvery is the receiver's report interval: probes last long
	// enough for reports to tell how they went.
	FeedbackEvery time.Duration
	// Seed spreads probe times, so paths do not probe in step.
	Seed uint64
}

// Path estimates one network path. It is not safe for concurrent use.
type Path struct {
	cfg Config
	rng *rand.Rand
	log sendLog
	now time.Time // the latest time any call brought

	// Delivery state (draft-cheng-iccrg-delivery-rate-estimation).
	delivered   uint64
	deliveredAt time.Duration // receiver clock
	// resumeDelivered is delivered when the path came back from an
	// outage (Resume): samples must start after it.
	resumeDelivered uint64
	firstSent       time.Time
	haveDelivered   bool
	maxBw           maxFilter
	measured        bool       // a sample taken under congestion entered maxBw
	received        recvWindow // on the receiver's clock
	sentWin         recvWindow // on the sender's clock, since Epoch

	delay delayState
	loss  lossWindow // since the last cut: what decides the next
	seen  lossWindow // what the path loses, for stats and path choice
	rtt   rttState

	phase              Phase
	limit              Limit
	bwLo               float64 // bound set by congestion; +Inf when none
	ceil               float64 // what the path delivered when it last congested
	phaseUntil         time.Time
	lastCut, nextProbe time.Time
	lastGrow           time.Time
	beyond             time.Time // when the bound passed the last congestion level
	sentSinceFed       int       // bytes sent since the newest delay sample
	sentSinceRTT       int       // bytes sent since the newest round trip
	// cleanFrom is when packets sent no longer meet the queue the last
	// cut answered: the cut plus the queue it found. Losses of packets
	// sent before it, and reports that show no packet sent after it, are
	// that congestion's and cannot cut again.
	cleanFrom         time.Time
	ackedAt           time.Time // send time of the newest packet reported received
	rttFrom           time.Time // send time of the report the newest round trip echoed
	lastCutNote       string
	firstDelivery     time.Time // when the first rate sample came
	perPacket         bool      // per-packet feedback seen: receiver reports carry only RTT
	rrHighest, rrLost uint32
	rrAt              time.Time
	rrStarted         bool
}

// New returns a Path that assumes cfg.Prior until measured.
func New(cfg Config, now time.Time) *Path {
	if cfg.FeedbackEvery <= 0 {
		cfg.FeedbackEvery = 100 * time.Millisecond
	}
	if cfg.Epoch.IsZero() {
		cfg.Epoch = now
	}
	p := &Path{cfg: cfg, rng: rand.New(rand.NewPCG(cfg.Seed, 0x6a09e667f3bcc909)), bwLo: math.Inf(1)}
	p.maxBw.window = bwWindow
	p.delay.init(now)
	p.nextProbe = now.Add(p.probeWait())
	return p
}

// SetPrior updates the rate assumed until the path has been measured.
func (p *Path) SetPrior(bps float64) { p.cfg.Prior = bps }

// Sent records a packet of size bytes (as the network carries it) handed
// to the network at now.
func (p *Path) Sent(seq uint16, size int, now time.Time) {
	p.now = latestTime(p.now, now)
	p.sentSinceFed += size
	p.sentSinceRTT += size
	p.sentWin.add(now.Sub(p.cfg.Epoch), size)
	s := p.log.add(seq, size, now)
	if p.haveDelivered {
		s.delivered, s.deliveredAt, s.firstSent, s.haveSnapshot = p.delivered, p.deliveredAt, p.firstSent, true
	}
}

// Capacity is the deliverable rate in bits/s: the windowed maximum of
// delivery-rate samples (the prior until a sample under load says more),
// bounded by what congestion allowed. No phase gain is applied.
func (p *Path) Capacity() float64 {
	if !math.IsInf(p.bwLo, 1) {
		return max(p.bwLo, MinRate)
	}
	bw := p.maxBw.get()
	if !p.measured {
		// Nothing bounded it yet: it carries at least what it was given,
		// and likely more than the stream (a LAN), so a large frame is not
		// held back on a path never seen to struggle.
		bw = max(bw, unmeasuredFactor*p.cfg.Prior)
	}
	return max(bw, MinRate)
}

// unmeasuredFactor is how many times the prior an unmeasured path is
// taken to carry.
const unmeasuredFactor = 4

// Delivered is the bytes reported received so far.
func (p *Path) Delivered() uint64 { return p.delivered }

// PerPacket reports whether the receiver sends per-packet feedback (RFC
// 8888) rather than receiver reports alone.
func (p *Path) PerPacket() bool { return p.perPacket }

// Measured reports whether the path has shown what it can carry (a cut,
// or a delivery sample it limited): until then its capacity is a guess.
func (p *Path) Measured() bool { return p.measured || p.Limit() != Unlimited }

// Starting reports a path in its start-up: no delivery sample yet, or the
// first came less than startupFor ago. Its estimate may still be the
// flattering one of a token bucket's burst.
func (p *Path) Starting(now time.Time) bool {
	return p.firstDelivery.IsZero() || now.Sub(p.firstDelivery) < startupFor
}

// InFlight is the bytes sent lately that no report has accounted for yet:
// what sits in the path's queues, or is lost. A packet no report has
// mentioned for a retransmission timeout (RFC 6298: the smoothed round
// trip, four deviations) plus two report intervals, or for inFlightSpan,
// was lost: the frame's tail, with nothing sent after it to show the gap.
func (p *Path) InFlight(now time.Time) int {
	span := inFlightSpan
	if p.rtt.have {
		span = min(span, p.rtt.srtt+4*p.rtt.rttvar+2*p.cfg.FeedbackEvery)
	}
	return p.log.inFlight(now.Add(-span))
}

// inFlightSpan bounds InFlight before a round trip is known, and after.
const inFlightSpan = 500 * time.Millisecond

// DeliveryRate is the windowed maximum of delivery-rate samples, bits/s.
func (p *Path) DeliveryRate() float64 { return p.maxBw.get() }

// Rate is what to send at now, in bits/s: the capacity with the current
// phase's gain.
func (p *Path) Rate() float64 {
	r := p.Capacity()
	switch p.phase {
	case Probing:
		r *= probeGain
	case Draining:
		r *= drainGain
	case FloorProbe:
		r *= floorGain
	}
	return max(r, MinRate)
}

// Phase reports what the controller is doing.
func (p *Path) Phase() Phase { return p.phase }

// Limit reports why the capacity is bounded, if it is.
func (p *Path) Limit() Limit {
	if math.IsInf(p.bwLo, 1) {
		return Unlimited
	}
	return p.limit
}

func (p *Path) probeWait() time.Duration {
	return probeEvery + time.Duration(p.rng.Int64N(int64(probeEvery/4)))
}
