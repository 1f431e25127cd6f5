package rtspserver

import (
	"bytes"
	"image/jpeg"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v4"

	"flowcam/internal/testutil/player"
)

// TestGortsplibPlays plays the server with an independent RTSP client over
// both transports and decodes what it receives.
func TestGortsplibPlays(t *testing.T) {
	f := start(t, Config{})
	for _, tr := range []gortsplib.Transport{gortsplib.TransportUDP, gortsplib.TransportTCP} {
		t.Run(tr.String(), func(t *testing.T) {
			frames := playGortsplib(t, f.url, tr, 20)
			for i, fr := range frames {
				cfg, err := jpeg.DecodeConfig(bytes.NewReader(fr))
				if err != nil || cfg.Width != 320 || cfg.Height != 240 {
					t.Fatalf("frame %d: %+v %v", i, cfg, err)
				}
			}
			if bytes.Equal(frames[0], frames[1]) {
				t.Fatal("consecutive frames are identical")
			}
		})
	}
}

func playGortsplib(t *testing.T, url string, tr gortsplib.Transport, n int) [][]byte {
	t.Helper()
	frames, err := player.Frames(url, tr, n, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return frames
}
