package web

import (
	"bufio"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"flowcam/capture"
	"flowcam/internal/testutil/golden"
)

// goldenStatus is a fixed daemon: two paths (a pattern and a camera that
// reconnected and stalled), a plain UDP session with rate adaptation, a
// TCP session without, and a multi-flow session with two flows. Nothing in
// it depends on the clock or the machine.
func goldenStatus() Status {
	reconnects, corrupt := uint64(3), uint64(4)
	return Status{
		Version: "v1.2.3", Build: "abc1234 linux/arm64 cgo static", Board: "raspberrypi: Raspberry Pi 4",
		Encoder: "v4l2m2m", Started: time.Date(2026, 3, 1, 12, 0, 0, 500e6, time.UTC),
		Paths: []PathStatus{
			{Path: "/cam", Source: "pattern", Encoder: "v4l2m2m", Codec: "mjpeg", Bytes: 48000000, Bitrate: 5.8e6, Width: 1280, Height: 720, FPS: 25, Alive: true,
				Pipeline:    capture.Stats{Captured: 1000, Encoded: 900, Passthrough: 70, Transcoded: 20, Dropped: 10, SourceErrs: 2},
				RTSPViewers: 3,
				Publish: []PublishStatus{{Target: "rtsp://hub:8554/cam", State: "publishing", Bytes: 9000000, Reconnects: 2},
					{Target: "rtsps://nvr:8322/cam", State: "retrying", Reconnects: 7, Error: "403 Forbidden"}},
				Recording: &RecordingStatus{Dir: "/var/lib/flowcam/recordings/cam", File: "20260301-120000.mkv", Dropped: 3}},
			{Path: "/side", Source: "/dev/video0", Codec: "h264", Bytes: 1200000, Width: 640, Height: 480, FPS: 10, Alive: false,
				Pipeline: capture.Stats{Captured: 50, Passthrough: 50, SourceErrs: 7}, Reconnects: &reconnects, Corrupt: &corrupt,
				Recording: &RecordingStatus{Dir: "/rec/side", Problem: "recording stopped: no space left on device"}},
		},
		Sessions: []SessionStatus{
			{ID: "aa11", Path: "/cam", Transport: "udp", Client: "10.0.0.9:5000", Playing: true,
				Frames: 500, Packets: 5000, Bytes: 6000000, Dropped: 1, Skipped: 40,
				Rate:         &RateStatus{SentFraction: 0.52, Reason: "capacity", StreamBps: 5.7e6, CapacityBps: 2.9e6},
				FractionLost: 0.25, TotalLost: 12, Jitter: 2 * time.Millisecond, RTT: 15 * time.Millisecond},
			{ID: "cc33", Path: "/side", Transport: "tcp", Client: "10.0.0.8:41234", Playing: true,
				Frames: 20, Packets: 40, Bytes: 48000, Dropped: 5},
			{ID: "bb22", Path: "/cam", Transport: "multiflow", Client: "10.0.0.7:5100", Playing: true, Mode: "stripe",
				Frames: 480, Packets: 4800, Bytes: 5760000, Skipped: 2, RTT: 20 * time.Millisecond,
				Rate: &RateStatus{SentFraction: 1, Reason: "full rate", StreamBps: 5.7e6, CapacityBps: 8.5e6},
				Flows: []FlowStatus{
					{Index: 0, Interface: "eth0", Local: "10.0.1.5:41002", Client: "10.0.1.7:50000", Usable: true,
						Packets: 3000, Bytes: 3600000, Loss: 0.01, RTT: 4 * time.Millisecond, Jitter: time.Millisecond,
						RateBps: 3.5e6, Capacity: 6e6, Limit: "none"},
					{Index: 1, Interface: "wlan0", Local: "10.0.2.5:51874", Client: "10.0.2.7:50002", Usable: false,
						Packets: 1800, Bytes: 2160000, Loss: 0.125, RTT: 30 * time.Millisecond, Jitter: 3500 * time.Microsecond,
						RateBps: 2e6, Capacity: 2.5e6, Queue: 12 * time.Millisecond, Limit: "queueing delay"},
				}},
		},
	}
}

// TestMetricsGolden compares the whole /metrics text for goldenStatus with
// testdata/metrics.golden, so a renamed, dropped or retyped series, or a
// changed help text or label, shows in review. Record it with
//
//	go test ./stream/server/web -run TestMetricsGolden -update
//
// Go runtime and process metrics depend on the machine and the moment and
// are left out.
func TestMetricsGolden(t *testing.T) {
	d := &fakeDaemon{st: goldenStatus()}
	s, base := serve(t, d, NewHub())
	obs := s.EncodeObserver("/cam")
	for _, ms := range []time.Duration{1, 2, 2, 3, 40, 3000} {
		obs(ms * time.Millisecond)
	}
	s.EncodeObserver("/side")(750 * time.Microsecond)
	code, body, h := get(t, base+"/metrics")
	if code != 200 {
		t.Fatalf("metrics: %d %s", code, body)
	}
	if ct := h.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Fatalf("Content-Type %q", ct)
	}
	got := ownMetrics(t, body)
	golden.File(t, "testdata/metrics.golden", []byte(got))

	// The fixture shows every series the collector can report, so a new
	// one cannot slip past the golden file unrecorded.
	descs := make(chan *prometheus.Desc, 64)
	(&collector{}).Describe(descs)
	close(descs)
	fqName := regexp.MustCompile(`fqName: "([^"]+)"`)
	for dsc := range descs {
		m := fqName.FindStringSubmatch(dsc.String())
		if m == nil {
			t.Fatalf("no name in %v", dsc)
		}
		if !strings.Contains(got, "\n# TYPE "+m[1]+" ") {
			t.Errorf("%s is not in the golden output: extend goldenStatus", m[1])
		}
	}
}

// ownMetrics keeps the flowcam_ families of a text exposition, dropping
// the Go runtime (go_*) and process (process_*) collectors', and fails on
// any other family, which the golden file would have to cover.
func ownMetrics(t *testing.T, body string) string {
	t.Helper()
	var b strings.Builder
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		line := sc.Text()
		name := line
		if rest, ok := strings.CutPrefix(line, "# HELP "); ok {
			name = rest
		} else if rest, ok := strings.CutPrefix(line, "# TYPE "); ok {
			name = rest
		}
		if i := strings.IndexAny(name, " {"); i >= 0 {
			name = name[:i]
		}
		switch {
		case strings.HasPrefix(name, "go_"), strings.HasPrefix(name, "process_"):
			continue
		case !strings.HasPrefix(name, "flowcam_"):
			t.Fatalf("unexpected line in /metrics: %q", line)
		}
		b.WriteString(line + "\n")
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}
