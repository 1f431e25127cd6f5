package rtpjpeg

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/pion/rtp"
)

// ErrPacket reports an RTP/JPEG payload that cannot be parsed.
var ErrPacket = errors.New("rtpjpeg: malformed payload")

// DefaultMaxFrame bounds the memory one frame may take while it is rebuilt.
const DefaultMaxFrame = 8 << 20

// DepacketizerStats counts what happened to received frames.
type DepacketizerStats struct {
	Frames     uint64 // complete frames returned
	Incomplete uint64 // frames dropped because a fragment was missing
	Duplicates uint64 // fragments received twice
	Malformed  uint64 // payloads that could not be parsed
}

// Depacketizer rebuilds JPEG pictures from one stream's RTP/JPEG packets,
// given in sequence order. A frame with a missing fragment is dropped
// whole, never returned damaged.
type Depacketizer struct {
	MaxFrame int // bytes of scan data per frame; DefaultMaxFrame when 0

	inFrame   bool
	broken    bool
	haveFirst bool
	ts        uint32
	next      int
	done      bool   // a frame completed and
	doneTS    uint32 // this was its timestamp
	pic       Picture
	scan      []byte
	out       []byte

	cachedQ    uint8 // Q >= 128 tables may be sent once and then omitted
	cached     [128]byte
	haveCached bool

	stats DepacketizerStats
}

// Stats returns the counters so far.
func (d *Depacketizer) Stats() DepacketizerStats { return d.stats }

// PushPacket is Push for a parsed RTP packet.
func (d *Depacketizer) PushPacket(p *rtp.Packet) ([]byte, error) {
	return d.Push(p.Timestamp, p.Marker, p.Payload)
}

// Push adds one packet's payload. When the packet completes a frame it
// returns the JPEG file, valid until the next call.
func (d *Depacketizer) Push(ts uint32, marker bool, payload []byte) ([]byte, error) {
	if len(payload) < mainHeaderLen {
		d.stats.Malformed++
		return nil, fmt.Errorf("%w: %d bytes", ErrPacket, len(payload))
	}
	off := int(payload[1])<<16 | int(payload[2])<<8 | int(payload[3])
	if !d.inFrame && d.done && ts == d.doneTS {
		d.stats.Duplicates++ // a late copy of a frame already returned
		return nil, nil
	}
	if !d.inFrame || ts != d.ts {
		if d.inFrame {
			d.stats.Incomplete++
		}
		d.begin(ts)
	}
	if off < d.next {
		d.stats.Duplicates++
		return nil, nil
	}
	data, err := d.headers(off, payload)
	if err != nil {
		d.stats.Malformed++
		d.broken = true
	}
	if off > d.next || len(d.scan)+len(data) > d.maxFrame() {
		d.broken = true
	}
	if !d.broken {
		d.scan = append(d.scan, data...)
	}
	d.next = off + len(data)
	if !marker {
		return nil, err
	}
	d.inFrame = false
	if d.broken {
		d.stats.Incomplete++
		return nil, err
	}
	d.done, d.doneTS = true, ts
	d.stats.Frames++
	d.pic.Scan = d.scan
	d.out = d.pic.AppendJPEG(d.out[:0])
	return d.out, nil
}

func (d *Depacketizer) begin(ts uint32) {
	d.inFrame, d.broken, d.haveFirst, d.ts, d.next = true, false, false, ts, 0
	d.scan = d.scan[:0]
}

func (d *Depacketizer) maxFrame() int {
	if d.MaxFrame > 0 {
		return d.MaxFrame
	}
	return DefaultMaxFrame
}

