package web

import (
	"testing"
	"time"
)

// TestWireLatency: the page's percentiles cover the last second only,
// and the status and history carry them.
func TestWireLatency(t *testing.T) {
	d := &fakeDaemon{st: twoPaths()}
	s := New(d, NewHub(), nil)
	observe := s.LatencyObserver("/cam")
	for i := 1; i <= 100; i++ {
		observe(time.Duration(i) * time.Millisecond)
	}
	st := s.status()
	w := st.Paths[0].WireLatency
	if w == nil || w.P50MS != 51 || w.P99MS != 100 || st.Paths[1].WireLatency != nil {
		t.Fatalf("latency %+v, other path %+v", w, st.Paths[1].WireLatency)
	}
	s.hist.add(st, time.Now())
	if h := s.hist.get(); len(h) != 1 || len(h[0].Paths) != 1 || h[0].Paths[0].P99MS != 100 {
		t.Errorf("history: %+v", h)
	}
	var r wireRing
	now := time.Now()
	r.add(time.Second, now.Add(-2*time.Second))
	r.add(3*time.Millisecond, now)
	if p50, p99, ok := r.percentiles(now); !ok || p50 != 3*time.Millisecond || p99 != 3*time.Millisecond {
		t.Errorf("an observation older than the window counted: %v %v %v", p50, p99, ok)
	}
}
