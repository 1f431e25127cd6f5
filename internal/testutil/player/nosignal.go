package player

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
)

// IsNoSignal reports whether a JPEG picture is the daemon's "no signal"
// card: dark grey (Y 40) without colour in two opposite corners, which no
// test picture (colour bars, testsrc2, vivid's or vimc's patterns) is.
func IsNoSignal(b []byte) bool {
	img, err := jpeg.Decode(bytes.NewReader(b))
	if err != nil {
		return false
	}
	r := img.Bounds()
	for _, p := range []image.Point{{r.Min.X + 2, r.Min.Y + 2}, {r.Max.X - 3, r.Max.Y - 3}} {
		c := color.YCbCrModel.Convert(img.At(p.X, p.Y)).(color.YCbCr)
		if c.Y < 30 || c.Y > 50 || c.Cb < 118 || c.Cb > 138 || c.Cr < 118 || c.Cr > 138 {
			return false
		}
	}
	return true
}
