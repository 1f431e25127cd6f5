package record

import (
	"bytes"
	"errors"
	"fmt"
	"image/jpeg"

	"github.com/abema/go-mp4"
	"github.com/bluenviron/mediacommon/pkg/codecs/h264"
)

// track is what a container's header says about the video: learnt from
// the first key frame, since the client hears no more than the frames.
type track struct {
	h264          bool
	width, height int
	sps, pps      []byte // H.264 parameter sets, from the key frame's own NAL units
}

// errNoParameterSets means an H.264 key frame came without its SPS and
// PPS; flowcamd sends them before every key frame, so the next one does.
var errNoParameterSets = errors.New("H.264 key frame without SPS and PPS")

// probe describes the stream from one key frame: a JPEG file or an H.264
// access unit in Annex B, whose own parameter sets win over sps and pps
// (the description's).
func probe(data, sps, pps []byte) (track, error) {
	if bytes.HasPrefix(data, []byte{0xff, 0xd8}) {
		cfg, err := jpeg.DecodeConfig(bytes.NewReader(data))
		if err != nil {
			return track{}, fmt.Errorf("JPEG frame: %w", err)
		}
		return track{width: cfg.Width, height: cfg.Height}, nil
	}
	au, err := h264.AnnexBUnmarshal(data)
	if err != nil {
		return track{}, fmt.Errorf("H.264 access unit: %w", err)
	}
	t := track{h264: true, sps: sps, pps: pps}
	for _, nalu := range au {
		switch h264.NALUType(nalu[0] & 0x1f) {
		case h264.NALUTypeSPS:
			t.sps = nalu
		case h264.NALUTypePPS:
			t.pps = nalu
		}
	}
	if t.sps == nil || t.pps == nil {
		return track{}, errNoParameterSets
	}
	var parsed h264.SPS
	if err := parsed.Unmarshal(t.sps); err != nil {
		return track{}, fmt.Errorf("H.264 SPS: %w", err)
	}
	t.width, t.height = parsed.Width(), parsed.Height()
	return t, nil
}

// avcC is the H.264 decoder configuration record (ISO 14496-15) that
// Matroska keeps as the track's CodecPrivate.
func (t track) avcC() ([]byte, error) {
	var sps h264.SPS
	if err := sps.Unmarshal(t.sps); err != nil {
		return nil, err
	}
	rec := mp4.AVCDecoderConfiguration{
		AnyTypeBox:                 mp4.AnyTypeBox{Type: mp4.BoxTypeAvcC()},
		ConfigurationVersion:       1,
		Profile:                    sps.ProfileIdc,
		ProfileCompatibility:       t.sps[2],
		Level:                      sps.LevelIdc,
		LengthSizeMinusOne:         3,
		NumOfSequenceParameterSets: 1,
		SequenceParameterSets:      []mp4.AVCParameterSet{{Length: uint16(len(t.sps)), NALUnit: t.sps}},
		NumOfPictureParameterSets:  1,
		PictureParameterSets:       []mp4.AVCParameterSet{{Length: uint16(len(t.pps)), NALUnit: t.pps}},
	}
	var buf bytes.Buffer
	if _, err := mp4.Marshal(&buf, &rec, mp4.Context{}); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// sample is a frame as containers store it: a JPEG file as it is, an
// H.264 access unit as length-prefixed NAL units (AVCC) without its access
// unit delimiter, and the NAL units themselves for the DTS reckoning.
func (t track) sample(data []byte) (payload []byte, au [][]byte, err error) {
	if !t.h264 {
		return bytes.Clone(data), nil, nil
	}
	all, err := h264.AnnexBUnmarshal(data)
	if err != nil {
		return nil, nil, err
	}
	au = all[:0:0]
	for _, nalu := range all {
		if h264.NALUType(nalu[0]&0x1f) != h264.NALUTypeAccessUnitDelimiter {
			au = append(au, nalu)
		}
	}
	if len(au) == 0 {
		return nil, nil, errors.New("empty H.264 access unit")
	}
	payload, err = h264.AVCCMarshal(au)
	return payload, au, err
}
