// Package pathsim simulates network paths on a virtual clock, for the unit
// tests of the sender's estimator and scheduler: a token-bucket bottleneck
// with a bounded queue (what tc's tbf does), other traffic sharing that
// queue, a fixed delay with jitter, random loss, and rates that change
// over time. A Session runs a real schedule.Scheduler against such paths,
// with the receiver's real RFC 8888 feedback, and reports what a client
// would have seen. Nothing here sleeps: a 20 s run takes milliseconds.
package pathsim

import (
	"math/rand/v2"
	"time"
)

// Link is one direction of a path, sender to receiver.
type Link struct {
	// Rate is the bottleneck's rate in bits/s at time t since the start;
	// nil or 0 means unlimited.
	Rate func(t time.Duration) float64
	// Burst is the token bucket's depth in bytes (tbf burst); 16 KiB when 0.
	Burst int
	// Queue is the longest a packet may wait at the bottleneck before it is
	// dropped (tbf latency); 100 ms when 0.
	Queue time.Duration
	// Delay is added to every packet after the bottleneck, plus uniform
	// Jitter either way (which reorders, as netem does).
	Delay, Jitter time.Duration
	// Loss drops that fraction of packets at random before the bottleneck.
	Loss float64
	// Cross is other traffic into the same bottleneck, in bits/s at time t.
	Cross func(t time.Duration) float64

	rng       *rand.Rand
	tat       float64       // GCRA theoretical arrival time, seconds
	crossNext time.Duration // when the next cross-traffic packet enters
	Dropped   int           // packets of ours lost at random or to a full queue
}

const crossSize = 1400

func (l *Link) rate(t time.Duration) float64 {
	if l.Rate == nil {
		return 0
	}
	return l.Rate(t)
}

// admit runs one packet of size bytes entering the bottleneck at t through
// the token bucket (GCRA virtual scheduling) and returns when it leaves,
// or false if the queue is too long.
func (l *Link) admit(t time.Duration, size int) (time.Duration, bool) {
	c := l.rate(t) / 8
	if c <= 0 {
		return t, true
	}
	burst, queue := l.Burst, l.Queue
	if burst == 0 {
		burst = 16 << 10
	}
	if queue == 0 {
		queue = 100 * time.Millisecond
	}
	a := t.Seconds()
	d := max(a, l.tat-float64(burst)/c)
	if d-a > queue.Seconds() {
		return 0, false
	}
	l.tat = max(l.tat, d) + float64(size)/c
	return time.Duration(d * float64(time.Second)), true
}

// crossUntil feeds the cross traffic that entered before t.
func (l *Link) crossUntil(t time.Duration) {
	if l.Cross == nil {
		return
	}
	for l.crossNext < t {
		r := l.Cross(l.crossNext)
		if r <= 0 {
			l.crossNext += time.Millisecond
			continue
		}
		l.admit(l.crossNext, crossSize)
		l.crossNext += time.Duration(float64(crossSize*8) / r * float64(time.Second))
	}
}

// Send carries a packet of size bytes sent at t and returns when it
// arrives, or false if it is lost.
func (l *Link) Send(t time.Duration, size int) (time.Duration, bool) {
	if l.rng == nil {
		l.rng = rand.New(rand.NewPCG(1, 2))
	}
	l.crossUntil(t)
	if l.Loss > 0 && l.rng.Float64() < l.Loss {
		l.Dropped++
		return 0, false
	}
	out, ok := l.admit(t, size)
	if !ok {
		l.Dropped++
		return 0, false
	}
	out += l.Delay
	if l.Jitter > 0 {
		out += time.Duration((l.rng.Float64()*2 - 1) * float64(l.Jitter))
	}
	return out, true
}

// Wait is how long a packet entering the bottleneck at t would queue.
func (l *Link) Wait(t time.Duration) time.Duration {
	c := l.rate(t) / 8
	if c <= 0 {
		return 0
	}
	burst := l.Burst
	if burst == 0 {
		burst = 16 << 10
	}
	return max(time.Duration((l.tat-float64(burst)/c-t.Seconds())*float64(time.Second)), 0)
}

// Steps returns a rate function that is rates[i] from at[i] on (at[0] = 0).
func Steps(at []time.Duration, rates []float64) func(time.Duration) float64 {
	return func(t time.Duration) float64 {
		r := 0.0
		for i, a := range at {
			if t >= a {
				r = rates[i]
			}
		}
		return r
	}
}

// Const returns a constant rate function.
func Const(bps float64) func(time.Duration) float64 {
	return func(time.Duration) float64 { return bps }
}
