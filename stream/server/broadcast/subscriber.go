package broadcast

import "sync"

// Subscriber is one viewer's bounded queue of frames.
type Subscriber struct {
	b     *Broadcaster
	ready chan struct{}

	mu      sync.Mutex
	ring    []*Unit
	head, n int
	dropped uint64
	closed  bool
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

// push queues u, dropping the oldest frame when the queue is full: a late
// viewer should see the newest picture, not a growing backlog.
func (s *Subscriber) push(u *Unit) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	var drop *Unit
	if s.n == len(s.ring) {
		drop = s.ring[s.head]
		s.ring[s.head] = nil
		s.head = (s.head + 1) % len(s.ring)
		s.n--
		s.dropped++
	}
	u.retain()
	s.ring[(s.head+s.n)%len(s.ring)] = u
	s.n++
	s.mu.Unlock()
	if drop != nil {
		drop.Release()
	}
	select {
	case s.ready <- struct{}{}:
	default:
	}
}
