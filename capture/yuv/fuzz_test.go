package yuv

import (
	"errors"
	"image"
	"testing"
)

// The reference converters are the obvious per-pixel loops; the fuzz
// targets hold the fast converters to them. They assume checked input.

func refPacked422(dst *image.YCbCr, src []byte, stride, w, h int, uyvy bool) {
	for y := 0; y < h; y++ {
		for x := 0; x < w; x += 2 {
			p := src[y*stride+2*x:]
			if uyvy {
				p = []byte{p[1], p[0], p[3], p[2]}
			}
			dst.Y[y*dst.YStride+x], dst.Y[y*dst.YStride+x+1] = p[0], p[2]
			dst.Cb[y*dst.CStride+x/2], dst.Cr[y*dst.CStride+x/2] = p[1], p[3]
		}
	}
}

func refPlanar420(dst *image.YCbCr, src []byte, stride, w, h int, nv12 bool) {
	for y := 0; y < h; y++ {
		copy(dst.Y[y*dst.YStride:][:w], src[y*stride:])
	}
	cs := stride / 2
	for y := 0; y < h/2; y++ {
		for x := 0; x < w/2; x++ {
			if nv12 {
				dst.Cb[y*dst.CStride+x] = src[stride*h+y*stride+2*x]
				dst.Cr[y*dst.CStride+x] = src[stride*h+y*stride+2*x+1]
			} else {
				dst.Cb[y*dst.CStride+x] = src[stride*h+y*cs+x]
				dst.Cr[y*dst.CStride+x] = src[stride*h+cs*(h/2)+y*cs+x]
			}
		}
	}
}

// fuzzDst builds a small destination whose size and ratio the fuzzer picks,
// so every destination check gets exercised without huge allocations.
func fuzzDst(dw, dh uint8, ratio420 bool) *image.YCbCr {
	ratio := image.YCbCrSubsampleRatio422
	if ratio420 {
		ratio = image.YCbCrSubsampleRatio420
	}
	return newDst(int(dw%80), int(dh%48), ratio)
}

func clone(img *image.YCbCr) *image.YCbCr {
	c := *img
	c.Y = append([]byte(nil), img.Y...)
	c.Cb = append([]byte(nil), img.Cb...)
	c.Cr = append([]byte(nil), img.Cr...)
	return &c
}

// checkResult fails unless err is one of the package errors, or the
// conversion succeeded and matches the reference byte for byte (sentinel
// bytes outside the picture included). A failed conversion may not have
// touched dst.
func checkResult(t *testing.T, err error, before, got, want *image.YCbCr) {
	t.Helper()
	if err != nil {
		if !errors.Is(err, ErrSize) && !errors.Is(err, ErrStride) &&
			!errors.Is(err, ErrShortSource) && !errors.Is(err, ErrDestination) {
			t.Fatalf("unexpected error %v", err)
		}
		want = before
	}
	for i, p := range [][2][]byte{{got.Y, want.Y}, {got.Cb, want.Cb}, {got.Cr, want.Cr}} {
		if string(p[0]) != string(p[1]) {
			t.Fatalf("plane %d differs from the reference (err %v)", i, err)
		}
	}
}

func FuzzYUYVToI422(f *testing.F) {
	f.Add(make([]byte, 64), 16, 8, 4, uint8(8), uint8(4), false, false)
	f.Add(make([]byte, 160), 40, 18, 4, uint8(18), uint8(4), true, false)
	f.Add(make([]byte, 100), 20, 8, 5, uint8(16), uint8(16), false, true)
	f.Add([]byte{1, 2, 3, 4}, 4, 2, 1, uint8(2), uint8(1), false, false)
	f.Add([]byte{}, -1, 1<<62, 1<<62, uint8(0), uint8(0), false, false)
	f.Fuzz(func(t *testing.T, src []byte, stride, w, h int, dw, dh uint8, uyvy, ratio420 bool) {
		dst := fuzzDst(dw, dh, ratio420)
		before := clone(dst)
		conv := YUYVToI422
		if uyvy {
			conv = UYVYToI422
		}
		err := conv(dst, src, stride, w, h)
		want := clone(before)
		if err == nil {
			refPacked422(want, src, stride, w, h, uyvy)
		}
		checkResult(t, err, before, dst, want)
	})
}

func FuzzPlanarToI420(f *testing.F) {
	f.Add(make([]byte, 48), 8, 8, 4, uint8(8), uint8(4), true, true)
	f.Add(make([]byte, 144), 24, 18, 4, uint8(18), uint8(4), true, true)
	f.Add(make([]byte, 55), 11, 8, 4, uint8(32), uint8(8), false, true)
	f.Add([]byte{}, 0, 0, 0, uint8(0), uint8(0), false, false)
	f.Fuzz(func(t *testing.T, src []byte, stride, w, h int, dw, dh uint8, nv12, ratio420 bool) {
		dst := fuzzDst(dw, dh, ratio420)
		before := clone(dst)
		conv := YU12ToI420
		if nv12 {
			conv = NV12ToI420
		}
		err := conv(dst, src, stride, w, h)
		want := clone(before)
		if err == nil {
			refPlanar420(want, src, stride, w, h, nv12)
		}
		checkResult(t, err, before, dst, want)
	})
}
