package rtpjpeg

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
)

// Reasons a JPEG cannot travel as RFC 2435. Callers re-encode or refuse the
// frame; errors.Is tells which.
var (
	ErrMalformed  = errors.New("rtpjpeg: malformed JPEG")
	ErrBaseline   = errors.New("rtpjpeg: not a baseline sequential JPEG")
	ErrSampling   = errors.New("rtpjpeg: sampling is not YCbCr 4:2:2 or 4:2:0")
	ErrHuffman    = errors.New("rtpjpeg: Huffman tables are not the standard ones")
	ErrDimensions = errors.New("rtpjpeg: width and height must be multiples of 8 up to 2040")
	ErrPrecision  = errors.New("rtpjpeg: 16-bit quantization tables are not supported")
)

// JPEG markers used here.
const (
	mSOI  = 0xD8
	mEOI  = 0xD9
	mSOF0 = 0xC0
	mSOF1 = 0xC1
	mDHT  = 0xC4
	mDQT  = 0xDB
	mDRI  = 0xDD
	mSOS  = 0xDA
)

// Picture is a baseline JPEG taken apart into what RFC 2435 carries. Scan
// aliases the parsed buffer.
type Picture struct {
	Type          uint8 // 0 (4:2:2) or 1 (4:2:0), plus 64 with restart markers
	Width, Height int
	Quant         [128]byte // luma then chroma table, DQT (zig-zag) order
	Restart       uint16    // restart interval in MCUs, 0 for none
	Scan          []byte    // entropy-coded data, EOI stripped

	tables   [4][64]byte
	haveQ    [4]bool
	comps    [3]component
	haveSOF  bool
	haveSOS  bool
	lumaQ    uint8
	chromaQ  uint8
	ySubsamp uint8
}

type component struct{ id, sampling, quant uint8 }

// Parse splits a JPEG into p, checking every rule RFC 2435 imposes. It
// allocates nothing; p may be reused.
func Parse(data []byte, p *Picture) error {
	*p = Picture{}
	if len(data) < 4 || data[0] != 0xFF || data[1] != mSOI {
		return fmt.Errorf("%w: no SOI marker", ErrMalformed)
	}
	pos := 2
	for !p.haveSOS {
		marker, seg, next, err := nextSegment(data, pos)
		if err != nil {
			return err
		}
		if err := p.segment(marker, seg); err != nil {
			return err
		}
		pos = next
	}
	return p.finish(data[pos:])
}

// nextSegment reads the marker at pos and returns its payload.
func nextSegment(data []byte, pos int) (marker byte, seg []byte, next int, err error) {
	for pos < len(data) && data[pos] == 0xFF && pos+1 < len(data) && data[pos+1] == 0xFF {
		pos++ // fill bytes
	}
	if pos+4 > len(data) || data[pos] != 0xFF {
		return 0, nil, 0, fmt.Errorf("%w: expected a marker at byte %d", ErrMalformed, pos)
	}
	marker = data[pos+1]
	n := int(binary.BigEndian.Uint16(data[pos+2:]))
	if n < 2 || pos+2+n > len(data) {
		return 0, nil, 0, fmt.Errorf("%w: segment %#x at byte %d overruns the data", ErrMalformed, marker, pos)
	}
	return marker, data[pos+4 : pos+2+n], pos + 2 + n, nil
}

func (p *Picture) segment(marker byte, seg []byte) error {
	switch {
	case marker == mDQT:
		return p.dqt(seg)
	case marker == mSOF0 || marker == mSOF1:
		return p.sof(seg)
	case marker == mDHT:
		return dht(seg)
	case marker == mDRI:
		if len(seg) != 2 {
			return fmt.Errorf("%w: DRI length %d", ErrMalformed, len(seg))
		}
		p.Restart = binary.BigEndian.Uint16(seg)
	case marker == mSOS:
		return p.sos(seg)
	case marker >= 0xC2 && marker <= 0xCF && marker != 0xC8:
		// SOF2..SOF15 (progressive, lossless, arithmetic) and DAC.
		return fmt.Errorf("%w: frame marker %#x", ErrBaseline, marker)
	case marker >= 0xD0 && marker <= 0xD9, marker == 0x01:
		return fmt.Errorf("%w: unexpected marker %#x before the scan", ErrMalformed, marker)
	}
	return nil // APPn, COM and friends carry nothing RTP needs
}

