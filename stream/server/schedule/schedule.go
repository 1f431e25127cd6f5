// Package schedule decides, for one RTP session, which frames go out, on
// which of its paths each packet goes, and when each packet leaves. It
// owns the session's per-path estimators (package congestion) and turns
// them into three decisions:
//
//   - Whole-frame rate adaptation: a frame is sent only if the paths can
//     carry it at their estimated rates without falling more than one frame
//     interval behind, and it can arrive within the receiver's play-out
//     budget. Otherwise it is skipped whole (MJPEG frames are independent),
//     so a weak link sees every second or third frame, evenly spaced,
//     instead of broken pictures.
//   - Allocation: stripe sends each packet on the path where it would arrive
//     first (earliest completion first: its backlog at the path's rate plus
//     its one-way delay), so shares follow deliverable rates and a path whose
//     queue grows gets less; duplicate sends every frame on every path that
//     can carry it; failover on one path; weighted is a fixed split, the
//     baseline to compare with.
//   - Pacing: each path's packets leave at one and a half times its rate,
//     never as a whole-frame burst into a shallow buffer.
//
// A path that gets almost nothing of its own carries copies of a few
// packets, so its estimate stays fresh and it can win its share back.
// A Scheduler is not safe for concurrent use.
package schedule

import (
	"math"
	"time"

	"flowcam/stream/server/congestion"
)

// Policy is how packets are spread over the paths.
type Policy int

const (
	Stripe    Policy = iota // each packet on the path where it arrives first
	Duplicate               // every frame on every path that can carry it
	Failover                // one active path, the others on standby
	Weighted                // a fixed split by Config.Weights, no adaptation
)

// Config sets up a Scheduler.
type Config struct {
	Policy  Policy
	Weights []float64 // Weighted: one per path
	// Budget is the receiver's play-out delay: a frame that cannot arrive
	// within it of its capture is not sent. DefaultBudget when 0.
	Budget time.Duration
	// PlaysLate says the receiver plays a frame whenever it arrives (any
	// plain player): the budget is then a target, and a frame that would
	// miss it even on an idle path, being large for the path's rate, is
	// sent rather than skipped with all that follow it.
	PlaysLate bool
	// FeedbackEvery is the receiver's report interval; stalls allow for it.
	FeedbackEvery time.Duration
	// FrameFeedback says the receiver reports each frame as soon as its
	// last packet arrives (our client does), so a new path's first
	// frames are acknowledged a transit after they arrive, not a report
	// interval later.
	FrameFeedback bool
	// Adapt turns whole-frame rate adaptation on (off for Weighted).
	Adapt bool
	// Pacing says when packets are spaced; PaceOff lets a path's share of
	// a frame leave at once.
	Pacing Pacing
	Seed   uint64
}

// Pacing says when a path's packets are spaced at its rate.
type Pacing int

const (
	PaceOff     Pacing = iota
	PaceAlways         // every path, from the first frame
	PaceBounded        // only a path that has shown a queue or loss
)

// DefaultBudget is the play-out delay assumed when the receiver names none:
// the client's default maximum latency.
const DefaultBudget = 150 * time.Millisecond

// Tuning.
const (
	paceGain    = 1.5                   // pacing rate over the path's rate
	paceBurst   = 4 * time.Millisecond  // of pacing rate, at least two packets
	probeShare  = 0.05                  // copies on a path that carries less than this
	lossPenalty = time.Second           // per unit of loss, added to a path's delay
	budgetSlack = 25 * time.Millisecond // kept free of the budget: capture to send, and the receiver
	minStall    = 50 * time.Millisecond
	returnAfter = 2 * time.Second // failover: a preferred path's stability before traffic returns
	maxFrame    = 8 << 20         // bytes a frame may claim, so a bad size cannot stall the pacer
)

// Scheduler schedules one session.
type Scheduler struct {
	cfg   Config
	paths []*pathState
	epoch time.Time

	interval  frameInterval
	streamBps float64 // the stream's own rate: frame bytes over frame interval
	frames    frameLog
	active    int  // failover: the path carrying the stream
	committed bool // failover: the active path has carried traffic
	swrr      []float64
	probeAt   int // round robin of probe copies over a frame's packets
	vf        []time.Time
	wire      []int // the current frame's packet sizes on the wire
	share     []int // the current frame's bytes per path
	view      delayView
	free      [][]byte // spare packet buffers
}

// New returns a scheduler for n paths.
func New(cfg Config, n int, now time.Time) *Scheduler {
	if cfg.Budget <= 0 {
		cfg.Budget = DefaultBudget
	}
	if cfg.FeedbackEvery <= 0 {
		cfg.FeedbackEvery = 100 * time.Millisecond
	}
	s := &Scheduler{cfg: cfg, epoch: now, swrr: make([]float64, n), vf: make([]time.Time, n),
		view: delayView{d: make([]time.Duration, n), fixed: make([]time.Duration, n), queue: make([]time.Duration, n)}}
	for i := 0; i < n; i++ {
		est := congestion.New(congestion.Config{Epoch: now, FeedbackEvery: cfg.FeedbackEvery,
			Seed: cfg.Seed + uint64(i)*0x9e3779b97f4a7c15}, now)
		s.paths = append(s.paths, &pathState{est: est})
	}
	return s
}

// Plan is the decision for one frame.
type Plan struct {
	Skip   bool
	Reason Reason // why a frame was skipped
	// Paths holds, per packet, a bit per path that carries it.
	Paths []uint8
}

// Reason says why a frame was skipped, or what limits the session.
type Reason int

const (
	Full     Reason = iota // every frame goes out
	Capacity               // the paths together cannot carry every frame
	Delay                  // the frame could not arrive within the play-out budget
	NoPath                 // no path is known to reach the receiver
)

