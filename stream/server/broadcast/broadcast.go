// Package broadcast fans one stream's frames out to every viewer. Each frame
// is packetized for RTP once and shared read-only; a viewer that falls
// behind loses whole frames from its own queue and never slows the source or
// the other viewers.
package broadcast

import (
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"flowcam/capture"
	"flowcam/stream/format/rtpbuf"
	"flowcam/stream/format/rtpjpeg"
)

// Unit is one frame ready for RTP: its payloads and its 90 kHz timestamp on
// the stream clock (sessions add their own random offset). Holders call
// Release when done.
type Unit struct {
	Payloads  rtpbuf.Payloads
	Timestamp uint32
	Captured  time.Time
	Seq       uint64

	refs atomic.Int32
	pool *sync.Pool
}

func (u *Unit) retain() { u.refs.Add(1) }

// Release drops one reference; the last one recycles the buffers.
func (u *Unit) Release() {
	if u.refs.Add(-1) == 0 {
		u.pool.Put(u)
	}
}

// Stats counts what the broadcaster did with published frames.
type Stats struct {
	Frames   uint64 // frames packetized and fanned out
	Rejected uint64 // frames RFC 2435 cannot carry
	Viewers  int    // current subscribers
}

// Broadcaster is the single point where a stream's frames meet its viewers.
type Broadcaster struct {
	pk  *rtpjpeg.Packetizer
	log *slog.Logger
	pic rtpjpeg.Picture // parse scratch, used only on the publishing goroutine

	pool     sync.Pool
	frames   atomic.Uint64
	rejected atomic.Uint64

	mu   sync.Mutex
	subs map[*Subscriber]struct{}
	last *Unit
}

// New returns a broadcaster that packetizes with pk; a nil log discards.
func New(pk *rtpjpeg.Packetizer, log *slog.Logger) *Broadcaster {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	b := &Broadcaster{pk: pk, log: log, subs: make(map[*Subscriber]struct{})}
	b.pool.New = func() any { return &Unit{pool: &b.pool} }
	return b
}

// Publish packetizes a frame and queues it for every subscriber. It is the
// capture pipeline's sink and keeps nothing of f.
func (b *Broadcaster) Publish(f *capture.Frame) {
	if err := rtpjpeg.Parse(f.JPEG, &b.pic); err != nil {
		if n := b.rejected.Add(1); n == 1 || n%100 == 0 {
			b.log.Warn("frame cannot be sent as RTP/JPEG", "seq", f.Seq, "rejected_total", n, "err", err)
		}
		return
	}
	u := b.pool.Get().(*Unit)
	b.pk.Packetize(&u.Payloads, &b.pic)
	u.Timestamp = uint32(int64(f.PTS) * rtpjpeg.ClockRate / int64(time.Second))
	u.Captured, u.Seq = f.Captured, f.Seq
	u.refs.Store(1) // the broadcaster's own reference, as the latest frame

	b.mu.Lock()
	for s := range b.subs {
		s.push(u)
	}
	old := b.last
	b.last = u
	b.mu.Unlock()
	if old != nil {
		old.Release()
	}
	b.frames.Add(1)
}

// Latest returns the newest frame, retained for the caller, or nil.
func (b *Broadcaster) Latest() *Unit {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.last != nil {
		b.last.retain()
	}
	return b.last
}

// Subscribe starts queueing frames for a new viewer, beginning with the
// newest frame so its picture appears at once; depth bounds how many frames
// may wait before the oldest are dropped.
func (b *Broadcaster) Subscribe(depth int) *Subscriber {
	s := &Subscriber{b: b, ring: make([]*Unit, max(depth, 1)), ready: make(chan struct{}, 1)}
	b.mu.Lock()
	b.subs[s] = struct{}{}
	if b.last != nil {
		s.push(b.last)
	}
	b.mu.Unlock()
	return s
}

// Stats returns a snapshot of the counters.
func (b *Broadcaster) Stats() Stats {
	b.mu.Lock()
	n := len(b.subs)
	b.mu.Unlock()
	return Stats{Frames: b.frames.Load(), Rejected: b.rejected.Load(), Viewers: n}
}

func (b *Broadcaster) unsubscribe(s *Subscriber) {
	b.mu.Lock()
	delete(b.subs, s)
	b.mu.Unlock()
}
