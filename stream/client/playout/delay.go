package playout

import (
	"slices"
	"time"
)

// Adaptive play-out delay. Each complete frame says how long after its
// earliest possible arrival (the fastest transit seen, as the clock keeps
// it) its last packet came: the spread of its packets over the paths plus
// their transit jitter. The delay is a high percentile of that over a
// sliding window, plus a margin, between a floor and the configured
// maximum. It rises quickly when frames need more (a path's jitter grew)
// and falls slowly, so frames keep leaving at a steady pace; WebRTC's
// jitter buffer follows its estimate the same way.
const (
	// DefaultMinLatency is the adaptive delay's floor: half a frame
	// interval at 25 fps, room for a busy client or server to be
	// scheduled late without costing a frame.
	DefaultMinLatency = 20 * time.Millisecond
	delayWindow       = 250  // frames: ten seconds at 25 fps
	delayQuantile     = 0.99 // of the window's needs
	delayMargin       = 5 * time.Millisecond
	minShrink         = time.Millisecond // per frame, at least
)

// delayControl chooses the play-out delay.
type delayControl struct {
	adaptive bool
	min, max time.Duration
	needs    [delayWindow]time.Duration
	n, next  int
	started  bool
	scratch  []time.Duration
}

func newDelayControl(adaptive bool, lo, hi time.Duration) delayControl {
	return delayControl{adaptive: adaptive, min: min(lo, hi), max: hi}
}

// initial is the delay before any frame completed: the maximum when
// adaptive (nothing is known yet), the fixed delay otherwise.
func (d *delayControl) initial() time.Duration { return d.max }

// observe records how long after its earliest possible arrival a frame
// completed.
func (d *delayControl) observe(need time.Duration) {
	if !d.adaptive {
		return
	}
	d.needs[d.next] = max(need, 0)
	d.next = (d.next + 1) % delayWindow
	d.n = min(d.n+1, delayWindow)
}

// target is the delay the window asks for.
func (d *delayControl) target() time.Duration {
	d.scratch = append(d.scratch[:0], d.needs[:d.n]...)
	slices.Sort(d.scratch)
	q := d.scratch[min(int(delayQuantile*float64(d.n)), d.n-1)]
	return min(max(q+delayMargin, d.min), d.max)
}

// step moves the current delay cur one frame towards the target: up by at
// most half a frame interval (a pause no viewer notices), down by a
// fortieth of one (or a millisecond), so consecutive frames stay nearly a
// frame interval apart. Until it first reaches the target (it starts at
// the maximum, so the first frames are safe) it comes down by a quarter
// interval a frame: a start-up that plays a little fast for a second.
func (d *delayControl) step(cur, interval time.Duration) time.Duration {
	if !d.adaptive || d.n == 0 {
		return cur
	}
	t := d.target()
	down := max(interval/40, minShrink)
	if !d.started {
		down = max(interval/4, minShrink)
	}
	switch {
	case t > cur:
		d.started = true
		return min(t, cur+max(interval/2, minShrink))
	case t < cur:
		next := max(t, cur-down)
		d.started = d.started || next == t
		return next
	}
	d.started = true
	return cur
}
