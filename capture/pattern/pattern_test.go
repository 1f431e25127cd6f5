package pattern

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"image"
	"testing"
	"time"

	"flowcam/capture"
)

// stepClock advances only when a source waits on it, so pacing is exact and
// tests never sleep.
type stepClock struct {
	now   time.Time
	fired chan time.Time
}

func newStepClock() *stepClock {
	c := &stepClock{now: time.Unix(1000, 0), fired: make(chan time.Time, 1)}
	return c
}

func (c *stepClock) Now() time.Time { return c.now }

func (c *stepClock) After(d time.Duration) <-chan time.Time {
	c.now = c.now.Add(d)
	c.fired <- c.now
	return c.fired
}

func TestSizeValidate(t *testing.T) {
	cases := []struct {
		w, h int
		ok   bool
	}{
		{1280, 720, true}, {8, 8, true}, {2040, 2040, true}, {1920, 1080, true},
		{0, 720, false}, {1284, 720, false}, {2048, 720, false}, {1280, 2048, false}, {-8, 8, false},
	}
	for _, c := range cases {
		err := capture.Size{Width: c.w, Height: c.h}.Validate()
		if (err == nil) != c.ok {
			t.Errorf("%dx%d: err=%v, want ok=%v", c.w, c.h, err, c.ok)
		}
	}
}

func TestFramesMoveAndCount(t *testing.T) {
	for _, size := range []capture.Size{{Width: 1280, Height: 720}, {Width: 8, Height: 8}, {Width: 2040, Height: 2040}, {Width: 72, Height: 1000}} {
		s, err := New(size, 25)
		if err != nil {
			t.Fatal(err)
		}
		a := capture.NewYCbCr(size, image.YCbCrSubsampleRatio420)
		b := capture.NewYCbCr(size, image.YCbCrSubsampleRatio420)
		s.Render(7, a)
		s.Render(8, b)
		if bytes.Equal(a.Y, b.Y) {
			t.Errorf("%v: frames 7 and 8 are identical", size)
		}
		s.Render(7, b)
		if !bytes.Equal(a.Y, b.Y) || !bytes.Equal(a.Cb, b.Cb) {
			t.Errorf("%v: rendering is not deterministic", size)
		}
	}
}

