package daemon_test

import (
	"bytes"
	"image/jpeg"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v4"

	"flowcam/internal/testutil/daemon"
)

// TestSeveralPaths serves two streams of different sizes from one config
// file and plays both at once.
func TestSeveralPaths(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "flowcamd.yaml")
	os.WriteFile(cfg, []byte("fps: 10\nstreams:\n  - path: /small\n    size: 320x240\n  - path: /cams/front\n    size: 640x360\n    quality: 60\n"), 0o600)
	d, err := daemon.Start(bin, "--config", cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Stop()
	for path, width := range map[string]int{"/small": 320, "/cams/front": 640} {
		frames := make(chan []byte, 8)
		c := startGortsplib(t, d.URL(path), gortsplib.TransportTCP, nil, func(f []byte) {
			select {
			case frames <- f:
			default:
			}
		})
		select {
		case f := <-frames:
			cfg, err := jpeg.DecodeConfig(bytes.NewReader(f))
			if err != nil || cfg.Width != width {
				t.Errorf("%s: frame %+v %v, want width %d", path, cfg, err, width)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("%s: no frame", path)
		}
		c.Close()
	}
}
