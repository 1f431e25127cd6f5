package rtph264

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/pion/rtp"
)

// ErrPacket reports an RTP/H.264 payload that cannot be parsed, or a
// packetization (STAP-B, MTAP, FU-B) that mode 1 does not use.
var ErrPacket = errors.New("rtph264: malformed payload")

// DefaultMaxAU bounds the memory one access unit may take while it is
// assembled.
const DefaultMaxAU = 8 << 20

// maxNALUs bounds the NAL units of one access unit.
const maxNALUs = 1024

// DepacketizerStats counts what happened to received access units.
type DepacketizerStats struct {
	AUs        uint64 // complete access units returned
	Incomplete uint64 // access units dropped because a packet was missing
	Malformed  uint64 // payloads that could not be parsed
}

// Depacketizer assembles access units from one stream's RTP/H.264
// packets, given in sequence order. An access unit ends at the marker bit
// or when the timestamp changes; one with a missing packet (a gap in the
// sequence numbers, a fragment without its start) is dropped whole, never
// returned damaged: the caller asks for a keyframe (PLI) instead.
type Depacketizer struct {
	MaxAU int // bytes per access unit; DefaultMaxAU when 0

	cur, out   assembly
	inAU       bool
	ended      bool // the unit being assembled is complete, to go out at the next call
	ts         uint32
	seq        uint16
	haveSeq    bool
	fragmented bool // inside an FU-A

	stats DepacketizerStats
}

// assembly is an access unit's NAL units laid end to end.
type assembly struct {
	buf    []byte
	starts []int
	nalus  [][]byte
	broken bool
}

func (a *assembly) reset() { a.buf, a.starts, a.broken = a.buf[:0], a.starts[:0], false }

func (a *assembly) begin() { a.starts = append(a.starts, len(a.buf)) }

// units slices the NAL units out of buf, once it no longer grows.
func (a *assembly) units() [][]byte {
	a.nalus = a.nalus[:0]
	for i, s := range a.starts {
		end := len(a.buf)
		if i+1 < len(a.starts) {
			end = a.starts[i+1]
		}
		a.nalus = append(a.nalus, a.buf[s:end])
	}
	return a.nalus
}

// Stats returns the counters so far.
func (d *Depacketizer) Stats() DepacketizerStats { return d.stats }

// Resync forgets the sequence numbers and any unit in progress, for a
// caller that hands over whole access units and skips broken ones itself
// (a play-out buffer): the next packet starts afresh, not after a gap.
func (d *Depacketizer) Resync() {
	d.cur.reset()
	d.inAU, d.ended, d.haveSeq, d.fragmented = false, false, false, false
}

// PushPacket is Push for a parsed RTP packet.
func (d *Depacketizer) PushPacket(p *rtp.Packet) ([][]byte, error) {
	return d.Push(p.SequenceNumber, p.Timestamp, p.Marker, p.Payload)
}

// Push adds one packet. When it completes an access unit (its marker bit,
// or its new timestamp ending the one before) it returns that unit's NAL
// units, valid until the next call; else nil. A malformed payload is an
// error wrapping ErrPacket, and breaks the access unit it belongs to.
func (d *Depacketizer) Push(seq uint16, ts uint32, marker bool, payload []byte) ([][]byte, error) {
	gap := d.haveSeq && seq != d.seq+1
	// One packet lost while a fragmented unit waited for its end: it was
	// that end, and the unit starting here is whole.
	lostEnd := gap && seq-d.seq == 2 && d.inAU && d.fragmented && ts != d.ts
	d.seq, d.haveSeq = seq, true
	var done [][]byte
	if d.inAU && (ts != d.ts || d.ended) {
		if gap && !d.ended {
			d.cur.broken = true // the lost packet may have been its last
		}
		done = d.finish()
	}
	if !d.inAU {
		d.inAU, d.ts, d.fragmented = true, ts, false
		d.cur.broken = gap && !lostEnd // else the lost packet may have been its first
	} else if gap {
		d.cur.broken = true
	}
	if err := d.add(payload); err != nil {
		d.stats.Malformed++
		d.cur.broken = true
		return done, err
	}
	if marker {
		if done == nil {
			return d.finish(), nil
		}
		d.ended = true // two units ended at once: this one goes out at the next call
	}
	return done, nil
}

