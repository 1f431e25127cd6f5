package yuv

import (
	"errors"
	"fmt"
	"image"
)

// Errors the converters wrap; test with errors.Is.
var (
	// ErrSize: the width or height is not positive, or odd where the format
	// needs it even (width for every format, height for 4:2:0).
	ErrSize = errors.New("yuv: bad picture size")
	// ErrStride: the row stride is smaller than the packed row size.
	ErrStride = errors.New("yuv: stride smaller than a row")
	// ErrShortSource: the source buffer is too short for the planes at the
	// given stride.
	ErrShortSource = errors.New("yuv: source buffer too short")
	// ErrDestination: the destination is nil, has the wrong subsample
	// ratio, or its bounds or planes are smaller than the picture.
	ErrDestination = errors.New("yuv: destination unusable")
)

// fit reports whether rows rows of stride bytes fit in n bytes and returns
// the bytes left after them. It never overflows, whatever the inputs (a
// fuzzer or a confused driver may hand over any int), so a caller that
// passed the check can compute stride*rows and slice with it safely.
func fit(n, stride, rows int) (rest int, ok bool) {
	if n < 0 || stride < 0 || rows < 0 {
		return 0, false
	}
	if rows == 0 {
		return n, true
	}
	if stride > n/rows { // stride*rows > n, without computing stride*rows
		return 0, false
	}
	return n - stride*rows, true
}

// planeFits reports whether a plane of the given stride holds rows rows of
// w bytes: the last row only needs w bytes, not a whole stride.
func planeFits(p []byte, stride, w, rows int) bool {
	if w < 0 || rows < 1 || stride < w {
		return false
	}
	rest, ok := fit(len(p), stride, rows-1)
	return ok && rest >= w
}

// checkDst verifies dst can take a w x h picture with chroma planes of
// ch rows, w and h being positive and w even.
func checkDst(name string, dst *image.YCbCr, ratio image.YCbCrSubsampleRatio, w, h, ch int) error {
	switch {
	case dst == nil:
		return fmt.Errorf("%w: %s: nil picture", ErrDestination, name)
	case dst.SubsampleRatio != ratio:
		return fmt.Errorf("%w: %s needs a %v picture, got %v", ErrDestination, name, ratio, dst.SubsampleRatio)
	case dst.Rect.Dx() < w || dst.Rect.Dy() < h:
		return fmt.Errorf("%w: %s: picture %v smaller than %dx%d", ErrDestination, name, dst.Rect.Size(), w, h)
	case !planeFits(dst.Y, dst.YStride, w, h) ||
		!planeFits(dst.Cb, dst.CStride, w/2, ch) || !planeFits(dst.Cr, dst.CStride, w/2, ch):
		return fmt.Errorf("%w: %s: planes too small for %dx%d", ErrDestination, name, w, h)
	}
	return nil
}

// checkPacked422 validates a YUYV/UYVY conversion: rows of 2*w bytes.
func checkPacked422(name string, dst *image.YCbCr, src []byte, stride, w, h int) error {
	if w <= 0 || h <= 0 || w%2 != 0 {
		return fmt.Errorf("%w: %s %dx%d: width and height must be positive, width even", ErrSize, name, w, h)
	}
	if w > stride/2 { // 2*w > stride, without overflowing 2*w
		return fmt.Errorf("%w: %s stride %d < 2 bytes * %d pixels per row", ErrStride, name, stride, w)
	}
	if _, ok := fit(len(src), stride, h); !ok {
		return fmt.Errorf("%w: %s %dx%d stride %d: %d bytes", ErrShortSource, name, w, h, stride, len(src))
	}
	return checkDst(name, dst, image.YCbCrSubsampleRatio422, w, h, h)
}

// check420 validates an NV12/YU12 conversion: a Y plane of h rows of stride
// bytes followed by chroma data of h/2 rows of cRow bytes (NV12: one
// interleaved row of stride bytes; YU12: a Cb and a Cr row of stride/2).
func check420(name string, dst *image.YCbCr, src []byte, stride, w, h, cRow int) error {
	if w <= 0 || h <= 0 || w%2 != 0 || h%2 != 0 {
		return fmt.Errorf("%w: %s %dx%d: width and height must be positive and even", ErrSize, name, w, h)
	}
	if stride < w {
		return fmt.Errorf("%w: %s stride %d < %d bytes per row", ErrStride, name, stride, w)
	}
	rest, ok := fit(len(src), stride, h)
	if ok {
		_, ok = fit(rest, cRow, h/2)
	}
	if !ok {
		return fmt.Errorf("%w: %s %dx%d stride %d: %d bytes", ErrShortSource, name, w, h, stride, len(src))
	}
	return checkDst(name, dst, image.YCbCrSubsampleRatio420, w, h, h/2)
}