// Next redraws only what changed on a recycled picture; whatever order
// the consumer hands pictures back in, and whether or not the pool had to
// make new ones, every frame must be exactly what Render draws afresh.
func TestNextMatchesAFreshRender(t *testing.T) {
	sizes := []capture.Size{{Width: 1280, Height: 720}, {Width: 8, Height: 8}, {Width: 16, Height: 8}, {Width: 72, Height: 1000}, {Width: 1920, Height: 1080}}
	for _, size := range sizes {
		s, err := New(size, 25, WithClock(newStepClock()))
		if err != nil {
			t.Fatal(err)
		}
		want := capture.NewYCbCr(size, image.YCbCrSubsampleRatio420)
		var held []*capture.Frame
		for i := range 150 {
			f, err := s.Next(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			s.Render(f.Seq, want)
			if !bytes.Equal(f.Image.Y, want.Y) || !bytes.Equal(f.Image.Cb, want.Cb) || !bytes.Equal(f.Image.Cr, want.Cr) {
				t.Fatalf("%v: frame %d differs from a fresh render", size, f.Seq)
			}
			// Hold up to five frames (more than the pool keeps), handing
			// them back in a changing order.
			held = append(held, f)
			if keep := i % 6; len(held) > keep {
				k := (i * 7) % len(held)
				held[k].Release()
				held = append(held[:k], held[k+1:]...)
			}
		}
	}
}

// The pictures are pinned: recordings, golden files elsewhere and users'
// eyes know them, so a faster way to draw must draw the same pixels.
func TestPicturesArePinned(t *testing.T) {
	want := map[capture.Size]string{
		{Width: 1280, Height: 720}:  "eb5617e409a047a3ac193c6d8d5fd03314290faaf7b3b31bb8cc86137205f8a0",
		{Width: 8, Height: 8}:       "eff27d9a08ebd481520d9c02c0341acd1ecdfff9909c4d005579ce3d400253f6",
		{Width: 72, Height: 1000}:   "4fb4cb03623cd3b50e60598ebf9b994e1bbfe4d10e0800d0efa6fe0687b74a7b",
		{Width: 1920, Height: 1080}: "817d80ca2fe39ff3936488e14b1722082ad696fea085a0c8a6d7f5d8c7400b2a",
	}
	for size, sum := range want {
		s, err := New(size, 25)
		if err != nil {
			t.Fatal(err)
		}
		img := capture.NewYCbCr(size, image.YCbCrSubsampleRatio420)
		h := sha256.New()
		for _, n := range []uint64{0, 1, 7, 33, 50, 99, 12345678} {
			s.Render(n, img)
			h.Write(img.Y)
			h.Write(img.Cb)
			h.Write(img.Cr)
		}
		RenderNoSignal(img, 42)
		h.Write(img.Y)
		h.Write(img.Cb)
		h.Write(img.Cr)
		if got := hex.EncodeToString(h.Sum(nil)); got != sum {
			t.Errorf("%v: pictures hash to %s, want %s", size, got, sum)
		}
	}
}

func TestCounterChangesWhenBoxWouldNot(t *testing.T) {
	// At t=0 and t=boxPeriod the box is in the same place: only the counter
	// tells the two frames apart.
	s, _ := New(capture.Size{Width: 640, Height: 480}, 10)
	a := capture.NewYCbCr(s.size, image.YCbCrSubsampleRatio420)
	b := capture.NewYCbCr(s.size, image.YCbCrSubsampleRatio420)
	s.Render(0, a)
	s.Render(uint64(boxPeriod*10), b)
	if bytes.Equal(a.Y, b.Y) {
		t.Fatal("counter did not change the picture")
	}
}

func TestPacing(t *testing.T) {
	clk := newStepClock()
	s, _ := New(capture.Size{Width: 64, Height: 48}, 30, WithClock(clk))
	ctx := context.Background()
	start := clk.now
	for i := 0; i < 100; i++ {
		f, err := s.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		want := time.Duration(float64(i) * float64(time.Second) / 30)
		if d := f.PTS - want; d < -time.Nanosecond || d > time.Nanosecond || f.Seq != uint64(i) {
			t.Fatalf("frame %d: pts %v seq %d, want %v", i, f.PTS, f.Seq, want)
		}
		if got := clk.now.Sub(start); got != f.PTS {
			t.Fatalf("frame %d delivered at %v, due %v", i, got, f.PTS)
		}
		f.Release()
	}
}

func TestSkipsWhenConsumerIsLate(t *testing.T) {
	clk := newStepClock()
	s, _ := New(capture.Size{Width: 64, Height: 48}, 25, WithClock(clk))
	f, _ := s.Next(context.Background())
	f.Release()
	clk.now = clk.now.Add(time.Second) // consumer stalled for 25 frames
	f, _ = s.Next(context.Background())
	if f.Seq != 25 || s.Skipped() != 24 {
		t.Fatalf("after a 1 s stall got seq %d skipped %d, want 25 and 24", f.Seq, s.Skipped())
	}
}

func TestNextHonoursContext(t *testing.T) {
	s, _ := New(capture.Size{Width: 64, Height: 48}, 1)
	ctx, cancel := context.WithCancel(context.Background())
	f, _ := s.Next(ctx)
	f.Release()
	cancel()
	if _, err := s.Next(ctx); err == nil {
		t.Fatal("Next after cancel returned no error")
	}
}

func TestNoAllocationPerFrame(t *testing.T) {
	clk := newStepClock()
	s, _ := New(capture.Size{Width: 1280, Height: 720}, 25, WithClock(clk))
	ctx := context.Background()
	allocs := testing.AllocsPerRun(50, func() {
		f, err := s.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		f.Release()
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per frame, want 0", allocs)
	}
}

// BenchmarkNext720p is the source's cost per frame as the daemon runs it:
// redrawing a recycled picture.
func BenchmarkNext720p(b *testing.B) {
	s, _ := New(capture.Size{Width: 1280, Height: 720}, 25, WithClock(newStepClock()))
	b.ReportAllocs()
	for b.Loop() {
		f, err := s.Next(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		f.Release()
	}
}

func BenchmarkRender720p(b *testing.B) {
	s, _ := New(capture.Size{Width: 1280, Height: 720}, 25)
	img := capture.NewYCbCr(s.size, image.YCbCrSubsampleRatio420)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		s.Render(uint64(i), img)
	}
}

func TestNoSignalCardChangesEverySecond(t *testing.T) {
	for _, size := range []capture.Size{{Width: 1280, Height: 720}, {Width: 640, Height: 480}, {Width: 8, Height: 8}} {
		a := capture.NewYCbCr(size, image.YCbCrSubsampleRatio420)
		b := capture.NewYCbCr(size, image.YCbCrSubsampleRatio420)
		RenderNoSignal(a, 1)
		RenderNoSignal(b, 2)
		if size.Width >= 64 && bytes.Equal(a.Y, b.Y) {
			t.Errorf("%v: the card does not change with the seconds", size)
		}
		if a.Y[0] != 40 {
			t.Errorf("%v: background %d", size, a.Y[0])
		}
	}
}
