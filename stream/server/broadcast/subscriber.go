package broadcast

import (
	"sync"
	"time"
)

// Subscriber is one viewer's bounded queue of frames.
type Subscriber struct {
	b     *Broadcaster
	intra bool // every frame stands alone
	depth int  // live frames that may wait
	ready chan struct{}

	mu      sync.Mutex
	ring    []entry
	head, n int
	keyAt   time.Time // when a key frame request was last honoured
	dropped uint64
	closed  bool
	waitKey bool // frames are skipped until the next key frame
}

// Ready is signalled whenever frames are waiting.
func (s *Subscriber) Ready() <-chan struct{} { return s.ready }

// entry is a queued frame; replay marks one sent again for a key frame
// request, which the session stamps just after the last frame it sent.
type entry struct {
	u      *Unit
	replay bool
}

// Next returns the oldest waiting frame, or nil. The caller releases it.
func (s *Subscriber) Next() *Unit {
	u, _ := s.NextReplay()
	return u
}

// NextReplay is Next, also saying whether the frame is sent again for a
// key frame request (RequestKeyFrame).
func (s *Subscriber) NextReplay() (*Unit, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.n == 0 {
		return nil, false
	}
	e := s.ring[s.head]
	s.ring[s.head] = entry{}
	s.head = (s.head + 1) % len(s.ring)
	s.n--
	return e.u, e.replay
}

// NextTimestamp is the timestamp of the frame Next would return.
func (s *Subscriber) NextTimestamp() (uint32, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.n == 0 {
		return 0, false
	}
	return s.ring[s.head].u.Timestamp, true
}

// Dropped counts frames this viewer lost by falling behind.
func (s *Subscriber) Dropped() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dropped
}

// Flush releases every waiting frame, e.g. when a viewer pauses.
func (s *Subscriber) Flush() {
	for u := s.Next(); u != nil; u = s.Next() {
		u.Skipped()
		u.Release()
	}
}

// Close stops the queue and releases what it holds.
func (s *Subscriber) Close() {
	s.b.unsubscribe(s)
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.Flush()
}

// push queues u. When the queue is full a late viewer should see the
// newest picture, not a growing backlog: the oldest frame goes when every
// frame stands alone; else the whole queue goes, and frames are skipped
// until a key frame, since a decoder cannot use what follows a lost one.
func (s *Subscriber) push(u *Unit) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	if u.Key {
		s.waitKey = false
	}
	if s.waitKey {
		s.dropped++
		s.mu.Unlock()
		return
	}
	var drop *Unit
	var drops []*Unit
	switch {
	case s.n < len(s.ring):
	case s.intra:
		drop = s.takeOldest()
	default: // rare: a viewer that fell a whole queue behind
		for s.n > 0 {
			drops = append(drops, s.takeOldest())
		}
		if !u.Key {
			s.waitKey = true
			s.dropped++
			s.mu.Unlock()
			skip(drops)
			release(drops)
			return
		}
	}
	u.retain()
	u.owe()
	s.ring[(s.head+s.n)%len(s.ring)] = entry{u: u}
	s.n++
	s.mu.Unlock()
	if drop != nil {
		drop.Skipped()
	}
	drop.Release()
	skip(drops)
	release(drops)
	select {
	case s.ready <- struct{}{}:
	default:
	}
}

// takeOldest takes the oldest frame out of the queue, counted as dropped.
// Called with s.mu held and the queue not empty.
func (s *Subscriber) takeOldest() *Unit {
	u := s.ring[s.head].u
	s.ring[s.head] = entry{}
	s.head = (s.head + 1) % len(s.ring)
	s.n--
	s.dropped++
	return u
}

// skip settles the accounts of units taken out unsent.
func skip(units []*Unit) {
	for _, u := range units {
		u.Skipped()
	}
}

func release(units []*Unit) {
	for _, u := range units {
		u.Release()
	}
}

// RequestKeyFrame answers a viewer's RTCP PLI or FIR, at most once per
// every interval (the rest are ignored, so one viewer cannot make the
// stream all key frames). An encoder that can be asked (WithKeyFrameSource)
// is asked, at most once per interval for all viewers together, and the
// viewer drops what waited and starts again at that key frame. A source
// that passes H.264 through cannot be asked, nor an encoder asked within
// the interval already, so the kept group of pictures is queued again
// from its key frame, in place of what waited: the viewer's decoder gets a
// whole reference chain, as a fast catch-up. When no group is kept, the
// viewer waits for the next key frame instead of decoding broken frames.
// It reports whether the request was honoured.
func (s *Subscriber) RequestKeyFrame(now time.Time, every time.Duration) bool {
	if s.intra {
		return false // every frame is a key frame
	}
	b := s.b
	b.mu.Lock()
	defer b.mu.Unlock()
	s.mu.Lock()
	if s.closed || (!s.keyAt.IsZero() && now.Sub(s.keyAt) < every) {
		s.mu.Unlock()
		return false
	}
	s.keyAt = now
	var drops []*Unit
	for s.n > 0 {
		drops = append(drops, s.takeOldest())
	}
	s.dropped -= uint64(len(drops)) // replaced, not lost
	if b.keys != nil && (b.forcedAt.IsZero() || now.Sub(b.forcedAt) >= every) {
		b.forcedAt = now
		b.keys.ForceKeyFrame()
		s.waitKey = true
		s.mu.Unlock()
		skip(drops)
		release(drops)
		return true
	}
	s.waitKey = len(b.gop) == 0
	if len(s.ring) < len(b.gop)+s.depth {
		s.ring, s.head = make([]entry, len(b.gop)+s.depth), 0
	}
	for _, u := range b.gop {
		u.retain()
		u.owe()
		s.ring[(s.head+s.n)%len(s.ring)] = entry{u: u, replay: true}
		s.n++
	}
	s.mu.Unlock()
	skip(drops)
	release(drops)
	select {
	case s.ready <- struct{}{}:
	default:
	}
	return true
}
