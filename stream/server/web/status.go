package web

import (
	"fmt"
	"time"

	"flowcam/capture"
)

// StatusSource describes the running daemon. Status is called from HTTP
// goroutines, on every page load, JSON poll and metrics scrape, so it must
// be safe for concurrent use and cheap: counters read at call time.
type StatusSource interface {
	Status() Status
}

// StatusFunc adapts a function to StatusSource.
type StatusFunc func() Status

// Status implements StatusSource.
func (f StatusFunc) Status() Status { return f() }

// Status is a snapshot of the whole daemon.
type Status struct {
	Version string    `json:"version"`
	Build   string    `json:"build"`   // one line: commit, target, cgo, linking
	Board   string    `json:"board"`   // e.g. "raspberrypi: Raspberry Pi 4 Model B"
	Encoder string    `json:"encoder"` // the board's hardware JPEG encoder, or why none
	Helpers string    `json:"helpers"` // capture helpers installed (rpicam-vid, libcamerasrc, ...)
	Started time.Time `json:"started"`
	// Paths in the order the default path is chosen from: the first one
	// is what /stream.mjpg shows without ?path=.
	Paths    []PathStatus    `json:"paths"`
	Sessions []SessionStatus `json:"sessions"`
}

// PathStatus is one served path.
type PathStatus struct {
	Path    string `json:"path"`
	Source  string `json:"source"` // pattern, a device or a file
	Encoder string `json:"encoder"`
	Codec   string `json:"codec"` // mjpeg or h264, what the path sends
	// Preview is an MJPEG path of the same capture, whose pictures stand
	// in for an H.264 path's on the page, in /stream.mjpg and snapshots.
	Preview string `json:"preview,omitempty"`
	// Bitrate is what the path's frames take, in RTP payload bits per
	// second over the last second; Bytes is the running total.
	Bitrate float64 `json:"bitrate_bps"`
	Bytes   uint64  `json:"bytes"`
	Width   int     `json:"width"`
	Height  int     `json:"height"`
	FPS     float64 `json:"fps"`
	// Alive: the pipeline delivered recently (capture.Pipeline.Alive).
	Alive    bool          `json:"alive"`
	Pipeline capture.Stats `json:"pipeline"`
	// Camera sources count reopened devices; others leave Reconnects nil.
	Reconnects *uint64 `json:"reconnects,omitempty"`
	// Corrupt counts damaged input the source skipped (JPEG frames, H.264
	// NAL units); nil for sources that cannot tell (the test pattern).
	Corrupt *uint64 `json:"corrupt,omitempty"`
	// Problem says why a source keeps failing (a capture helper that
	// exits at once, with its last words); empty while it works.
	Problem string `json:"problem,omitempty"`
	// RTSPViewers are the path's playing RTSP sessions; HTTPViewers its
	// open MJPEG responses (filled in by this package).
	RTSPViewers int `json:"rtsp_viewers"`
	HTTPViewers int `json:"http_viewers"`
	// WireLatency is the capture-to-wire time of the last second's frames
	// (filled in by this package); nil when none went out.
	WireLatency *WireLatency `json:"wire_latency,omitempty"`
	// Publish are the hubs the path is pushed to.
	Publish []PublishStatus `json:"publish,omitempty"`
	// Recording is the path's recording on the box; nil when it has none.
	Recording *RecordingStatus `json:"recording,omitempty"`
}

// PublishStatus is one publish target of a path.
type PublishStatus struct {
	Target     string `json:"target"` // the URL, without a password
	State      string `json:"state"`  // connecting, publishing or retrying
	Bytes      uint64 `json:"bytes"`
	Reconnects uint64 `json:"reconnects"` // sessions that failed or were lost
	Error      string `json:"error,omitempty"`
}

// RecordingStatus is a path's recording on the box.
type RecordingStatus struct {
	Dir     string `json:"dir"`
	File    string `json:"file"`    // the segment being written
	Dropped uint64 `json:"dropped"` // frames the disk was too slow for
	// Problem says why the recording stopped (a full disk); "" while it runs.
	Problem string `json:"problem,omitempty"`
}

// SessionStatus is one RTSP session.
type SessionStatus struct {
	ID        string `json:"id"`
	Path      string `json:"path"`
	Transport string `json:"transport"` // udp, tcp or multiflow
	Client    string `json:"client"`
	Playing   bool   `json:"playing"`
	Frames    uint64 `json:"frames"`
	Packets   uint64 `json:"packets"`
	Bytes     uint64 `json:"bytes"`
	Dropped   uint64 `json:"dropped"` // frames skipped because the viewer lagged
	Skipped   uint64 `json:"skipped"` // frames skipped because its paths could not carry them
	// Rate is what share of the frames the session gets and why: UDP and
	// multi-flow sessions, whose paths the server measures.
	Rate *RateStatus `json:"rate,omitempty"`
	// From the client's RTCP receiver reports.
	FractionLost float64       `json:"fraction_lost"`
	TotalLost    uint32        `json:"total_lost"`
	Jitter       time.Duration `json:"jitter_ns"`
	RTT          time.Duration `json:"rtt_ns"`
	Mode         string        `json:"mode,omitempty"` // multi-flow only
	Flows        []FlowStatus  `json:"flows,omitempty"`
}

// RateStatus is a session's whole-frame rate adaptation.
type RateStatus struct {
	SentFraction float64 `json:"sent_fraction"` // of the source's frames, over the last second
	// Reason is why frames were skipped in the last second: "full rate"
	// (none were), "capacity", "delay" or "no path".
	Reason      string  `json:"reason"`
	StreamBps   float64 `json:"stream_bps"`   // what every frame would take
	CapacityBps float64 `json:"capacity_bps"` // what the paths are estimated to carry
}

// FlowStatus is one flow of a multi-flow session.
type FlowStatus struct {
	Index     int           `json:"index"`
	Interface string        `json:"interface"` // the server-side interface, "" when unknown
	Local     string        `json:"local"`
	Client    string        `json:"client"`
	Usable    bool          `json:"usable"`
	Packets   uint64        `json:"packets"`
	Bytes     uint64        `json:"bytes"`
	Loss      float64       `json:"loss"` // smoothed fraction lost
	RTT       time.Duration `json:"rtt_ns"`
	Jitter    time.Duration `json:"jitter_ns"`
	RateBps   float64       `json:"rate_bps"`     // what it is sent at now
	Capacity  float64       `json:"capacity_bps"` // its estimated deliverable rate
	Queue     time.Duration `json:"queue_ns"`     // its standing queue
	Limit     string        `json:"limit"`        // what bounds the estimate: none, queueing delay, loss, start-up
}

// picture names the path whose JPEG frames show path: itself, or an H.264
// path's MJPEG sibling; else it says why there is none.
func (s *Status) picture(path string) (string, error) {
	p, ok := s.find(path)
	switch {
	case !ok:
		return "", fmt.Errorf("no stream at path %q", path)
	case p.Codec != "h264":
		return path, nil
	case p.Preview != "":
		return p.Preview, nil
	}
	return "", fmt.Errorf("no live picture for %s: it sends H.264, and flowcamd has no H.264 decoder to make JPEG of it; "+
		"serve an MJPEG path of the same source, size and fps beside it for a preview, or play rtsp://…%s", path, path)
}

// find returns the named path's status.
func (s *Status) find(path string) (*PathStatus, bool) {
	for i := range s.Paths {
		if s.Paths[i].Path == path {
			return &s.Paths[i], true
		}
	}
	return nil, false
}
