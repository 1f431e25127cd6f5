package schedule

import (
	"time"

	"flowcam/stream/format/ccfb"
	"flowcam/stream/server/congestion"
)

// pathState is the scheduler's view of one path.
type pathState struct {
	est *congestion.Path

	heard                 bool
	lastHeard, stableFrom time.Time
	usable                bool
	copies                bool // carried only copies of the last frame

	vf time.Time // when the bytes allocated so far are through at the path's rate

	queue    [][]byte // paced packets waiting, oldest first
	seqs     []uint16
	queued   int     // their bytes on the wire
	tokens   float64 // bytes the pacer may send now
	refilled time.Time

	bytes, packets uint64
}

// Heard records any authenticated packet from the receiver on path i: a
// path is usable while it is heard often enough.
func (s *Scheduler) Heard(i int, now time.Time) {
	ps := s.paths[i]
	if !ps.heard || now.Sub(ps.lastHeard) > s.stallTimeout(ps) {
		ps.stableFrom = now // (re)appeared: stability counts from here
		ps.est.Resume(now)
	}
	ps.heard, ps.lastHeard = true, now
	s.health(now)
}

// Feedback folds a per-packet report about path i into its estimate.
func (s *Scheduler) Feedback(i int, now time.Time, arr []ccfb.Arrival) {
	s.paths[i].est.Feedback(now, arr)
}

// ReceiverReport folds an RFC 3550 report about path i into its estimate.
func (s *Scheduler) ReceiverReport(i int, now time.Time, highest, lost uint32) {
	s.paths[i].est.ReceiverReport(now, highest, lost)
}

// RTT folds a round-trip sample of path i into its estimate.
func (s *Scheduler) RTT(i int, now time.Time, rtt time.Duration) { s.paths[i].est.RTT(now, rtt) }

// Tick moves every path's estimator on and re-derives which paths are
// usable. Frame and Release call it; call it also every few milliseconds
// while idle, so stalls are noticed between frames.
func (s *Scheduler) Tick(now time.Time) {
	for _, ps := range s.paths {
		ps.est.Tick(now)
	}
	s.health(now)
}

// stallTimeout is how long a path may stay silent before it is judged
// stalled: the report interval plus SRT's 2*SRTT + 4*RTTVAR allowance.
func (s *Scheduler) stallTimeout(ps *pathState) time.Duration {
	return s.cfg.FeedbackEvery + max(minStall, 2*ps.est.SRTT()+4*ps.est.RTTVar())
}

// health marks the paths heard recently enough as usable (or, when every
// path is silent, every path ever heard: a blackout, or the receiver has
// not registered yet) and moves failover's active path.
func (s *Scheduler) health(now time.Time) {
	live := false
	for _, ps := range s.paths {
		ps.usable = ps.heard && now.Sub(ps.lastHeard) <= s.stallTimeout(ps)
		live = live || ps.usable
	}
	if !live {
		for _, ps := range s.paths {
			ps.usable = ps.heard
		}
	}
	if s.cfg.Policy == Failover {
		s.chooseActive(now)
	}
}

func (s *Scheduler) anyUsable() bool { return s.usableCount() > 0 }

// usableCount is how many paths are known to reach the receiver.
func (s *Scheduler) usableCount() int {
	n := 0
	for _, ps := range s.paths {
		if ps.usable {
			n++
		}
	}
	return n
}

// chooseActive keeps failover on one path: the first usable one before
// anything was sent; then the best usable path when the active one
// stalls; and back to a preferred (lower index) path once it has been
// stable and clean for returnAfter, so a flapping link does not bounce
// the stream.
func (s *Scheduler) chooseActive(now time.Time) {
	if !s.committed {
		for i, ps := range s.paths {
			if ps.usable {
				s.active = i
				return
			}
		}
		return
	}
	if !s.paths[s.active].usable {
		if best := s.best(now); best >= 0 {
			s.active = best
		}
		return
	}
	for i := 0; i < s.active; i++ {
		ps := s.paths[i]
		if ps.usable && now.Sub(ps.stableFrom) >= returnAfter && ps.est.Loss(now) < congestion.LossHigh/4 {
			s.active = i
			return
		}
	}
}

// best is the usable path with the least loss, then the shortest RTT.
func (s *Scheduler) best(now time.Time) int {
	best := -1
	for i, ps := range s.paths {
		if !ps.usable {
			continue
		}
		if best < 0 {
			best = i
			continue
		}
		l, bl := ps.est.Loss(now), s.paths[best].est.Loss(now)
		if l < bl-0.005 || (l <= bl+0.005 && ps.est.SRTT() < s.paths[best].est.SRTT()) {
			best = i
		}
	}
	return best
}
