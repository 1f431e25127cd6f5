package broadcast

import (
	"bytes"
	"image"
	stdjpeg "image/jpeg"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"flowcam/capture"
	"flowcam/stream/format/rtpjpeg"
)

func testJPEG(t testing.TB) []byte {
	var buf bytes.Buffer
	img := image.NewYCbCr(image.Rect(0, 0, 320, 240), image.YCbCrSubsampleRatio420)
	if err := stdjpeg.Encode(&buf, img, nil); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func newTestBroadcaster(t testing.TB) *Broadcaster {
	pk, err := rtpjpeg.NewPacketizer(rtpjpeg.MinMTU)
	if err != nil {
		t.Fatal(err)
	}
	return New(JPEG(pk), slog.New(slog.NewTextHandler(io.Discard, nil)))
}

func publish(b *Broadcaster, data []byte, seqs ...uint64) {
	for _, s := range seqs {
		b.Publish(&capture.Frame{JPEG: data, Seq: s, PTS: time.Duration(s) * 40 * time.Millisecond})
	}
}

func drain(s *Subscriber) (seqs []uint64) {
	for u := s.Next(); u != nil; u = s.Next() {
		seqs = append(seqs, u.Seq)
		u.Release()
	}
	return seqs
}

func TestEveryViewerGetsEveryFrameOnce(t *testing.T) {
	b := newTestBroadcaster(t)
	a, c := b.Subscribe(8), b.Subscribe(8)
	publish(b, testJPEG(t), 0, 1, 2)
	ua, uc := a.Next(), c.Next()
	if ua != uc {
		t.Fatal("viewers got separate copies of one frame: it was packetized twice")
	}
	if ua.Payloads.Len() < 2 {
		t.Fatalf("frame has %d packets", ua.Payloads.Len())
	}
	ua.Release()
	uc.Release()
	if got := drain(a); len(got) != 2 || got[0] != 1 || got[1] != 2 {
		t.Fatalf("viewer a got %v", got)
	}
	if got := drain(c); len(got) != 2 {
		t.Fatalf("viewer c got %v", got)
	}
	if s := b.Stats(); s.Frames != 3 || s.Viewers != 2 {
		t.Fatalf("stats %+v", s)
	}
}

func TestSlowViewerDropsOldestWholeFrames(t *testing.T) {
	b := newTestBroadcaster(t)
	slow, fast := b.Subscribe(2), b.Subscribe(16)
	publish(b, testJPEG(t), 0, 1, 2, 3, 4)
	if got := drain(slow); len(got) != 2 || got[0] != 3 || got[1] != 4 || slow.Dropped() != 3 {
		t.Fatalf("slow viewer got %v, dropped %d; want [3 4], 3", got, slow.Dropped())
	}
	if got := drain(fast); len(got) != 5 || fast.Dropped() != 0 {
		t.Fatalf("fast viewer got %v, dropped %d", got, fast.Dropped())
	}
}

func TestReferencesReturnToZero(t *testing.T) {
	b := newTestBroadcaster(t)
	s := b.Subscribe(4)
	publish(b, testJPEG(t), 0)
	u := s.Next()
	latest := b.Latest()
	if u != latest || u.refs.Load() != 3 {
		t.Fatalf("refs %d, want 3 (broadcaster, viewer, Latest)", u.refs.Load())
	}
	u.Release()
	latest.Release()
	publish(b, testJPEG(t), 1) // replaces u as the latest frame
	if u.refs.Load() != 0 {
		t.Fatalf("refs %d after every holder released", u.refs.Load())
	}
	s.Close()
	publish(b, testJPEG(t), 2)
	if s.Next() != nil || b.Stats().Viewers != 0 {
		t.Fatal("closed viewer still receives frames")
	}
}

func TestNewViewerStartsWithLatestFrame(t *testing.T) {
	b := newTestBroadcaster(t)
	publish(b, testJPEG(t), 0, 1)
	s := b.Subscribe(4)
	if ts, ok := s.NextTimestamp(); !ok || ts != 3600 {
		t.Fatalf("next timestamp %d %v, want 3600", ts, ok)
	}
	publish(b, testJPEG(t), 2)
	if got := drain(s); len(got) != 2 || got[0] != 1 || got[1] != 2 {
		t.Fatalf("new viewer got %v, want [1 2]", got)
	}
	// Recycled units must never be mistaken for ones already sent.
	for i := uint64(3); i < 20; i++ {
		publish(b, testJPEG(t), i)
		if got := drain(s); len(got) != 1 || got[0] != i {
			t.Fatalf("frame %d: got %v", i, got)
		}
	}
}

func TestRejectsFramesRTPCannotCarry(t *testing.T) {
	pk, err := rtpjpeg.NewPacketizer(1400)
	if err != nil {
		t.Fatal(err)
	}
	b := New(JPEG(pk), nil) // the rejection is logged: a nil logger must discard, not panic
	s := b.Subscribe(4)
	publish(b, []byte("not a jpeg"), 0)
	if s.Next() != nil || b.Stats().Rejected != 1 {
		t.Fatalf("bad frame delivered or not counted: %+v", b.Stats())
	}
}

func TestTimestampFollowsPTS(t *testing.T) {
	b := newTestBroadcaster(t)
	s := b.Subscribe(4)
	b.Publish(&capture.Frame{JPEG: testJPEG(t), PTS: 1500 * time.Millisecond})
	if u := s.Next(); u.Timestamp != 135000 {
		t.Fatalf("timestamp %d for 1.5 s, want 135000", u.Timestamp)
	}
}

func TestConcurrentViewers(t *testing.T) {
	b := newTestBroadcaster(t)
	data := testJPEG(t)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				s := b.Subscribe(2)
				for j := 0; j < 10; j++ {
					select {
					case <-stop:
						s.Close()
						return
					case <-s.Ready():
						drain(s)
					}
				}
				s.Close()
			}
		}()
	}
	for i := uint64(0); i < 500; i++ {
		publish(b, data, i)
	}
	close(stop)
	wg.Wait()
	if b.Stats().Viewers != 0 {
		t.Fatal("viewers left subscribed")
	}
}

// TestRTPTime: the 90 kHz timestamp of a frame is what the multiplication
// gives, and keeps counting past the 28 hours where pts*90000 overflows.
func TestRTPTime(t *testing.T) {
	for _, c := range []struct {
		pts  time.Duration
		want uint32
	}{
		{0, 0}, {40 * time.Millisecond, 3600}, {time.Second/30 + 1, 3000}, {13 * time.Hour, uint32(13 * 3600 * 90000 % (1 << 32))},
		{30 * time.Hour, uint32((30 * 3600 * 90000) % (1 << 32))},
		{30*time.Hour + 40*time.Millisecond, uint32((30*3600*90000 + 3600) % (1 << 32))},
	} {
		if got := RTPTime(c.pts); got != c.want {
			t.Errorf("%v: %d, want %d", c.pts, got, c.want)
		}
	}
}
