package schedule

import (
	"time"

	"flowcam/stream/server/congestion"
)

// delays works out, per path, how long a packet takes to arrive beyond
// its transmission: d[i], for choosing paths, is the recent one-way delay
// relative to the fastest path's floor; fixed[i] is the same without the
// standing queue, which queue[i] holds apart. Both carry a penalty for
// loss (a lost packet costs the whole frame). base is the fastest path's
// absolute one-way delay, taken as half its least round trip.
func (s *Scheduler) delays(now time.Time) {
	v := &s.view
	ref, haveRef := time.Duration(0), false
	for _, ps := range s.paths {
		if f, ok := ps.est.Floor(); ok && ps.usable && (!haveRef || f < ref) {
			ref, haveRef = f, true
		}
	}
	v.base = 0
	for i, ps := range s.paths {
		v.d[i], v.fixed[i] = 0, 0
		v.queue[i], _ = ps.est.QueueDelay()
		if owd, ok := ps.est.OWD(); ok && haveRef {
			v.d[i] = max(owd-ref, 0)
		}
		if f, ok := ps.est.Floor(); ok && haveRef {
			v.fixed[i] = max(f-ref, 0)
		}
		pen := time.Duration(ps.est.Loss(now) * float64(lossPenalty))
		v.d[i] += pen
		v.fixed[i] += pen
		if rtt := ps.est.MinRTT(); rtt > 0 && (v.base == 0 || rtt/2 < v.base) {
			v.base = rtt / 2
		}
	}
}

// delayView is what delays computes, kept to spare allocations.
type delayView struct {
	d, fixed, queue []time.Duration
	base            time.Duration
}

// arrival estimates when bytes given to path i now have arrived: behind
// whatever is ahead of them (what the allocation has given the path and
// not yet delivered, what the pacer holds, or the measured standing
// queue, whichever is longest), at the rate its bottleneck delivers (its
// capacity), its one-way delay later.
func (s *Scheduler) arrival(now time.Time, i, bytes int) (at time.Time, ahead time.Duration) {
	ps, v := s.paths[i], &s.view
	// The path delivers at least what it delivered lately, even while its
	// bound sits below that to drain a queue.
	rate := max(ps.est.Capacity(), ps.est.Delivering())
	ahead = max(ps.backlog(now), v.queue[i], durationOf(float64(ps.queued), rate))
	return now.Add(ahead + durationOf(float64(bytes), rate) + v.base + v.fixed[i]), ahead
}

// late reports a frame's share for path i that would arrive after limit.
// For a receiver that plays late frames only one that would not be late on
// the idle path counts: skipping one late on its own (the path is slow for
// a frame this size) would skip every frame; the capacity gate keeps the
// rate down instead.
func (s *Scheduler) late(now, captured time.Time, i, bytes int, limit time.Duration) bool {
	at, ahead := s.arrival(now, i, bytes)
	late := at.Sub(captured)
	return late > limit && (!s.cfg.PlaysLate || late-ahead <= limit)
}

// holding reports a path that cannot take bytes more before reports have
// shown how fast it is: it may hold a frame plus a round trip of the
// stream, and always takes one frame when it holds nothing (a congestion
// window, as TCP starts with). On a fast path reports return within a
// frame interval and this never binds; on one a third as fast as the
// stream it keeps the first frames from piling into its queue behind the
// first. It holds through the path's start-up, whatever the path showed:
// a token bucket's burst flatters the first samples (a frame after a
// pause arrives at twice the bucket's rate), and the round trip is the
// path's least, not one its own queue has stretched. bytes is what the
// frame would add: the path's share, or an even share where stripe has
// not allocated it yet.
func (s *Scheduler) holding(now time.Time, ps *pathState, bytes int) bool {
	frame := bitsToBytes(s.streamBps) * s.interval.get().Seconds()
	// Start-up is judged from per-packet feedback: a viewer that sends only
	// receiver reports gives no delivery samples to end it by.
	starting := ps.est.Starting(now) && (s.cfg.FrameFeedback || ps.est.PerPacket())
	if !starting && float64(ps.est.Delivered()) >= 2*frame &&
		(ps.est.DeliveryRate() >= s.streamBps || ps.est.Measured()) {
		return false
	}
	rtt := ps.est.SRTT()
	if starting {
		rtt = ps.est.MinRTT()
	}
	if !s.cfg.FrameFeedback && !ps.est.PerPacket() {
		rtt += 2 * s.cfg.FeedbackEvery
	}
	bdp := bitsToBytes(s.streamBps) * rtt.Seconds()
	window := frame + bdp
	if starting {
		// The first round trips came through the first frame's own
		// queue: the window is a frame, or the stream over a round trip
		// where that is more, not both.
		window = max(frame, bdp)
	}
	held := ps.est.InFlight(now) + ps.queued
	return held > 0 && float64(held+bytes) > window
}

