package playout

import (
	"bytes"
	"image"
	stdjpeg "image/jpeg"
	"slices"
	"testing"
	"time"

	"flowcam/stream/format/rtpbuf"
	"flowcam/stream/format/rtpjpeg"
)

// frame720p packetizes a 1280x720 picture of little detail, about what a
// camera sends of a quiet scene: some twenty 1388-byte payloads at the
// default MTU.
func frame720p(t testing.TB) [][]byte {
	img := image.NewYCbCr(image.Rect(0, 0, 1280, 720), image.YCbCrSubsampleRatio420)
	for y := range 720 {
		for x := range 1280 {
			img.Y[y*img.YStride+x] = uint8((x+y)/8 + (x*y)%7)
		}
	}
	for i := range img.Cb {
		img.Cb[i], img.Cr[i] = 128, 120
	}
	var buf bytes.Buffer
	if err := stdjpeg.Encode(&buf, img, &stdjpeg.Options{Quality: 65}); err != nil {
		t.Fatal(err)
	}
	var pic rtpjpeg.Picture
	if err := rtpjpeg.Parse(buf.Bytes(), &pic); err != nil {
		t.Fatal(err)
	}
	pk, _ := rtpjpeg.NewPacketizer(rtpjpeg.DefaultMTU)
	var p rtpbuf.Payloads
	pk.Packetize(&p, &pic)
	out := make([][]byte, p.Len())
	for i := range out {
		out[i] = slices.Clone(p.At(i))
	}
	return out
}

// steady plays frame after frame of payloads through b as the receive loop
// would, handing each frame back, and returns the JPEG size.
type steady struct {
	b        *Buffer
	payloads [][]byte
	seq      uint16
	ts       uint32
	now      time.Time
}

func (s *steady) frame(t testing.TB) int {
	for j, pl := range s.payloads {
		s.b.Push(Packet{Seq: s.seq, Timestamp: s.ts, Marker: j == len(s.payloads)-1, Payload: pl,
			Arrival: s.now.Add(time.Duration(j) * 50 * time.Microsecond)})
		s.seq++
	}
	_, next := s.b.Pop(s.now)
	f, _ := s.b.Pop(next)
	if f == nil {
		t.Fatalf("frame %d not played: %+v", s.ts/tick, s.b.Stats())
	}
	n := len(f.Data)
	s.b.Recycle(f)
	s.ts += tick
	s.now = s.now.Add(frameDur)
	return n
}

// Once warmed up, a steady stream allocates nothing per frame.
func TestSteadyStateAllocatesNothing(t *testing.T) {
	s := &steady{b: New(Config{}), payloads: frame720p(t), seq: 65000, now: t0}
	for range 8 {
		s.frame(t)
	}
	if allocs := testing.AllocsPerRun(50, func() { s.frame(t) }); allocs != 0 {
		t.Fatalf("%v allocations per frame, want 0", allocs)
	}
}

func BenchmarkPushPop720p(b *testing.B) {
	s := &steady{b: New(Config{}), payloads: frame720p(b), now: t0}
	n := s.frame(b)
	b.ReportAllocs()
	b.SetBytes(int64(n))
	for b.Loop() {
		s.frame(b)
	}
	b.ReportMetric(float64(len(s.payloads)), "packets/frame")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(s.payloads)), "ns/packet")
}

// Without Recycle each frame costs its Frame and JPEG copy, nothing more.
func BenchmarkPushPop720pNoRecycle(b *testing.B) {
	payloads := frame720p(b)
	buf := New(Config{})
	b.ReportAllocs()
	var seq uint16
	var ts uint32
	now := t0
	for b.Loop() {
		for j, pl := range payloads {
			buf.Push(Packet{Seq: seq, Timestamp: ts, Marker: j == len(payloads)-1, Payload: pl, Arrival: now})
			seq++
		}
		_, next := buf.Pop(now)
		if f, _ := buf.Pop(next); f == nil {
			b.Fatal("frame not played")
		}
		ts += tick
		now = now.Add(frameDur)
	}
}
