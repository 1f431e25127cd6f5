//go:build !cgo

package jpeg

import (
	"image"
	stdjpeg "image/jpeg"
	"io"
)

// Backend names the JPEG library this build compresses with. Without cgo
// there is no libjpeg-turbo; Go's encoder always writes baseline 4:2:0 with
// the standard Huffman tables, which RTP/JPEG can carry.
const Backend = "Go image/jpeg (no cgo)"

func encodeImage(w io.Writer, img *image.YCbCr, quality int) error {
	return stdjpeg.Encode(w, img, &stdjpeg.Options{Quality: quality})
}

func decodeImage(r io.Reader) (image.Image, error) { return stdjpeg.Decode(r) }

// mcuHeight is 16 whatever the sampling: Go's encoder always writes 4:2:0.
func mcuHeight(image.YCbCrSubsampleRatio) int { return 16 }
