package daemon_test

import (
	"bytes"
	"context"
	"image/jpeg"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/pion/rtp"

	"flowcam/internal/testutil/player"
)

const yuv420Frame720p = 1280 * 720 * 3 / 2

// TestFFmpegPlays decodes 100 frames over each transport with ffmpeg and
// checks their count, size and that every frame differs from the last.
func TestFFmpegPlays(t *testing.T) {
	need(t, "ffmpeg")
	for _, transport := range []string{"udp", "tcp"} {
		t.Run(transport, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, "ffmpeg", "-hide_banner", "-nostdin", "-rtsp_transport", transport,
				"-i", shared.URL("/cam"), "-frames:v", "100", "-f", "framemd5", "-")
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Run(); err != nil {
				t.Fatalf("ffmpeg: %v\n%s", err, stderr.String())
			}
			if !regexp.MustCompile(`Video: mjpeg.*1280x720`).Match(stderr.Bytes()) {
				t.Errorf("ffmpeg did not report a 1280x720 MJPEG stream:\n%s", stderr.String())
			}
			var sums []string
			for _, line := range strings.Split(stdout.String(), "\n") {
				f := strings.Split(line, ",")
				if strings.HasPrefix(line, "#") || len(f) != 6 {
					continue
				}
				if size := strings.TrimSpace(f[4]); size != "1382400" {
					t.Fatalf("decoded frame of %s bytes, want %d (1280x720 4:2:0)", size, yuv420Frame720p)
				}
				sums = append(sums, strings.TrimSpace(f[5]))
			}
			if len(sums) != 100 {
				t.Fatalf("decoded %d frames, want 100", len(sums))
			}
			for i := 1; i < len(sums); i++ {
				if sums[i] == sums[i-1] {
					t.Fatalf("frames %d and %d are identical: the picture froze", i-1, i)
				}
			}
		})
	}
}

// TestGStreamerPlays runs rtspsrc ! rtpjpegdepay ! jpegdec for 50 frames,
// which must be 1280x720 for the caps filter to let them through.
func TestGStreamerPlays(t *testing.T) {
	need(t, "gst-launch-1.0")
	for _, transport := range []string{"udp", "tcp"} {
		t.Run(transport, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			out, err := player.GStreamer(ctx, shared.URL("/cam"), 50, "video/x-raw,width=1280,height=720", "protocols="+transport)
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
		})
	}
}

// TestGortsplibPlays decodes frames with gortsplib's RTP/JPEG decoder and
// Go's JPEG decoder.
func TestGortsplibPlays(t *testing.T) {
	for _, tr := range []gortsplib.Transport{gortsplib.TransportUDP, gortsplib.TransportTCP} {
		t.Run(tr.String(), func(t *testing.T) {
			t.Parallel()
			frames := make(chan []byte, 64)
			c := startGortsplib(t, shared.URL("/cam"), tr, nil, func(f []byte) {
				select {
				case frames <- f:
				default:
				}
			})
			defer c.Close()
			var prev []byte
			for i := 0; i < 50; i++ {
				var f []byte
				select {
				case f = <-frames:
				case <-time.After(10 * time.Second):
					t.Fatalf("only %d frames", i)
				}
				cfg, err := jpeg.DecodeConfig(bytes.NewReader(f))
				if err != nil || cfg.Width != 1280 || cfg.Height != 720 {
					t.Fatalf("frame %d: %+v %v", i, cfg, err)
				}
				if _, err := jpeg.Decode(bytes.NewReader(f)); err != nil {
					t.Fatalf("frame %d does not decode: %v", i, err)
				}
				if bytes.Equal(f, prev) {
					t.Fatalf("frame %d repeats the previous one", i)
				}
				prev = f
			}
		})
	}
}

// startGortsplib plays url with gortsplib; see player.Play.
func startGortsplib(t *testing.T, url string, tr gortsplib.Transport, onPacket func(*rtp.Packet), onFrame func([]byte)) *gortsplib.Client {
	t.Helper()
	c, err := player.Play(url, tr, onPacket, onFrame)
	if err != nil {
		t.Fatalf("play %s over %v: %v", url, tr, err)
	}
	return c
}
