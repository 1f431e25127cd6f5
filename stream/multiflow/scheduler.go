package multiflow

import "time"

const (
	// probeFloor is the least share a path must earn to carry packets of
	// its own in stripe mode. Below it a path carries copies of a few
	// packets that also go elsewhere: its loss and delay stay measured,
	// so it can earn its share back, without costing frames meanwhile.
	probeFloor = 0.1
	// probeRate is the fraction of the stream copied onto a probing path.
	probeRate = 0.05
	// returnAfter is how long a preferred path must be stable before
	// failover hands traffic back to it.
	returnAfter = 2 * time.Second
)

// scheduler decides which flows carry each packet.
type scheduler struct {
	mode        Mode
	paths       []*path
	reportEvery time.Duration

	usable      []bool    // not stalled (or, when every path is, heard at all)
	weight      []float64 // stripe: exclusive share; 0 when unusable or probing
	probing     []bool
	credit      []float64 // smooth weighted round robin, in bytes
	probeCredit []float64
	active      int  // failover: the flow carrying the stream
	committed   bool // failover: the active flow has carried traffic
}

func newScheduler(mode Mode, paths []*path, reportEvery time.Duration) *scheduler {
	n := len(paths)
	return &scheduler{mode: mode, paths: paths, reportEvery: reportEvery,
		usable: make([]bool, n), weight: make([]float64, n), probing: make([]bool, n),
		credit: make([]float64, n), probeCredit: make([]float64, n)}
}

// update re-derives usability, shares and the failover choice from the
// path estimates. It is cheap and runs on every report and timer tick.
func (s *scheduler) update(now time.Time) {
	live := false
	for i, p := range s.paths {
		s.usable[i] = !p.stalled(now, s.reportEvery)
		live = live || s.usable[i]
	}
	if !live {
		// Every path is silent (a blackout, or the client has not
		// registered yet): keep sending wherever a client was ever heard.
		for i, p := range s.paths {
			s.usable[i] = p.heard
		}
	}
	switch s.mode {
	case Stripe:
		s.shares()
	case Failover:
		s.failover(now)
	}
}

func (s *scheduler) shares() {
	total, n := 0.0, 0
	for i, p := range s.paths {
		if s.usable[i] {
			total += p.capacity
			n++
		}
	}
	for i, p := range s.paths {
		s.weight[i], s.probing[i] = 0, false
		if !s.usable[i] {
			continue
		}
		if n > 1 && p.capacity/total < probeFloor {
			s.probing[i] = true
			continue
		}
		s.weight[i] = p.capacity
	}
}

func (s *scheduler) failover(now time.Time) {
	if !s.committed {
		// Nothing sent yet: follow preference alone, whichever flow
		// happened to register first.
		for i := range s.paths {
			if s.usable[i] {
				s.active = i
				return
			}
		}
		return
	}
	if !s.usable[s.active] {
		if best := s.best(); best >= 0 {
			s.active = best
		}
		return
	}
	// Hand traffic back to a more preferred (lower index) path once it has
	// been stable for a while, so a flapping link does not bounce traffic.
	for i := 0; i < s.active; i++ {
		p := s.paths[i]
		if s.usable[i] && p.heard && now.Sub(p.stableFrom) >= returnAfter && p.loss < lossHigh {
			s.active = i
			return
		}
	}
}

// best is the usable path with the least loss, then the shortest RTT.
func (s *scheduler) best() int {
	best := -1
	for i, p := range s.paths {
		if !s.usable[i] {
			continue
		}
		if best < 0 || p.loss < s.paths[best].loss-0.005 ||
			(p.loss <= s.paths[best].loss+0.005 && p.srtt < s.paths[best].srtt) {
			best = i
		}
	}
	return best
}

// pick appends to dst the flows that carry a packet of size bytes.
func (s *scheduler) pick(size int, dst []int) []int {
	switch s.mode {
	case Duplicate:
		for i := range s.paths {
			if s.usable[i] {
				dst = append(dst, i)
			}
		}
		return dst
	case Failover:
		s.committed = s.committed || s.usable[s.active]
		return append(dst, s.active)
	}
	return s.stripe(size, dst)
}

// stripe is smooth weighted round robin over bytes: over any stretch of
// packets each path's byte count tracks its share, without bursts.
func (s *scheduler) stripe(size int, dst []int) []int {
	total := 0.0
	for _, w := range s.weight {
		total += w
	}
	best := -1
	if total > 0 {
		for i, w := range s.weight {
			if w == 0 {
				continue
			}
			s.credit[i] += w / total * float64(size)
			if best < 0 || s.credit[i] > s.credit[best] {
				best = i
			}
		}
		s.credit[best] -= float64(size)
		dst = append(dst, best)
	}
	for i, probing := range s.probing {
		if !probing {
			continue
		}
		if s.probeCredit[i] += probeRate * float64(size); s.probeCredit[i] >= float64(size) || best < 0 {
			s.probeCredit[i] = max(s.probeCredit[i]-float64(size), 0)
			dst = append(dst, i)
		}
	}
	return dst
}
