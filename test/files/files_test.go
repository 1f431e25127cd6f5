// Package files_test serves video files generated on the spot by ffmpeg
// through the real daemon and checks what players receive: the rate
// against the file's own, the size, and for MJPEG files that the frames
// are the file's own bytes (passthrough).
package files_test

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"image/jpeg"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v4"

	"flowcam/internal/testutil/daemon"
	"flowcam/internal/testutil/need"
	"flowcam/internal/testutil/player"
	"flowcam/internal/testutil/rawrtsp"
	"flowcam/stream/format/rtpjpeg"
	"flowcam/stream/format/rtsp"
)

// media is one generated clip and how it is served.
type media struct {
	path, file string
	input      string   // lavfi source; the 25 fps test picture when empty
	args       []string // ffmpeg output options
	mjpeg      bool     // passthrough expected
	fps        float64  // expected delivery rate
	seconds    int
}

const lavfi = "testsrc2=size=1280x720:rate=25"

var clips = []media{
	{path: "/mkv", file: "clip.mkv", args: []string{"-c:v", "mjpeg", "-q:v", "5", "-huffman", "default"}, mjpeg: true, fps: 25, seconds: 6},
	{path: "/avi", file: "clip.avi", args: []string{"-c:v", "mjpeg", "-q:v", "5", "-huffman", "default"}, mjpeg: true, fps: 25, seconds: 6},
	{path: "/mp4", file: "clip.mp4", args: []string{"-c:v", "mjpeg", "-q:v", "5", "-huffman", "default"}, mjpeg: true, fps: 25, seconds: 6},
	{path: "/mjpeg", file: "clip.mjpeg", args: []string{"-c:v", "mjpeg", "-q:v", "5", "-huffman", "default", "-f", "mjpeg"}, mjpeg: true, fps: 25, seconds: 6},
	// ffmpeg's default optimized Huffman tables cannot travel in RTP/JPEG:
	// served, but re-encoded.
	{path: "/optimized", file: "optimized.mkv", args: []string{"-c:v", "mjpeg", "-q:v", "5"}, fps: 25, seconds: 6},
	// H.264 is passed through (test/h264); MPEG-4 Part 2 is for ffmpeg to decode.
	{path: "/mpeg4", file: "mpeg4.mp4", args: []string{"-c:v", "mpeg4", "-q:v", "5"}, fps: 25, seconds: 6},
	{path: "/vp9", file: "vp9.webm", args: []string{"-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-b:v", "1M"}, fps: 25, seconds: 3},
	// Variable frame rate: frames alternate 20 and 60 ms apart (two of every
	// eight frames of a 100 fps picture), still 25 a second on average.
	{path: "/vfr", file: "vfr.mkv", input: "testsrc2=size=1280x720:rate=100",
		args:  []string{"-vf", "select='eq(mod(n\\,8)\\,0)+eq(mod(n\\,8)\\,2)'", "-fps_mode", "vfr", "-c:v", "mjpeg", "-q:v", "5", "-huffman", "default"},
		mjpeg: true, fps: 25, seconds: 6},
}

func generate(t *testing.T, dir string, m media) string {
	t.Helper()
	out := filepath.Join(dir, m.file)
	input := lavfi
	if m.input != "" {
		input = m.input
	}
	args := append([]string{"-hide_banner", "-nostdin", "-v", "error", "-f", "lavfi", "-i", input,
		"-t", fmt.Sprint(m.seconds)}, m.args...)
	if b, err := exec.Command("ffmpeg", append(args, "-y", out)...).CombinedOutput(); err != nil {
		t.Fatalf("generating %s: %v\n%s", m.file, err, b)
	}
	return out
}

