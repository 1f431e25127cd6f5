package demux

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/abema/go-mp4"
	"github.com/bluenviron/mediacommon/pkg/codecs/h264"
)

// H.264 in MP4 and Matroska is stored the same way (ISO/IEC 14496-15): each
// sample holds one access unit as NAL units with a big-endian length in
// front of each, and the track's AVCDecoderConfigurationRecord (the avcC
// box, or Matroska's CodecPrivate) gives the size of that length and the
// parameter sets, which are usually not repeated in the samples. RTP
// passthrough wants Annex B instead, so samples are rewritten with start
// codes.
//
// The record is decoded with go-mp4's avcC box type in both containers:
// mediacommon v1.14.0 has no parser of its own for it (its fmp4 package uses
// go-mp4's too). Samples are converted here rather than with mediacommon's
// h264.AVCC.Unmarshal, which reads only 4-byte lengths, refuses access
// units of more than 25 NAL units or 8 MiB (both legal in a file) and
// allocates a slice per sample; the SPS is parsed with its h264.SPS.

// codecH264 is Info.Codec for H.264 tracks, whatever the container calls
// them.
const codecH264 = "h264"

// annexBStart is the start code put in front of every NAL unit.
var annexBStart = []byte{0, 0, 0, 1}

// avcTrack is what reading an H.264 track needs from its configuration
// record.
type avcTrack struct {
	lengthSize    int      // 1, 2 or 4
	params        [][]byte // SPS then PPS NAL units, without start codes
	width, height int      // from the first SPS, 0 when it cannot be parsed
	out           []byte   // the last access unit in Annex B
}

// parseAVCRecord decodes an AVCDecoderConfigurationRecord held in memory
// (Matroska's CodecPrivate).
func parseAVCRecord(rec []byte) (*avcTrack, error) {
	var box mp4.IBox
	err := guardMP4("decoding an AVC configuration record", nil, func() (err error) {
		box, _, err = mp4.UnmarshalAny(bytes.NewReader(rec), mp4.BoxTypeAvcC(), uint64(len(rec)), mp4.Context{})
		return err
	})
	if err != nil {
		return nil, err
	}
	avcC, ok := box.(*mp4.AVCDecoderConfiguration)
	if !ok {
		return nil, errors.New("not an AVC configuration record")
	}
	return newAVCTrack(avcC)
}

// newAVCTrack takes what reading needs from a decoded configuration record.
// The SPS gives the picture size for containers that do not state it; an
// SPS mediacommon cannot parse is left to the decoder at the other end.
func newAVCTrack(c *mp4.AVCDecoderConfiguration) (*avcTrack, error) {
	a := &avcTrack{lengthSize: int(c.LengthSizeMinusOne) + 1}
	if a.lengthSize == 3 {
		return nil, errors.New("AVC configuration record with 3-byte NAL unit lengths")
	}
	for _, sets := range [][]mp4.AVCParameterSet{c.SequenceParameterSets, c.PictureParameterSets} {
		for _, ps := range sets {
			if len(ps.NALUnit) > 0 {
				a.params = append(a.params, bytes.Clone(ps.NALUnit))
			}
		}
	}
	for _, ps := range a.params {
		var sps h264.SPS
		if h264.NALUType(ps[0]&0x1F) != h264.NALUTypeSPS || sps.Unmarshal(ps) != nil {
			continue
		}
		if w, h := sps.Width(), sps.Height(); w > 0 && h > 0 && w <= 1<<16 && h <= 1<<16 {
			a.width, a.height = w, h
		}
		break
	}
	return a, nil
}

// annexB rewrites sample b, length-prefixed NAL units, in Annex B. A sample
// whose lengths do not add up to its size is refused, and so is one whose
// rewriting would exceed maxFrameSize (short lengths grow with their start
// codes). Empty NAL units are dropped: some muxers pad with them.
func (a *avcTrack) annexB(b []byte) ([]byte, error) {
	size, err := a.walk(b, nil)
	if err != nil {
		return nil, err
	}
	if size > maxFrameSize {
		return nil, fmt.Errorf("access unit of %d bytes in Annex B", size)
	}
	a.out = a.out[:0]
	if cap(a.out) < size {
		a.out = make([]byte, 0, size+size/4)
	}
	_, err = a.walk(b, func(nal []byte) { a.out = append(append(a.out, annexBStart...), nal...) })
	return a.out, err
}

// walk checks the NAL unit lengths of b, hands each non-empty unit to fn
// when fn is not nil, and returns the size of b in Annex B.
func (a *avcTrack) walk(b []byte, fn func(nal []byte)) (int, error) {
	size, units := 0, 0
	for off := 0; off < len(b); {
		if len(b)-off < a.lengthSize {
			return 0, fmt.Errorf("%d bytes left at offset %d, less than a NAL unit length", len(b)-off, off)
		}
		var n uint64
		for _, c := range b[off : off+a.lengthSize] {
			n = n<<8 | uint64(c)
		}
		off += a.lengthSize
		if n > uint64(len(b)-off) {
			return 0, fmt.Errorf("NAL unit of %d bytes at offset %d overruns the sample by %d bytes", n, off-a.lengthSize, n-uint64(len(b)-off))
		}
		if n > 0 {
			if fn != nil {
				fn(b[off : off+int(n)])
			}
			size += len(annexBStart) + int(n)
			units++
		}
		off += int(n)
	}
	if units == 0 {
		return 0, errors.New("no NAL unit")
	}
	return size, nil
}
