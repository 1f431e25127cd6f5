package web

import (
	"slices"
	"sync"
	"time"
)

// Capture-to-wire latency, per path: how long after capture a frame's last
// packet went to the kernel for its last viewer (broadcast's accounting).
// /metrics has it as a histogram; the status page and its charts show the
// median and 99th percentile of the last second, from a fixed ring of
// recent observations (no allocation per frame).

// wireWindow is how far back the page's percentiles look.
const wireWindow = time.Second

// wireRing holds a path's recent observations.
type wireRing struct {
	mu   sync.Mutex
	at   [256]int64 // Unix nanoseconds of each observation
	val  [256]time.Duration
	next int
	n    int
}

func (r *wireRing) add(d time.Duration, now time.Time) {
	r.mu.Lock()
	r.at[r.next], r.val[r.next] = now.UnixNano(), d
	r.next = (r.next + 1) % len(r.at)
	r.n = min(r.n+1, len(r.at))
	r.mu.Unlock()
}

// percentiles are the median and 99th percentile of the observations in
// the window before now; ok is false when there are none.
func (r *wireRing) percentiles(now time.Time) (p50, p99 time.Duration, ok bool) {
	r.mu.Lock()
	var vals []time.Duration
	from := now.Add(-wireWindow).UnixNano()
	for i := 0; i < r.n; i++ {
		if r.at[i] >= from {
			vals = append(vals, r.val[i])
		}
	}
	r.mu.Unlock()
	if len(vals) == 0 {
		return 0, 0, false
	}
	slices.Sort(vals)
	at := func(q float64) time.Duration { return vals[min(int(q*float64(len(vals))), len(vals)-1)] }
	return at(0.5), at(0.99), true
}

// WireLatency is a path's capture-to-wire latency over the last second.
type WireLatency struct {
	P50MS float64 `json:"p50_ms"`
	P99MS float64 `json:"p99_ms"`
}

// LatencyObserver returns what a path's broadcaster reports each frame's
// capture-to-wire time to (broadcast.WithLatencyObserver): it goes to the
// histogram and to the page's window, allocation-free.
func (s *Server) LatencyObserver(path string) func(time.Duration) {
	h := s.metrics.wireObserver(path)
	s.wireMu.Lock()
	r := s.wire[path]
	if r == nil {
		r = &wireRing{}
		s.wire[path] = r
	}
	s.wireMu.Unlock()
	return func(d time.Duration) {
		h(d)
		r.add(d, time.Now())
	}
}

// wireLatency fills in each path's window.
func (s *Server) wireLatency(st *Status, now time.Time) {
	s.wireMu.Lock()
	defer s.wireMu.Unlock()
	for i := range st.Paths {
		if r := s.wire[st.Paths[i].Path]; r != nil {
			if p50, p99, ok := r.percentiles(now); ok {
				st.Paths[i].WireLatency = &WireLatency{P50MS: msOf(p50), P99MS: msOf(p99)}
			}
		}
	}
}
