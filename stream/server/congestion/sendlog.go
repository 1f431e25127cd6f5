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
type sendLog struct {
	ring    [logSize]sent
	started bool
	highest uint64 // extended sequence number of the newest packet sent
}

// add records a new packet and returns its slot.
func (l *sendLog) add(seq uint16) *sent {
	ext := l.extend(seq)
	if !l.started || ext > l.highest {
		l.highest, l.started = ext, true
	}
	s := &l.ring[ext%logSize]
	*s = sent{ext: ext + 1}
	return s
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
// for yet, newest first until a packet older than since.
func (l *sendLog) inFlight(since time.Time) int {
	if !l.started {
		return 0
	}
	n := 0
	for ext := l.highest; ext+logSize > l.highest; ext-- {
		s := &l.ring[ext%logSize]
		if s.ext != ext+1 || s.at.Before(since) {
			break
		}
		if !s.acked && !s.lost {
			n += s.size
		}
		if ext == 0 {
			break
		}
	}
	return n
}