// bounded reports a path that has shown a queue or loss: only such a path
// can have frames skipped for it. One never seen to struggle gets every
// frame, whatever its size.
func (ps *pathState) bounded() bool { return ps.est.Limit() != congestion.Unlimited }

// backlog is how far behind a path's allocation runs: the time its
// already-allocated bytes still need at its rate.
func (ps *pathState) backlog(now time.Time) time.Duration {
	return max(ps.vf.Sub(now), 0)
}

// stripe sends each packet where it arrives first and skips the frame if
// the paths are a frame interval behind or it could not arrive in time.
func (s *Scheduler) stripe(now, captured time.Time, bytes int, sizes []int, p *Plan) {
	s.delays(now)
	d, base := s.view.d, s.view.base
	limit := s.cfg.Budget - budgetSlack
	var ahead, rate float64 // bytes behind, bytes/s
	cand, bounded := 0, false
	// Before allocation a path's share is not known: an even split is
	// what a path that is not yet trusted is asked to take.
	even := bytes / max(s.usableCount(), 1)
	for i, ps := range s.paths {
		s.vf[i] = ps.vf
		// A path whose delay or backlog alone uses up the budget can
		// deliver nothing in time: it gets probe copies only.
		if !ps.usable || base+d[i] >= limit || ps.backlog(now) >= limit || s.cfg.Adapt && s.holding(now, ps, even) {
			continue
		}
		cand |= 1 << i
		bounded = bounded || ps.bounded()
		r := bitsToBytes(ps.est.Rate())
		ahead += ps.backlog(now).Seconds() * r
		rate += r
	}
	switch {
	case cand == 0:
		p.Skip, p.Reason = true, Delay
		return
	case s.cfg.Adapt && bounded && ahead/rate > s.interval.get().Seconds():
		p.Skip, p.Reason = true, Capacity
		return
	}
	share := s.share[:0]
	for range s.paths {
		share = append(share, 0)
	}
	for k, size := range sizes {
		best, _ := s.earliest(now, cand, size, d)
		s.vf[best] = latest(s.vf[best], now).Add(durationOf(float64(size), s.paths[best].est.Rate()))
		p.Paths[k] |= 1 << best
		share[best] += size
	}
	for i, ps := range s.paths {
		if share[i] > 0 && s.cfg.Adapt && ps.bounded() && s.late(now, captured, i, share[i], limit) {
			p.Skip, p.Reason = true, Delay
			return
		}
	}
	for i, ps := range s.paths {
		ps.vf = s.vf[i]
	}
	s.probeCopies(now, bytes, sizes, p)
}

// earliest is the candidate path on which a packet of size bytes would
// arrive first, and when: behind what the path has been given, at the
// rate its bottleneck delivers (its capacity: the pacer sends faster), one
// way delay later. The allocation clock itself runs at the path's rate
// with its phase's gain, which is what admission follows.
func (s *Scheduler) earliest(now time.Time, cand int, size int, d []time.Duration) (int, time.Time) {
	best, at := -1, time.Time{}
	for i, ps := range s.paths {
		if cand&(1<<i) == 0 {
			continue
		}
		ahead := max(s.vf[i].Sub(now), s.view.queue[i], durationOf(float64(ps.queued), ps.est.Capacity()))
		t := now.Add(max(ahead, 0) + durationOf(float64(size), ps.est.Capacity()) + d[i])
		if best < 0 || t.Before(at) {
			best, at = i, t
		}
	}
	return best, at
}

