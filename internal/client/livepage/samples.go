package livepage

import (
	"time"

	"flowcam/stream/client/playout"
	"flowcam/stream/client/pull"
)

// Sample is one second of the pull, as the charts draw it.
type Sample struct {
	T         float64      `json:"t"` // seconds since the pull started
	FPS       float64      `json:"fps"`
	Complete  uint64       `json:"complete"` // frames, in this second
	Late      uint64       `json:"late"`
	Lost      uint64       `json:"lost"` // incomplete or never seen
	Skipped   uint64       `json:"skipped"`
	LatencyMS float64      `json:"latency_ms"` // median capture to play-out
	DelayMS   float64      `json:"delay_ms"`   // the play-out delay
	Paths     []PathSample `json:"paths"`
}

// PathSample is one path's second.
type PathSample struct {
	Name    string  `json:"name"`
	Mbps    float64 `json:"mbps"`
	Share   float64 `json:"share"` // of the bytes all paths carried, 0-1
	Loss    float64 `json:"loss"`  // fraction lost in the latest report interval
	RTTMS   float64 `json:"rtt_ms"`
	QueueMS float64 `json:"queue_ms"` // RTT above the lowest this path has shown
}

// ring keeps the last n samples.
type ring struct {
	n    int
	s    []Sample
	prev playout.Stats
	min  map[string]time.Duration // lowest RTT per path
}

func newRing(n int) *ring { return &ring{n: n, min: map[string]time.Duration{}} }

// add turns a pull's snapshot into a sample.
func (r *ring) add(s pull.Snapshot) Sample {
	st := s.Stats
	// A frame dropped as incomplete turns late when its last packet comes
	// after all: the incomplete count can fall, and a second's share with it.
	smp := Sample{T: s.Elapsed.Seconds(), FPS: s.FPS,
		Complete: delta(st.FramesComplete, r.prev.FramesComplete), Late: delta(st.FramesLate, r.prev.FramesLate),
		Lost:      delta(st.FramesIncomplete+st.FramesMissing, r.prev.FramesIncomplete+r.prev.FramesMissing),
		Skipped:   delta(st.FramesSkipped, r.prev.FramesSkipped),
		LatencyMS: ms(s.Latency), DelayMS: ms(s.Delay)}
	r.prev = st
	var total float64
	for _, p := range s.Paths {
		total += p.Bitrate
	}
	for _, p := range s.Paths {
		ps := PathSample{Name: p.Name, Mbps: p.Bitrate / 1e6, Loss: p.Loss, RTTMS: ms(p.RTT)}
		if total > 0 {
			ps.Share = p.Bitrate / total
		}
		if p.RTT > 0 {
			if m, ok := r.min[p.Name]; !ok || p.RTT < m {
				r.min[p.Name] = p.RTT
			}
			ps.QueueMS = ms(p.RTT - r.min[p.Name])
		}
		smp.Paths = append(smp.Paths, ps)
	}
	r.s = append(r.s, smp)
	if len(r.s) > r.n {
		r.s = append(r.s[:0], r.s[len(r.s)-r.n:]...)
	}
	return smp
}

// delta is what a counter grew by, 0 if it went back.
func delta(now, prev uint64) uint64 {
	if now < prev {
		return 0
	}
	return now - prev
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
