package h264

import (
	"fmt"

	mch264 "github.com/bluenviron/mediacommon/pkg/codecs/h264"
)

// Key reports whether an access unit holds an IDR picture, where a
// decoder can start.
func Key(au [][]byte) bool {
	for _, n := range au {
		if len(n) > 0 && n[0]&0x1F == TypeIDR {
			return true
		}
	}
	return false
}

// ParameterSet returns the first NAL unit of type typ (TypeSPS, TypePPS)
// in au, or nil.
func ParameterSet(au [][]byte, typ byte) []byte {
	for _, n := range au {
		if len(n) > 0 && n[0]&0x1F == typ {
			return n
		}
	}
	return nil
}

// PictureSize is the picture size an SPS gives, cropping applied.
func PictureSize(sps []byte) (width, height int, err error) {
	var s mch264.SPS
	if err := s.Unmarshal(sps); err != nil {
		return 0, 0, fmt.Errorf("h264: SPS: %w", err)
	}
	return s.Width(), s.Height(), nil
}