func latest(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// probeCopies copies a few packets onto every usable path that carries
// less than probeShare of the frame, so its delay and loss stay measured.
func (s *Scheduler) probeCopies(now time.Time, bytes int, sizes []int, p *Plan) {
	for i, ps := range s.paths {
		ps.copies = false
		// Copies never pile up: a path still sending earlier ones gets none.
		if !ps.usable || len(s.paths) < 2 || len(ps.queue) > 0 {
			continue
		}
		own := 0
		for k, size := range sizes {
			if p.Paths[k]&(1<<i) != 0 {
				own += size
			}
		}
		if float64(own) >= probeShare*float64(bytes) {
			continue
		}
		ps.copies = true
		n := max(1, int(probeShare*float64(len(sizes))+0.5))
		for j := 0; j < n; j++ {
			k := (s.probeAt + j*len(sizes)/n) % len(sizes)
			// Copies are outside the allocation: they neither delay the
			// path's frames nor hold admission back.
			p.Paths[k] |= 1 << i
		}
	}
	s.probeAt++
}

// duplicate sends the frame whole on every path that can carry it in time;
// it is skipped only when none can.
func (s *Scheduler) duplicate(now, captured time.Time, bytes int, sizes []int, p *Plan) {
	s.delays(now)
	on := 0
	why := Capacity
	for i, ps := range s.paths {
		if !ps.usable {
			continue
		}
		if ok, r := s.fits(now, captured, i, bytes); !ok {
			why = r
			continue
		}
		on |= 1 << i
		ps.vf = latest(ps.vf, now).Add(durationOf(float64(bytes), ps.est.Rate()))
	}
	if on == 0 {
		p.Skip, p.Reason = true, why
		return
	}
	for k := range p.Paths {
		p.Paths[k] = uint8(on)
	}
}

// fits reports whether a whole frame of bytes can go on path i: the path
// is at most a frame interval behind and the frame would arrive within the
// budget.
func (s *Scheduler) fits(now, captured time.Time, i, bytes int) (bool, Reason) {
	if !s.cfg.Adapt {
		return true, Full
	}
	if s.holding(now, s.paths[i], bytes) {
		return false, Capacity
	}
	if !s.paths[i].bounded() {
		return true, Full
	}
	if s.paths[i].backlog(now) > s.interval.get() {
		return false, Capacity
	}
	if s.late(now, captured, i, bytes, s.cfg.Budget-budgetSlack) {
		return false, Delay
	}
	return true, Full
}

// failover sends the frame on the active path alone.
func (s *Scheduler) failover(now, captured time.Time, bytes int, sizes []int, p *Plan) {
	ps := s.paths[s.active]
	s.committed = s.committed || ps.usable
	s.delays(now)
	if ok, why := s.fits(now, captured, s.active, bytes); !ok {
		p.Skip, p.Reason = true, why
		return
	}
	ps.vf = latest(ps.vf, now).Add(durationOf(float64(bytes), ps.est.Rate()))
	for k := range p.Paths {
		p.Paths[k] = 1 << s.active
	}
}

// weighted is smooth weighted round robin over bytes with fixed weights
// among the usable paths: the static split (as RIST's weighted peers) that
// the adaptive schedule is measured against.
func (s *Scheduler) weighted(sizes []int, p *Plan) {
	total := 0.0
	for i, ps := range s.paths {
		if ps.usable {
			total += s.weight(i)
		}
	}
	for k, size := range sizes {
		best := -1
		for i, ps := range s.paths {
			if !ps.usable {
				continue
			}
			s.swrr[i] += s.weight(i) / total * float64(size)
			if best < 0 || s.swrr[i] > s.swrr[best] {
				best = i
			}
		}
		if best < 0 {
			return
		}
		s.swrr[best] -= float64(size)
		p.Paths[k] = 1 << best
	}
}

func (s *Scheduler) weight(i int) float64 {
	if i < len(s.cfg.Weights) && s.cfg.Weights[i] > 0 {
		return s.cfg.Weights[i]
	}
	return 1
}
