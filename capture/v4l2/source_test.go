package v4l2

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"flowcam/capture"
)

// fakeCam stands in for a device below the reconnect logic: frames come
// from a channel, and a closed channel means the device vanished.
type fakeCam struct {
	modesList []Mode
	format    FourCC
	size      capture.Size
	frames    chan rawFrame // shared by every open of the rig's device
	gone      chan struct{} // closed when this open's device vanishes
	closed    bool
	controls  []controlInfo
}

func (c *fakeCam) modes() ([]Mode, error) { return c.modesList, nil }
func (c *fakeCam) configure(f FourCC, size capture.Size, fps float64) error {
	c.format, c.size = f, size
	return nil
}
func (c *fakeCam) granted() (FourCC, capture.Size, int, float64) {
	return c.format, c.size, c.size.Width * 2, 25
}
func (c *fakeCam) setControls(cs []Control) error {
	_, err := resolve("/dev/fake", cs, c.controls)
	return err
}
func (c *fakeCam) start(int) error { return nil }
func (c *fakeCam) next(ctx context.Context, timeout time.Duration) (rawFrame, error) {
	select {
	case f := <-c.frames:
		return f, nil
	case <-c.gone:
		return rawFrame{}, errors.New("device gone")
	case <-time.After(timeout):
		return rawFrame{}, ErrTimeout
	case <-ctx.Done():
		return rawFrame{}, ctx.Err()
	}
}
func (c *fakeCam) release(rawFrame) error { return nil }
func (c *fakeCam) close() error           { c.closed = true; return nil }

// rig controls whether the "device" can be opened and feeds it frames.
type rig struct {
	mu      sync.Mutex
	present bool
	cam     *fakeCam
	opened  int
	frames  chan rawFrame
	modes   []Mode // what the device offers; a 64x48 MJPEG camera when nil
}

func (r *rig) open(string) (camera, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.present {
		return nil, errors.New("device or resource busy")
	}
	r.opened++
	if r.frames == nil {
		r.frames = make(chan rawFrame, 64)
	}
	modes := r.modes
	if modes == nil {
		modes = []Mode{{Format: MJPEG, Size: sz(64, 48), FPS: []float64{25}}}
	}
	r.cam = &fakeCam{modesList: modes,
		frames: r.frames, gone: make(chan struct{}),
		controls: []controlInfo{{id: 1, name: "Brightness", min: 0, max: 255}}}
	return r.cam, nil
}

func (r *rig) setPresent(p bool) {
	r.mu.Lock()
	r.present = p
	r.mu.Unlock()
}

func (r *rig) feed(seq uint32, at time.Duration) {
	r.mu.Lock()
	if r.frames == nil {
		r.frames = make(chan rawFrame, 64)
	}
	ch := r.frames
	r.mu.Unlock()
	ch <- rawFrame{data: []byte{0xFF, 0xD8, 0xFF, 0xD9}, seq: seq, captured: at}
}

func (r *rig) unplug() {
	r.mu.Lock()
	r.present = false
	close(r.cam.gone)
	r.mu.Unlock()
}

