package congestion

import (
	"fmt"
	"math"
	"time"
)

// Growth of the congestion bound while the path is clean, per second:
// quickly back to where the path last congested, slowly around it (where
// the queue is about to build), faster again beyond it (the path improved).
const (
	growBelow  = 2.0
	growNear   = 0.03
	growBeyond = 2.0
	growStep   = 200 * time.Millisecond // longest step between two reports
	// A path used to the full grows slowly around its last congestion
	// level; after plateau without a queue growth doubles every
	// accelEvery, so an unchanged path is overrun gently and an improved
	// one is found within seconds (CUBIC's shape).
	plateau    = 5 * time.Second
	accelEvery = 500 * time.Millisecond
)

// cutFactor is what a cut leaves of the rate: after loss, GCC's 0.85;
// after a queue, the more the deeper the queue, so that a path just past
// its capacity gives up a few percent and one behind a deep queue half.
func (p *Path) cutFactor(why Limit, q time.Duration) float64 {
	if why == ByLoss {
		return lossCut
	}
	return max(0.5, 1-q.Seconds()/(q.Seconds()+queueCutScale.Seconds()))
}

const (
	lossCut       = 0.85
	queueCutScale = 150 * time.Millisecond
)

// congested reports a standing queue or heavy loss, and which.
func (p *Path) congested(now time.Time) (bool, Limit) {
	// From round trips alone, a queue counts once a report sent after the
	// last cut shows it (per-packet reports are held back in cut).
	if q, ok := p.QueueDelay(); ok && q > QueueHigh && (p.perPacket || !p.rttFrom.Before(p.cleanFrom)) {
		return true, ByQueue
	}
	if p.loss.fraction(now) > LossHigh {
		return true, ByLoss
	}
	return false, Unlimited
}

// control runs after every report, with the newest delivery-rate sample
// (0 if the report yielded none) and whether the path limited it.
func (p *Path) control(now time.Time, sample float64, limited bool) {
	hot, why := p.congested(now)
	if sample > 0 {
		p.startupCut(now, sample, limited)
		// A sample the path limited (it stretched the packets, queued or
		// lost them) is what the path can deliver; any other only says it
		// can deliver at least that (BBR's application-limited rule).
		if hot || limited || sample >= p.maxBw.get() {
			p.maxBw.update(sample, now)
			p.measured = p.measured || hot || limited
		}
	}
	switch {
	case p.phase == FloorProbe:
		return
	case p.phase == Probing && hot:
		// The probe built a queue: the bound stays where it was and the
		// queue drains.
		p.phase, p.phaseUntil = Draining, now.Add(drainMax)
		p.nextProbe = now.Add(p.probeWait())
	case hot:
		p.cut(now, why)
		p.phase, p.phaseUntil = Draining, now.Add(drainMax)
	case p.phase == Draining:
		if p.drained() {
			p.phase = Cruise
		}
		p.lastGrow = now
	default:
		p.grow(now)
	}
}

// startupCut bounds a path in its first second when the reports already
// show it stretching our packets far below the stream's rate, rather than
// wait for a queue to build: a path a third as fast as the stream costs
// frames for every round trip it is not found out. Each such sample can
// only lower the bound: the first is flattered by a token bucket's burst,
// the next ones are not.
func (p *Path) startupCut(now time.Time, sample float64, limited bool) {
	if p.firstDelivery.IsZero() {
		p.firstDelivery = now
	}
	if !limited || sample >= 0.7*p.cfg.Prior || now.Sub(p.firstDelivery) > startupFor ||
		p.Limit() != Unlimited && p.limit != ByStartup {
		return
	}
	if b := sample * beta; b < p.bwLo {
		p.bwLo, p.ceil, p.limit, p.lastCut, p.lastGrow = b, sample, ByStartup, now, now
		p.cleanFrom = now.Add(p.queueNow() / 2)
		p.lastCutNote = fmt.Sprintf("start-up: %.2f Mbit/s delivered", sample/1e6)
	}
}

// startupFor is how long after the first report a session can be bounded
// by startupCut.
const startupFor = time.Second

// drained reports the standing queue gone, or no longer known.
func (p *Path) drained() bool {
	q, ok := p.QueueDelay()
	return !ok || q < QueueLow
}

// cut bounds the path at what it delivered, once per round trip: reports
// during the round trip after a cut still show the queue the cut is
// draining.
func (p *Path) cut(now time.Time, why Limit) {
	// Once per round: until a packet sent after the last cut is reported,
	// the reports still show the queue that cut is draining.
	hold := max(100*time.Millisecond, p.rtt.srtt+2*p.cfg.FeedbackEvery)
	if !p.lastCut.IsZero() && (now.Sub(p.lastCut) < hold || p.ackedAt.Before(p.cleanFrom)) {
		return
	}
	q, _ := p.QueueDelay()
	p.cleanFrom = now.Add(q)
	// The rate the queue built at is too much. When the path was plainly
	// full (more sent than arrived over the last half second), what
	// arrived is what it delivers, and the bound goes below that. No cut
	// takes more than half, like TCP's: a start-up overestimate is undone
	// by startupCut instead.
	capacity := p.Capacity()
	level, floor := capacity, max(capacity/2, MinRate)
	got, sent := p.received.rate(), p.sentWin.rateAt(now.Sub(p.cfg.Epoch))
	if got > 0 && sent > got*1.05 {
		level = min(level, got)
	}
	bound := level * p.cutFactor(why, q)
	p.lastCutNote = fmt.Sprintf("%s: queue %v loss %.3f, %.2f of %.2f Mbit/s arrived, %.2f -> %.2f",
		why, q.Round(time.Millisecond), p.loss.fraction(now), got/1e6, sent/1e6, capacity/1e6,
		max(min(p.bwLo, bound), floor)/1e6)
	p.loss = lossWindow{} // what it counted is answered
	p.ceil, p.beyond = level, time.Time{}
	p.bwLo = max(min(p.bwLo, bound), floor)
	p.measured = true
	p.limit, p.lastCut, p.lastGrow = why, now, now
	p.nextProbe = now.Add(p.probeWait())
}

