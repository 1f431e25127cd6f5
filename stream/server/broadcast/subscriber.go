package broadcast

import "sync"

// Subscriber is one viewer's bounded queue of frames.
type Subscriber struct {
	b     *Broadcaster
	intra bool // every frame stands alone
	ready chan struct{}

	mu      sync.Mutex
	ring    []*Unit
	head, n int
	dropped uint64
	closed  bool
	waitKey bool // frames are skipped until the next key frame
}

// Ready is signalled whenever frames are waiting.
func (s *Subscriber) Ready() <-chan struct{} { return s.ready }

// Next returns the oldest waiting frame, or nil. The caller releases it.
func (s *Subscriber) Next() *Unit {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.n == 0 {
		return nil
	}
	u := s.ring[s.head]
	s.ring[s.head] = nil
	s.head = (s.head + 1) % len(s.ring)
	s.n--
	return u
}

// NextTimestamp is the timestamp of the frame Next would return.
func (s *Subscriber) NextTimestamp() (uint32, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.n == 0 {
		return 0, false
	}
	return s.ring[s.head].Timestamp, true
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
			release(drops)
			return
		}
	}
	u.retain()
	s.ring[(s.head+s.n)%len(s.ring)] = u
	s.n++
	s.mu.Unlock()
	drop.Release()
	release(drops)
	select {
	case s.ready <- struct{}{}:
	default:
	}
}

// takeOldest takes the oldest frame out of the queue, counted as dropped.
// Called with s.mu held and the queue not empty.
func (s *Subscriber) takeOldest() *Unit {
	u := s.ring[s.head]
	s.ring[s.head] = nil
	s.head = (s.head + 1) % len(s.ring)
	s.n--
	s.dropped++
	return u
}

func release(units []*Unit) {
	for _, u := range units {
		u.Release()
	}
}
