package record

import (
	"fmt"
	"io"

	"github.com/bluenviron/mediacommon/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/pkg/formats/fmp4"
	"github.com/bluenviron/mediacommon/pkg/formats/fmp4/seekablebuffer"
)

// fragmented writes fragmented MP4: an init segment (ftyp, moov), then a
// fragment (moof, mdat) of about a second starting at a key frame, written
// whole, so a file cut off by a power loss plays up to its last fragment.
// A sample's duration is the gap to the next one's decoding time, so each
// waits for the next; H.264 decoding times come from the pictures' order
// counts (B-frames are sent before they show).
type fragmented struct {
	w        io.Writer
	seq      uint32
	dts      *h264.DTSExtractor2 // nil for MJPEG: decoding time is presentation time
	sps      []byte
	frag     []*fmp4.PartSample
	fragBase int64 // decoding time of frag's first sample
	pending  *fmp4.PartSample
	lastDTS  int64
	lastKey  bool
	interval int64 // the last sample's duration, for the one after it at the end
	buf      seekablebuffer.Buffer
}

func newMP4(w io.Writer, t track) (*fragmented, error) {
	m := &fragmented{w: w, seq: 1, interval: clockRate / 25}
	var codec fmp4.Codec = &fmp4.CodecMJPEG{Width: t.width, Height: t.height}
	if t.h264 {
		codec, m.dts, m.sps = &fmp4.CodecH264{SPS: t.sps, PPS: t.pps}, h264.NewDTSExtractor2(), t.sps
	}
	init := fmp4.Init{Tracks: []*fmp4.InitTrack{{ID: 1, TimeScale: clockRate, Codec: codec}}}
	if err := init.Marshal(&m.buf); err != nil {
		return nil, err
	}
	return m, m.out()
}

// out writes what buf holds.
func (m *fragmented) out() error {
	_, err := m.w.Write(m.buf.Bytes())
	m.buf.Reset()
	return err
}

func (m *fragmented) write(pts int64, key bool, payload []byte, au [][]byte) error {
	dts := pts
	if m.dts != nil {
		if key && !hasSPS(au) {
			au = append([][]byte{m.sps}, au...) // the description's, which the extractor needs to have seen
		}
		var err error
		if dts, err = m.dts.Extract(au, pts); err != nil {
			return fmt.Errorf("%w: H.264 decoding time: %v", errBadFrame, err)
		}
	}
	if m.pending != nil {
		if err := m.settle(dts, key); err != nil {
			return err
		}
	}
	m.pending = &fmp4.PartSample{PTSOffset: int32(pts - dts), IsNonSyncSample: !key, Payload: payload}
	m.lastDTS = dts
	return nil
}

// settle gives the pending sample its duration now that the next one's
// decoding time is known, and writes the fragment out first when the next
// sample starts a new one.
func (m *fragmented) settle(next int64, nextKey bool) error {
	m.interval = max(next-m.lastDTS, 1)
	m.pending.Duration = uint32(m.interval)
	if len(m.frag) == 0 {
		m.fragBase = m.lastDTS
	}
	m.frag = append(m.frag, m.pending)
	m.pending = nil
	if cut(nextKey, next-m.fragBase) {
		return m.flush()
	}
	return nil
}

func (m *fragmented) flush() error {
	part := fmp4.Part{SequenceNumber: m.seq, Tracks: []*fmp4.PartTrack{{ID: 1, BaseTime: uint64(max(m.fragBase, 0)), Samples: m.frag}}}
	m.seq++
	m.frag = nil
	if err := part.Marshal(&m.buf); err != nil {
		return err
	}
	return m.out()
}

func (m *fragmented) close() error {
	if m.pending != nil {
		if err := m.settle(m.lastDTS+m.interval, true); err != nil {
			return err
		}
	}
	if len(m.frag) > 0 {
		return m.flush()
	}
	return nil
}

func hasSPS(au [][]byte) bool {
	for _, n := range au {
		if h264.NALUType(n[0]&0x1f) == h264.NALUTypeSPS {
			return true
		}
	}
	return false
}
