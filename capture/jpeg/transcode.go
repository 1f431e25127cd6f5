package jpeg

import (
	"bytes"
	"fmt"
	"image"

	"flowcam/capture"
)

// Transcode decodes a JPEG that cannot be sent as it is (4:4:4 or 4:4:0
// sampling, optimized Huffman tables, progressive scans) and encodes it
// again as baseline 4:2:2 or 4:2:0, appending to dst.
func (e *Encoder) Transcode(dst, data []byte) ([]byte, error) {
	img, err := decodeImage(bytes.NewReader(data))
	if err != nil {
		return dst, fmt.Errorf("jpeg: decode: %w", err)
	}
	ycc, ok := img.(*image.YCbCr)
	if !ok {
		return dst, fmt.Errorf("jpeg: decode gave %T, not YCbCr (a grayscale or CMYK camera?)", img)
	}
	return e.Encode(dst, e.subsample(ycc))
}

// subsample halves the chroma width of 4:4:4 (to 4:2:2) and 4:4:0 (to
// 4:2:0) pictures by averaging neighbours, the sampling RTP/JPEG needs.
func (e *Encoder) subsample(src *image.YCbCr) *image.YCbCr {
	var to image.YCbCrSubsampleRatio
	switch src.SubsampleRatio {
	case image.YCbCrSubsampleRatio444:
		to = image.YCbCrSubsampleRatio422
	case image.YCbCrSubsampleRatio440:
		to = image.YCbCrSubsampleRatio420
	default:
		return src // 4:2:2 and 4:2:0 encode directly; others are refused by Encode
	}
	size := capture.Size{Width: src.Rect.Dx(), Height: src.Rect.Dy()}
	if e.sub == nil || e.sub.Rect.Size() != src.Rect.Size() || e.sub.SubsampleRatio != to {
		e.sub = capture.NewYCbCr(size, to)
	}
	dst := e.sub
	for y := 0; y < size.Height; y++ {
		copy(dst.Y[y*dst.YStride:y*dst.YStride+size.Width], src.Y[(y+src.Rect.Min.Y)*src.YStride+src.Rect.Min.X:])
	}
	rows := size.Height
	if to == image.YCbCrSubsampleRatio420 {
		rows = (size.Height + 1) / 2
	}
	cw := (size.Width + 1) / 2
	for y := 0; y < rows; y++ {
		so, do := y*src.CStride, y*dst.CStride
		for x := 0; x < cw; x++ {
			x2 := min(2*x+1, size.Width-1)
			dst.Cb[do+x] = uint8((uint16(src.Cb[so+2*x]) + uint16(src.Cb[so+x2]) + 1) / 2)
			dst.Cr[do+x] = uint8((uint16(src.Cr[so+2*x]) + uint16(src.Cr[so+x2]) + 1) / 2)
		}
	}
	return dst
}
