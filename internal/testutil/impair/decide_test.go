package impair

import (
	"testing"
	"time"
)

// These tests need no root: they drive the per-direction decisions directly.

func TestHeapOrder(t *testing.T) {
	var h frameHeap
	for i, at := range []int64{5, 3, 9, 3, 1, 7} {
		h.push(item{at: at, seq: uint64(i)})
	}
	var got []int64
	var lastSeq uint64
	for h.Len() > 0 {
		it := h.pop()
		if len(got) > 0 && it.at == got[len(got)-1] && it.seq < lastSeq {
			t.Errorf("equal release times out of arrival order")
		}
		got = append(got, it.at)
		lastSeq = it.seq
	}
	for i := 1; i < len(got); i++ {
		if got[i] < got[i-1] {
			t.Fatalf("heap order %v", got)
		}
	}
}

func TestLossDeterministic(t *testing.T) {
	run := func() (dropped int) {
		d := newDirection(AToB, nil, nil, Profile{LossPercent: 30, Seed: 9})
		for i := 0; i < 10000; i++ {
			if v, _ := d.decide(100, 0); v == drop {
				dropped++
			}
		}
		return dropped
	}
	a, b := run(), run()
	if a != b {
		t.Fatalf("same seed, different drops: %d vs %d", a, b)
	}
	if a < 2700 || a > 3300 {
		t.Fatalf("%d of 10000 dropped at 30%%", a)
	}
}

func TestDelayAndJitter(t *testing.T) {
	p := Profile{Delay: 50 * time.Millisecond, Jitter: 10 * time.Millisecond}
	d := newDirection(AToB, nil, nil, p)
	reordered := false
	var last int64
	for i := 0; i < 1000; i++ {
		now := int64(i) * int64(time.Millisecond)
		v, at := d.decide(100, now)
		if v != enqueue {
			t.Fatalf("verdict %d for a delayed frame", v)
		}
		if lat := time.Duration(at - now); lat < 40*time.Millisecond || lat > 60*time.Millisecond {
			t.Fatalf("latency %v outside 50±10 ms", lat)
		}
		reordered = reordered || at < last
		last = at
	}
	if !reordered {
		t.Error("jitter of ±10 ms at 1 frame/ms never reordered")
	}
}

func TestRateLimitQueue(t *testing.T) {
	// 100 kB/s, 1000-byte frames: 10 ms each; a 50 ms queue holds ~5.
	d := newDirection(AToB, nil, nil, Profile{RateBps: 100_000, QueueLimit: 50 * time.Millisecond})
	var sent, dropped int
	var last int64
	for i := 0; i < 20; i++ { // a burst arriving at once
		v, at := d.decide(1000, 0)
		if v == drop {
			dropped++
			continue
		}
		sent++
		last = at
		d.queue.push(item{at: at, seq: uint64(i)})
	}
	if sent != 6 || dropped != 14 {
		t.Errorf("sent %d dropped %d, want 6 and 14", sent, dropped)
	}
	if want := int64(60 * time.Millisecond); last != want {
		t.Errorf("last frame released at %v, want %v", time.Duration(last), time.Duration(want))
	}
	if s := d.snapshot(); s.QueueDropped != 14 {
		t.Errorf("QueueDropped %d", s.QueueDropped)
	}
}

func TestProfileValidation(t *testing.T) {
	for _, p := range []Profile{{Delay: -1}, {LossPercent: 101}, {RateBps: -5}} {
		if p.validate() == nil {
			t.Errorf("%+v accepted", p)
		}
	}
}
