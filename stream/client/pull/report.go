package pull

import (
	"net/url"
	"slices"
	"time"

	"flowcam/stream/client/flowrecv"

	"flowcam/stream/client/playout"
	"flowcam/stream/client/rtspclient"
	"flowcam/stream/format/multiflow"
)

// Report is the final account of a pull, written by --stats-json.
type Report struct {
	URL       string  `json:"url"`
	Transport string  `json:"transport"` // multiflow, udp or tcp
	Mode      string  `json:"mode,omitempty"`
	Fallback  string  `json:"fallback,omitempty"` // why multi-flow was not used
	Flows     int     `json:"flows"`
	Duration  float64 `json:"duration_s"`
	StreamFPS float64 `json:"stream_fps,omitempty"` // what the server announced
	Width     int     `json:"width,omitempty"`
	Height    int     `json:"height,omitempty"`

	FramesComplete   uint64 `json:"frames_complete"`
	FramesLate       uint64 `json:"frames_late"`
	FramesIncomplete uint64 `json:"frames_incomplete"`
	FramesMissing    uint64 `json:"frames_missing"`
	FramesLost       uint64 `json:"frames_lost"` // late + incomplete + missing: never shown
	// FramesSkipped are frames the server chose not to send because the
	// paths could not carry them (whole-frame rate adaptation): not lost.
	FramesSkipped uint64 `json:"frames_skipped"`
	// Codec is what the stream carries (mjpeg or h264). HeldForKey counts
	// H.264 frames not played because one before them was lost (they wait
	// for the next key frame), KeyFrameRequests the PLIs sent for one.
	Codec            string `json:"codec"`
	HeldForKey       uint64 `json:"held_for_key_frame"`
	KeyFrameRequests uint64 `json:"key_frame_requests"`
	// Recoveries is, for each H.264 loss, how long the picture stood
	// still: from when the first frame not shown was due to the key frame
	// that brought it back, in ms of stream time (RTP timestamps).
	Recoveries        []float64 `json:"recoveries_ms,omitempty"`
	DuplicatesDropped uint64    `json:"duplicates_dropped"`
	PacketsLate       uint64    `json:"packets_late"`
	PacketsReordered  uint64    `json:"packets_reordered"`
	FPS               float64   `json:"fps"`

	// Latency is capture (server clock, via RTCP sender reports) to
	// play-out; ArrivalLatency capture to the frame's last packet. They are
	// meaningful when both clocks are synchronised (NTP, or one host).
	Latency        Percentiles `json:"latency_ms"`
	ArrivalLatency Percentiles `json:"arrival_latency_ms"`
	// LatencyMode is adaptive or fixed; PlayoutDelay the play-out delay at
	// the end, in ms.
	LatencyMode  string       `json:"latency_mode"`
	PlayoutDelay float64      `json:"playout_delay_ms"`
	Rate         string       `json:"rate,omitempty"` // the server's last rate notice
	Paths        []PathReport `json:"paths"`
	Timeline     []Second     `json:"timeline"`
}

// Percentiles of a latency distribution, in milliseconds.
type Percentiles struct {
	P50     float64 `json:"p50"`
	P95     float64 `json:"p95"`
	P99     float64 `json:"p99"`
	Max     float64 `json:"max"`
	Samples int     `json:"samples"`
}

// PathReport is one flow's account.
type PathReport struct {
	Flow      int     `json:"flow"`
	Interface string  `json:"interface,omitempty"`
	Local     string  `json:"local"`
	Server    string  `json:"server"`
	Packets   uint64  `json:"packets"`
	Bytes     uint64  `json:"bytes"`
	Lost      int64   `json:"lost"`
	Loss      float64 `json:"loss"`
	RTT       float64 `json:"rtt_ms"`
	Jitter    float64 `json:"jitter_ms"`
	Share     float64 `json:"share"` // of the packets received over every path
}