func (p *Picture) dqt(seg []byte) error {
	for len(seg) > 0 {
		pq, tq := seg[0]>>4, seg[0]&0x0F
		if pq != 0 {
			return ErrPrecision
		}
		if tq > 3 || len(seg) < 65 {
			return fmt.Errorf("%w: bad DQT table %d", ErrMalformed, tq)
		}
		copy(p.tables[tq][:], seg[1:65])
		p.haveQ[tq] = true
		seg = seg[65:]
	}
	return nil
}

func (p *Picture) sof(seg []byte) error {
	if p.haveSOF {
		return fmt.Errorf("%w: two frame headers", ErrMalformed)
	}
	if len(seg) < 6 || seg[0] != 8 {
		return fmt.Errorf("%w: frame header is not 8-bit", ErrBaseline)
	}
	p.Height = int(binary.BigEndian.Uint16(seg[1:]))
	p.Width = int(binary.BigEndian.Uint16(seg[3:]))
	if seg[5] != 3 || len(seg) != 6+3*3 {
		return fmt.Errorf("%w: %d components", ErrSampling, seg[5])
	}
	for i := range p.comps {
		c := seg[6+3*i:]
		p.comps[i] = component{id: c[0], sampling: c[1], quant: c[2]}
	}
	p.haveSOF = true
	return nil
}

// dht accepts only the standard tables, which the receiver rebuilds itself.
func dht(seg []byte) error {
	for len(seg) > 0 {
		if len(seg) < 17 {
			return fmt.Errorf("%w: short DHT", ErrMalformed)
		}
		total := 0
		for _, c := range seg[1:17] {
			total += int(c)
		}
		if len(seg) < 17+total {
			return fmt.Errorf("%w: short DHT", ErrMalformed)
		}
		if !isStandard(seg[0]>>4, seg[0]&0x0F, seg[1:17], seg[17:17+total]) {
			return ErrHuffman
		}
		seg = seg[17+total:]
	}
	return nil
}

func (p *Picture) sos(seg []byte) error {
	if !p.haveSOF {
		return fmt.Errorf("%w: scan before frame header", ErrMalformed)
	}
	if len(seg) != 1+3*2+3 || seg[0] != 3 {
		return fmt.Errorf("%w: scan is not interleaved YCbCr", ErrBaseline)
	}
	// Y must use Huffman tables 0/0 and chroma 1/1: the receiver assigns
	// the standard tables that way.
	for i, want := range [3]uint8{0x00, 0x11, 0x11} {
		if seg[1+2*i] != p.comps[i].id || seg[2+2*i] != want {
			return ErrHuffman
		}
	}
	if ss, se, a := seg[7], seg[8], seg[9]; ss != 0 || se != 63 || a != 0 {
		return fmt.Errorf("%w: spectral selection %d-%d", ErrBaseline, ss, se)
	}
	p.haveSOS = true
	return nil
}

// finish checks sampling and dimensions and locates the scan data.
func (p *Picture) finish(rest []byte) error {
	y, cb, cr := p.comps[0], p.comps[1], p.comps[2]
	switch {
	case y.sampling == 0x21 && cb.sampling == 0x11 && cr.sampling == 0x11:
		p.Type = 0
	case y.sampling == 0x22 && cb.sampling == 0x11 && cr.sampling == 0x11:
		p.Type = 1
	default:
		return fmt.Errorf("%w: sampling %#x/%#x/%#x", ErrSampling, y.sampling, cb.sampling, cr.sampling)
	}
	if cb.quant != cr.quant || y.quant > 3 || cb.quant > 3 || !p.haveQ[y.quant] || !p.haveQ[cb.quant] {
		return fmt.Errorf("%w: quantization tables missing or not shared by Cb and Cr", ErrMalformed)
	}
	copy(p.Quant[:64], p.tables[y.quant][:])
	copy(p.Quant[64:], p.tables[cb.quant][:])
	if p.Width == 0 || p.Height == 0 || p.Width%8 != 0 || p.Height%8 != 0 ||
		p.Width > 2040 || p.Height > 2040 {
		return fmt.Errorf("%w: got %dx%d", ErrDimensions, p.Width, p.Height)
	}
	if p.Restart > 0 {
		p.Type += 64
	}
	end := bytes.Index(rest, eoi)
	if end < 0 {
		return fmt.Errorf("%w: no EOI marker (truncated frame?)", ErrMalformed)
	}
	if end >= 1<<24 {
		return fmt.Errorf("%w: %d bytes of scan data exceed the 24-bit fragment offset", ErrDimensions, end)
	}
	p.Scan = rest[:end]
	return nil
}

// eoi ends the scan: byte stuffing keeps it out of the coded data, so the
// first one is the end, and whatever some cameras append after it (even
// another EOI) is not part of the picture.
var eoi = []byte{0xFF, mEOI}
