package playout

import (
	"flowcam/stream/format/rtph264"
	"flowcam/stream/format/rtpjpeg"
)

// Depacketizer rebuilds one frame from its payloads in sequence order; the
// buffer hands it only frames whose packets are all there, from a first
// payload to the marker.
type Depacketizer interface {
	// Starts reports whether a payload may be a frame's first.
	Starts(payload []byte) bool
	// Push adds one payload; at the frame's marker packet it returns the
	// frame's bytes, valid until the next call, and whether a decoder can
	// start at the frame.
	Push(seq uint16, ts uint32, marker bool, payload []byte) (data []byte, key bool, err error)
}

// JPEG rebuilds RFC 2435 frames into JPEG files of at most maxFrame bytes
// of scan data.
func JPEG(maxFrame int) Depacketizer {
	return &jpegDepacketizer{d: rtpjpeg.Depacketizer{MaxFrame: maxFrame}}
}

type jpegDepacketizer struct{ d rtpjpeg.Depacketizer }

// Starts reports the RFC 2435 fragment offset 0 (payload bytes 1 to 3).
func (j *jpegDepacketizer) Starts(p []byte) bool { return len(p) >= 4 && p[1]|p[2]|p[3] == 0 }

func (j *jpegDepacketizer) Push(_ uint16, ts uint32, marker bool, payload []byte) ([]byte, bool, error) {
	b, err := j.d.Push(ts, marker, payload)
	return b, true, err
}

// H264 rebuilds RFC 6184 access units into Annex B (a start code before
// each NAL unit), what decoders and .h264 files take, of at most maxAU
// bytes.
func H264(maxAU int) Depacketizer {
	return &h264Depacketizer{d: rtph264.Depacketizer{MaxAU: maxAU}}
}

type h264Depacketizer struct {
	d      rtph264.Depacketizer
	out    []byte
	ts     uint32
	inUnit bool
}

// Starts reports a payload that can begin an access unit: an access unit
// delimiter, parameter set or SEI, or the start of a picture's first slice
// (first_mb_in_slice 0, a leading 1 bit), alone, first in a STAP-A, or as
// an FU-A's first fragment.
func (h *h264Depacketizer) Starts(p []byte) bool {
	if len(p) < 2 {
		return false
	}
	switch t := p[0] & 0x1F; {
	case t == 24 && len(p) >= 4: // STAP-A: the first unit's header follows its size
		return startsUnit(p[3], p[4:])
	case t == 28 && len(p) >= 3: // FU-A: start bit, then the unit's own type
		return p[1]&0x80 != 0 && startsUnit(p[1]&0x1F, p[2:])
	case t <= 23:
		return startsUnit(t, p[1:])
	}
	return false
}

// startsUnit applies the access unit rule to a NAL unit of type typ whose
// body starts with body.
func startsUnit(typ byte, body []byte) bool {
	switch typ & 0x1F {
	case 6, 7, 8, 9:
		return true
	case 1, 5:
		return len(body) > 0 && body[0]&0x80 != 0
	}
	return false
}

func (h *h264Depacketizer) Push(seq uint16, ts uint32, marker bool, payload []byte) ([]byte, bool, error) {
	if !h.inUnit || ts != h.ts {
		h.d.Resync() // the buffer skipped whatever lay between
		h.ts, h.inUnit = ts, true
	}
	au, err := h.d.Push(seq, ts, marker, payload)
	if err != nil || au == nil {
		return nil, false, err
	}
	h.inUnit = false
	h.out = h.out[:0]
	key := false
	for _, n := range au {
		h.out = append(append(h.out, 0, 0, 0, 1), n...)
		key = key || n[0]&0x1F == 5 // an IDR slice
	}
	return h.out, key, nil
}
