package pull

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	stdjpeg "image/jpeg"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"flowcam/internal/testutil/feeder"
	"flowcam/internal/testutil/snakecase"
	"flowcam/stream/client/playout"
	"flowcam/stream/format/multiflow"
	"flowcam/stream/format/rtpjpeg"
	"flowcam/stream/server/broadcast"
	"flowcam/stream/server/rtspserver"
)

// serve runs an RTSP server on loopback fed 25 frames/s; a fake source
// below the real server, client and sockets under test.
func serve(t *testing.T, mf *rtspserver.MultiflowConfig) string {
	t.Helper()
	pk, _ := rtpjpeg.NewPacketizer(rtpjpeg.DefaultMTU - multiflow.ExtensionOverhead)
	b := broadcast.New(broadcast.JPEG(pk), slog.New(slog.NewTextHandler(io.Discard, nil)))
	srv, err := rtspserver.New(rtspserver.Config{Multiflow: mf},
		rtspserver.Stream{Path: "/cam", Width: 160, Height: 120, FPS: 25, Frames: b})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	var buf bytes.Buffer
	stdjpeg.Encode(&buf, image.NewYCbCr(image.Rect(0, 0, 160, 120), image.YCbCrSubsampleRatio420), nil)
	stop := feeder.Start(b, [][]byte{buf.Bytes()}, 25)
	t.Cleanup(func() { stop(); srv.Close() })
	return "rtsp://" + ln.Addr().String() + "/cam"
}

type countSink struct{ frames int }

func (s *countSink) WriteFrame(f *playout.Frame) error {
	if len(f.Data) < 4 {
		return nil
	}
	s.frames++
	return nil
}

func TestPull(t *testing.T) {
	withMF := serve(t, &rtspserver.MultiflowConfig{})
	plainOnly := serve(t, nil)
	cases := []struct {
		name, url string
		cfg       Config
		transport string
		fallback  bool
		flows     int
	}{
		{"stripe", withMF, Config{Flows: 2}, "multiflow", false, 2},
		{"duplicate", withMF, Config{Flows: 3, Mode: multiflow.Duplicate, ModeSet: true}, "multiflow", false, 3},
		{"plain udp", withMF, Config{}, "udp", false, 1},
		{"plain tcp", withMF, Config{Transport: TCP}, "tcp", false, 1},
		{"fallback", plainOnly, Config{Flows: 2}, "udp", true, 1},
		{"fixed latency", withMF, Config{Flows: 2, FixedLatency: true}, "multiflow", false, 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.cfg.URL, c.cfg.Duration = c.url, 1500*time.Millisecond
			var sink countSink
			var snaps int
			rep, err := Run(context.Background(), c.cfg, &sink, func(Snapshot) { snaps++ })
			if err != nil {
				t.Fatal(err)
			}
			if rep.Transport != c.transport || (rep.Fallback != "") != c.fallback || len(rep.Paths) != c.flows {
				t.Fatalf("transport %s fallback %q paths %d", rep.Transport, rep.Fallback, len(rep.Paths))
			}
			b, err := json.Marshal(rep) // what flowcam --stats-json writes
			if err != nil {
				t.Fatal(err)
			}
			snakecase.Check(t, b)
			// Whole frames arrive over every transport; how many make their
			// play-out time depends on how busy the machine is, so only
			// broken frames count against the pull.
			if rep.FramesComplete < 10 || rep.FramesIncomplete != 0 || uint64(sink.frames) != rep.FramesComplete || snaps == 0 {
				t.Fatalf("report %+v, sink %d frames, %d snapshots", rep, sink.frames, snaps)
			}
			// A fixed delay holds every frame for the whole 150 ms; an
			// adaptive one starts there and follows the paths (the
			// playout tests drive it on a simulated clock).
			wantMode := "adaptive"
			if c.cfg.FixedLatency {
				wantMode = "fixed"
				if rep.PlayoutDelay != 150 || rep.Latency.P50 < 140 {
					t.Fatalf("fixed delay %v ms, latency %+v", rep.PlayoutDelay, rep.Latency)
				}
			}
			if rep.Latency.Samples == 0 || rep.LatencyMode != wantMode || rep.Latency.P50 < 0 {
				t.Fatalf("latency %+v (%s)", rep.Latency, rep.LatencyMode)
			}
		})
	}
}
