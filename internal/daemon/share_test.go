package daemon

import (
	"image"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"flowcam/capture"
	"flowcam/capture/h264"
	"flowcam/internal/testutil/eventually"
	"flowcam/internal/testutil/need"
	"flowcam/platform/m2m"
)

// fakeVideo stands in for a board's H.264 encoder, which this machine
// lacks: each picture becomes a real x264 access unit, and it counts what
// it was given.
type fakeVideo struct {
	au       []byte
	pictures atomic.Int64
	width    atomic.Int64
}

func (f *fakeVideo) Encode(dst []byte, img *image.YCbCr) ([]byte, bool, error) {
	f.pictures.Add(1)
	f.width.Store(int64(img.Rect.Dx()))
	return append(dst, f.au...), true, nil
}
func (f *fakeVideo) ForceKeyFrame() {}
func (f *fakeVideo) Name() string   { return "fake H.264 encoder" }
func (f *fakeVideo) Close() error   { return nil }

// TestMJPEGAndH264ShareACapture: /cam (MJPEG) and /cam/h264 (H.264 through
// the board's encoder) of one source run one capture through a tee; each
// path encodes every picture its own way, once.
func TestMJPEGAndH264ShareACapture(t *testing.T) {
	need.Tool(t, "ffmpeg")
	idr := filepath.Join(t.TempDir(), "idr.h264")
	if out, err := exec.Command("ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=64x48", "-frames:v", "1",
		"-c:v", "libx264", "-f", "h264", idr).CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	au, err := os.ReadFile(idr)
	if err != nil || !h264.Key(h264.SplitAnnexB(nil, au)) {
		t.Fatalf("x264's key frame: %v", err)
	}
	video := &fakeVideo{au: au}
	open := openVideo
	openVideo = func(m2m.H264Config, *slog.Logger) (videoEncoder, error) { return video, nil }
	t.Cleanup(func() { openVideo = open })

	cfg := &Config{}
	cfg.Streams = []StreamConfig{
		{Path: "/cam", Source: "pattern", Size: capture.Size{Width: 64, Height: 48}, FPS: 50, Quality: 80, Encoder: EncoderLibjpeg, Codec: CodecAuto, Idle: IdleKeep},
		{Path: "/cam/h264", Source: "pattern", Size: capture.Size{Width: 64, Height: 48}, FPS: 50, Quality: 80, Encoder: EncoderLibjpeg, Codec: CodecH264, Idle: IdleKeep},
	}
	d := &daemon{log: slog.New(slog.DiscardHandler), cfg: cfg, mtu: 1400, streams: map[string]*running{}, captures: map[string]*sharedCapture{}}
	for _, sp := range cfg.specs() {
		r, err := d.startStream(sp)
		if err != nil {
			t.Fatalf("%s: %v", sp.Path, err)
		}
		d.streams[sp.Path] = r
		t.Cleanup(r.stop)
	}
	if len(d.captures) != 1 {
		t.Fatalf("%d captures for two paths of one source", len(d.captures))
	}
	for _, sh := range d.captures {
		if n := sh.tee.Branches(); n != 2 {
			t.Fatalf("the capture has %d branches, want 2", n)
		}
	}
	mjpeg, h := d.streams["/cam"].stream.Frames, d.streams["/cam/h264"].stream.Frames
	eventually.Require(t, time.Minute, func() bool {
		return mjpeg.Stats().Frames >= 20 && h.Stats().Frames >= 20
	}, "frames: /cam %d, /cam/h264 %d", mjpeg.Stats().Frames, h.Stats().Frames)
	if mjpeg.Media().Codec != "mjpeg" || h.Media().Codec != "h264" || video.width.Load() != 64 {
		t.Fatalf("/cam sends %s, /cam/h264 %s (the encoder saw %d pixels wide pictures)", mjpeg.Media().Codec, h.Media().Codec, video.width.Load())
	}
	// One picture, two encodings: the H.264 encoder saw about as many
	// pictures as the MJPEG path sent (a branch that falls behind drops).
	if p, m := video.pictures.Load(), int64(mjpeg.Stats().Frames); p < m/2 || p > 2*m {
		t.Fatalf("the H.264 encoder had %d pictures while /cam sent %d frames", p, m)
	}
}