func newTestSource(t *testing.T, r *rig, cfg Config) *Source {
	t.Helper()
	cfg.Device = "/dev/fake"
	if cfg.Request.Size == (capture.Size{}) {
		cfg.Request = Request{Size: sz(64, 48), FPS: 25}
	}
	cfg.Watchdog, cfg.NoSignalEvery = 150*time.Millisecond, 30*time.Millisecond
	s, err := newSource(cfg, r.open, func() time.Duration { return 0 })
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func next(t *testing.T, s *Source) *capture.Frame {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	f, err := s.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestBusyAtStartThenFramesThenUnplugAndBack(t *testing.T) {
	r := &rig{}
	s := newTestSource(t, r, Config{})
	var last time.Duration = -1
	checkPTS := func(f *capture.Frame) {
		if f.PTS <= last {
			t.Fatalf("PTS went from %v to %v", last, f.PTS)
		}
		last = f.PTS
	}
	// Busy: no-signal frames (raw pictures) while it is retried.
	for i := 0; i < 3; i++ {
		f := next(t, s)
		if f.Image == nil || f.JPEG != nil {
			t.Fatal("expected a no-signal picture while the device is busy")
		}
		checkPTS(f)
		f.Release()
	}
	for i := uint32(0); i < 5; i++ {
		r.feed(i, time.Duration(i)*40*time.Millisecond)
	}
	r.setPresent(true)
	for got := 0; got < 5; {
		f := next(t, s) // no-signal frames until the retry opens the device
		checkPTS(f)
		if f.JPEG != nil {
			got++
		}
		f.Release()
	}
	// Unplugged mid-stream: back to no-signal, then the same source resumes.
	r.unplug()
	f := next(t, s)
	if f.Image == nil {
		t.Fatal("no no-signal frame after unplug")
	}
	checkPTS(f)
	r.feed(100, 0) // a fresh device: its clock and sequence restart
	r.setPresent(true)
	for f.JPEG == nil {
		f = next(t, s)
		checkPTS(f)
	}
	if st := s.Stats(); st.Reconnects != 1 || st.Frames != 6 || st.NoSignal < 4 {
		t.Fatalf("stats %+v", st)
	}
}

func TestWatchdogReopensSilentCamera(t *testing.T) {
	r := &rig{present: true}
	s := newTestSource(t, r, Config{})
	r.feed(0, 0)
	next(t, s).Release()
	// No frame within the watchdog: the device is closed and reopened.
	f := next(t, s)
	if f.Image == nil {
		t.Fatal("a silent camera was not treated as lost")
	}
	f.Release()
	r.feed(1, 40*time.Millisecond)
	for f.JPEG == nil {
		f = next(t, s)
	}
	if r.opened < 2 || s.Stats().Reconnects != 1 {
		t.Fatalf("opened %d times, %d reconnects", r.opened, s.Stats().Reconnects)
	}
}

func TestSequenceGapsAndDamagedBuffers(t *testing.T) {
	r := &rig{present: true}
	s := newTestSource(t, r, Config{})
	r.feed(0, 0)
	next(t, s).Release()
	r.frames <- rawFrame{data: []byte{0xFF, 0xD8}, seq: 1, bad: true}
	r.frames <- rawFrame{data: []byte("garbage!"), seq: 2, captured: 80 * time.Millisecond}
	r.feed(7, 280*time.Millisecond)
	f := next(t, s)
	if f.Seq == 0 || f.JPEG == nil {
		t.Fatalf("frame %+v", f)
	}
	if st := s.Stats(); st.Corrupt != 2 || st.Dropped != 4 {
		t.Fatalf("stats %+v, want 2 corrupt and 4 dropped (sequence 3 to 6)", st)
	}
}

func TestConfigurationErrorsAreFatal(t *testing.T) {
	r := &rig{present: true}
	_, err := newSource(Config{Device: "/dev/fake", Request: Request{Size: sz(64, 48), Format: NV12}}, r.open, nil)
	if err == nil || !strings.Contains(err.Error(), "does not offer NV12") {
		t.Fatalf("format: %v", err)
	}
	_, err = newSource(Config{Device: "/dev/fake", Request: Request{Size: sz(64, 48)},
		Controls: []Control{{Name: "brightness", Value: 999}}}, r.open, nil)
	if err == nil || !strings.Contains(err.Error(), "valid values are 0 to 255") {
		t.Fatalf("control: %v", err)
	}
}

// TestH264Camera: a camera with an encoder of its own, opened for an H.264
// path, gives access units passed through: its NAL units, the IDR marked;
// a buffer without a start code is counted corrupt.
func TestH264Camera(t *testing.T) {
	r := &rig{present: true, modes: []Mode{{Format: MJPEG, Size: sz(64, 48), FPS: []float64{25}},
		{Format: H264, Size: sz(64, 48), FPS: []float64{25}}}}
	s := newTestSource(t, r, Config{Request: Request{Size: sz(64, 48), FPS: 25, Want: WantH264}})
	if c := s.Codec(); c != capture.CodecH264 {
		t.Fatalf("codec %q, want h264", c)
	}
	idr := []byte{0, 0, 0, 1, 0x67, 0x42, 0, 0x1e, 0, 0, 0, 1, 0x68, 0xce, 0x38, 0x80, 0, 0, 1, 0x65, 0x88, 0x84}
	r.frames <- rawFrame{data: idr, seq: 0}
	r.frames <- rawFrame{data: []byte("no start code"), seq: 1, captured: 40 * time.Millisecond}
	r.frames <- rawFrame{data: []byte{0, 0, 0, 1, 0x41, 0x9a, 0x02}, seq: 2, captured: 80 * time.Millisecond}
	key := next(t, s)
	defer key.Release()
	p := next(t, s)
	defer p.Release()
	if len(key.H264) != 3 || !key.Key || string(key.H264[2]) != "\x65\x88\x84" {
		t.Fatalf("first access unit %x (key %v), want SPS, PPS and the IDR slice", key.H264, key.Key)
	}
	if len(p.H264) != 1 || p.Key || p.H264[0][0] != 0x41 {
		t.Fatalf("second access unit %x (key %v), want one P slice", p.H264, p.Key)
	}
	if string(key.H264[0]) != "\x67\x42\x00\x1e" {
		t.Fatalf("the first access unit changed under its holder: %x", key.H264[0])
	}
	if st := s.Stats(); st.Corrupt != 1 {
		t.Fatalf("stats %+v, want the buffer without a start code counted corrupt", st)
	}
}
