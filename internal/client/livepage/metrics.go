package livepage

import (
	"fmt"
	"io"
	"net/http"
	"sort"
)

// metrics writes the client's counters and gauges in Prometheus' text
// format: frames by fate, latency, play-out delay, and per path bytes,
// loss and RTT.
func (p *Page) metrics(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	p.writeMetrics(w)
}

func (p *Page) writeMetrics(w io.Writer) {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.last
	st := s.Stats
	// lost takes in late: a frame first dropped as incomplete may turn late
	// when its last packet comes, and a counter must not go down.
	fmt.Fprintf(w, "# HELP flowcam_client_frames_total Frames by what became of them: complete (played), "+
		"lost (never shown: late, incomplete or missing), late (of those, complete only after their time), skipped (by the server).\n"+
		"# TYPE flowcam_client_frames_total counter\n")
	for _, f := range []struct {
		fate string
		n    uint64
	}{{"complete", st.FramesComplete}, {"late", st.FramesLate}, {"lost", st.FramesLate + st.FramesIncomplete + st.FramesMissing}, {"skipped", st.FramesSkipped}} {
		fmt.Fprintf(w, "flowcam_client_frames_total{fate=%q} %d\n", f.fate, f.n)
	}
	gauge(w, "flowcam_client_latency_seconds", "Median capture to play-out over the last second.", s.Latency.Seconds())
	gauge(w, "flowcam_client_playout_delay_seconds", "The play-out delay now.", s.Delay.Seconds())
	gauge(w, "flowcam_client_fps", "Frames played in the last second.", s.FPS)
	names := make([]string, 0, len(p.total.bytes))
	for n := range p.total.bytes {
		names = append(names, n)
	}
	sort.Strings(names)
	fmt.Fprintf(w, "# HELP flowcam_client_path_bytes_total Bytes received on each path.\n# TYPE flowcam_client_path_bytes_total counter\n")
	for _, n := range names {
		fmt.Fprintf(w, "flowcam_client_path_bytes_total{path=%q} %.0f\n", n, p.total.bytes[n])
	}
	fmt.Fprintf(w, "# HELP flowcam_client_path_loss_ratio Fraction lost on each path in its latest report interval.\n# TYPE flowcam_client_path_loss_ratio gauge\n")
	for _, ps := range s.Paths {
		fmt.Fprintf(w, "flowcam_client_path_loss_ratio{path=%q} %g\n", ps.Name, ps.Loss)
	}
	fmt.Fprintf(w, "# HELP flowcam_client_path_rtt_seconds Round-trip time of each path.\n# TYPE flowcam_client_path_rtt_seconds gauge\n")
	for _, ps := range s.Paths {
		fmt.Fprintf(w, "flowcam_client_path_rtt_seconds{path=%q} %g\n", ps.Name, ps.RTT.Seconds())
	}
}

func gauge(w io.Writer, name, help string, v float64) {
	fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s gauge\n%s %g\n", name, help, name, name, v)
}
