package capture

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// countingSource numbers its frames from PTS 0 at 40 ms steps, like a
// freshly opened camera, and records whether it is open.
type countingSource struct {
	n      int
	closed *atomic.Int32
}

func (s *countingSource) Next(ctx context.Context) (*Frame, error) {
	f := &Frame{JPEG: []byte{1}, PTS: time.Duration(s.n) * 40 * time.Millisecond}
	s.n++
	return f, nil
}
func (s *countingSource) Close() error { s.closed.Add(1); return nil }

func TestOnDemandStopsAndRestarts(t *testing.T) {
	var opened, closed atomic.Int32
	var mu sync.Mutex
	now := time.Unix(0, 0)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	var watching atomic.Bool
	watching.Store(true)
	open := func() (Source, error) { opened.Add(1); return &countingSource{closed: &closed}, nil }
	d, err := NewOnDemand(open, watching.Load, 5*time.Second, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	d.now, d.poll, d.beat = clock, time.Millisecond, 20*time.Millisecond
	ctx := context.Background()
	var last time.Duration
	for i := 0; i < 3; i++ {
		f, _ := d.Next(ctx)
		last = f.PTS
		advance(40 * time.Millisecond)
	}
	watching.Store(false)
	advance(6 * time.Second)
	if _, err := d.Next(ctx); !errors.Is(err, ErrIdle) || closed.Load() != 1 {
		t.Fatalf("nobody watching for 6 s: err %v, closed %d", err, closed.Load())
	}
	advance(10 * time.Second)
	watching.Store(true)
	f, err := d.Next(ctx)
	if err != nil || opened.Load() != 2 {
		t.Fatalf("viewer back: %v, opened %d", err, opened.Load())
	}
	// 40 ms after the last frame, plus the 16 s the source was off.
	if want := last + 16*time.Second + 40*time.Millisecond; f.PTS != want {
		t.Fatalf("PTS after the restart %v, want %v (continuous with the wall clock)", f.PTS, want)
	}
	d.Close()
	if closed.Load() != 2 {
		t.Fatalf("closed %d times", closed.Load())
	}
}

func TestPipelineTreatsIdleAsAlive(t *testing.T) {
	src := &scriptedSource{script: []any{ErrIdle, ErrIdle, raw(1, 0)}}
	got := make(chan struct{}, 1)
	p := NewPipeline(src, tagEncoder{}, func(*Frame) { got <- struct{}{} }, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go p.Run(ctx)
	select {
	case <-got:
	case <-time.After(5 * time.Second):
		t.Fatal("the frame after two idle answers never came (backoff?)")
	}
	if st := p.Stats(); st.SourceErrs != 0 || !p.Alive(time.Second) {
		t.Fatalf("idle counted as a failure: %+v", st)
	}
}