// grow raises the congestion bound while the path stays clean; once it is
// well above anything measured it no longer binds.
func (p *Path) grow(now time.Time) {
	dt := min(now.Sub(p.lastGrow), growStep)
	p.lastGrow = now
	if math.IsInf(p.bwLo, 1) || dt <= 0 {
		return
	}
	sent := p.sentWin.rateAt(now.Sub(p.cfg.Epoch))
	// A path that no longer delivers what it is sent is full, whether or
	// not its queue has shown yet: growing would only fill it.
	if got := p.received.rate(); now.Sub(p.delay.fed) < staleOWD && got > 0 && got < 0.95*sent {
		return
	}
	rate, upTo := growNear, math.Inf(1)
	switch {
	case p.bwLo < 0.9*p.ceil:
		// Below the last congestion level: nothing to lose by growing
		// fast, up to near that level.
		rate, upTo = growBelow, 0.9*p.ceil
	case sent == 0 && p.perPacket:
		// So low that nothing fits through (no frame can arrive in time):
		// fast, since the first frame sent shows where the path stands.
		rate = growBelow
	case sent == 0 && p.bwLo < p.ceil:
		// The same from receiver reports, which show an overrun only a
		// second late: fast up to the level itself.
		rate, upTo = growBelow, p.ceil
	case p.bwLo >= 1.05*p.ceil && now.Sub(p.lastCut) > plateau && p.perPacket:
		// Well past the last congestion level and long clean: capacity
		// may have returned. Speed up, CUBIC-like. Not on receiver reports
		// alone: a queue shows in them only a second or so late, by when
		// a faster climb has overrun a small router's buffer.
		if p.beyond.IsZero() {
			p.beyond = now
		}
		rate = min(growBeyond, growNear*math.Exp2(now.Sub(p.beyond).Seconds()/accelEvery.Seconds()))
	}
	p.bwLo = min(p.bwLo*(1+rate*dt.Seconds()), upTo)
	if p.bwLo > 1.5*max(p.maxBw.get(), unmeasuredFactor*p.cfg.Prior, p.ceil) {
		// Well past everything it ever showed, without a queue: the path
		// is as good as unmeasured again, and what limited it is history.
		p.bwLo, p.measured = math.Inf(1), false
		p.maxBw.reset(0, now)
	}
}

// Tick moves time-driven state on: probes start and end, a stale delay
// floor is re-measured, a drain ends once its queue is gone. Call it every
// few milliseconds and after reports.
func (p *Path) Tick(now time.Time) {
	p.now = latestTime(p.now, now)
	switch p.phase {
	case Cruise:
		if p.drained() {
			p.grow(now) // nothing may be sent while bounded: grow anyway
		}
		switch {
		case now.Sub(p.delay.floorAt) > floorWindow && p.delay.haveFloor:
			p.phase, p.phaseUntil = FloorProbe, now.Add(floorProbe+p.queueNow())
			p.delay.startFloorProbe()
		case !now.Before(p.nextProbe) && p.haveDelivered && math.IsInf(p.bwLo, 1):
			// Only an unbounded path probes: a bounded one grows anyway.
			p.phase = Probing
			p.phaseUntil = now.Add(max(probeFor, 3*p.cfg.FeedbackEvery))
		}
	case Probing:
		if !now.Before(p.phaseUntil) {
			p.phase = Cruise
			p.nextProbe = now.Add(p.probeWait())
		}
	case Draining:
		if !now.Before(p.phaseUntil) || p.drained() {
			p.phase, p.lastGrow = Cruise, now
		}
	case FloorProbe:
		if !now.Before(p.phaseUntil) {
			p.delay.endFloorProbe(now)
			p.phase = Cruise
		}
	}
}

// LastCut says what the path's last cut saw and did, for debug logs.
func (p *Path) LastCut() string { return p.lastCutNote }

// Resume tells the path it is reachable again after an outage: the
// packets sent into it meanwhile were lost to the outage, not to
// congestion, and are not held against it.
func (p *Path) Resume(now time.Time) {
	p.cleanFrom = now
	p.loss, p.seen = lossWindow{}, lossWindow{}
	// A rate sample whose span reaches back into the outage measures the
	// outage: only deliveries after this one make samples.
	p.resumeDelivered = p.delivered
}

// queueNow is the standing queue, 0 when unknown: a floor probe lasts long
// enough for it to drain at half rate.
func (p *Path) queueNow() time.Duration {
	q, _ := p.QueueDelay()
	return 2 * q
}
