package nvr_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"flowcam/internal/testutil/daemon"
	"flowcam/internal/testutil/need"
	"flowcam/internal/testutil/player"
	"flowcam/stream/auth"
)

// TestRTSPOverHTTP: ffmpeg -rtsp_transport http plays 100 frames through
// the RTSP port and through the HTTP port; with auth on, the right
// password plays and a wrong one gets 401.
func TestRTSPOverHTTP(t *testing.T) {
	need.Tool(t, "ffmpeg")
	t.Parallel()
	sha, md5 := auth.HashPassword("nvr", "flowcam", "s3cret")
	d := daemon.StartConfig(t, sources[0].config+"auth:\n  users:\n    - {name: nvr, sha256: "+sha+", md5: "+md5+"}\n")
	for _, port := range []struct{ name, addr string }{{"rtsp port", d.Addr}, {"http port", d.HTTPAddr}} {
		t.Run(port.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			dec, err := player.FFmpeg(ctx, "rtsp://nvr:s3cret@"+port.addr+"/cam", "http", 100, "mjpeg", "320x240")
			if err != nil || dec.Frames != 100 {
				t.Fatalf("ffmpeg over http: %v, %d frames", err, dec.Frames)
			}
			_, err = player.FFmpeg(ctx, "rtsp://nvr:wrong@"+port.addr+"/cam", "http", 1, "mjpeg", "320x240")
			if err == nil || !strings.Contains(err.Error(), "401") {
				t.Errorf("a wrong password: %v", err)
			}
		})
	}
	if !d.Alive() {
		t.Fatalf("the daemon died:\n%s", daemon.Tail(d.Logs(), 20))
	}
}
