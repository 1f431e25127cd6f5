package netns_test

import (
	"fmt"
	"strings"
	"testing"

	"flowcam/stream/pull"
)

// expected is how many frames the run should have played.
func expected(r *pull.Report) uint64 { return r.FramesComplete + r.FramesLost }

func delivered(r *pull.Report) float64 {
	if expected(r) == 0 {
		return 0
	}
	return float64(r.FramesComplete) / float64(expected(r))
}

func line(scenario, mode string, r *pull.Report) string {
	shares := make([]string, len(r.Paths))
	for i, p := range r.Paths {
		name := p.Interface
		if name == "" {
			name = "eth"
		}
		shares[i] = fmt.Sprintf("%s %.0f%% (loss %.1f%%, rtt %.0f ms)", name, p.Share*100, p.Loss*100, p.RTT)
	}
	return fmt.Sprintf("%-32s %-9s complete %4d late %3d lost %4d (%5.1f%% delivered)  latency p50/p95/p99 %3.0f/%3.0f/%3.0f ms  %s",
		scenario, mode, r.FramesComplete, r.FramesLate, r.FramesLost, 100*delivered(r),
		r.Latency.P50, r.Latency.P95, r.Latency.P99, strings.Join(shares, ", "))
}

// table prints every run for the closing note.
func table(results map[string]map[string]*pull.Report) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-32s %-9s %8s %5s %5s %10s %17s  %s\n", "scenario (1280x720 25 fps, 20 s)", "mode",
		"complete", "late", "lost", "delivered", "latency p50/95/99", "per-path share")
	for _, sc := range scenarios {
		for _, m := range modes {
			r := results[sc.name][m.name]
			if r == nil {
				continue
			}
			var shares []string
			for _, p := range r.Paths {
				shares = append(shares, fmt.Sprintf("%.0f%%", p.Share*100))
			}
			fmt.Fprintf(&b, "%-32s %-9s %8d %5d %5d %9.1f%% %6.0f/%4.0f/%4.0f ms  %s\n", sc.name, m.name,
				r.FramesComplete, r.FramesLate, r.FramesLost, 100*delivered(r),
				r.Latency.P50, r.Latency.P95, r.Latency.P99, strings.Join(shares, "/"))
		}
	}
	return b.String()
}

// checkTargets holds the targets.
func checkTargets(t *testing.T, results map[string]map[string]*pull.Report) {
	t.Helper()
	for _, sc := range []string{"a clean", "b wifi 30ms+-10ms 3% loss", "d ethernet down 8-14 s"} {
		if r := results[sc]["duplicate"]; r.FramesLost != 0 {
			t.Errorf("%s: duplicate lost %d frames, want none", sc, r.FramesLost)
		}
	}
	c := results["c each path 60% of the stream"]
	if d := delivered(c["stripe"]); d < 0.99 {
		t.Errorf("rate-limited paths: stripe delivered %.1f%% of frames, want at least 99%%", 100*d)
	}
	if d := delivered(c["single"]); d > 0.65 {
		t.Errorf("rate-limited paths: a single flow delivered %.1f%%: the limit is not biting", 100*d)
	}
	d := results["d ethernet down 8-14 s"]
	for _, m := range []string{"stripe", "failover"} {
		r := d[m]
		if r.FramesLost > fps/2 {
			t.Errorf("outage: %s lost %d frames, more than 0.5 s", m, r.FramesLost)
		}
		if !usedAfter(r, 0, 18) {
			t.Errorf("outage: %s never used the ethernet path again after it returned: %v", m, r.Timeline)
		}
	}
	if r := d["single"]; r.FramesLost < 4*fps {
		t.Errorf("outage: a single flow lost only %d frames: the outage did not happen", r.FramesLost)
	}
}

// usedAfter reports whether flow carried packets at or after second t.
func usedAfter(r *pull.Report, flow, t int) bool {
	for _, s := range r.Timeline {
		if s.T >= t && flow < len(s.Packets) && s.Packets[flow] > 0 {
			return true
		}
	}
	return false
}
