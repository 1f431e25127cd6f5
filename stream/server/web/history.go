package web

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"
)

// The status page's charts draw from a ring of one-second samples of
// every session and flow, kept here so a page opened now shows the last
// minutes, as the client's live page does.

// HistorySample is one second of every session.
type HistorySample struct {
	T        float64          `json:"t"` // seconds since the daemon started
	Sessions []HistorySession `json:"sessions"`
	Paths    []HistoryPath    `json:"paths,omitempty"`
}

// HistoryPath is one path's second: its capture-to-wire latency.
type HistoryPath struct {
	Path string `json:"path"`
	WireLatency
}

// HistorySession is one session's second; a plain session is one flow
// named after its transport.
type HistorySession struct {
	ID     string        `json:"id"`
	Client string        `json:"client"`
	Label  string        `json:"label"` // transport (and mode), path
	Flows  []HistoryFlow `json:"flows"`
}

// HistoryFlow is one flow's second.
type HistoryFlow struct {
	Name         string  `json:"name"` // interface, or flow index
	Mbps         float64 `json:"mbps"`
	Share        float64 `json:"share"` // of the session's bytes, 0-1
	Loss         float64 `json:"loss"`
	RTTMS        float64 `json:"rtt_ms"`
	QueueMS      float64 `json:"queue_ms"`
	CapacityMbps float64 `json:"capacity_mbps"`
}

// historyKeep is how many seconds the charts show.
const historyKeep = 300

type history struct {
	mu      sync.Mutex
	samples []HistorySample
	bytes   map[string]uint64 // by session/flow, at the previous sample
	at      time.Time         // of the previous sample
}

func newHistory() *history { return &history{bytes: map[string]uint64{}} }

// add samples st at now.
func (h *history) add(st Status, now time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	dt := now.Sub(h.at).Seconds()
	bytes := map[string]uint64{}
	rate := func(key string, b uint64) float64 {
		bytes[key] = b
		old, ok := h.bytes[key]
		if !ok || dt <= 0 || b < old {
			return 0
		}
		return float64(b-old) * 8 / dt / 1e6
	}
	smp := HistorySample{T: now.Sub(st.Started).Seconds()}
	for _, p := range st.Paths {
		if p.WireLatency != nil {
			smp.Paths = append(smp.Paths, HistoryPath{Path: p.Path, WireLatency: *p.WireLatency})
		}
	}
	for _, ss := range st.Sessions {
		hs := HistorySession{ID: ss.ID, Client: ss.Client, Label: ss.Transport + " " + ss.Path}
		if ss.Mode != "" {
			hs.Label = ss.Transport + " (" + ss.Mode + ") " + ss.Path
		}
		if len(ss.Flows) == 0 {
			hs.Flows = []HistoryFlow{{Name: ss.Transport, Mbps: rate(ss.ID, ss.Bytes), Share: 1, Loss: ss.FractionLost,
				RTTMS: msOf(ss.RTT)}}
		}
		for _, f := range ss.Flows {
			name := f.Interface
			if name == "" {
				name = fmt.Sprintf("flow %d", f.Index)
			}
			hs.Flows = append(hs.Flows, HistoryFlow{Name: name, Mbps: rate(fmt.Sprintf("%s/%d", ss.ID, f.Index), f.Bytes),
				Loss: f.Loss, RTTMS: msOf(f.RTT), QueueMS: msOf(f.Queue), CapacityMbps: f.Capacity / 1e6})
		}
		shares(hs.Flows)
		smp.Sessions = append(smp.Sessions, hs)
	}
	h.bytes, h.at = bytes, now
	h.samples = append(h.samples, smp)
	if len(h.samples) > historyKeep {
		h.samples = append(h.samples[:0], h.samples[len(h.samples)-historyKeep:]...)
	}
}

// shares sets each flow's share of the session's throughput.
func shares(fs []HistoryFlow) {
	var total float64
	for _, f := range fs {
		total += f.Mbps
	}
	for i := range fs {
		if total > 0 {
			fs[i].Share = fs[i].Mbps / total
		}
	}
}

func msOf(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func (h *history) get() []HistorySample {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]HistorySample(nil), h.samples...)
}

// sample records the status once a second until the server closes.
func (s *Server) sample() {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case now := <-t.C:
			s.hist.add(s.status(), now)
		}
	}
}

func (s *Server) historyJSON(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	s.setDeadline(w)
	json.NewEncoder(w).Encode(struct {
		Samples []HistorySample `json:"samples"`
	}{s.hist.get()})
}