var reasonNames = [...]string{"full rate", "capacity", "delay", "no path"}

func (r Reason) String() string { return reasonNames[r] }

// SetPlaysLate changes Config.PlaysLate: a receiver found to be one with a
// play-out deadline (it sends per-packet feedback, as our client does) is
// no longer sent frames that would miss it.
func (s *Scheduler) SetPlaysLate(v bool) { s.cfg.PlaysLate = v }

// Frame decides where one frame's packets go: sizes are the RTP packets'
// lengths, ts the frame's RTP timestamp (90 kHz), captured its capture time.
func (s *Scheduler) Frame(now, captured time.Time, ts uint32, sizes []int, p *Plan) {
	s.frame(now, captured, ts, sizes, false, p)
}

// KeyFrame is Frame for a frame later ones depend on until the next such
// (an H.264 IDR): it goes out whenever a path is usable, however late or
// short of capacity, since skipping it would cost every frame up to the
// next. Stripe and failover put it on one path, the fastest usable or the
// active one; duplicate on every usable path.
func (s *Scheduler) KeyFrame(now, captured time.Time, ts uint32, sizes []int, p *Plan) {
	s.frame(now, captured, ts, sizes, true, p)
}

func (s *Scheduler) frame(now, captured time.Time, ts uint32, sizes []int, key bool, p *Plan) {
	s.Tick(now)
	bytes := 0
	s.wire = s.wire[:0]
	for _, n := range sizes {
		s.wire = append(s.wire, wireSize(n))
		bytes += wireSize(n)
	}
	sizes = s.wire
	s.learnStream(ts, bytes)
	p.Skip, p.Reason, p.Paths = false, Full, p.Paths[:0]
	for range sizes {
		p.Paths = append(p.Paths, 0)
	}
	switch {
	case !s.anyUsable():
		p.Skip, p.Reason = true, NoPath
	case s.cfg.Policy == Weighted || !s.cfg.Adapt && s.cfg.Policy == Stripe:
		s.weighted(sizes, p)
	case s.cfg.Policy == Duplicate:
		s.duplicate(now, captured, bytes, sizes, p)
	case s.cfg.Policy == Failover:
		s.failover(now, captured, bytes, sizes, p)
	default:
		s.stripe(now, captured, bytes, sizes, p)
	}
	if key && p.Skip && p.Reason != NoPath {
		s.force(now, bytes, p)
	}
	s.frames.add(now, !p.Skip, p.Reason)
}

// force sends a frame the policy would have skipped: on every usable path
// in duplicate mode, else on the active path (failover) or the usable path
// with the highest estimated rate; never on a path more than the play-out
// budget behind.
func (s *Scheduler) force(now time.Time, bytes int, p *Plan) {
	on := 0
	best := -1
	for i, ps := range s.paths {
		// A path already a play-out budget behind would only queue it up
		// further: the frame stays skipped (its session then waits for the
		// next key frame) rather than grow the queue without end. A path
		// never seen to struggle has no queue to grow (its backlog is the
		// prior rate's guess): the group of pictures replayed to a viewer
		// that joins goes out whole.
		if !ps.usable || ps.bounded() && ps.backlog(now) > s.cfg.Budget {
			continue
		}
		if best < 0 || ps.est.Rate() > s.paths[best].est.Rate() {
			best = i
		}
		if s.cfg.Policy == Duplicate {
			on |= 1 << i
		}
	}
	if s.cfg.Policy == Failover && s.paths[s.active].usable && s.paths[s.active].backlog(now) <= s.cfg.Budget {
		best = s.active
	}
	if best < 0 {
		return
	}
	if on == 0 {
		on = 1 << best
	}
	for i, ps := range s.paths {
		if on&(1<<i) != 0 {
			ps.vf = latest(ps.vf, now).Add(durationOf(float64(bytes), ps.est.Rate()))
		}
	}
	for k := range p.Paths {
		p.Paths[k] = uint8(on)
	}
	p.Skip, p.Reason = false, Full
}

// learnStream follows the stream's frame interval and rate; the rate is
// every path's prior until it is measured.
func (s *Scheduler) learnStream(ts uint32, bytes int) {
	s.interval.add(ts)
	bps := float64(bytes*8) / s.interval.get().Seconds()
	if s.streamBps == 0 {
		s.streamBps = bps
	} else {
		s.streamBps += (bps - s.streamBps) / 16
	}
	for _, ps := range s.paths {
		ps.est.SetPrior(s.streamBps)
	}
}

// frameInterval is the time between frames, from their RTP timestamps.
type frameInterval struct {
	last    uint32
	started bool
	d       time.Duration
}

const defaultInterval = 40 * time.Millisecond

func (f *frameInterval) add(ts uint32) {
	if f.started {
		// 90 kHz ticks; a gap of a second or more is a pause, not a rate,
		// and one under a millisecond a replayed group of pictures (frames
		// a tick apart), not one either.
		if gap := time.Duration(ts-f.last) * time.Second / 90000; gap >= time.Millisecond && gap < time.Second {
			if f.d == 0 {
				f.d = gap
			} else {
				f.d += (gap - f.d) / 8
			}
		}
	}
	f.last, f.started = ts, true
}

func (f *frameInterval) get() time.Duration {
	if f.d <= 0 {
		return defaultInterval
	}
	return f.d
}

func bitsToBytes(bps float64) float64 { return bps / 8 }

func durationOf(bytes, bps float64) time.Duration {
	if bps <= 0 {
		return time.Duration(math.MaxInt64 / 4)
	}
	return time.Duration(bytes / bitsToBytes(bps) * float64(time.Second))
}
