package broadcast

import (
	"sync"
	"testing"
	"time"

	"flowcam/capture"
)

// TestCaptureToWire: a frame's latency is observed once, when the last
// viewer that queued it has sent it, and measured to that viewer's send;
// a viewer that drops or skips a frame settles its account without a
// time; a frame sent again to a new viewer is not observed twice.
func TestCaptureToWire(t *testing.T) {
	var mu sync.Mutex
	var got []time.Duration
	b := newTestBroadcaster(t)
	WithLatencyObserver(func(d time.Duration) { mu.Lock(); got = append(got, d); mu.Unlock() })(b)
	observed := func() []time.Duration { mu.Lock(); defer mu.Unlock(); return append([]time.Duration(nil), got...) }

	a, c := b.Subscribe(4), b.Subscribe(4)
	captured := time.Unix(1000, 0)
	b.Publish(&capture.Frame{JPEG: testJPEG(t), Captured: captured})
	ua, uc := a.Next(), c.Next()
	ua.Sent(captured.Add(3 * time.Millisecond))
	ua.Release()
	if n := len(observed()); n != 0 {
		t.Fatalf("observed before the second viewer sent: %v", observed())
	}
	uc.Sent(captured.Add(7 * time.Millisecond))
	uc.Release()
	if o := observed(); len(o) != 1 || o[0] != 7*time.Millisecond {
		t.Fatalf("observed %v, want [7ms] (the last viewer's send)", o)
	}

	// The next frame: one viewer skips it, the other sends.
	b.Publish(&capture.Frame{JPEG: testJPEG(t), Captured: captured.Add(40 * time.Millisecond)})
	ua, uc = a.Next(), c.Next()
	ua.Skipped()
	ua.Release()
	uc.Sent(captured.Add(45 * time.Millisecond))
	uc.Release()
	if o := observed(); len(o) != 2 || o[1] != 5*time.Millisecond {
		t.Fatalf("observed %v, want a second of 5ms", o)
	}

	// A new viewer starts with the newest frame, already observed.
	late := b.Subscribe(4)
	u := late.Next()
	u.Sent(captured.Add(time.Second))
	u.Release()
	if o := observed(); len(o) != 2 {
		t.Fatalf("a frame sent again was observed again: %v", o)
	}
	a.Close()
	c.Close()
	late.Close()
}

// TestCaptureToWireAllocatesNothing: the accounting costs no allocation
// per frame and viewer.
func TestCaptureToWireAllocatesNothing(t *testing.T) {
	if raceOn {
		t.Skip("allocation counts mean nothing under the race detector (sync.Pool drops items)")
	}
	b := newTestBroadcaster(t)
	WithLatencyObserver(func(time.Duration) {})(b)
	s := b.Subscribe(4)
	defer s.Close()
	f := &capture.Frame{JPEG: testJPEG(t), Captured: time.Now()}
	b.Publish(f)
	s.Next().Release()
	allocs := testing.AllocsPerRun(100, func() {
		b.Publish(f)
		u := s.Next()
		u.Sent(time.Now())
		u.Release()
	})
	if allocs > 0 {
		t.Errorf("%.1f allocations per frame", allocs)
	}
}
