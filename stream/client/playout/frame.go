package playout

import (
	"slices"
	"time"
)

// pkt is one held packet. Its payload lives in the frame's data buffer,
// addressed by offset so the buffer can grow.
type pkt struct {
	seq     int64
	arrival time.Time
	off, n  int
	first   bool // RFC 2435 fragment offset 0
	marker  bool
}

// pktCost is what a packet is charged against the frame's byte cap on top of
// its payload, so a flood of empty payloads cannot grow the index unbounded.
const pktCost = 64

// frame is one pending frame: the packets with one timestamp, kept sorted by
// sequence number.
type frame struct {
	ts       int64
	pkts     []pkt
	data     []byte
	held     int // bytes charged against the cap
	paths    uint32
	overflow bool // a packet was refused for the cap: the frame cannot complete
	// dueSeen is the frame's Due as the clock had it when its newest
	// packet came: a frame whole by then was on time as far as anyone
	// could know, even if a faster packet moves the schedule earlier since.
	dueSeen time.Time
	// earliestSeen is the earliest arrival the clock then allowed: the
	// frame's need for delay is judged against it (a group of pictures
	// replayed at a join arrives seconds late by the clock the live frames
	// after it set, and says nothing about the paths).
	earliestSeen time.Time
}

// add stores p and a copy of its payload in sequence order, unless that
// would take the frame past limit bytes. Packets come mostly in order, so the
// place is searched from the end.
func (f *frame) add(p pkt, payload []byte, limit int) bool {
	cost := len(payload) + pktCost
	if f.held+cost > limit {
		f.overflow = true
		return false
	}
	f.held += cost
	p.off, p.n = len(f.data), len(payload)
	f.data = append(f.data, payload...)
	i := len(f.pkts)
	for i > 0 && f.pkts[i-1].seq > p.seq {
		i--
	}
	f.pkts = slices.Insert(f.pkts, i, p)
	return true
}

func (f *frame) payload(p *pkt) []byte { return f.data[p.off : p.off+p.n] }

// reset empties f for reuse, keeping its storage.
func (f *frame) reset(ts int64) {
	f.ts, f.pkts, f.data, f.held, f.paths, f.overflow = ts, f.pkts[:0], f.data[:0], 0, 0, false
	f.dueSeen, f.earliestSeen = time.Time{}, time.Time{}
}

// complete returns the packets [lo, hi] from the first fragment to the
// marker, if they are all there.
func (f *frame) complete() (lo, hi int, ok bool) {
	if f.overflow {
		return 0, 0, false
	}
	return run(f.pkts)
}

// run finds, in packets sorted by unique sequence number, the first
// fragment and the first marker after it, and checks that no sequence number
// between them is missing: with sorted unique numbers, that is when the
// numbers advance exactly as the indices do.
func run(pkts []pkt) (lo, hi int, ok bool) {
	lo = slices.IndexFunc(pkts, func(p pkt) bool { return p.first })
	if lo < 0 {
		return 0, 0, false
	}
	for i := lo; i < len(pkts); i++ {
		if pkts[i].seq-pkts[lo].seq != int64(i-lo) {
			return 0, 0, false
		}
		if pkts[i].marker {
			return lo, i, true
		}
	}
	return 0, 0, false
}

// arrivals returns the first arrival of any packet and the last arrival in
// the run, i.e. when the frame became complete.
func (f *frame) arrivals(lo, hi int) (first, completed time.Time) {
	for i := range f.pkts {
		a := f.pkts[i].arrival
		if first.IsZero() || a.Before(first) {
			first = a
		}
		if i >= lo && i <= hi && a.After(completed) {
			completed = a
		}
	}
	return first, completed
}

// recentDropped is how many dropped frames are remembered so that packets
// arriving after the drop can still tell that the frame was only late. A
// packet more than a few frames late is rare; 16 frames is 0.64 s at 25 fps.
const recentDropped = 16

// maxRecordPkts bounds one record, so late packets with ever new sequence
// numbers cannot grow it without end.
const maxRecordPkts = 8192

// record is what is kept of a dropped frame: its packets' sequence numbers
// and flags, not their payloads.
type record struct {
	ts   int64
	pkts []pkt
	live bool // still counted incomplete; could turn out late
}

// dropped is a ring of the most recently dropped frames.
type dropped struct {
	r    [recentDropped]record
	next int
}

func (d *dropped) add(f *frame) {
	if _, _, ok := run(f.pkts); ok || f.overflow {
		return // complete already (pushed out by the bound), or can never be
	}
	r := &d.r[d.next]
	d.next = (d.next + 1) % recentDropped
	r.ts, r.live = f.ts, true
	r.pkts = append(r.pkts[:0], f.pkts...)
}

// late adds a packet that came after its frame was dropped and reports
// whether it completed the frame, which happens at most once per frame.
func (d *dropped) late(ts int64, p pkt) bool {
	for i := range d.r {
		r := &d.r[i]
		if !r.live || r.ts != ts {
			continue
		}
		j, found := slices.BinarySearchFunc(r.pkts, p.seq, func(q pkt, seq int64) int {
			return cmpInt(q.seq, seq)
		})
		if found || len(r.pkts) >= maxRecordPkts {
			return false
		}
		r.pkts = slices.Insert(r.pkts, j, p)
		if _, _, ok := run(r.pkts); ok {
			r.live = false
			return true
		}
		return false
	}
	return false
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
