// Package jpeg compresses planar YCbCr pictures to baseline JPEG with
// libjpeg-turbo (through go-libjpeg), straight from the planes: no RGB
// detour, standard Huffman tables and no progressive mode, as RTP/JPEG
// (RFC 2435) requires. A build without cgo falls back to Go's image/jpeg,
// about ten times slower but still baseline 4:2:0 (see Backend).
package jpeg

import (
	"errors"
	"fmt"
	"image"
	"runtime"

	"flowcam/capture"
)

// DefaultQuality is the libjpeg quality used when none is configured.
const DefaultQuality = 80

// ErrSampling is returned for pictures RTP/JPEG cannot carry.
var ErrSampling = errors.New("jpeg: only 4:2:0 and 4:2:2 pictures are supported")

// Encoder is a JPEG encoder on the build's Backend. It is not safe for
// concurrent use; each pipeline owns one.
type Encoder struct {
	quality int
	threads int
	bands   []band
	scratch *image.YCbCr
	sub     *image.YCbCr // chroma-halved copy for Transcode
	out     appendBuffer
}

// Option configures an Encoder.
type Option func(*Encoder)

// WithThreads spreads each frame over up to n goroutines (capped at
// MaxThreads): the picture is cut into bands on MCU-row boundaries, each
// encoded on its own, and the bands are joined with restart markers. One
// thread (the default) writes a plain baseline JPEG with no restart
// markers, which every RTP/JPEG receiver can take.
func WithThreads(n int) Option {
	return func(e *Encoder) { e.threads = min(max(n, 1), MaxThreads) }
}

// AutoThreads is the thread count "auto" means: the machine's cores, up to
// MaxThreads.
func AutoThreads() int { return min(runtime.NumCPU(), MaxThreads) }

// New returns an encoder with quality 1 (smallest) to 100 (best).
func New(quality int, opts ...Option) (*Encoder, error) {
	if quality < 1 || quality > 100 {
		return nil, fmt.Errorf("jpeg: quality %d out of range 1-100", quality)
	}
	e := &Encoder{quality: quality, threads: 1}
	for _, o := range opts {
		o(e)
	}
	return e, nil
}

// Threads reports how many goroutines encode a frame.
func (e *Encoder) Threads() int { return e.threads }

// Quality reports the configured quality.
func (e *Encoder) Quality() int { return e.quality }

// Encode appends the JPEG for img to dst and returns the extended slice.
func (e *Encoder) Encode(dst []byte, img *image.YCbCr) ([]byte, error) {
	switch img.SubsampleRatio {
	case image.YCbCrSubsampleRatio420, image.YCbCrSubsampleRatio422:
	default:
		return dst, fmt.Errorf("%w (got %v)", ErrSampling, img.SubsampleRatio)
	}
	if img.Rect.Empty() || img.Rect.Min != (image.Point{}) {
		return dst, fmt.Errorf("jpeg: picture bounds %v must start at 0,0 and be non-empty", img.Rect)
	}
	if !complete(img) {
		return dst, fmt.Errorf("jpeg: planes too small for a %v picture", img.Rect.Size())
	}
	src := img
	if !padded(img) {
		src = e.pad(img)
	}
	if e.threads > 1 {
		out, err := e.encodeBands(dst, src)
		if err != nil {
			return dst, fmt.Errorf("jpeg: encode %v in bands: %w", img.Rect.Size(), err)
		}
		return out, nil
	}
	e.out.b = dst
	if err := encodeImage(&e.out, src, e.quality); err != nil {
		return dst, fmt.Errorf("jpeg: encode %v: %w", img.Rect.Size(), err)
	}
	return e.out.b, nil
}

// complete reports whether the planes hold every pixel the bounds promise, so
// a malformed picture is refused instead of read out of bounds.
func complete(img *image.YCbCr) bool {
	w, h := img.Rect.Dx(), img.Rect.Dy()
	cw, ch := (w+1)/2, h
	if img.SubsampleRatio == image.YCbCrSubsampleRatio420 {
		ch = (h + 1) / 2
	}
	return img.YStride >= w && len(img.Y) >= img.YStride*(h-1)+w &&
		img.CStride >= cw && len(img.Cb) >= img.CStride*(ch-1)+cw && len(img.Cr) >= img.CStride*(ch-1)+cw
}

// padded reports whether libjpeg can read whole 16x16 MCUs from the planes
// without running off their ends: it reads full blocks at the edges.
func padded(img *image.YCbCr) bool {
	w, h := img.Rect.Dx(), img.Rect.Dy()
	aw, ah := (w+15)&^15, (h+15)&^15
	cw, ch := aw/2, ah
	if img.SubsampleRatio == image.YCbCrSubsampleRatio420 {
		ch = ah / 2
	}
	return img.YStride >= aw && len(img.Y) >= img.YStride*(ah-1)+aw &&
		img.CStride >= cw && len(img.Cb) >= img.CStride*(ch-1)+cw && len(img.Cr) >= img.CStride*(ch-1)+cw
}

// pad copies a tightly packed picture into a padded scratch picture,
// replicating the last row and column so edge blocks compress cleanly.
func (e *Encoder) pad(img *image.YCbCr) *image.YCbCr {
	size := capture.Size{Width: img.Rect.Dx(), Height: img.Rect.Dy()}
	if e.scratch == nil || e.scratch.Rect != img.Rect || e.scratch.SubsampleRatio != img.SubsampleRatio {
		e.scratch = capture.NewYCbCr(size, img.SubsampleRatio)
	}
	s := e.scratch
	cw, chs := (size.Width+1)/2, size.Height
	if img.SubsampleRatio == image.YCbCrSubsampleRatio420 {
		chs = (size.Height + 1) / 2
	}
	copyPlane(s.Y, s.YStride, len(s.Y)/s.YStride, img.Y, img.YStride, size.Width, size.Height)
	copyPlane(s.Cb, s.CStride, len(s.Cb)/s.CStride, img.Cb, img.CStride, cw, chs)
	copyPlane(s.Cr, s.CStride, len(s.Cr)/s.CStride, img.Cr, img.CStride, cw, chs)
	return s
}

func copyPlane(dst []byte, dstStride, dstRows int, src []byte, srcStride, w, h int) {
	for y := 0; y < dstRows; y++ {
		sy := min(y, h-1)
		row := dst[y*dstStride : (y+1)*dstStride]
		n := copy(row[:w], src[sy*srcStride:sy*srcStride+w])
		for x := n; x < dstStride; x++ {
			row[x] = row[n-1]
		}
	}
}

// appendBuffer lets libjpeg write into a caller-owned, reused slice.
type appendBuffer struct{ b []byte }

func (a *appendBuffer) Write(p []byte) (int, error) {
	a.b = append(a.b, p...)
	return len(p), nil
}
