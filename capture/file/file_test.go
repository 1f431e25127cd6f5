package file

import (
	"bytes"
	"context"
	"errors"
	"image"
	stdjpeg "image/jpeg"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"flowcam/capture"
	"flowcam/capture/h264"
	"flowcam/internal/testutil/need"
)

// fakeClock only moves when the source waits on it.
type fakeClock struct {
	now   time.Time
	fired chan time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Unix(5000, 0), fired: make(chan time.Time, 1)}
}

func (c *fakeClock) Now() time.Time { return c.now }

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.now = c.now.Add(d)
	c.fired <- c.now
	return c.fired
}

// rawMJPEG writes n JPEGs back to back, frame i with luma i*20 so frames
// can be told apart; raw MJPEG plays at the demuxer's default 25 fps.
func rawMJPEG(t *testing.T, n int) string {
	t.Helper()
	var all bytes.Buffer
	for i := 0; i < n; i++ {
		img := image.NewYCbCr(image.Rect(0, 0, 64, 48), image.YCbCrSubsampleRatio420)
		for k := range img.Y {
			img.Y[k] = uint8(i * 20)
		}
		if err := stdjpeg.Encode(&all, img, nil); err != nil {
			t.Fatal(err)
		}
	}
	p := filepath.Join(t.TempDir(), "clip.mjpeg")
	if err := os.WriteFile(p, all.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// index tells which frame of rawMJPEG a JPEG is.
func index(t *testing.T, f *capture.Frame) int {
	t.Helper()
	img, err := stdjpeg.Decode(bytes.NewReader(f.JPEG))
	if err != nil {
		t.Fatal(err)
	}
	y := img.(*image.YCbCr).Y[0]
	return int(y+10) / 20
}

func open(t *testing.T, cfg Config) (*Source, *fakeClock) {
	t.Helper()
	clk := newFakeClock()
	cfg.Clock = clk
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, clk
}

func TestPacingAndSeamlessLoop(t *testing.T) {
	s, clk := open(t, Config{Path: rawMJPEG(t, 5), Loop: true})
	start := clk.now
	for i := 0; i < 12; i++ {
		f, err := s.Next(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		want := time.Duration(i) * 40 * time.Millisecond
		if f.PTS != want || clk.now.Sub(start) != want || index(t, f) != i%5 {
			t.Fatalf("frame %d: pts %v at %v showing frame %d, want pts %v (frame %d)",
				i, f.PTS, clk.now.Sub(start), index(t, f), want, i%5)
		}
	}
	if st := s.Stats(); st.Loops != 2 || st.Frames != 12 {
		t.Fatalf("stats %+v", st)
	}
}

func TestRateAndFrameRateConversion(t *testing.T) {
	fast, _ := open(t, Config{Path: rawMJPEG(t, 5), Loop: true, Rate: 2})
	for i := 0; i < 3; i++ {
		f, _ := fast.Next(context.Background())
		if want := time.Duration(i) * 20 * time.Millisecond; f.PTS != want {
			t.Fatalf("rate 2: frame %d pts %v, want %v", i, f.PTS, want)
		}
	}
	// 25 fps file to 10 fps: every output frame shows the newest input
	// frame due by its time (0, 100, 200 ms: frames 0, 2 (at 80), 5 (at 200)).
	slow, _ := open(t, Config{Path: rawMJPEG(t, 10), FPS: 10})
	for i, wantFrame := range []int{0, 2, 5, 7} {
		f, err := slow.Next(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if want := time.Duration(i) * 100 * time.Millisecond; f.PTS != want || index(t, f) != wantFrame {
			t.Fatalf("10 fps frame %d: pts %v shows frame %d, want %v and %d", i, f.PTS, index(t, f), want, wantFrame)
		}
	}
	// 25 to 50 fps repeats every frame.
	dup, _ := open(t, Config{Path: rawMJPEG(t, 10), FPS: 50})
	for i, wantFrame := range []int{0, 0, 1, 1, 2} {
		f, _ := dup.Next(context.Background())
		if index(t, f) != wantFrame {
			t.Fatalf("50 fps frame %d shows frame %d, want %d", i, index(t, f), wantFrame)
		}
	}
}

func TestWithoutLoopTheSourceEnds(t *testing.T) {
	s, _ := open(t, Config{Path: rawMJPEG(t, 2)})
	for i := 0; i < 2; i++ {
		if _, err := s.Next(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 2; i++ { // and stays ended
		if _, err := s.Next(context.Background()); !errors.Is(err, capture.ErrEnded) {
			t.Fatalf("after the end without loop: %v, want capture.ErrEnded", err)
		}
	}
}

func TestBadFilesNameTheFile(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.mkv")
	os.WriteFile(empty, nil, 0o644)
	garbage := filepath.Join(dir, "garbage.bin")
	os.WriteFile(garbage, bytes.Repeat([]byte("not a video "), 100), 0o644)
	for _, p := range []string{filepath.Join(dir, "missing.mkv"), empty, garbage} {
		_, err := New(Config{Path: p})
		if err == nil || !bytes.Contains([]byte(err.Error()), []byte(filepath.Base(p))) {
			t.Errorf("%s: %v, want an error naming the file", p, err)
		}
	}
	_, err := New(Config{Path: garbage, FFmpeg: "/nonexistent/ffmpeg"})
	if !errors.Is(err, ErrNoFFmpeg) || !bytes.Contains([]byte(err.Error()), []byte("apt-get install ffmpeg")) {
		t.Errorf("without ffmpeg: %v", err)
	}
}

// clip makes a short clip with ffmpeg in the given codec and container.
func clip(t *testing.T, codec, name string, args ...string) string {
	t.Helper()
	need.Tool(t, "ffmpeg")
	p := filepath.Join(t.TempDir(), name)
	argv := append([]string{"-hide_banner", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25",
		"-t", "2", "-c:v", codec, "-g", "25", "-bf", "0"}, args...)
	out, err := exec.Command("ffmpeg", append(argv, "-pix_fmt", "yuv420p", "-y", p)...).CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	return p
}

func TestDecoderIsSupervised(t *testing.T) {
	s, _ := open(t, Config{Path: clip(t, "mpeg4", "clip.mp4"), Loop: true}) // a codec only ffmpeg reads
	if s.Size() != (capture.Size{Width: 320, Height: 240}) || s.FPS() != 25 {
		t.Fatalf("size %v fps %v", s.Size(), s.FPS())
	}
	var last time.Duration = -1
	for i := 0; i < 80; i++ { // 3.2 s of a 2 s clip: it loops
		if i == 20 {
			s.r.(*decoder).cmd.Process.Kill() // ffmpeg dies mid-file
		}
		f, err := s.Next(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if f.Image == nil || f.PTS <= last {
			t.Fatalf("frame %d: image %v pts %v after %v", i, f.Image != nil, f.PTS, last)
		}
		last = f.PTS
	}
	if st := s.Stats(); st.Restarts != 1 || st.Loops != 1 {
		t.Fatalf("stats %+v, want one restart and one loop", st)
	}
}

// TestH264Passthrough: H.264 in MP4, Matroska and a raw Annex B stream is
// sent as it is, looping with rising timestamps, every key frame with its
// parameter sets in band; scaled, it is decoded instead.
func TestH264Passthrough(t *testing.T) {
	for _, name := range []string{"clip.mp4", "clip.mkv", "clip.h264"} {
		t.Run(name, func(t *testing.T) {
			s, _ := open(t, Config{Path: clip(t, "libx264", name), Loop: true})
			if s.Codec() != capture.CodecH264 || s.Size() != (capture.Size{Width: 320, Height: 240}) || s.FPS() != 25 {
				t.Fatalf("codec %s size %v fps %v", s.Codec(), s.Size(), s.FPS())
			}
			var last time.Duration = -1
			keys := 0
			for i := range 60 { // 2.4 s of a 2 s clip: it loops
				f, err := s.Next(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				if f.H264 == nil || f.PTS <= last {
					t.Fatalf("frame %d: %d NAL units, pts %v after %v", i, len(f.H264), f.PTS, last)
				}
				if f.Key {
					keys++
					if h264.ParameterSet(f.H264, h264.TypeSPS) == nil || h264.ParameterSet(f.H264, h264.TypePPS) == nil {
						t.Fatalf("key frame %d without its parameter sets", i)
					}
				}
				last = f.PTS
			}
			if keys != 3 || s.Stats().Loops != 1 {
				t.Fatalf("%d key frames, stats %+v; want 3 (0, 25, the loop's 0) and a loop", keys, s.Stats())
			}
		})
	}
	t.Run("B-frames loop", func(t *testing.T) {
		// Frames come in decoding order, their times back and forth; the
		// second pass starts after the first pass's latest time, not after
		// its last frame's.
		s, _ := open(t, Config{Path: clip(t, "libx264", "clip.mp4", "-bf", "3"), Loop: true})
		seen := map[time.Duration]int{}
		for i := range 60 {
			f, err := s.Next(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if j, dup := seen[f.PTS]; dup {
				t.Fatalf("frames %d and %d both at %v", j, i, f.PTS)
			}
			seen[f.PTS] = i
		}
	})
	t.Run("scaled", func(t *testing.T) {
		var log bytes.Buffer
		s, _ := open(t, Config{Path: clip(t, "libx264", "clip.mp4"), Size: capture.Size{Width: 160, Height: 120},
			Logger: slog.New(slog.NewTextHandler(&log, nil))})
		if s.Codec() != capture.CodecJPEG {
			t.Fatal("a scaled H.264 file is not decoded")
		}
		if !strings.Contains(log.String(), "reason=\"its h264 is 320x240 at 25 fps and size is 160x120: scaling needs decoding\"") {
			t.Fatalf("the log does not say why it decodes:\n%s", log.String())
		}
	})
}
