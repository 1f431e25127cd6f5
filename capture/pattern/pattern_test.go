package pattern

import (
	"bytes"
	"context"
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
