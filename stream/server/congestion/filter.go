package congestion

import "time"

// maxFilter is a windowed running maximum kept in three samples, the best,
// second best and third best of decreasing age (Kathleen Nichols' algorithm,
// as TCP BBR's delivery-rate filter uses): O(1) per sample, and when the best
// expires a newer, almost as good one takes over at once.
type maxFilter struct {
	window time.Duration
	s      [3]sample
}

type sample struct {
	v  float64
	at time.Time
}

func (f *maxFilter) get() float64 { return f.s[0].v }

// reset makes v the only sample.
func (f *maxFilter) reset(v float64, now time.Time) {
	f.s = [3]sample{{v, now}, {v, now}, {v, now}}
}

// update adds a sample taken at now.
func (f *maxFilter) update(v float64, now time.Time) {
	n := sample{v, now}
	if f.s[0].at.IsZero() || v >= f.s[0].v || now.Sub(f.s[2].at) > f.window {
		f.reset(v, now)
		return
	}
	if v >= f.s[1].v {
		f.s[1], f.s[2] = n, n
	} else if v >= f.s[2].v {
		f.s[2] = n
	}
	f.expire(n, now)
}

// expire lets the best sample go once it is older than the window, and
// keeps the second and third from lingering as long.
func (f *maxFilter) expire(n sample, now time.Time) {
	age := now.Sub(f.s[0].at)
	if age > f.window {
		f.s[0], f.s[1], f.s[2] = f.s[1], f.s[2], n
		if now.Sub(f.s[0].at) > f.window {
			f.s[0], f.s[1] = f.s[1], f.s[2]
		}
		return
	}
	if f.s[1].at == f.s[0].at && age > f.window/4 {
		f.s[1], f.s[2] = n, n
		return
	}
	if f.s[2].at == f.s[1].at && age > f.window/2 {
		f.s[2] = n
	}
}
