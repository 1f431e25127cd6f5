package m2m

import (
	"fmt"
	"image"
)

// planeSpan is where one image plane (Y, Cb or Cr) lies in the device's
// buffer: which memory plane, from which byte, with which stride, and how
// many bytes and rows the format has.
type planeSpan struct {
	mem, offset, stride, width, rows int
}

// yuvLayout places the Y, Cb and Cr planes of a planar format the way
// V4L2 defines them, with the driver's strides: in one memory plane the
// chroma planes follow the luma plane of Height rows, each with half the
// luma stride; with three memory planes each has its own. Padding from the
// driver (bcm2835 aligns the stride to 32 and the height to 16) is part of
// the negotiated Format, so it is honoured, not assumed.
func yuvLayout(f Format, ratio image.YCbCrSubsampleRatio) ([3]planeSpan, error) {
	var l [3]planeSpan
	cw, ch := (f.Width+1)/2, f.Height
	if ratio == image.YCbCrSubsampleRatio420 {
		ch = (f.Height + 1) / 2
	}
	switch len(f.Planes) {
	case 1:
		bpl := f.Planes[0].BytesPerLine
		if bpl == 0 {
			bpl = f.Width
		}
		cs := bpl / 2
		l[0] = planeSpan{0, 0, bpl, f.Width, f.Height}
		l[1] = planeSpan{0, bpl * f.Height, cs, cw, ch}
		l[2] = planeSpan{0, bpl*f.Height + cs*ch, cs, cw, ch}
	case 3:
		l[0] = planeSpan{0, 0, f.Planes[0].BytesPerLine, f.Width, f.Height}
		l[1] = planeSpan{1, 0, f.Planes[1].BytesPerLine, cw, ch}
		l[2] = planeSpan{2, 0, f.Planes[2].BytesPerLine, cw, ch}
	default:
		return l, fmt.Errorf("%s in %d memory planes: %w", f.FourCC, len(f.Planes), ErrDriver)
	}
	for _, p := range l {
		if p.stride < p.width {
			return l, fmt.Errorf("%s: stride %d below the %d-byte row: %w", f.FourCC, p.stride, p.width, ErrDriver)
		}
		if need := p.offset + p.stride*(p.rows-1) + p.width; need > f.Planes[p.mem].SizeImage {
			return l, fmt.Errorf("%s %dx%d needs %d bytes in plane %d, the driver sized it %d: %w",
				f.FourCC, f.Width, f.Height, need, p.mem, f.Planes[p.mem].SizeImage, ErrDriver)
		}
	}
	return l, nil
}

// fillPlanar copies img into planes laid out as f, repeating the last
// column and row into any padding the format has beyond the picture, so
// the encoder's edge blocks see no garbage.
func fillPlanar(planes [][]byte, f Format, img *image.YCbCr) ([]int, error) {
	l, err := yuvLayout(f, img.SubsampleRatio)
	if err != nil {
		return nil, err
	}
	if len(planes) < len(f.Planes) {
		return nil, fmt.Errorf("%d memory planes mapped, the format has %d: %w", len(planes), len(f.Planes), ErrDriver)
	}
	for i, pf := range f.Planes {
		if len(planes[i]) < pf.SizeImage {
			return nil, fmt.Errorf("plane %d is %d bytes, the format needs %d: %w", i, len(planes[i]), pf.SizeImage, ErrDriver)
		}
	}
	w, h := img.Rect.Dx(), img.Rect.Dy()
	cw, ch := (w+1)/2, h
	if img.SubsampleRatio == image.YCbCrSubsampleRatio420 {
		ch = (h + 1) / 2
	}
	copyPlane(planes[l[0].mem][l[0].offset:], l[0], img.Y, img.YStride, w, h)
	copyPlane(planes[l[1].mem][l[1].offset:], l[1], img.Cb, img.CStride, cw, ch)
	copyPlane(planes[l[2].mem][l[2].offset:], l[2], img.Cr, img.CStride, cw, ch)
	return usedAll(f), nil
}

// copyPlane writes a w x h source plane into dst's rows of span s.
func copyPlane(dst []byte, s planeSpan, src []byte, srcStride, w, h int) {
	for y := 0; y < s.rows; y++ {
		sy := min(y, h-1)
		row := dst[y*s.stride : y*s.stride+s.width]
		n := copy(row, src[sy*srcStride:sy*srcStride+min(w, s.width)])
		for x := n; x < len(row); x++ {
			row[x] = row[n-1]
		}
	}
}

// fillYUYV interleaves a 4:2:2 picture into one packed YUYV plane.
func fillYUYV(planes [][]byte, f Format, img *image.YCbCr) ([]int, error) {
	if len(f.Planes) != 1 || len(planes) < 1 {
		return nil, fmt.Errorf("YUYV in %d memory planes: %w", len(f.Planes), ErrDriver)
	}
	bpl := f.Planes[0].BytesPerLine
	if bpl == 0 {
		bpl = 2 * f.Width
	}
	pairs := (f.Width + 1) / 2
	if bpl < 4*pairs || bpl*(f.Height-1)+4*pairs > min(f.Planes[0].SizeImage, len(planes[0])) {
		return nil, fmt.Errorf("YUYV %dx%d does not fit %d bytes at stride %d: %w", f.Width, f.Height, f.Planes[0].SizeImage, bpl, ErrDriver)
	}
	w, h := img.Rect.Dx(), img.Rect.Dy()
	for y := 0; y < f.Height; y++ {
		sy := min(y, h-1)
		row := planes[0][y*bpl : y*bpl+4*pairs]
		yr, cr := img.Y[sy*img.YStride:], sy*img.CStride
		for p := 0; p < pairs; p++ {
			x0, x1 := min(2*p, w-1), min(2*p+1, w-1)
			c := cr + min(p, (w+1)/2-1)
			row[4*p], row[4*p+1], row[4*p+2], row[4*p+3] = yr[x0], img.Cb[c], yr[x1], img.Cr[c]
		}
	}
	return usedAll(f), nil
}

func usedAll(f Format) []int {
	used := make([]int, len(f.Planes))
	for i, p := range f.Planes {
		used[i] = p.SizeImage
	}
	return used
}

// checkPicture refuses pictures whose planes do not hold what their bounds
// promise, so a malformed picture is an error, not an out-of-range panic.
func checkPicture(img *image.YCbCr) error {
	if img == nil {
		return fmt.Errorf("m2m: nil picture")
	}
	if img.Rect.Empty() || img.Rect.Min != (image.Point{}) {
		return fmt.Errorf("m2m: picture bounds %v must start at 0,0 and be non-empty", img.Rect)
	}
	w, h := img.Rect.Dx(), img.Rect.Dy()
	cw, ch := (w+1)/2, h
	switch img.SubsampleRatio {
	case image.YCbCrSubsampleRatio420:
		ch = (h + 1) / 2
	case image.YCbCrSubsampleRatio422:
	default:
		return fmt.Errorf("m2m: %v pictures are not supported, only 4:2:0 and 4:2:2: %w", img.SubsampleRatio, ErrFormat)
	}
	if img.YStride < w || len(img.Y) < img.YStride*(h-1)+w ||
		img.CStride < cw || len(img.Cb) < img.CStride*(ch-1)+cw || len(img.Cr) < img.CStride*(ch-1)+cw {
		return fmt.Errorf("m2m: planes too small for a %dx%d picture", w, h)
	}
	return nil
}
