package capture

import (
	"context"
	"errors"
	"image"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"
)

// scriptedSource replays a list of frames and errors, then blocks.
type scriptedSource struct {
	mu     sync.Mutex
	script []any // *Frame or error
	closed bool
}

func (s *scriptedSource) Next(ctx context.Context) (*Frame, error) {
	s.mu.Lock()
	if len(s.script) == 0 {
		s.mu.Unlock()
		<-ctx.Done()
		return nil, ctx.Err()
	}
	item := s.script[0]
	s.script = s.script[1:]
	s.mu.Unlock()
	if err, ok := item.(error); ok {
		return nil, err
	}
	return item.(*Frame), nil
}

func (s *scriptedSource) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	return nil
}

// tagEncoder "encodes" a picture as its first luma byte, failing on 0xFF.
type tagEncoder struct{}

func (tagEncoder) Encode(dst []byte, img *image.YCbCr) ([]byte, error) {
	if img.Y[0] == 0xFF {
		return dst, errors.New("cannot encode")
	}
	return append(dst, 'J', img.Y[0]), nil
}

func raw(tag byte, seq uint64) *Frame {
	img := NewYCbCr(Size{Width: 16, Height: 16}, image.YCbCrSubsampleRatio420)
	img.Y[0] = tag
	return &Frame{Image: img, Seq: seq}
}

func TestPipeline(t *testing.T) {
	src := &scriptedSource{script: []any{
		raw(1, 0),
		&Frame{JPEG: []byte("camera jpeg"), Seq: 1}, // passed through, not re-encoded
		errors.New("device hiccup"),                 // retried, not fatal
		raw(0xFF, 2),                                // encoder fails: dropped, counted
		&Frame{Seq: 3},                              // empty: dropped, counted
		raw(4, 4),
	}}
	ctx, cancel := context.WithCancel(context.Background())
	var got []string
	var seqs []uint64
	sink := func(f *Frame) {
		got = append(got, string(f.JPEG))
		seqs = append(seqs, f.Seq)
		if len(got) == 3 {
			cancel()
		}
	}
	p := NewPipeline(src, tagEncoder{}, sink, nil) // source errors are logged: nil discards
	if err := p.Run(ctx); err != nil {
		t.Fatal(err)
	}
	want := []string{"J\x01", "camera jpeg", "J\x04"}
	if len(got) != 3 || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Fatalf("sink got %q, want %q", got, want)
	}
	st := p.Stats()
	if st.Captured != 5 || st.Encoded != 2 || st.Dropped != 2 || st.SourceErrs != 1 {
		t.Fatalf("stats %+v", st)
	}
	if !src.closed {
		t.Fatal("source not closed when the pipeline stopped")
	}
}

func TestPoolReusesFrames(t *testing.T) {
	p := NewPool(Size{Width: 64, Height: 48}, image.YCbCrSubsampleRatio420, 2)
	a := p.Get()
	a.Release()
	if b := p.Get(); b != a {
		t.Fatal("released frame not reused")
	}
	if c := p.Get(); c == a {
		t.Fatal("frame in use handed out twice")
	}
}

func TestNewYCbCrIsPadded(t *testing.T) {
	img := NewYCbCr(Size{Width: 1288, Height: 728}, image.YCbCrSubsampleRatio420)
	if img.Rect.Dx() != 1288 || img.YStride != 1296 || len(img.Y) != 1296*736 || len(img.Cb) != 648*368 {
		t.Fatalf("bounds %v stride %d planes %d/%d", img.Rect, img.YStride, len(img.Y), len(img.Cb))
	}
}

// TestAlive drives the liveness check with a fake clock: alive while the
// source answers, not once it has been silent too long, and alive for good
// once the source ended.
func TestAlive(t *testing.T) {
	var mu sync.Mutex
	now := time.Unix(1000, 0)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	log := slog.New(slog.NewTextHandler(io.Discard, nil))

	src := &scriptedSource{script: []any{raw(1, 0)}}
	delivered := make(chan struct{}, 1)
	p := NewPipeline(src, tagEncoder{}, func(*Frame) { delivered <- struct{}{} }, log, WithClock(clock))
	if p.Alive(time.Second) {
		t.Fatal("alive before it ran")
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- p.Run(ctx) }()
	<-delivered // the source now blocks, as a stuck driver would
	if !p.Alive(time.Second) {
		t.Error("not alive right after a frame")
	}
	advance(2 * time.Second)
	if p.Alive(time.Second) {
		t.Error("still alive after the source was silent for 2s")
	}
	cancel()
	<-done

	ended := &scriptedSource{script: []any{raw(1, 0), ErrEnded}}
	p = NewPipeline(ended, tagEncoder{}, func(*Frame) {}, log, WithClock(clock))
	ctx, cancel = context.WithCancel(context.Background())
	go func() { done <- p.Run(ctx) }()
	for !p.ended.Load() {
		time.Sleep(time.Millisecond)
	}
	advance(time.Hour)
	if !p.Alive(time.Second) {
		t.Error("an ended source must count as alive")
	}
	if st := p.Stats(); st.SourceErrs != 0 {
		t.Errorf("the end of a source is not an error: %+v", st)
	}
	cancel()
	<-done
}

// TestEncodeObserver: every encode is timed (failed ones too, since they
// cost the time); passthrough frames are not, having cost nothing.
func TestEncodeObserver(t *testing.T) {
	src := &scriptedSource{script: []any{
		raw(1, 0),
		&Frame{JPEG: []byte("camera jpeg"), Seq: 1},
		raw(0xFF, 2),
		raw(3, 3),
	}}
	ctx, cancel := context.WithCancel(context.Background())
	sent := 0
	sink := func(*Frame) {
		if sent++; sent == 3 {
			cancel()
		}
	}
	var observed []time.Duration
	p := NewPipeline(src, tagEncoder{}, sink, slog.New(slog.DiscardHandler),
		WithEncodeObserver(func(d time.Duration) { observed = append(observed, d) }))
	p.Run(ctx)
	if len(observed) != 3 {
		t.Fatalf("observed %d encode times, want 3 (two encodes, one failed encode, no passthrough)", len(observed))
	}
	for _, d := range observed {
		if d < 0 {
			t.Fatalf("negative encode time %v", d)
		}
	}
}
