// Package broadcast fans one stream's frames out to every viewer. Each frame
// is packetized for RTP once and shared read-only; a viewer that falls
// behind loses whole frames from its own queue and never slows the source or
// the other viewers. For codecs whose frames depend on earlier ones (H.264)
// it keeps the current group of pictures, so that a new viewer starts at
// its key frame, and a late viewer skips to the next key frame rather than
// decode a broken reference chain.
package broadcast

import (
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"flowcam/capture"
	"flowcam/stream/format/rtpbuf"
	"flowcam/stream/format/rtph264"
)

// Unit is one frame ready for RTP: its payloads and its 90 kHz timestamp on
// the stream clock (sessions add their own random offset). Holders call
// Release when done.
type Unit struct {
	Payloads  rtpbuf.Payloads
	Timestamp uint32
	Captured  time.Time
	Seq       uint64
	Key       bool // a decoder can start here
	// Anchor marks a frame later ones depend on (every H.264 frame: the
	// next is predicted from it; never a JPEG): skipping it would cost
	// every frame up to the next key frame, so rate adaptation sends it
	// late rather than not at all.
	Anchor bool

	refs atomic.Int32
	pool *sync.Pool

	// Capture-to-wire accounting (latency.go).
	pending  atomic.Int32
	lastSent atomic.Int64 // Unix nanoseconds of the latest Sent
	observed atomic.Bool
	latency  func(time.Duration)
}

func (u *Unit) retain() { u.refs.Add(1) }

// Release drops one reference; the last one recycles the buffers. A nil
// unit is ignored.
func (u *Unit) Release() {
	if u != nil && u.refs.Add(-1) == 0 {
		u.pool.Put(u)
	}
}

// Stats counts what the broadcaster did with published frames.
type Stats struct {
	Frames   uint64  // frames packetized and fanned out
	Rejected uint64  // frames RTP cannot carry (RFC 2435 or 6184)
	Viewers  int     // current subscribers
	Bytes    uint64  // RTP payload bytes packetized
	Bitrate  float64 // payload bits per second, over the last second of frames
}

// Broadcaster is the single point where a stream's frames meet its viewers.
type Broadcaster struct {
	pk    Packetizer
	intra bool
	log   *slog.Logger

	pool     sync.Pool
	frames   atomic.Uint64
	rejected atomic.Uint64
	bytes    atomic.Uint64
	meter    rateMeter

	mu   sync.Mutex
	subs map[*Subscriber]struct{}
	// gop holds the frames since the newest key frame (just the newest
	// frame when every frame is one), each retained; broken is set when it
	// outgrew its bounds and a new viewer must wait for the next key frame.
	gop      []*Unit
	spare    []*Unit // the previous group's slice, reused by the next
	gopBytes int
	broken   bool
	keys     KeyFrameSource // nil: a source that cannot be asked (passthrough)
	forcedAt time.Time      // when keys was last asked
	latency  func(time.Duration)
}

// KeyFrameSource is an encoder that can be asked to make its next picture
// a key frame (an H.264 IDR).
type KeyFrameSource interface {
	ForceKeyFrame()
}

// Option adjusts a Broadcaster.
type Option func(*Broadcaster)

// WithKeyFrameSource answers viewers' key frame requests by asking the
// encoder for one (see Subscriber.RequestKeyFrame) instead of replaying
// the kept group of pictures.
func WithKeyFrameSource(k KeyFrameSource) Option { return func(b *Broadcaster) { b.keys = k } }

// Bounds of the kept group of pictures: a source with rare key frames
// costs this much memory at most, and new viewers then wait for the next.
const (
	maxGOPFrames = 600
	maxGOPBytes  = 32 << 20
)

// New returns a broadcaster that packetizes with pk; a nil log discards.
func New(pk Packetizer, log *slog.Logger, opts ...Option) *Broadcaster {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	b := &Broadcaster{pk: pk, intra: pk.Media().Intra, log: log, subs: make(map[*Subscriber]struct{})}
	b.pool.New = func() any { return &Unit{pool: &b.pool} }
	for _, o := range opts {
		o(b)
	}
	return b
}

// Media says how the stream's frames travel, for DESCRIBE.
func (b *Broadcaster) Media() Media { return b.pk.Media() }