// finish ends the access unit being assembled: its NAL units, or nil (and
// counted) when it is broken.
func (d *Depacketizer) finish() [][]byte {
	d.inAU, d.ended = false, false
	if d.fragmented {
		d.cur.broken = true // an FU-A without its end
	}
	if d.cur.broken || len(d.cur.starts) == 0 {
		d.stats.Incomplete++
		d.cur.reset()
		return nil
	}
	d.cur, d.out = d.out, d.cur
	d.cur.reset()
	d.stats.AUs++
	return d.out.units()
}

// add appends one payload's NAL units to the current access unit.
func (d *Depacketizer) add(p []byte) error {
	if len(p) < 1 {
		return fmt.Errorf("%w: empty payload", ErrPacket)
	}
	switch typ := p[0] & 0x1F; {
	case typ >= 1 && typ <= 23:
		if d.fragmented {
			d.cur.broken = true // the FU-A before never ended
			d.fragmented = false
		}
		return d.appendNALU(p)
	case typ == typeSTAPA:
		if d.fragmented {
			d.cur.broken = true // the FU-A before never ended
			d.fragmented = false
		}
		return d.addSTAPA(p[1:])
	case typ == typeFUA:
		return d.addFUA(p)
	default:
		return fmt.Errorf("%w: NAL unit type %d is not used in packetization mode 1", ErrPacket, typ)
	}
}

func (d *Depacketizer) addSTAPA(p []byte) error {
	if len(p) == 0 {
		return fmt.Errorf("%w: empty STAP-A", ErrPacket)
	}
	for len(p) > 0 {
		if len(p) < 2 {
			return fmt.Errorf("%w: STAP-A size cut short", ErrPacket)
		}
		n := int(binary.BigEndian.Uint16(p))
		if n == 0 || len(p) < 2+n {
			return fmt.Errorf("%w: STAP-A unit of %d bytes in %d", ErrPacket, n, len(p)-2)
		}
		if err := d.appendNALU(p[2 : 2+n]); err != nil {
			return err
		}
		p = p[2+n:]
	}
	return nil
}

func (d *Depacketizer) addFUA(p []byte) error {
	if len(p) < 3 {
		return fmt.Errorf("%w: FU-A of %d bytes", ErrPacket, len(p))
	}
	start, end := p[1]&0x80 != 0, p[1]&0x40 != 0
	switch {
	case start && end:
		return fmt.Errorf("%w: FU-A with both start and end bits", ErrPacket)
	case start:
		if d.fragmented {
			d.cur.broken = true
		}
		if err := d.appendNALU([]byte{p[0]&0xE0 | p[1]&0x1F}); err != nil {
			return err
		}
		d.fragmented = true
	case !d.fragmented:
		d.cur.broken = true // its start was lost
		return nil
	}
	if err := d.grow(len(p) - 2); err != nil {
		return err
	}
	d.cur.buf = append(d.cur.buf, p[2:]...)
	if end {
		d.fragmented = false
	}
	return nil
}

func (d *Depacketizer) appendNALU(n []byte) error {
	if len(d.cur.starts) >= maxNALUs {
		return fmt.Errorf("%w: over %d NAL units in one access unit", ErrPacket, maxNALUs)
	}
	if err := d.grow(len(n)); err != nil {
		return err
	}
	d.cur.begin()
	d.cur.buf = append(d.cur.buf, n...)
	return nil
}

func (d *Depacketizer) grow(n int) error {
	limit := d.MaxAU
	if limit <= 0 {
		limit = DefaultMaxAU
	}
	if len(d.cur.buf)+n > limit {
		return fmt.Errorf("%w: access unit over %d bytes", ErrPacket, limit)
	}
	return nil
}
