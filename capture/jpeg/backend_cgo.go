//go:build cgo

package jpeg

import (
	"image"
	"io"

	libjpeg "github.com/pixiv/go-libjpeg/jpeg"
)

// Backend names the JPEG library this build compresses with.
const Backend = "libjpeg-turbo"

func encodeImage(w io.Writer, img *image.YCbCr, quality int) error {
	// Optimized Huffman tables and progressive scans are off: RTP/JPEG can
	// only signal the standard tables and a single baseline scan.
	return libjpeg.Encode(w, img, &libjpeg.EncoderOptions{Quality: quality, DCTMethod: libjpeg.DCTISlow})
}

func decodeImage(r io.Reader) (image.Image, error) {
	return libjpeg.Decode(r, &libjpeg.DecoderOptions{})
}

// mcuHeight is the rows of one MCU row libjpeg writes for the sampling.
func mcuHeight(ratio image.YCbCrSubsampleRatio) int {
	if ratio == image.YCbCrSubsampleRatio422 {
		return 8
	}
	return 16
}