func TestServeFiles(t *testing.T) {
	need.Tool(t, "ffmpeg")
	dir := t.TempDir()
	bin, err := daemon.Binary(dir)
	if err != nil {
		t.Fatal(err)
	}
	var cfg strings.Builder
	cfg.WriteString("streams:\n")
	files := map[string]string{}
	for _, m := range clips {
		files[m.path] = generate(t, dir, m)
		fmt.Fprintf(&cfg, "  - path: %s\n    source: %s\n", m.path, files[m.path])
	}
	truncated := truncate(t, files["/mkv"], dir)
	files["/truncated"] = files["/mkv"] // its frames are the first 60% of the full file's
	fmt.Fprintf(&cfg, "  - path: /truncated\n    source: %s\n  - path: /missing\n    source: %s\n",
		truncated, filepath.Join(dir, "missing.mkv"))
	conf := filepath.Join(dir, "flowcamd.yaml")
	os.WriteFile(conf, []byte(cfg.String()), 0o644)
	d, err := daemon.Start(bin, "--config", conf)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Stop()

	t.Run("a missing file is reported and left out", func(t *testing.T) {
		if !strings.Contains(d.Logs(), "missing.mkv") || !strings.Contains(d.Logs(), "stream left out") {
			t.Fatalf("no error naming the missing file:\n%s", d.Logs())
		}
		c, err := rawrtsp.Dial(d.Addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if res, err := c.Do(rtsp.Describe, d.URL("/missing")); err != nil || res.Status != 404 {
			t.Fatalf("DESCRIBE of the left-out path: %v %v", res, err)
		}
	})
	for _, m := range append(clips, media{path: "/truncated", mjpeg: true, fps: 25}) {
		t.Run(strings.TrimPrefix(m.path, "/"), func(t *testing.T) { checkClip(t, d, m, files[m.path]) })
	}
}

// truncate copies the first 60% of a file: what a full disk or a
// transfer cut short leaves.
func truncate(t *testing.T, path, dir string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "truncated.mkv")
	os.WriteFile(out, b[:len(b)*6/10], 0o644)
	return out
}

// window is how long each stream is watched: long enough that one frame
// is 1% of the count.
const window = 4 * time.Second

func checkClip(t *testing.T, d *daemon.Daemon, m media, file string) {
	var mu sync.Mutex
	var frames [][]byte
	var first, last time.Time
	over, ended := make(chan struct{}), false // closed by the first frame after the window
	c, err := player.Play(d.URL(m.path), gortsplib.TransportTCP, nil, func(f []byte) {
		mu.Lock()
		defer mu.Unlock()
		if first.IsZero() {
			first = time.Now()
		}
		switch {
		case time.Since(first) <= window:
			frames, last = append(frames, bytes.Clone(f)), time.Now()
		case !ended:
			close(over)
			ended = true
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-over:
	case <-time.After(window + time.Minute):
		t.Errorf("no frame after the %v window: the stream stopped", window)
	}
	c.Close()
	mu.Lock()
	defer mu.Unlock()
	if len(frames) < 10 {
		t.Fatalf("%d frames", len(frames))
	}
	rate := float64(len(frames)-1) / last.Sub(first).Seconds()
	cfg, err := jpeg.DecodeConfig(bytes.NewReader(frames[len(frames)/2]))
	t.Logf("%s: %d frames in %v: %.2f fps (file: %g), %dx%d", m.path, len(frames),
		last.Sub(first).Round(time.Millisecond), rate, m.fps, cfg.Width, cfg.Height)
	if rate < m.fps*0.95 || rate > m.fps*1.05 {
		t.Errorf("delivered at %.2f fps, want %g within 5%%", rate, m.fps)
	}
	if err != nil || cfg.Width != 1280 || cfg.Height != 720 {
		t.Errorf("frame size %+v %v, want 1280x720", cfg, err)
	}
	if m.mjpeg {
		checkPassthrough(t, frames, file)
	}
}

// checkPassthrough proves every received frame carries the scan data of a
// frame of the file, byte for byte, as ffmpeg extracts them.
func checkPassthrough(t *testing.T, frames [][]byte, file string) {
	dir := t.TempDir()
	out, err := exec.Command("ffmpeg", "-hide_banner", "-nostdin", "-v", "error", "-i", file, "-c:v", "copy",
		"-f", "image2", filepath.Join(dir, "f%04d.jpg")).CombinedOutput()
	if err != nil {
		t.Fatalf("extracting %s: %v\n%s", file, err, out)
	}
	want := map[[32]byte]bool{}
	paths, _ := filepath.Glob(filepath.Join(dir, "*.jpg"))
	for _, p := range paths {
		b, _ := os.ReadFile(p)
		if sum, ok := scanSum(b); ok {
			want[sum] = true
		}
	}
	for i, f := range frames {
		sum, ok := scanSum(f)
		if !ok || !want[sum] {
			t.Fatalf("received frame %d is not one of the file's %d frames: it was re-encoded", i, len(want))
		}
	}
}

func scanSum(b []byte) ([32]byte, bool) {
	var pic rtpjpeg.Picture
	if err := rtpjpeg.Parse(b, &pic); err != nil {
		return [32]byte{}, false
	}
	return sha256.Sum256(pic.Scan), true
}
