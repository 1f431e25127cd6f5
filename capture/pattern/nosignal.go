package pattern

import "image"

// letters holds the 5x7 glyphs the "no signal" card needs.
var letters = map[byte][7]uint8{
	'N': {0x11, 0x19, 0x15, 0x13, 0x11, 0x11, 0x11},
	'O': {0x0E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E},
	'S': {0x0F, 0x10, 0x10, 0x0E, 0x01, 0x01, 0x1E},
	'I': {0x0E, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E},
	'G': {0x0E, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0F},
	'A': {0x0E, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11},
	'L': {0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1F},
	' ': {},
}

// RenderNoSignal draws the card sent while a camera is away: "NO SIGNAL"
// on dark grey with the seconds it has been gone, so a viewer sees why the
// picture stopped and that the stream itself is alive. dst is 4:2:0.
func RenderNoSignal(dst *image.YCbCr, seconds uint64) {
	fillY(dst, dst.Rect, 40)
	fillChroma(dst, dst.Rect)
	w, h := dst.Rect.Dx(), dst.Rect.Dy()
	const text = "NO SIGNAL"
	scale := max(1, min(h/40, w/(len(text)*6+2)))
	x0 := (w - len(text)*6*scale) / 2
	y0 := h/2 - 8*scale
	for i := 0; i < len(text); i++ {
		drawGlyph(dst, letters[text[i]], x0+i*6*scale, y0, scale)
	}
	drawCounter(dst, seconds)
}
