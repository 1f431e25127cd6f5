// Package capture owns everything that produces frames: the frame type,
// the planar picture buffers sources fill, and the pipeline that runs a source
// through an encoder and hands finished frames (JPEG, or H.264 access units
// a source delivered compressed) downstream. Concrete sources (pattern, v4l2,
// file, child) and encoders (jpeg) live in sub-packages.
package capture

import (
	"fmt"
	"image"
	"time"
)

// Frame is one picture on its way from a source to the network. A source
// fills one of Image (raw planar YCbCr, to be encoded), JPEG (already
// compressed, e.g. camera MJPEG) or H264 (an access unit, passed through);
// the pipeline fills JPEG from Image.
type Frame struct {
	// Image is the raw picture; nil when the source delivers JPEG.
	Image *image.YCbCr
	// JPEG is the baseline JPEG picture.
	JPEG []byte
	// H264 is one H.264 access unit: its NAL units in decoding order,
	// without start codes.
	H264 [][]byte
	// Key marks an H.264 access unit a decoder can start at (an IDR).
	Key bool
	// PTS is the frame's presentation time on the source's own continuous
	// clock; RTP timestamps are derived from it.
	PTS time.Duration
	// Captured is the wall-clock instant the frame was taken (with a
	// monotonic reading), used to map RTP time to NTP time in sender reports.
	Captured time.Time
	// Seq numbers frames from the source; gaps mean frames dropped at source.
	Seq uint64

	release func(*Frame)
}

// Release hands the frame's buffers back to their owner. Calling it on a
// frame without an owner is a no-op, so consumers may always call it.
func (f *Frame) Release() {
	if f != nil && f.release != nil {
		f.release(f)
	}
}

// Size is a picture size in pixels.
type Size struct {
	Width, Height int
}

// Validate reports whether RTP/JPEG can carry a picture of this size.
func (s Size) Validate() error {
	for _, d := range []int{s.Width, s.Height} {
		if d < 8 || d > MaxDimension || d%8 != 0 {
			return fmt.Errorf("size %dx%d: width and height must be multiples of 8 from 8 to %d",
				s.Width, s.Height, MaxDimension)
		}
	}
	return nil
}

func (s Size) String() string { return fmt.Sprintf("%dx%d", s.Width, s.Height) }

// MaxDimension is the largest width or height RTP/JPEG (RFC 2435) can carry:
// the header stores dimensions in units of 8 pixels in one byte.
const MaxDimension = 2040

// NewYCbCr allocates a planar picture padded to whole 16x16 blocks. JPEG
// encoders read entire MCUs (up to 16 rows and columns) and would otherwise
// read past the planes at the bottom or right edge.
func NewYCbCr(size Size, ratio image.YCbCrSubsampleRatio) *image.YCbCr {
	w, h := align(size.Width, 16), align(size.Height, 16)
	img := image.NewYCbCr(image.Rect(0, 0, w, h), ratio)
	img.Rect = image.Rect(0, 0, size.Width, size.Height)
	return img
}

func align(v, to int) int { return (v + to - 1) / to * to }
