package schedule

import (
	"time"

	"flowcam/stream/server/congestion"
)

// Enqueue hands path i one packet of the current frame, with the sequence
// number its receiver will report it by. The scheduler copies it.
func (s *Scheduler) Enqueue(i int, seq uint16, pkt []byte) {
	ps := s.paths[i]
	ps.queue = append(ps.queue, append(s.buffer(), pkt...))
	ps.seqs = append(ps.seqs, seq)
	ps.queued += wireSize(len(pkt))
}

// Release appends to out[i] the packets of path i whose time has come and
// records them sent; it returns when the next packet is due (zero when
// nothing waits). The packets stay valid until Recycle.
func (s *Scheduler) Release(now time.Time, out [][][]byte) ([][][]byte, time.Time) {
	for len(out) < len(s.paths) {
		out = append(out, nil)
	}
	var next time.Time
	for i, ps := range s.paths {
		rate := bitsToBytes(ps.est.Rate() * paceGain)
		burst := max(rate*paceBurst.Seconds(), 2*1500)
		if !s.paced(ps) {
			ps.tokens = float64(1 << 40)
		} else if !ps.refilled.IsZero() {
			ps.tokens = min(ps.tokens+now.Sub(ps.refilled).Seconds()*rate, burst)
		}
		ps.refilled = now
		n := 0
		for n < len(ps.queue) && ps.tokens > 0 {
			pkt := ps.queue[n]
			ps.tokens -= float64(len(pkt))
			ps.queued -= wireSize(len(pkt))
			s.Sent(i, ps.seqs[n], len(pkt), now)
			out[i] = append(out[i], pkt)
			n++
		}
		ps.queue = ps.queue[:copy(ps.queue, ps.queue[n:])]
		ps.seqs = ps.seqs[:copy(ps.seqs, ps.seqs[n:])]
		if len(ps.queue) > 0 {
			at := now.Add(time.Duration(-ps.tokens/rate*float64(time.Second)) + time.Microsecond)
			if next.IsZero() || at.Before(next) {
				next = at
			}
		}
	}
	return out, next
}

// paced reports whether path ps spaces its packets now.
func (s *Scheduler) paced(ps *pathState) bool {
	switch s.cfg.Pacing {
	case PaceAlways:
		return true
	case PaceBounded:
		return ps.est.Limit() != congestion.Unlimited
	}
	return false
}

// Direct reports whether path i would send a packet enqueued now at once:
// it is not paced and nothing waits. The caller may then send itself and
// report it with Sent, sparing the copy.
func (s *Scheduler) Direct(i int) bool {
	ps := s.paths[i]
	return len(ps.queue) == 0 && !s.paced(ps)
}

// Sent records a packet the caller sent directly on path i (see Direct).
func (s *Scheduler) Sent(i int, seq uint16, datagram int, now time.Time) {
	ps := s.paths[i]
	ps.est.Sent(seq, wireSize(datagram), now)
	ps.bytes += uint64(datagram)
	ps.packets++
}

// wireSize is a packet's size as links count it: IPv4 and UDP headers on
// top of the datagram.
func wireSize(datagram int) int { return datagram + 28 }

// Recycle returns the packets of a Release for reuse and empties out.
func (s *Scheduler) Recycle(out [][][]byte) {
	for i := range out {
		for _, b := range out[i] {
			if len(s.free) < maxFree {
				s.free = append(s.free, b[:0])
			}
		}
		out[i] = out[i][:0]
	}
}

// maxFree bounds the spare packet buffers: a few frames' worth.
const maxFree = 256

func (s *Scheduler) buffer() []byte {
	if n := len(s.free); n > 0 {
		b := s.free[n-1]
		s.free = s.free[:n-1]
		return b
	}
	return make([]byte, 0, 1500)
}

// Queued reports how many packets wait in the pacer, over every path.
func (s *Scheduler) Queued() int {
	n := 0
	for _, ps := range s.paths {
		n += len(ps.queue)
	}
	return n
}
