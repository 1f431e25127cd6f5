package playout

import (
	"slices"
	"time"
)

// clock maps extended RTP timestamps to the caller's time through the
// fastest transit seen: anchor is the arrival time a packet with timestamp
// anchorTS would have had if it had travelled as fast as the fastest packet
// so far.
type clock struct {
	rate     int64
	latency  time.Duration
	anchorTS int64
	anchor   time.Time
	started  bool
}

// observe takes one packet's transit into account. Only a faster transit
// moves the anchor, and only earlier: a delayed packet says nothing about
// when frames can arrive at the earliest.
func (c *clock) observe(ts int64, arrival time.Time) {
	if !c.started {
		c.anchorTS, c.anchor, c.started = ts, arrival, true
		return
	}
	if t := arrival.Add(-c.ticks(ts - c.anchorTS)); t.Before(c.anchor) {
		c.anchor = t
	}
}

// due is the play-out time of timestamp ts.
func (c *clock) due(ts int64) time.Time { return c.earliest(ts).Add(c.latency) }

// earliest is when a frame with timestamp ts could have arrived at the
// fastest transit seen.
func (c *clock) earliest(ts int64) time.Time { return c.anchor.Add(c.ticks(ts - c.anchorTS)) }

// ticks converts RTP ticks to a duration in two steps, whole seconds then
// the remainder, so the result is exact (3600 ticks at 90 kHz is exactly
// 40 ms) and does not overflow for day-long streams.
func (c *clock) ticks(n int64) time.Duration {
	return time.Duration(n/c.rate)*time.Second + time.Duration(n%c.rate)*time.Second/time.Duration(c.rate)
}

// intervalHistory is how many recent gaps the frame interval is inferred
// from: enough for the median to ignore a few losses, short enough to follow
// a frame-rate change within a second.
const intervalHistory = 15

// interval knows the RTP ticks between frames, from the configuration or
// as the median of the gaps between recently finished frames (a median, so
// the gaps left by lost frames do not count unless most frames are lost).
type interval struct {
	fixed int64
	gaps  [intervalHistory]int64
	n, i  int
}

func (iv *interval) get() int64 {
	if iv.fixed > 0 || iv.n == 0 {
		return iv.fixed
	}
	sorted := iv.gaps
	s := sorted[:iv.n]
	slices.Sort(s)
	return s[iv.n/2]
}

func (iv *interval) add(gap int64) {
	iv.gaps[iv.i] = gap
	iv.i = (iv.i + 1) % intervalHistory
	iv.n = min(iv.n+1, intervalHistory)
}

// missing estimates how many frames fit in a gap between two consecutive
// finished frames, rounding to the nearest interval so timestamp jitter of
// a variable-rate camera does not invent frames.
func missing(gap, interval int64) int64 {
	if interval <= 0 || gap <= 0 {
		return 0
	}
	return max((gap+interval/2)/interval-1, 0)
}