// Publish packetizes a frame and queues it for every subscriber. It is the
// capture pipeline's sink and keeps nothing of f.
func (b *Broadcaster) Publish(f *capture.Frame) {
	u := b.pool.Get().(*Unit)
	key, err := b.pk.Packetize(&u.Payloads, f)
	if err != nil {
		u.Payloads.Reset()
		b.pool.Put(u)
		if n := b.rejected.Add(1); n == 1 || n%100 == 0 {
			b.log.Warn("frame cannot be sent over RTP", "codec", b.pk.Media().Codec, "seq", f.Seq, "rejected_total", n, "err", err)
		}
		return
	}
	u.Timestamp = RTPTime(f.PTS)
	u.Captured, u.Seq, u.Key, u.Anchor = f.Captured, f.Seq, key, !b.intra
	u.refs.Store(1)    // the broadcaster's own reference, in the kept group
	u.pending.Store(1) // the broadcaster's account, settled once every viewer has the unit
	u.lastSent.Store(0)
	u.observed.Store(false)
	u.latency = b.latency

	b.mu.Lock()
	for s := range b.subs {
		s.push(u)
	}
	dropped := b.keep(u)
	b.mu.Unlock()
	u.settle()
	for _, old := range dropped {
		old.Release()
	}
	b.frames.Add(1)
	b.bytes.Add(uint64(u.Payloads.Bytes()))
	b.meter.add(u.Payloads.Bytes(), f.Captured)
}

// RTPTime is pts on the 90 kHz clock (JPEG's and H.264's), wrapping as
// RTP timestamps do. Whole seconds and the rest are scaled apart: pts in
// nanoseconds times 90000 would overflow after 28 hours of streaming.
func RTPTime(pts time.Duration) uint32 {
	sec, rest := int64(pts/time.Second), int64(pts%time.Second)
	return uint32(sec*rtph264.ClockRate + rest*rtph264.ClockRate/int64(time.Second))
}

// rateMeter is a bit rate over windows of a second of frame time.
type rateMeter struct {
	mu    sync.Mutex
	start time.Time
	bytes int
	bps   float64
}

func (m *rateMeter) add(n int, at time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.start.IsZero() || at.Before(m.start) {
		m.start, m.bytes = at, 0
	}
	m.bytes += n
	if d := at.Sub(m.start); d >= time.Second {
		m.bps = float64(m.bytes*8) / d.Seconds()
		m.start, m.bytes = at, 0
	}
}

func (m *rateMeter) rate() float64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.bps
}

// keep adds u to the kept group, or starts a new one at a key frame, and
// returns the frames it no longer keeps. Called with b.mu held.
func (b *Broadcaster) keep(u *Unit) []*Unit {
	if u.Key {
		// The old group goes back to Publish to release, and its slice
		// is the next group's: Publish is not called concurrently, so it
		// is done with it by then. No allocation per key frame.
		old := b.gop
		b.gop, b.gopBytes, b.broken = append(b.spare[:0], u), u.Payloads.Bytes(), false
		b.spare = old
		return old
	}
	if b.broken || len(b.gop) == 0 || len(b.gop) >= maxGOPFrames || b.gopBytes+u.Payloads.Bytes() > maxGOPBytes {
		old := b.gop
		b.gop, b.gopBytes, b.broken = nil, 0, true
		return append(old, u)
	}
	b.gop = append(b.gop, u)
	b.gopBytes += u.Payloads.Bytes()
	return nil
}

// Latest returns the newest frame, retained for the caller, or nil.
func (b *Broadcaster) Latest() *Unit {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.gop) == 0 {
		return nil
	}
	u := b.gop[len(b.gop)-1]
	u.retain()
	return u
}

// Subscribe starts queueing frames for a new viewer. It begins with the
// newest frame when every frame stands alone, so its picture appears at
// once, else with the kept group from its key frame (or, when that was not
// kept, at the next key frame); depth bounds how many live frames may wait
// before the oldest are dropped.
func (b *Broadcaster) Subscribe(depth int) *Subscriber {
	b.mu.Lock()
	defer b.mu.Unlock()
	depth = max(depth, 1)
	ring := depth
	if !b.intra {
		ring += len(b.gop) // the group it starts with, and depth live frames after it
	}
	s := &Subscriber{b: b, intra: b.intra, depth: depth, ring: make([]entry, ring), ready: make(chan struct{}, 1)}
	s.waitKey = !b.intra && len(b.gop) == 0
	b.subs[s] = struct{}{}
	for _, u := range b.gop {
		s.push(u)
	}
	return s
}

// Stats returns a snapshot of the counters.
func (b *Broadcaster) Stats() Stats {
	b.mu.Lock()
	n := len(b.subs)
	b.mu.Unlock()
	return Stats{Frames: b.frames.Load(), Rejected: b.rejected.Load(), Viewers: n, Bytes: b.bytes.Load(), Bitrate: b.meter.rate()}
}

func (b *Broadcaster) unsubscribe(s *Subscriber) {
	b.mu.Lock()
	delete(b.subs, s)
	b.mu.Unlock()
}
