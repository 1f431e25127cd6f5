package congestion

import "time"

// logSize is how many recently sent packets a path remembers: at 600
// packets a second, several seconds, far more than any report reaches back.
const logSize = 4096

// sent is what the sender remembers of one packet until the receiver has
// reported it: its size and send time, and the delivery state at that time
// (draft-cheng-iccrg-delivery-rate-estimation: the rate sample its delivery
// yields runs from then to now).
type sent struct {
	ext  uint64 // extended sequence number + 1; 0 marks an empty slot
	size int
	at   time.Time

	delivered    uint64        // bytes delivered when it was sent
	deliveredAt  time.Duration // receiver clock of the newest delivery known then
	firstSent    time.Time     // send time of the packet delivered newest then
	haveSnapshot bool          // something had been delivered when it was sent

	acked, lost bool
}

// sendLog is a ring of sent packets indexed by extended sequence number.
//
// It keeps the bytes in flight as packets come and go instead of summing
// them on each call: a session asks before every frame, and a scan over
// half a second of packets per frame per viewer showed in the serving
// profile. The window is the run of packets [tail, highest] sent no
// earlier than the last inFlight asked about; it only ever holds packets
// whose ring slots are still their own.
type sendLog struct {
	ring    [logSize]sent
	started bool
	highest uint64 // extended sequence number of the newest packet sent

	tail    uint64 // oldest packet in the window (highest+1: empty)
	pending int    // bytes of the window's packets not yet acked or lost
	// ordered is the oldest packet from which send times rise with the
	// numbers, so the window can move by its ends; below it, a number
	// was sent again and only a scan from the newest packet is right.
	ordered uint64
}

// add records a new packet and returns its slot.
func (l *sendLog) add(seq uint16, size int, at time.Time) *sent {
	ext := l.extend(seq)
	switch {
	case !l.started:
		l.highest, l.tail, l.started = ext, ext, true
	case ext > l.highest+1:
		// The numbers skipped were never sent: nothing older counts.
		l.highest, l.tail, l.pending = ext, ext, 0
	case ext == l.highest+1:
		l.highest = ext
	default:
		l.ordered = l.highest + 1
	}
	s := &l.ring[ext%logSize]
	if old := s.ext; old != 0 && old-1 >= l.tail && old-1 < ext {
		// The ring wraps over the window's oldest packet.
		l.drop(s)
		l.tail = old
	}
	*s = sent{ext: ext + 1, size: size, at: at}
	if ext >= l.tail {
		l.pending += size
	}
	return s
}

// drop takes a packet of the window out of the bytes in flight.
func (l *sendLog) drop(s *sent) {
	if !s.acked && !s.lost {
		l.pending -= s.size
	}
}

// inWindow reports whether s is a packet the window holds.
func (l *sendLog) inWindow(s *sent) bool { return s.ext-1 >= l.tail && s.ext-1 <= l.highest }

// ack marks a packet delivered.
func (l *sendLog) ack(s *sent) {
	if l.inWindow(s) {
		l.drop(s)
	}
	s.acked, s.lost = true, false
}

// lose marks a packet lost.
func (l *sendLog) lose(s *sent) {
	if l.inWindow(s) {
		l.drop(s)
	}
	s.lost = true
}

// extend places seq at the shortest distance from the newest packet sent.
func (l *sendLog) extend(seq uint16) uint64 {
	if !l.started {
		return 1<<16 + uint64(seq)
	}
	return uint64(int64(l.highest) + int64(int16(seq-uint16(l.highest))))
}

// find returns the packet a report names, or nil if it was never sent or
// is too old to be remembered.
func (l *sendLog) find(seq uint16) *sent {
	if !l.started {
		return nil
	}
	ext := l.extend(seq)
	if ext > l.highest {
		return nil
	}
	s := &l.ring[ext%logSize]
	if s.ext != ext+1 {
		return nil
	}
	return s
}

// inFlight is the bytes sent since since that no report has accounted
// for yet: the newest packets back to the first one older than since.
func (l *sendLog) inFlight(since time.Time) int {
	if !l.started {
		return 0
	}
	if l.tail < l.ordered {
		l.tail, l.pending = l.scan(since)
		return l.pending
	}
	for l.tail <= l.highest && !l.reaches(l.tail, since) {
		if s := &l.ring[l.tail%logSize]; s.ext == l.tail+1 {
			l.drop(s)
		}
		l.tail++
	}
	for l.tail > 0 && l.reaches(l.tail-1, since) {
		if l.tail == l.ordered {
			l.tail, l.pending = l.scan(since)
			return l.pending
		}
		l.tail--
		if s := &l.ring[l.tail%logSize]; !s.acked && !s.lost {
			l.pending += s.size
		}
	}
	return l.pending
}

// reaches reports whether the window back to since takes packet ext: it
// is remembered, not older than since, and within the ring.
func (l *sendLog) reaches(ext uint64, since time.Time) bool {
	s := &l.ring[ext%logSize]
	return s.ext == ext+1 && !s.at.Before(since) && ext+logSize > l.highest
}

// scan sums the window from scratch: the newest packets back to the first
// one older than since or not remembered. It returns the window's oldest
// packet and its bytes in flight.
func (l *sendLog) scan(since time.Time) (tail uint64, n int) {
	tail = l.highest + 1
	for ext := l.highest; ext+logSize > l.highest; ext-- {
		s := &l.ring[ext%logSize]
		if s.ext != ext+1 || s.at.Before(since) {
			break
		}
		tail = ext
		if !s.acked && !s.lost {
			n += s.size
		}
		if ext == 0 {
			break
		}
	}
	return tail, n
}