// Second is one second of the pull: frames played, judged complete, lost
// and skipped by the server, packets per path, the play-out delay and the
// share of frames the server said it sends.
type Second struct {
	T            int     `json:"t"`
	Frames       int     `json:"frames"`
	Complete     int     `json:"complete"`
	Lost         int     `json:"lost"`
	Skipped      int     `json:"skipped"`
	Packets      []int   `json:"packets"`
	DelayMS      float64 `json:"delay_ms"`
	SentPermille int     `json:"sent_permille,omitempty"`
}

// Snapshot is the live state the status line shows.
type Snapshot struct {
	Elapsed time.Duration
	Stats   playout.Stats
	FPS     float64               // frames played in the last second
	Latency time.Duration         // median capture to play-out in the last second
	Delay   time.Duration         // the play-out delay now
	Notice  *multiflow.RateNotice // what the server says it sends, nil if it says nothing
	Paths   []PathSnapshot
}

// PathSnapshot is one path's last second.
type PathSnapshot struct {
	Name    string
	Bitrate float64       // bits per second received
	Loss    float64       // fraction lost in the latest report interval
	RTT     time.Duration // as the server's reports tell it; 0 before any
}

func newReport(cfg Config, d *rtspclient.Description) *Report {
	mode := "adaptive"
	if cfg.FixedLatency {
		mode = "fixed"
	}
	return &Report{URL: redacted(cfg.URL), StreamFPS: d.FPS, Width: d.Width, Height: d.Height, LatencyMode: mode, Codec: d.Codec}
}

// redacted keeps a password out of reports and logs.
func redacted(raw string) string {
	if u, err := url.Parse(raw); err == nil {
		return u.Redacted()
	}
	return raw
}

func (r *Report) finish(elapsed time.Duration, st playout.Stats, flows []flowrecv.FlowStats, names []string,
	latency, arrival []time.Duration) {
	r.Duration = elapsed.Seconds()
	r.FramesComplete, r.FramesLate, r.FramesIncomplete, r.FramesMissing = st.FramesComplete, st.FramesLate,
		st.FramesIncomplete, st.FramesMissing
	r.FramesLost = st.FramesLate + st.FramesIncomplete + st.FramesMissing
	r.FramesSkipped = st.FramesSkipped
	r.DuplicatesDropped, r.PacketsLate, r.PacketsReordered = st.DuplicatesDropped, st.PacketsLate, st.PacketsReordered
	if elapsed > 0 {
		r.FPS = float64(st.FramesComplete) / elapsed.Seconds()
	}
	r.Latency, r.ArrivalLatency = summarize(latency), summarize(arrival)
	r.Flows = len(flows)
	var total uint64
	for _, f := range flows {
		total += f.Packets
	}
	r.Paths = nil
	for i, f := range flows {
		pr := PathReport{Flow: i, Local: f.Local, Server: f.Server, Packets: f.Packets, Bytes: f.Bytes,
			Lost: f.Lost, Loss: f.Loss, RTT: ms(f.RTT), Jitter: ms(f.Jitter)}
		if i < len(names) {
			pr.Interface = names[i]
		}
		if total > 0 {
			pr.Share = float64(f.Packets) / float64(total)
		}
		r.Paths = append(r.Paths, pr)
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func summarize(samples []time.Duration) Percentiles {
	if len(samples) == 0 {
		return Percentiles{}
	}
	s := slices.Clone(samples)
	slices.Sort(s)
	return Percentiles{P50: ms(at(s, 0.5)), P95: ms(at(s, 0.95)), P99: ms(at(s, 0.99)), Max: ms(s[len(s)-1]),
		Samples: len(s)}
}

// percentile of unsorted samples, 0 when there are none.
func percentile(samples []time.Duration, q float64) time.Duration {
	if len(samples) == 0 {
		return 0
	}
	s := slices.Clone(samples)
	slices.Sort(s)
	return at(s, q)
}

// at is the nearest-rank percentile of sorted samples.
func at(sorted []time.Duration, q float64) time.Duration {
	i := int(q*float64(len(sorted)) + 0.5)
	return sorted[min(max(i-1, 0), len(sorted)-1)]
}
