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

// SplitAnnexB appends to dst the NAL units of one access unit in Annex B
// form (start codes of 3 or 4 bytes), as slices of b. A NAL unit never
// holds a start code (emulation prevention sees to it), so the start codes
// alone delimit them.
func SplitAnnexB(dst [][]byte, b []byte) [][]byte {
	start := -1
	for i := 0; i+2 < len(b); {
		if b[i] != 0 || b[i+1] != 0 || b[i+2] != 1 {
			i++
			continue
		}
		if start >= 0 {
			if n := b[start:trimZeros(b, start, i)]; len(n) > 0 {
				dst = append(dst, n)
			}
		}
		i += 3
		start = i
	}
	if start >= 0 && start < len(b) {
		if n := b[start:trimZeros(b, start, len(b))]; len(n) > 0 {
			dst = append(dst, n)
		}
	}
	return dst
}

// Clone copies an access unit into one buffer of its own, for a frame
// that outlives the buffer its NAL units were read into.
func Clone(au [][]byte) [][]byte {
	size := 0
	for _, n := range au {
		size += len(n)
	}
	buf := make([]byte, 0, size)
	out := make([][]byte, len(au))
	for i, n := range au {
		buf = append(buf, n...)
		out[i] = buf[len(buf)-len(n):]
	}
	return out
}

// Damaged reports a NAL unit no decoder can take: empty, or with its
// forbidden_zero_bit set, which only a bit error or a lost byte leaves.
func Damaged(nalu []byte) bool { return len(nalu) == 0 || nalu[0]&0x80 != 0 }

// Clean drops the damaged NAL units of au, in place, and says how many
// went. A unit that lost its picture to them (no slice left) comes back
// empty; parameter sets alone, undamaged, stay a unit (some encoders send
// them in a buffer of their own).
func Clean(au [][]byte) ([][]byte, int) {
	kept, picture := au[:0], false
	for _, n := range au {
		if Damaged(n) {
			continue
		}
		kept = append(kept, n)
		t := n[0] & 0x1F
		picture = picture || (t >= TypeSlice && t <= TypeIDR)
	}
	dropped := len(au) - len(kept)
	if dropped > 0 && !picture {
		return kept[:0], dropped
	}
	return kept, dropped
}