// headers parses the RFC 2435 headers in front of a fragment and returns its
// scan data. The first fragment fixes the frame's type, size and tables.
func (d *Depacketizer) headers(off int, payload []byte) ([]byte, error) {
	typ, q := payload[4], payload[5]
	w, h := int(payload[6])*8, int(payload[7])*8
	rest := payload[mainHeaderLen:]
	if typ&^64 > 1 || w == 0 || h == 0 {
		return nil, fmt.Errorf("%w: type %d size %dx%d", ErrPacket, typ, w, h)
	}
	var restart uint16
	if typ >= 64 {
		if len(rest) < restartHeaderLen {
			return nil, fmt.Errorf("%w: short restart header", ErrPacket)
		}
		restart = binary.BigEndian.Uint16(rest)
		rest = rest[restartHeaderLen:]
	}
	if off != 0 {
		if !d.haveFirst {
			return rest, nil // the frame is already lost; nothing to compare with
		}
		if typ != d.pic.Type || w != d.pic.Width || h != d.pic.Height {
			return nil, fmt.Errorf("%w: header changed within a frame", ErrPacket)
		}
		return rest, nil
	}
	d.pic.Type, d.pic.Width, d.pic.Height, d.pic.Restart = typ, w, h, restart
	d.haveFirst = true
	if q < 128 {
		d.pic.Quant = MakeTables(int(q))
		return rest, nil
	}
	return d.inbandTables(q, rest)
}

func (d *Depacketizer) inbandTables(q uint8, rest []byte) ([]byte, error) {
	if len(rest) < 4 {
		return nil, fmt.Errorf("%w: short quantization header", ErrPacket)
	}
	precision, n := rest[1], int(binary.BigEndian.Uint16(rest[2:]))
	rest = rest[4:]
	switch {
	case n == 0 && d.haveCached && d.cachedQ == q:
		d.pic.Quant = d.cached
		return rest, nil
	case precision != 0:
		return nil, ErrPrecision
	case (n != 64 && n != 128) || len(rest) < n:
		return nil, fmt.Errorf("%w: quantization tables of %d bytes", ErrPacket, n)
	}
	copy(d.pic.Quant[:64], rest[:64])
	copy(d.pic.Quant[64:], rest[n-64:n]) // one table serves both when only one is sent
	d.cachedQ, d.cached, d.haveCached = q, d.pic.Quant, true
	return rest[n:], nil
}

// AppendJPEG appends the complete JPEG file for p to dst: the headers RFC
// 2435 lets the receiver rebuild (tables, frame and scan headers), the scan
// data and EOI.
func (p *Picture) AppendJPEG(dst []byte) []byte {
	dst = append(dst, 0xFF, mSOI)
	for i := 0; i < 2; i++ {
		dst = append(dst, 0xFF, mDQT, 0, 67, byte(i))
		dst = append(dst, p.Quant[64*i:64*(i+1)]...)
	}
	ySampling := byte(0x21)
	if p.Type&1 == 1 {
		ySampling = 0x22
	}
	dst = append(dst, 0xFF, mSOF0, 0, 17, 8,
		byte(p.Height>>8), byte(p.Height), byte(p.Width>>8), byte(p.Width), 3,
		1, ySampling, 0, 2, 0x11, 1, 3, 0x11, 1)
	dst = appendDHT(dst)
	if p.Type >= 64 && p.Restart > 0 {
		dst = append(dst, 0xFF, mDRI, 0, 4, byte(p.Restart>>8), byte(p.Restart))
	}
	dst = append(dst, 0xFF, mSOS, 0, 12, 3, 1, 0x00, 2, 0x11, 3, 0x11, 0, 63, 0)
	dst = append(dst, p.Scan...)
	if n := len(p.Scan); n < 2 || p.Scan[n-2] != 0xFF || p.Scan[n-1] != mEOI {
		dst = append(dst, 0xFF, mEOI)
	}
	return dst
}

func appendDHT(dst []byte) []byte {
	n := 2
	for i := range stdHuffman {
		n += 17 + len(stdHuffman[i].symbols)
	}
	dst = append(dst, 0xFF, mDHT, byte(n>>8), byte(n))
	for i := range stdHuffman {
		t := &stdHuffman[i]
		dst = append(dst, t.class<<4|t.id)
		dst = append(dst, t.counts[:]...)
		dst = append(dst, t.symbols...)
	}
	return dst
}
